"""``lycredit calendar``: import official holiday schedules, show a year, count working days (Art. 10, 46)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import INPUT_FILE, app, command, dry_run_option, group, option, reason_option, say

cli = group("calendar", N_("Working-day calendar: import official schedules, show, count."))

SHOW_COLUMNS = ["date", "weekday", "is_workday", "note"]
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SHOWN_CHARS = 40


class _Day(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
        if _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                self.fail(_('"{value}" has the form YYYY-MM-DD but there is no such day').format(value=shown),
                          param, ctx)
        self.fail(_('"{value}" is not a date; expected YYYY-MM-DD, for example 2026-09-28').format(value=shown),
                  param, ctx)


DAY = _Day()

assume_weekends_option = option(
    "--assume-weekends", is_flag=True,
    help=N_("For a year with no official schedule, count Monday to Friday as working days. "
            "The result is a guess and is flagged as one on stderr."))


def _warn_guess(years: tuple[int, ...] | list[int]) -> None:
    """The guess flag: always on stderr, even with --quiet, because a guessed deadline is not a fact."""
    click.echo(_(
        "Warning: GUESSED. No official working-day schedule for {years}: Monday to Friday were counted as "
        "working days. Import the State Council's holiday schedule with: lycredit calendar import FILE"
    ).format(years=_year_ranges(years)), err=True)


def _year_ranges(years: tuple[int, ...] | list[int]) -> str:
    """Years as runs, ``2027–2030, 2032``: a count up to year 9999 would otherwise list thousands of them."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(first) if first == last else f"{first}–{last}" for first, last in runs)


@command(cli, "import", N_(
    "Import one year's official holiday schedule (国务院办公厅关于部分节假日安排的通知) from a CSV file "
    "(columns date,type,note or 日期,类型,说明; see samples/calendar/README.md). It replaces that year's "
    "schedule as a whole, in one signed operation."))
@click.argument("file", type=INPUT_FILE)
@option("--replace-package-year", is_flag=True,
        help=N_("Allow importing a year the chinesecalendar package already covers: the file then overrides "
                "the package's official data for that year."))
@reason_option()
@dry_run_option
def import_(file: Path, replace_package_year: bool, reason: str | None, dry_run: bool) -> None:
    from lycredit.calendar_store import import_schedule
    from lycredit.output import render_object

    obj = app()
    with obj.operation("calendar.import", reason=reason, dry_run=dry_run) as uow:
        counts = import_schedule(uow, file, replace_package_year=replace_package_year)
    render_object({**counts, "dry_run": dry_run}, obj.fmt, bom=obj.bom)
    message = (_("Dry run: would import the {year} schedule from {file}: {days} listed days ({holidays} days "
                 "off, {workdays} make-up working days), replacing {replaced} rows; {year_working_days} "
                 "working days in {year}") if dry_run else
               _("Imported the {year} schedule from {file}: {days} listed days ({holidays} days off, {workdays} "
                 "make-up working days), replacing {replaced} rows; {year_working_days} working days in {year}"))
    say(message.format(file=file, **counts))
    if counts["guessed_records"]:
        say(_("Note: {count} stored records had their Art. 10 deadline counted Monday to Friday over {year} "
              "(--assume-weekends); their due dates and late days stand as counted at intake. 'lycredit record "
              "list --guessed' lists them").format(count=counts["guessed_records"], year=counts["year"]))


@command(cli, "show", N_(
    "List every day of YEAR with whether it is a working day (工作日) and the schedule's note."))
@click.argument("year", type=click.IntRange(1, 9999))
@option("--changes-only", is_flag=True,
        help=N_("Only the days that differ from the weekly rule: holidays on weekdays and make-up working "
                "days (调休上班) on weekends."))
@assume_weekends_option
def show(year: int, changes_only: bool, assume_weekends: bool) -> None:
    from lycredit.calendar_store import ASSUMED, IMPORTED, show_year
    from lycredit.output import render_rows

    obj = app()
    with obj.reading() as conn:
        view = show_year(conn, year, assume_weekends=assume_weekends, changes_only=changes_only)
    rows = [{"date": d.date, "weekday": _(_WEEKDAYS[d.date.weekday()]), "is_workday": d.is_workday,
             "note": d.note} for d in view.days]
    render_rows(rows, obj.fmt, columns=SHOW_COLUMNS, bom=obj.bom)
    if view.source == ASSUMED:
        _warn_guess([year])
    elif view.source == IMPORTED:
        say(_("{year}: the schedule imported into the database").format(year=year))
    else:
        say(_("{year}: the schedule of the chinesecalendar package").format(year=year))


@command(cli, "workdays", N_(
    "Count the working days after FROM up to and including TO (FROM itself is not counted), or with "
    "--add N print the date N working days after FROM: with N = 7, the Art. 10 deadline of a matter "
    "concluded on FROM."))
@click.argument("start", metavar="FROM", type=DAY)
@click.argument("end", metavar="[TO]", type=DAY, required=False)
@option("--add", "add", type=int, metavar="N", help=N_("Print the date N working days after FROM instead."))
@assume_weekends_option
def workdays(start: date, end: date | None, add: int | None, assume_weekends: bool) -> None:
    from lycredit.calendar_store import add_workdays, count_workdays, load_calendar

    if (end is None) == (add is None):
        raise click.UsageError(_("Give either TO or --add N, not both and not neither"))
    obj = app()
    with obj.reading() as conn:
        calendar = load_calendar(conn, assume_weekends=assume_weekends)
    result = count_workdays(calendar, start, end) if add is None else add_workdays(calendar, start, add)
    click.echo(result.value.isoformat() if isinstance(result.value, date) else str(result.value))
    if result.guessed_years:
        _warn_guess(result.guessed_years)
