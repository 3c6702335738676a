"""Working days (工作日): Art. 10 (provide records within 7 working days), Art. 46 (late providers).

Working days follow the State Council's yearly holiday schedule (国务院办公厅关于部分节假日
安排的通知), including make-up working weekends (调休上班). For each calendar year
the schedule comes from, in this order:

1. a schedule an operator imported (``lycredit calendar import FILE``, parsed by
   :func:`parse_schedule_csv`). It replaces the package for that whole year. It
   lists the holidays and the make-up working days; every day it does not list
   follows the weekly rule: Monday to Friday work, Saturday and Sunday rest;
2. the ``chinesecalendar`` package, for the years it covers (2004–2026 in 1.11);
3. nothing: the year is not covered and :class:`CalendarYearMissing` is raised,
   naming the year and the fix. A deadline is never guessed silently: only a
   calendar built with ``assume_weekends=True`` applies the weekly rule to such
   a year, and marks what it computes as guessed.

Counting follows the Civil Code (Art. 201): the day the matter is concluded is
not counted, so "within 7 working days" ends with the seventh working day after
it. A matter concluded on Monday 2026-09-28 is due by 2026-10-13: two working
days before the National Day holiday (10-01 to 10-07), then 10-08, 10-09, the
make-up Saturday 10-10, 10-12 and 10-13.

Schedule CSV files (see ``samples/calendar/README.md``): a header ``date,type,note``
or ``日期,类型,说明`` (note optional), one row per listed day; type ``workday`` or
``holiday`` (``工作日``, ``调休上班`` / ``休息日``, ``节假日``); dates ``YYYY-MM-DD`` (or
Excel's ``YYYY/M/D``); UTF-8 with or without BOM, or GB18030. A file holds the
schedule of one calendar year: importing it replaces that year as a whole, so a
file that strayed into a second year would silently replace that year too.
"""

from __future__ import annotations

import bisect
import calendar
import codecs
import csv
import functools
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, date, timedelta
from pathlib import Path
from typing import NamedTuple

from lycredit.errors import DataError, ExitCode, InputMissing, LycreditError, UsageError
from lycredit.i18n import N_, _
from lycredit.inputs import check_input_file

ART10_WORKING_DAYS = 7
"""Art. 10: records are provided within 7 working days after the matter is concluded."""

_MAX_FILE_BYTES = 1 << 20
_MAX_NOTE_CHARS = 200
_MAX_LISTED_PROBLEMS = 20
_SHOWN_CHARS = 40

_COLUMNS = {"date": "date", "日期": "date", "type": "type", "类型": "type", "note": "note", "说明": "note"}
_TYPES = {
    "workday": True,
    "工作日": True,
    "调休上班": True,
    "holiday": False,
    "休息日": False,
    "节假日": False,
}
_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")

# The holiday names chinesecalendar uses, marked for translation.
_PACKAGE_NOTES = frozenset(
    {
        N_("New Year's Day"),
        N_("Spring Festival"),
        N_("Tomb-sweeping Day"),
        N_("Labour Day"),
        N_("Dragon Boat Festival"),
        N_("Mid-autumn Festival"),
        N_("National Day"),
        N_("Anti-Fascist 70th Day"),
    }
)


@dataclass(frozen=True)
class DayEntry:
    """One day of an imported schedule: a holiday (休息日) or a make-up working day (调休上班)."""

    is_workday: bool
    note: str = ""


class CalendarDay(NamedTuple):
    """One day as ``lycredit calendar show`` lists it."""

    date: date
    is_workday: bool
    note: str


@dataclass(frozen=True)
class Deadline:
    """A due date; ``guessed`` when a year without an official schedule was counted by the weekly rule."""

    due: date
    guessed: bool


class CalendarYearMissing(LycreditError):
    """No official schedule for a year the computation needs: import it, never guess silently."""

    exit_code = ExitCode.CONFIG

    def __init__(self, year: int):
        years = _package_years()
        super().__init__(
            _(
                "No working-day schedule for {year}: the chinesecalendar package covers {first}–{last} and no "
                "schedule for {year} has been imported. Import the State Council's holiday schedule for {year} "
                "with: lycredit calendar import FILE"
            ).format(year=year, first=years[0], last=years[-1])
        )
        self.year = year


