"""``lycredit record``: submit, import, show, list, correct and withdraw credit records (Art. 10-12, 15, 30, 46);
list import runs and abandon an interrupted one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from lycredit.dbapi import MAX_ID
from lycredit.i18n import N_, _

from ._cli import (
    INPUT_FILE,
    MAX_COUNT,
    OUTPUT_FILE,
    app,
    command,
    dry_run_option,
    group,
    limited,
    one_more,
    option,
    reason_option,
    say,
)

cli = group("record", N_("Credit records (Art. 10-12): submit, import, show, list, correct, withdraw; import "
                         "runs, abandon."))

RESULT_COLUMNS = ["id", "action", "item_code", "document_no", "revision", "status", "due_date", "late_days",
                  "disclosure_until"]


def _provider_option(f):  # noqa: ANN001, ANN202
    return option("--provider", metavar="USCC", help=N_(
        "The providing unit (unified social credit code); NDRC staff may act for any provider, a provider "
        "only for its own unit (the default)."))(f)


def _assume_weekends_option(f):  # noqa: ANN001, ANN202
    return option("--assume-weekends", is_flag=True, help=N_(
        "For a deadline in a year with no official schedule, count Monday to Friday as working days and flag "
        "the record's due date as guessed (otherwise such a row is rejected)."))(f)


def _field_pairs(pairs: tuple[str, ...]) -> dict[str, str | None]:
    """The --field pairs by name; a field named twice (also as 罚款金额(万元) and 罚款金额（万元）, one column to an
    import) is a usage error, as a repeated name is in a JSON object or a file's header, not the last one."""
    from lycredit.readers import normalize_header

    out: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(_("{pair} is not NAME=VALUE").format(pair=pair), param_hint="--field")
        earlier = seen.setdefault(normalize_header(name), name.strip())
        if name.strip() in out or earlier != name.strip():
            raise click.BadParameter(_("field {name} is given twice (as {earlier} and {name}); give it once").format(
                name=name.strip(), earlier=earlier), param_hint="--field")
        out[name.strip()] = value
    return out


#: The options a record needs without --json, and the generic layout's names each gives (a --field may give one).
_REQUIRED_OPTIONS = {"--item": ("事项编码",), "--subject": ("主体代码", "统一社会信用代码", "公民身份号码"),
                     "--name": ("主体名称",), "--document-no": ("文书号",), "--decision-date": ("决定日期",)}


def _require_options(values: dict[str, str | None]) -> None:
    """A usage error (2) naming each option a record needs and the command line left out, before anything is done
    (the record's check would name only its columns: 'the header has no column for 事项编码 ...')."""
    from lycredit.readers import normalize_header
    from lycredit.records import GENERIC

    given = {GENERIC.normalized.get(normalize_header(name)) for name in values}
    missing = [option for option, names in _REQUIRED_OPTIONS.items() if given.isdisjoint(names)]
    if missing:
        raise click.UsageError(_("A record needs {options} (or a --json FILE that gives them)").format(
            options=", ".join(f"{option} ({_REQUIRED_OPTIONS[option][0]})" for option in missing)))


def _json_values(path: Path) -> dict[str, str | None]:
    from lycredit.readers import read_json_object

    return read_json_object(path)


def _result(outcome: Any) -> dict[str, Any]:
    return {"action": outcome.action, **{k: outcome.record.get(k) for k in RESULT_COLUMNS if k != "action"}}


def _render_result(outcome: Any, dry_run: bool) -> None:
    from lycredit.output import render_object

    obj = app()
    render_object(_result(outcome), obj.fmt, bom=obj.bom)
    messages = {"submitted": _("Submitted record {id}"), "corrected": _("Corrected record {id} (revision {revision})"),
                "unchanged": _("Record {id} is unchanged"), "withdrawn": _("Withdrew record {id}")}
    text = messages[outcome.action].format(id=outcome.record["id"], revision=outcome.record.get("revision"))
    if outcome.record.get("late_days") and outcome.action == "submitted":
        text += _("; late by {days} working days (Art. 46)").format(days=outcome.record["late_days"])
    say(_("Dry run: {message}").format(message=text) if dry_run else text)


@command(cli, "submit", N_(
    "Submit one record: the catalog item, the subject, the document number, the decision date and the item's "
    "data-standard fields (--field NAME=VALUE, or a JSON object with --json). The same checks as an import; "
    "resubmitting the same document number with other content corrects the record."))
@option("--item", metavar="CODE", help=N_("The catalog item code (事项编码)."))
@option("--subject", metavar="CODE", help=N_("The subject's unified social credit code or resident ID number."))
@option("--name", help=N_("The subject's name."))
@option("--document-no", metavar="NO", help=N_("The decision's document number (文书号)."))
@option("--decision-date", metavar="DATE", help=N_("The decision date (YYYY-MM-DD)."))
@option("--concluded-on", metavar="DATE", help=N_("The day the matter was concluded (default: the decision date)."))
@option("--field", "fields", multiple=True, metavar="NAME=VALUE", help=N_("A data-standard field; repeatable."))
@option("--json", "json_file", type=INPUT_FILE, metavar="FILE",
        help=N_("A JSON object of field names and values (the options above take precedence)."))
