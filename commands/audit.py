"""``lycredit audit``: verify the signed log against the data, anchor, export and read it."""

from __future__ import annotations

from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import app, command, group, option, say

cli = group("audit", N_("Verify, anchor, export and read the signed operation log."))


@command(cli, "verify", N_(
    "Check the whole log (order, hashes, signatures, key validity, checkpoints), replay it, and compare "
    "the result with every row of the tables. Exit 1 if anything is wrong."))
@option("--anchor", "anchor_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
        help=N_("Also check every checkpoint anchored in this directory."))
def verify(anchor_dir: Path | None) -> None:
    from lycredit.oplog.verify import verify_database
    from lycredit.output import render_object, render_rows

    obj = app()
    with obj.reading() as conn:
        report = verify_database(conn, anchor_dir)
    summary = {"ok": report.ok, "entries": report.entries, "operations": report.operations,
               "rows": report.rows, "checkpoints": report.checkpoints, "anchors": report.anchors,
               "root": report.root, "problems": len(report.problems)}
    if obj.fmt in ("json", "ndjson"):
        render_object({**summary, "problems": [p.as_dict() for p in report.problems]}, obj.fmt)
    else:
        if report.problems:
            render_rows([p.as_dict() for p in report.problems], obj.fmt, columns=["where", "what"], bom=obj.bom)
        say(_("{entries} entries, {operations} operations, {rows} rows, {checkpoints} checkpoints, "
              "{anchors} anchors checked: {problems} problems").format(**summary))
    if not report.ok:
        click.get_current_context().exit(1)


@command(cli, "anchor", N_(
    "Write the latest signed checkpoint into DIR (one file per checkpoint, never overwritten). "
    "Keep DIR outside the database administrator's control."))
@option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
        help=N_("Anchor directory."))
def anchor(out_dir: Path) -> None:
    from lycredit.oplog.anchor import write_anchor

    obj = app()
    with obj.reading() as conn:
        path, created = write_anchor(conn, out_dir)
    say((_("Anchored {path}") if created else _("Already anchored: {path}")).format(path=path))
    click.echo(str(path))