@functools.cache
def _package_years() -> range:
    """The years chinesecalendar covers (the same range its own ``is_workday`` accepts)."""
    import chinese_calendar

    years = [d.year for d in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range(366 if calendar.isleap(year) else 365)]


def _weekly_rule(d: date) -> bool:
    return d.weekday() < 5


@dataclass(frozen=True)
class _Year:
    workdays: tuple[date, ...]
    guessed: bool

    def through(self, d: date) -> int:
        """Working days of the year up to and including ``d``."""
        return bisect.bisect_right(self.workdays, d)

    def has(self, d: date) -> bool:
        index = bisect.bisect_left(self.workdays, d)
        return index < len(self.workdays) and self.workdays[index] == d


class WorkCalendar:
    """The working-day calendar: imported schedules, then chinesecalendar, then (only if asked) the weekly rule."""

    def __init__(self, imported: Mapping[date, DayEntry] | None = None, assume_weekends: bool = False):
        self._imported = dict(imported or {})
        self._imported_years = frozenset(d.year for d in self._imported)
        self.assume_weekends = assume_weekends
        self._years: dict[int, _Year] = {}

    def covers(self, year: int) -> bool:
        """True when ``year`` has an official schedule (imported, or in chinesecalendar)."""
        return year in self._imported_years or year in _package_years()

    def covered_years(self) -> list[int]:
        """Every year with an official schedule, ascending."""
        return sorted(self._imported_years.union(_package_years()))

    def is_workday(self, d: date) -> bool:
        """True when ``d`` is a working day (工作日)."""
        return self._year(d.year).has(d)

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (``d`` itself never counts); ``d`` itself when ``n`` is 0."""
        return self._add(d, n)[0]

    def workdays_between(self, start: date, end: date) -> int:
        """The number of working days in (start, end]: after ``start``, up to and including ``end``."""
        if end <= start:
            return 0
        if start.year == end.year:
            year = self._year(start.year)
            return year.through(end) - year.through(start)
        count = self._after(start)[0]
        for number in range(start.year + 1, end.year):
            count += len(self._year(number).workdays)
        return count + self._year(end.year).through(end)

    def working_days_late(self, due: date, submitted: date) -> int:
        """How many working days after ``due`` a submission came (Art. 46); 0 when on time.

        A submission on a rest day counts as made on the next working day, so a
        late submission is always at least one working day late: Friday due,
        Saturday submitted is 1.
        """
        if submitted <= due:
            return 0
        late = self.workdays_between(due, submitted)
        return late if self.is_workday(submitted) else late + 1

    def deadline(self, concluded: date, working_days: int = ART10_WORKING_DAYS) -> Deadline:
        """When a record concluded on ``concluded`` is due (Art. 10): the end of the 7th working day after it."""
        due, guessed = self._add(concluded, working_days)
        return Deadline(due=due, guessed=guessed)

    def year_days(self, year: int) -> list[CalendarDay]:
        """Every day of ``year`` with whether it is a working day and the schedule's note."""
        workdays = set(self._year(year).workdays)
        notes = self._notes(year)
        return [CalendarDay(d, d in workdays, notes.get(d, "")) for d in _days_of(year)]

    def _notes(self, year: int) -> dict[date, str]:
        if year in self._imported_years:
            return {d: entry.note for d, entry in self._imported.items() if d.year == year}
        if year in _package_years():
            import chinese_calendar

            notes = {}
            for d in _days_of(year):
                is_holiday, name = chinese_calendar.get_holiday_detail(d)
                if name is not None:
                    holiday = _(name) if name in _PACKAGE_NOTES else name
                    notes[d] = (
                        holiday
                        if is_holiday
                        else _("Make-up working day ({holiday})").format(holiday=holiday)
                    )
            return notes
        guess = _("Assumed: no official schedule for this year, Monday to Friday counted as working days")
        return dict.fromkeys(_days_of(year), guess)

    def _add(self, d: date, n: int) -> tuple[date, bool]:
        if n < 0:
            raise UsageError(_("The number of working days must be 0 or more, not {n}").format(n=n))
        if n == 0:
            return d, False
        remaining, guessed = n, False
        available, year = self._after(d)
        if year is not None:
            guessed = year.guessed
            if remaining <= available:
                return year.workdays[year.through(d) + remaining - 1], guessed
            remaining -= available
        for number in range(d.year + 1, MAXYEAR + 1):
            year = self._year(number)
            guessed = guessed or year.guessed
            if remaining <= len(year.workdays):
                return year.workdays[remaining - 1], guessed
            remaining -= len(year.workdays)
        raise UsageError(
            _(
                "{n} working days after {date} is past the last date the calendar can represent ({last})"
            ).format(n=n, date=d.isoformat(), last=date.max.isoformat())
        )

    def _after(self, d: date) -> tuple[int, _Year | None]:
        """Working days of d's year after ``d``; a 31 December needs no schedule for its year."""
        if (d.month, d.day) == (12, 31):
            return 0, None
        year = self._year(d.year)
        return len(year.workdays) - year.through(d), year

    def _year(self, number: int) -> _Year:
        year = self._years.get(number)
        if year is None:
            year = self._years[number] = self._load(number)
        return year

    def _load(self, number: int) -> _Year:
        if number in self._imported_years:
            imported = self._imported

            def rule(d: date) -> bool:
                entry = imported.get(d)
                return _weekly_rule(d) if entry is None else entry.is_workday

            return _Year(tuple(filter(rule, _days_of(number))), guessed=False)
        if number in _package_years():
            import chinese_calendar

            return _Year(tuple(filter(chinese_calendar.is_workday, _days_of(number))), guessed=False)
        if self.assume_weekends:
            return _Year(tuple(filter(_weekly_rule, _days_of(number))), guessed=True)
        raise CalendarYearMissing(number)