@_provider_option
@_assume_weekends_option
@reason_option()
@dry_run_option
def submit(item: str | None, subject: str | None, name: str | None, document_no: str | None,
           decision_date: str | None, concluded_on: str | None, fields: tuple[str, ...], json_file: Path | None,
           provider: str | None, assume_weekends: bool, reason: str | None, dry_run: bool) -> None:
    from lycredit import records

    obj = app()
    values = _json_values(json_file) if json_file is not None else {}
    values.update(_field_pairs(fields))
    flags = {"事项编码": item, "主体代码": subject, "主体名称": name, "文书号": document_no, "决定日期": decision_date,
             "办结日期": concluded_on}
    values.update({key: value for key, value in flags.items() if value is not None})
    if json_file is None:
        _require_options(values)
    with obj.operation("record.submit", reason=reason, dry_run=dry_run) as uow:
        unit = records.provider_for(uow.conn, uow.signer, provider)
        outcome = records.submit(uow, values, provider=unit, as_of=obj.as_of, assume_weekends=assume_weekends,
                                 dry_run=dry_run)
    _render_result(outcome, dry_run)


@command(cli, "import", N_(
    "Import a file of records (csv, tsv, xlsx, json, ndjson or parquet) in the penalty or license (双公示) or "
    "generic layout, in batches of one transaction and one signed operation each. Rejected rows are written "
    "with their reasons to the rejects file; a column Art. 12 forbids rejects the whole file (exit 65)."))
@click.argument("file", type=INPUT_FILE)
@option("--layout", required=True, type=click.Choice(["penalty", "license", "generic"]),
        help=N_("The file's layout."))
@_provider_option
@option("--max-rejects", type=click.IntRange(min=0), metavar="N", help=N_(
    "Check the whole file first; with more than N rejected rows import nothing and exit 65."))
@option("--rejects", "rejects", type=OUTPUT_FILE, metavar="FILE",
        help=N_("Where to write the rejected rows (default: FILE.rejects.csv beside the file)."))
@option("--resume", is_flag=True, help=N_("Continue an interrupted import of the same file after its last "
                                          "committed batch."))
@option("--batch-size", type=click.IntRange(1, MAX_COUNT), default=10_000, show_default=True, metavar="N",
        help=N_("Rows per batch (one transaction and one signed operation each)."))
@_assume_weekends_option
@dry_run_option
def import_(file: Path, layout: str, provider: str | None, max_rejects: int | None, rejects: Path | None,
            resume: bool, batch_size: int, assume_weekends: bool, dry_run: bool) -> None:
    from lycredit.output import render_object
    from lycredit.record_import import PHASES_ENV, import_file

    obj = app()
    with _ProgressBar(obj.progress and not obj.quiet) as progress:
        summary = import_file(obj, file, layout, provider=provider, max_rejects=max_rejects, dry_run=dry_run,
                              resume=resume, rejects_path=rejects, assume_weekends=assume_weekends,
                              progress_callback=progress, batch_size=batch_size)
    for note in summary.notes:
        say(note)
    data = {"file": summary.file, "layout": summary.layout, "provider": summary.provider, "run": summary.run_id,
            **summary.counts(), "rejects_file": summary.rejects_file}
    render_object(data, obj.fmt, bom=obj.bom)
    text = _("Read {read} rows: {accepted} accepted, {corrected} corrected, {unchanged} unchanged, {rejected} "
             "rejected, {late} late").format(**summary.counts())
    say(_("Dry run: {message}").format(message=text) if dry_run else text)
    if summary.rejected:
        say(_("Rejected rows and their reasons: {file}").format(file=summary.rejects_file))
    if os.environ.get(PHASES_ENV) == "1":
        click.echo(json.dumps({"phases": summary.phases}), err=True)


