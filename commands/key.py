"""``lycredit key``: generate a signing key; rotate an operator's key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import OUTPUT_FILE, app, command, dry_run_option, group, option, reason_option, say

cli = group("key", N_("Generate and rotate operators' signing keys."))


@command(cli, "generate", N_(
    "Write a new Ed25519 private key as encrypted PKCS#8 PEM (mode 0600, never over an existing file) "
    "and print its public key. The passphrase comes from LYCREDIT_KEY_PASSPHRASE or a prompt."))
@option("--out", required=True, type=OUTPUT_FILE, metavar="FILE", help=N_("Private key file to write."))
@option("--pem", "pem_out", type=OUTPUT_FILE, metavar="FILE",
        help=N_("Also write the public key as a PEM file here."))
def generate(out: Path, pem_out: Path | None) -> None:
    from lycredit import keys
    from lycredit.errors import UsageError
    from lycredit.outputs import write_output

    from .db import _new_passphrase

    if pem_out is not None and pem_out.resolve() == out.resolve():  # the public key would replace the private one
        raise UsageError(_("--pem {pem} is the --out file {out}: the public key would replace the new private key; "
                           "give --pem another file").format(pem=pem_out, out=out))
    private_key = keys.generate()
    keys.write_private_key(out, private_key, _new_passphrase(out))
    if pem_out:
        try:
            write_output(pem_out, keys.public_pem(private_key).encode("ascii"))
        except BaseException:  # the command failed: it leaves no key behind, so that running it again works
            out.unlink(missing_ok=True)
            raise
    say(_("Wrote {path}; register the public key below with 'lycredit operator add'").format(path=out))
    click.echo(keys.public_b64(private_key))


@command(cli, "rotate", N_(
    "Give an operator a new key. Its current keys stay valid for the overlap, then end (administrators only)."))
@click.argument("name")
@option("--public-key", required=True, metavar="KEY", help=N_("The new public key (base64 or a PEM file)."))
@option("--overlap-days", type=click.IntRange(0, 90), default=7, show_default=True,
        help=N_("Days the old keys remain valid."))
@reason_option()
@dry_run_option
def rotate(name: str, public_key: str, overlap_days: int, reason: str | None, dry_run: bool) -> None:
    from lycredit.keys import parse_public_key
    from lycredit.operators import rotate_key

    obj = app()
    with obj.operation("key.rotate", reason=reason, dry_run=dry_run) as uow:
        kid = rotate_key(uow, name, parse_public_key(public_key), dt.timedelta(days=overlap_days))
    say((_("Dry run: would register key {key_id} for {name}") if dry_run
         else _("Registered key {key_id} for {name}")).format(key_id=kid, name=name))
