"""``lycredit report SUBJECT``: the subject's own full report: sources, changes and queries (Art. 14, 30)."""

from __future__ import annotations

from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import OUTPUT_FILE, LyCommand, app, option, say

RECORD_COLUMNS = [
    "record_id",
    "item_name",
    "provider_name",
    "disclosure_zh",
    "decision_date",
    "disclosure_until",
    "state_zh",
    "objection",
    "fields",
]
RECORD_HEADERS = {
    "record_id": N_("Record"),
    "item_name": N_("Information item"),
    "provider_name": N_("Providing unit"),
    "disclosure_zh": N_("Disclosure method"),
    "decision_date": N_("Decision date"),
    "disclosure_until": N_("Disclosed until"),
    "state_zh": N_("State"),
    "objection": N_("Objection"),
    "fields": N_("Content"),
}
HISTORY_COLUMNS = [
    "record_id",
    "revision",
    "change_zh",
    "reason",
    "changed_fields",
    "changed_at",
    "changed_by",
]
HISTORY_HEADERS = {
    "record_id": N_("Record"),
    "revision": N_("Revision"),
    "change_zh": N_("Change"),
    "reason": N_("Reason"),
    "changed_fields": N_("Fields changed"),
    "changed_at": N_("When"),
    "changed_by": N_("By"),
}
QUERY_COLUMNS = [
    "at",
    "querier_unit_name",
    "querier_unit",
    "operator",
    "mode_zh",
    "authorization_id",
    "purpose",
    "outcome_zh",
]
QUERY_HEADERS = {
    "at": N_("When"),
    "querier_unit_name": N_("Querying unit"),
    "querier_unit": N_("Unit code"),
    "operator": N_("Operator"),
    "mode_zh": N_("Query mode"),
    "authorization_id": N_("Authorisation"),
    "purpose": N_("Purpose"),
    "outcome_zh": N_("Outcome"),
}
SUBJECT_LABELS = {
    "name": N_("Credit subject"),
    "code": N_("Code"),
    "kind_zh": N_("Kind"),
    "as_of": N_("As of"),
}


def _labels(headers: dict[str, str]) -> dict[str, str]:
    return {k: _(v) for k, v in headers.items()}


def _render_table(rep) -> None:  # noqa: ANN001
    from lycredit.output import render_object, render_rows

    render_object(
        {**{k: rep.subject[k] for k in ("name", "code", "kind_zh")}, "as_of": rep.as_of},
        "table",
        labels=_labels(SUBJECT_LABELS),
    )
    history = [
        {"record_id": r["record_id"], **h, "changed_fields": "、".join(h["changed_fields"])}
        for r in rep.records
        for h in r["history"]
    ]
    for title, rows, columns, headers in (
        (N_("Credit information"), rep.records, RECORD_COLUMNS, RECORD_HEADERS),
        (N_("Changes"), history, HISTORY_COLUMNS, HISTORY_HEADERS),
        (N_("Queries of non-public information"), rep.queries, QUERY_COLUMNS, QUERY_HEADERS),
    ):
        click.echo()
        click.echo(_("{title}: {count}").format(title=_(title), count=len(rows)))
        render_rows(rows, "table", columns=columns, headers=_labels(headers))


def _write(path: Path, text: str) -> None:
    """Write the HTML inside the operation, so that a report that was not written is not logged as made; the
    file appears whole or not at all, and one that cannot be written is exit 78 naming it."""
    from lycredit.outputs import write_output

    write_output(path, text.encode("utf-8"))


@click.command(
    cls=LyCommand,
    name="report",
    help=N_(
        "The credit subject's own full report (Art. 14, 30): every record with its providing unit, "
        "catalog item, disclosure method and end, and state (archived, repaired and withdrawn records "
        "included), the history of changes with reasons, and who queried its non-public information and "
        "why. --html FILE also writes a printable page (print it to PDF from a browser). Staff only; the "
        "report is logged. With --format csv only the records are written."
    ),
)
@click.argument("subject", metavar="SUBJECT")
@option(
    "--html",
    "html_file",
    type=OUTPUT_FILE,
    metavar="FILE",
    help=N_("Also write the report as a self-contained printable HTML file."),
)
def cli(subject: str, html_file: Path | None) -> None:
    from lycredit.output import render_object, render_rows
    from lycredit.report import record_report, render_html, report

    obj = app()
    with obj.operation("report") as uow:
        rep = report(uow.conn, subject, obj.as_of)
        record_report(uow, rep)
        if html_file is not None:
            _write(html_file, render_html(rep))
    if html_file is not None:
        say(_("Wrote the printable report to {file}").format(file=html_file))
    if obj.fmt in ("json", "ndjson"):
        render_object(rep.as_dict(), obj.fmt)
    elif obj.fmt == "csv":
        render_rows(rep.records, "csv", columns=RECORD_COLUMNS, headers=_labels(RECORD_HEADERS), bom=obj.bom)
    else:
        _render_table(rep)