class _ProgressBar:
    """A rich progress bar over the bytes read, only on a terminal; otherwise nothing.

    Redrawn after each batch rather than by rich's refresh thread: a process with a second
    thread does not fork the import's reading process (``lycredit.forked``).
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self):  # noqa: ANN204
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                             transient=True, auto_refresh=False)
        self._bar.__enter__()
        self._task = self._bar.add_task(_("Importing"), total=None)
        return self.update

    def update(self, done: int, total: int, counts: dict[str, int]) -> None:
        self._bar.update(self._task, completed=done, total=total, description=_("Importing ({read} rows)").format(
            read=counts["read"]), refresh=True)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


@command(cli, "show", N_("Show one record with its fields, its subject (a person's code and name masked) and its "
                         "history of revisions."))
@click.argument("key", metavar="ID")
@_provider_option
def show(key: str, provider: str | None) -> None:
    from lycredit.output import render_object, render_rows
    from lycredit.records import show as show_record

    obj = app()
    with obj.reading() as conn:
        view = show_record(conn, key, provider)
    if obj.fmt in ("json", "ndjson"):
        render_object(view, obj.fmt)
        return
    render_object({k: v for k, v in view.items() if k not in ("fields", "history")}, obj.fmt, bom=obj.bom)
    click.echo()  # the tables below follow in the same file: its BOM is at its start, not before each of them
    render_rows([{"field": k, "value": v} for k, v in view["fields"].items()], obj.fmt, excel=obj.bom)
    click.echo()
    render_rows(view["history"], obj.fmt, columns=["revision", "change", "reason", "changed_at", "changed_by"],
                excel=obj.bom)


@command(cli, "list", N_("List records, newest first; a person's code and name masked."))
@_provider_option
@option("--item", metavar="CODE", help=N_("Only this catalog item's records."))
@option("--subject", metavar="CODE", help=N_("Only this subject's records."))
@option("--status", type=click.Choice(["active", "withdrawn", "archived", "repaired"]),
        help=N_("Only records in this status."))
@option("--late", "late_only", is_flag=True, help=N_("Only records submitted late (Art. 46)."))
@option("--guessed", "guessed_only", is_flag=True, help=N_(
    "Only records whose deadline was counted on a guessed calendar (--assume-weekends)."))
@option("--limit", type=click.IntRange(1, MAX_COUNT), default=1000, show_default=True, help=N_("At most this many."))
def list_(provider: str | None, item: str | None, subject: str | None, status: str | None, late_only: bool,
          guessed_only: bool, limit: int) -> None:
    from lycredit.output import render_rows
    from lycredit.records import LIST_COLUMNS
    from lycredit.records import list_ as list_records

    obj = app()
    with obj.reading() as conn:
        rows = list_records(conn, provider=provider, item=item, subject=subject, status=status, late_only=late_only,
                            guessed_only=guessed_only, limit=one_more(limit))
    render_rows(limited(rows, limit), obj.fmt, columns=LIST_COLUMNS, bom=obj.bom)


@command(cli, "correct", N_("Correct a record's fields (the old revision is kept in its history); the corrected "
                            "record is checked by every rule again."))
@click.argument("key", metavar="ID")
@option("--field", "fields", multiple=True, required=True, metavar="NAME=VALUE",
        help=N_("A field and its corrected value (empty to remove it); repeatable."))
@reason_option(required=True)
@_provider_option
@_assume_weekends_option
@dry_run_option
def correct(key: str, fields: tuple[str, ...], reason: str, provider: str | None, assume_weekends: bool,
            dry_run: bool) -> None:
    from lycredit import records

    obj = app()
    changes = _field_pairs(fields)
    with obj.operation("record.correct", reason=reason, dry_run=dry_run) as uow:
        unit = records.provider_for(uow.conn, uow.signer, provider)
        outcome = records.correct(uow, key, changes, reason=reason, as_of=obj.as_of, provider=unit,
                                  assume_weekends=assume_weekends, dry_run=dry_run)
    _render_result(outcome, dry_run)


@command(cli, "withdraw", N_("Withdraw a record: it leaves every output but is kept, with its history."))
@click.argument("key", metavar="ID")
@reason_option(required=True)
@_provider_option
@dry_run_option
def withdraw(key: str, reason: str, provider: str | None, dry_run: bool) -> None:
    from lycredit import records

    obj = app()
    with obj.operation("record.withdraw", reason=reason, dry_run=dry_run) as uow:
        unit = records.provider_for(uow.conn, uow.signer, provider)
        outcome = records.withdraw(uow, key, reason=reason, provider=unit)
    _render_result(outcome, dry_run)


@command(cli, "runs", N_("List record imports, newest first: file, provider, status (running: interrupted, "
                         "or importing now; done; abandoned), the last committed row and the counts."))
@option("--status", type=click.Choice(["running", "done", "abandoned"]), help=N_("Only runs in this status."))
@_provider_option
@option("--limit", type=click.IntRange(1, MAX_COUNT), default=100, show_default=True, help=N_("At most this many."))
def runs(status: str | None, provider: str | None, limit: int) -> None:
    from lycredit.output import render_rows
    from lycredit.record_import import RUN_COLUMNS, list_runs

    obj = app()
    with obj.reading() as conn:
        rows = list_runs(conn, status=status, provider=provider, limit=one_more(limit))
    render_rows(limited(rows, limit), obj.fmt, columns=RUN_COLUMNS, bom=obj.bom)


@command(cli, "abandon", N_(
    "Give up an interrupted import, so that its file can be imported afresh without --resume. The batches it "
    "committed stay (importing the file again finds their rows unchanged); the run stays listed as abandoned. "
    "RUN_ID is the run's id (record runs)."))
@click.argument("run_id", type=click.IntRange(1, MAX_ID))  # a larger number is no run's id (lycredit.dbapi)
@reason_option(required=True)
@dry_run_option
def abandon(run_id: int, reason: str, dry_run: bool) -> None:
    from lycredit.output import render_object
    from lycredit.record_import import abandon_run

    obj = app()
    view = abandon_run(obj, run_id, reason=reason, dry_run=dry_run)
    render_object(view, obj.fmt, bom=obj.bom)
    say((_("Dry run: would abandon import run {id} of {file} after row {row}") if dry_run else
         _("Abandoned import run {id} of {file} after row {row}")).format(
        id=run_id, file=view["file_name"], row=view["rows_done"]))