def parse_schedule_csv(path: str | os.PathLike[str]) -> dict[date, DayEntry]:
    """Read one year's official holiday schedule for ``lycredit calendar import``.

    Every problem is reported at once, naming the file, row, field and rule, in
    one :class:`DataError`; nothing is returned unless the whole file is valid.
    """
    path = Path(path)
    text = _decode(path, _read_bytes(path))
    # strict: a quote left open would otherwise swallow every following row into one cell, silently.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[str] = []
    entries: dict[date, DayEntry] = {}
    rows_of: dict[date, int] = {}
    first_year: tuple[int, int] | None = None
    line = 0
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise DataError(
                _(
                    "{file}: the file is empty; expected a header date,type,note (or 日期,类型,说明) "
                    "and one row per listed day"
                ).format(file=path)
            )
        line = reader.line_num
        columns = _columns(path, line, header)
        for row in reader:
            # a row is named by the line it starts on (as the other imports name a CSV row): a quoted note typed
            # with Alt+Enter spans lines, and reader.line_num is the line the row ends on
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            parsed = _parse_row(path, start, row, header, columns, problems)
            if parsed is None:
                continue
            day, entry = parsed
            if day in rows_of:
                problems.append(
                    _row_problem(path, start, header[columns["date"]])
                    + _("{date} is already listed on row {first}").format(
                        date=day.isoformat(), first=rows_of[day]
                    )
                )
                continue
            if first_year is None:
                first_year = (day.year, start)
            elif day.year != first_year[0]:
                problems.append(
                    _row_problem(path, start, header[columns["date"]])
                    + _(
                        "{date} is in {year}, but this file is the schedule for {file_year} (row {first}); "
                        "put each year's schedule in its own file"
                    ).format(
                        date=day.isoformat(), year=day.year, file_year=first_year[0], first=first_year[1]
                    )
                )
                continue
            rows_of[day] = start
            entries[day] = entry
    except csv.Error as exc:
        problems.append(
            _("{file}, row {row}: not valid CSV ({reason})").format(
                # the row where the broken record starts (an unclosed quote is reported at its opening row)
                file=path, row=line + 1, reason=exc
            )
        )
    if problems:
        raise DataError(_summary(path, problems))
    if not entries:
        raise DataError(
            _(
                "{file}: the file has a header but no rows; list the year's holidays and make-up working days"
            ).format(file=path)
        )
    return entries


