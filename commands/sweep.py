"""``lycredit sweep``: the nightly expiry sweep (Art. 15), under the ``sweep-expiry`` run lock."""

from __future__ import annotations

import click

from lycredit.i18n import N_, _

from ._cli import app, command, dry_run_option, group, say

cli = group("sweep", N_("Nightly sweeps: take expired dishonesty information out of view (Art. 15)."))

LOCK_NAME = "sweep-expiry"


@command(cli, "expiry", N_(
    "Archive every active record whose disclosure period has ended by the as-of day (Art. 15): the end is "
    "its disclosure date, and never more than five years after a dishonesty act ended. Each record is "
    "archived as of the day after its period ended, so a late run or a run as of a past day does the same, "
    "and nothing twice. One signed operation per run, even when nothing is due. Exits 75 when another sweep "
    "is running. With --format json, a summary on stdout."))
@dry_run_option
def expiry(dry_run: bool) -> None:
    from lycredit.output import render_object
    from lycredit.runlock import run_lock
    from lycredit.sweep import sweep_expiry

    obj = app()
    as_of = obj.as_of
    obj.require_role("sweep.expiry")  # a role that may not sweep is refused (77) before it waits on the lock
    with run_lock(obj.checked_engine, LOCK_NAME):
        with obj.operation("sweep.expiry", dry_run=dry_run) as uow:
            result = sweep_expiry(uow, as_of, today=as_of if dry_run else None)
    if obj.fmt in ("json", "ndjson"):
        render_object({**result.summary(), "dry_run": dry_run,
                       "operation": None if dry_run else uow.closed.seq,
                       "expired_record_ids": list(result.expired_record_ids)}, obj.fmt)
    if result.archived == 0:
        say(_("Nothing to archive as of {as_of}").format(as_of=as_of))
    else:
        message = (_("Dry run: would archive {archived} records whose disclosure period ended before {as_of} "
                     "(archived on {first} to {last})") if dry_run else
                   _("Archived {archived} records whose disclosure period ended before {as_of} "
                     "(archived on {first} to {last})"))
        say(message.format(archived=result.archived, as_of=as_of, first=result.first_archived_on,
                           last=result.last_archived_on))
    if result.capped:
        click.echo(_("Warning: {capped} of them are dishonesty records whose disclosure date was missing or "
                     "later than five years after the act ended; they were archived at the five-year limit of "
                     "Art. 15. Check how they were submitted.").format(capped=result.capped), err=True)
    for name, counts in result.follow_ups.items():
        say(_("{name}: {counts}").format(name=name, counts=", ".join(f"{k} {v}" for k, v in counts.items())))
