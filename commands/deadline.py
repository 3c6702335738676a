"""``lycredit deadline check``: what is overdue (Art. 10, 46); exit 1 when anything is, so cron mails it."""

from __future__ import annotations

import click

from lycredit.deadlines import RULES
from lycredit.i18n import N_, _

from ._cli import app, command, group, option, say
from .calendar import DAY

cli = group("deadline", N_("Deadline checks: late submissions and other windows due (Art. 10, 46)."))

COLUMNS = ["rule", "article", "provider_uscc", "provider_name", "item_code", "summary"]
HEADERS = {"rule": N_("rule"), "article": N_("article"), "provider_uscc": N_("provider's credit code"),
           "provider_name": N_("provider"), "item_code": N_("item"), "summary": N_("finding")}


@command(cli, "check", N_(
    "Report what is overdue as of the as-of day: records submitted after their deadline of 7 working days "
    "(late_submissions, per provider) and catalog items with nothing submitted within the policy window "
    "(silent_items, policy deadline.silent_item_days, default 90). A table for people, json for scripts. "
    "Exit 1 when anything is overdue, 0 when nothing is."))
@option("--rule", "rules", multiple=True, type=click.Choice(list(RULES)),
        help=N_("Run only this rule (repeatable); default: every rule."))
@option("--since", type=DAY, help=N_("Late submissions: only those submitted on or after this day."))
def check(rules: tuple[str, ...], since) -> None:  # noqa: ANN001
    from lycredit.deadlines import Policy
    from lycredit.deadlines import check as run_checks
    from lycredit.output import render_rows

    obj = app()
    policy = Policy.from_config(obj.config)
    with obj.reading() as conn:
        findings = run_checks(conn, obj.as_of, policy, rules=rules or None, since=since)
    rows = [f.as_row() for f in findings]
    if obj.fmt == "table":
        render_rows(rows, obj.fmt, columns=COLUMNS, headers={k: _(v) for k, v in HEADERS.items()})
    else:
        render_rows(rows, obj.fmt, columns=[*COLUMNS, "data"], bom=obj.bom)
    if findings:
        say(_("{count} findings as of {as_of}").format(count=len(findings), as_of=obj.as_of))
        click.get_current_context().exit(1)
    say(_("Nothing overdue as of {as_of}").format(as_of=obj.as_of))