def _read_bytes(path: Path) -> bytes:
    # The one check every import makes: a FIFO or a device is refused (66) before it is opened, since opening a
    # FIFO nobody writes to would wait for ever, and /dev/null would read as an empty schedule.
    check_input_file(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputMissing(_("{file}: no such file").format(file=path)) from None
    except IsADirectoryError:
        raise InputMissing(_("{file}: is a directory, not a schedule file").format(file=path)) from None
    except OSError as exc:
        raise InputMissing(
            _("{file}: cannot be read: {reason}").format(file=path, reason=exc.strerror)
        ) from None
    if len(raw) > _MAX_FILE_BYTES:
        raise DataError(
            _("{file}: larger than {limit} bytes; a year's holiday schedule is a few kilobytes").format(
                file=path, limit=_MAX_FILE_BYTES
            )
        )
    return raw


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        body, encodings = raw[len(codecs.BOM_UTF8) :], ("utf-8",)
    else:
        body, encodings = raw, ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise DataError(
                _(
                    "{file}: contains NUL characters; save the schedule as CSV (UTF-8), not UTF-16 or a workbook"
                ).format(file=path)
            )
        return text
    raise DataError(
        _("{file}: not UTF-8 or GB18030 text; save the schedule as CSV (UTF-8) or CSV in GB18030").format(
            file=path
        )
    )


def _columns(path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Map date/type/note to their column index; reject unknown, unnamed, repeated or missing columns."""
    expected = _("the columns are date, type and note (or 日期, 类型, 说明)")
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.strip()
        key = _COLUMNS.get(name.lower())
        if key is None:
            raise DataError(
                _('{file}, row {row}: unknown column "{column}" (column {position}); {expected}').format(
                    file=path, row=line, column=_shown(name), position=index + 1, expected=expected
                )
            )
        if key in columns:
            raise DataError(
                _('{file}, row {row}: column "{column}" appears twice; {expected}').format(
                    file=path, row=line, column=name, expected=expected
                )
            )
        columns[key] = index
    for key in ("date", "type"):
        if key not in columns:
            raise DataError(
                _('{file}, row {row}: the required column "{column}" is missing; {expected}').format(
                    file=path, row=line, column=key, expected=expected
                )
            )
    return columns


def _parse_row(
    path: Path, line: int, row: list[str], header: list[str], columns: dict[str, int], problems: list[str]
) -> tuple[date, DayEntry] | None:
    """One data row, or None after appending its problems."""
    if len(row) > len(header):
        problems.append(
            _("{file}, row {row}: {count} fields, but the header has {columns}").format(
                file=path, row=line, count=len(row), columns=len(header)
            )
        )
        return None
    cells = {key: (row[index].strip() if index < len(row) else "") for key, index in columns.items()}
    count = len(problems)
    day = _parse_date(cells["date"])
    if isinstance(day, str):
        problems.append(_row_problem(path, line, header[columns["date"]]) + day)
    is_workday = _TYPES.get(cells["type"].lower())
    if is_workday is None:
        problems.append(
            _row_problem(path, line, header[columns["type"]])
            + _('"{value}" is not a day type; expected one of: {types}').format(
                value=_shown(cells["type"]), types=", ".join(_TYPES)
            )
        )
    note = cells.get("note", "")
    if len(note) > _MAX_NOTE_CHARS:
        problems.append(
            _row_problem(path, line, header[columns["note"]])
            + _("{length} characters long; at most {limit} are allowed").format(
                length=len(note), limit=_MAX_NOTE_CHARS
            )
        )
    if len(problems) > count or isinstance(day, str) or is_workday is None:
        return None
    return day, DayEntry(is_workday=is_workday, note=note)


def _parse_date(value: str) -> date | str:
    """The date, or the rule it breaks (translated)."""
    match = _DATE.fullmatch(value)
    if match is None:
        return _('"{value}" is not a date; expected YYYY-MM-DD, for example 2027-10-01').format(
            value=_shown(value)
        )
    try:
        return date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        return _('"{value}" is not a real day').format(value=value)


def _row_problem(path: Path, line: int, field: str) -> str:
    return _('{file}, row {row}, field "{field}": ').format(file=path, row=line, field=field.strip())


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"


def _summary(path: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    lines = [_("{file}: {count} problems, nothing imported:").format(file=path, count=len(problems))]
    lines += problems[:_MAX_LISTED_PROBLEMS]
    if len(problems) > _MAX_LISTED_PROBLEMS:
        lines.append(_("… and {more} more").format(more=len(problems) - _MAX_LISTED_PROBLEMS))
    return "\n".join(lines)
