"""``lycredit query SUBJECT``: the disclosure-controlled view of a credit subject (Art. 13, 14, 28)."""

from __future__ import annotations

import click

from lycredit.i18n import N_, _

from ._cli import LyCommand, app, option

RECORD_COLUMNS = [
    "record_id",
    "item_name",
    "provider_name",
    "disclosure_zh",
    "document_no",
    "decision_date",
    "disclosure_until",
    "fields",
]
RECORD_HEADERS = {
    "record_id": N_("Record"),
    "item_name": N_("Information item"),
    "provider_name": N_("Providing unit"),
    "disclosure_zh": N_("Disclosure method"),
    "document_no": N_("Document number"),
    "decision_date": N_("Decision date"),
    "disclosure_until": N_("Disclosed until"),
    "fields": N_("Content"),
}
SUBJECT_LABELS = {
    "name": N_("Credit subject"),
    "code": N_("Code"),
    "kind_zh": N_("Kind"),
    "mode_zh": N_("Query mode"),
    "as_of": N_("As of"),
    "records": N_("Records shown"),
}


def _mode(self_: bool, authorization: int | None, gov_share: bool) -> str:
    from lycredit.disclosure import AUTHORISED, GOV_SHARE, PUBLIC, SELF

    chosen = [
        mode
        for mode, on in ((SELF, self_), (AUTHORISED, authorization is not None), (GOV_SHARE, gov_share))
        if on
    ]
    if len(chosen) > 1:
        raise click.UsageError(_("Give at most one of --self, --authorization and --gov-share."))
    return chosen[0] if chosen else PUBLIC


def _render(result, fmt: str, bom: bool) -> None:  # noqa: ANN001
    from lycredit.disclosure import MODE_LABELS_ZH
    from lycredit.output import render_object, render_rows

    if fmt in ("json", "ndjson"):
        render_object(result.as_dict(), fmt)
        return
    if fmt == "csv":
        render_rows(
            result.records,
            "csv",
            columns=RECORD_COLUMNS,
            headers={k: _(v) for k, v in RECORD_HEADERS.items()},
            bom=bom,
        )
        return
    header = {
        **{k: result.subject[k] for k in ("name", "code", "kind_zh")},
        "mode_zh": MODE_LABELS_ZH[result.mode],
        "as_of": result.as_of,
        "records": len(result.records),
    }
    render_object(header, "table", labels={k: _(v) for k, v in SUBJECT_LABELS.items()})
    if result.records:
        click.echo()
        render_rows(
            result.records,
            "table",
            columns=RECORD_COLUMNS,
            headers={k: _(v) for k, v in RECORD_HEADERS.items()},
        )


@click.command(
    cls=LyCommand,
    name="query",
    help=N_(
        "Show what may be disclosed about a credit subject (Art. 13, 14). Without a mode option it is a "
        "public query: anyone, only items disclosed to the public (社会公开), never about a natural person, "
        "not logged. --self is the subject's own real-name query, --authorization ID a query under the "
        "subject's authorisation for your unit, --gov-share government sharing in the course of duty; "
        "these need an operator key and are logged with the purpose. Archived, repaired and withdrawn "
        "records, and records past their disclosure period, are never shown. A refused query exits 77 "
        "and is logged."
    ),
)
@click.argument("subject", metavar="SUBJECT")
@option(
    "--purpose",
    required=True,
    metavar="TEXT",
    help=N_("Why you query (1-200 characters): recorded in the log."),
)
@option(
    "--self",
    "self_",
    is_flag=True,
    help=N_("The subject's own real-name query (Art. 14): everything still disclosed."),
)
@option(
    "--authorization",
    type=click.IntRange(min=1),
    metavar="ID",
    help=N_("Query under the subject's authorisation ID, given to your unit (Art. 14)."),
)
@option("--gov-share", is_flag=True, help=N_("Government sharing in the course of duty (Art. 13)."))
def cli(subject: str, purpose: str, self_: bool, authorization: int | None, gov_share: bool) -> None:
    from lycredit import disclosure

    obj = app()
    mode = _mode(self_, authorization, gov_share)
    disclosure.validate_purpose(purpose)
    action = disclosure.action_for(mode)
    # The driver connection, not SQLAlchemy: issue #5 wants a query within 1.5x 'lycredit --help'.
    if action is None:
        with obj.reading_db() as db:
            result = disclosure.query(db, subject, mode, purpose, as_of=obj.as_of)
    else:
        try:
            with obj.appending(action, reason=purpose) as log:
                result = disclosure.query(
                    log, subject, mode, purpose, authorization_id=authorization, as_of=obj.as_of
                )
        except disclosure.QueryRefused as refusal:
            with obj.appending(action, reason=purpose) as log:
                disclosure.record_refusal(log, refusal)
            raise
    _render(result, obj.fmt, obj.bom)
