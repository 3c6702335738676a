"""The working-day calendar over the database: Art. 10 (7 working days), Art. 46 (late providers).

The ``calendar_day`` table holds the official holiday schedules (国务院办公厅关于部分
节假日安排的通知) that operators import for the years the ``chinesecalendar``
package does not cover; :func:`load_calendar` joins them with the package into
one :class:`~lycredit.workdays.WorkCalendar`. The table is logged: a schedule
changes only through :func:`import_schedule`, inside one signed operation
that replaces the whole year.

A year the package covers is official data; importing a file over it is
refused unless the caller says so (``replace_package_year``), so that a
stray file never silently overrides the State Council's published schedule.
:func:`count_workdays` and :func:`add_workdays` say which years, if any, were
counted by the weekly rule instead of a schedule: a guess is never silent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from lycredit.errors import UsageError
from lycredit.i18n import _
from lycredit.models import CalendarDay as CalendarDayRow
from lycredit.oplog.log import UnitOfWork
from lycredit.workdays import CalendarDay, DayEntry, WorkCalendar, parse_schedule_csv

T_DAY = CalendarDayRow.__table__

IMPORTED, PACKAGE, ASSUMED = "imported", "package", "assumed"


@dataclass(frozen=True)
class YearView:
    """A year as ``calendar show`` lists it, with where its schedule comes from."""

    year: int
    source: str
    days: list[CalendarDay]


@dataclass(frozen=True)
class Counted:
    """A working-day count or date; ``guessed_years`` were counted Monday to Friday, without a schedule."""

    value: int | date
    guessed_years: tuple[int, ...]


def load_calendar(conn: sa.Connection, assume_weekends: bool = False) -> WorkCalendar:
    """The calendar: the schedules imported into ``calendar_day``, then chinesecalendar."""
    rows = conn.execute(sa.select(T_DAY.c.day, T_DAY.c.is_workday, T_DAY.c.note)).all()
    imported = {row.day: DayEntry(is_workday=bool(row.is_workday), note=row.note or "") for row in rows}
    return WorkCalendar(imported, assume_weekends=assume_weekends)


def imported_years(conn: sa.Connection) -> set[int]:
    """The years with a schedule imported into the database."""
    return set(conn.execute(sa.select(T_DAY.c.year).distinct()).scalars())


def import_schedule(
    uow: UnitOfWork, path: str | os.PathLike[str], replace_package_year: bool = False
) -> dict[str, Any]:
    """Replace one year's schedule with the file's, in the unit of work; the counts also go to ``uow.summary``.

    Counts: ``year``; ``days`` listed in the file, of which ``workdays`` are
    make-up working days (调休上班) and ``holidays`` days off; ``added``,
    ``changed`` and ``removed`` rows of that year (``replaced`` = changed +
    removed); only those are written; ``year_working_days``, the working
    days of the year under the new schedule.
    """
    entries = parse_schedule_csv(path)
    year = min(entries).year
    if WorkCalendar().covers(year) and not replace_package_year:
        raise UsageError(
            _(
                "{file}: the chinesecalendar package already holds the official schedule for {year}; importing "
                "this file would override the package's data for the whole year. If the State Council changed "
                "the {year} schedule after the package was released, import it with --replace-package-year"
            ).format(file=path, year=year)
        )
    existing = {
        r.day: (r.is_workday, r.note)
        for r in uow.conn.execute(sa.select(T_DAY.c.day, T_DAY.c.is_workday, T_DAY.c.note).where(T_DAY.c.year == year))
    }
    # Only what differs is written, so re-importing the same notice adds nothing but the operation.
    removed = [day for day in existing if day not in entries]
    changed = [day for day, e in entries.items() if day in existing and existing[day] != (e.is_workday, e.note)]
    added = [day for day in entries if day not in existing]
    for day in sorted(removed):
        uow.delete(T_DAY, {"day": day})
    for day in sorted(changed):
        uow.update(T_DAY, {"day": day}, {"is_workday": entries[day].is_workday, "note": entries[day].note})
    for day in sorted(added):
        entry = entries[day]
        uow.insert(T_DAY, {"day": day, "year": year, "is_workday": entry.is_workday, "note": entry.note})
    workdays = sum(entry.is_workday for entry in entries.values())
    counts = {
        "year": year,
        "days": len(entries),
        "workdays": workdays,
        "holidays": len(entries) - workdays,
        "added": len(added),
        "changed": len(changed),
        "removed": len(removed),
        "replaced": len(changed) + len(removed),
        "year_working_days": sum(d.is_workday for d in WorkCalendar(entries).year_days(year)),
        "guessed_records": guessed_records(uow.conn, year),
    }
    uow.summary.update(counts)
    return counts


def guessed_records(conn: sa.Connection, year: int) -> int:
    """Stored records whose Art. 10 deadline or late days were counted Monday to Friday (``--assume-weekends``,
    ``due_guessed``) over days of ``year``: concluded by its end, and due or submitted after its start (the days
    counted run from the conclusion to the due date, and on to the intake day, ``--as-of``, which is never later
    than the submission; a record taken in late in December is due in the next January). Importing the year's
    schedule does not recount them: their due date and late days stand as counted at intake."""
    from lycredit.deadlines import R as record
    from lycredit.deadlines import submitted_from

    return conn.execute(sa.select(sa.func.count()).select_from(record).where(
        record.c.due_guessed.is_(True), record.c.concluded_on <= date(year, 12, 31),
        sa.or_(record.c.due_date >= date(year, 1, 1), submitted_from(date(year, 1, 1))))
    ).scalar_one()


def show_year(conn: sa.Connection, year: int, assume_weekends: bool = False, changes_only: bool = False) -> YearView:
    """Every day of ``year`` (or, with ``changes_only``, the days that differ from Monday-to-Friday work)."""
    calendar = load_calendar(conn, assume_weekends)
    days = calendar.year_days(year)
    if year in imported_years(conn):
        source = IMPORTED
    elif calendar.covers(year):
        source = PACKAGE
    else:
        source = ASSUMED
    if changes_only:
        days = [d for d in days if differs_from_weekly_rule(d)]
    return YearView(year, source, days)


def differs_from_weekly_rule(day: CalendarDay) -> bool:
    """A holiday on a weekday, or a make-up working day (调休上班) on a weekend."""
    return day.is_workday != (day.date.weekday() < 5)


def count_workdays(calendar: WorkCalendar, start: date, end: date) -> Counted:
    """The number of working days in (start, end]: the start day is not counted (Civil Code Art. 201)."""
    if end < start:
        raise UsageError(
            _("{end} is before {start}: give the earlier day first").format(
                start=start.isoformat(), end=end.isoformat()
            )
        )
    return Counted(calendar.workdays_between(start, end), _guessed(calendar, start, end))


def add_workdays(calendar: WorkCalendar, start: date, n: int) -> Counted:
    """The n-th working day after ``start``: with n = 7, the Art. 10 deadline of a matter concluded on ``start``."""
    due = calendar.deadline(start, n).due
    return Counted(due, _guessed(calendar, start, due))


def _guessed(calendar: WorkCalendar, start: date, end: date) -> tuple[int, ...]:
    """The years of (start, end] without an official schedule."""
    if end <= start:
        return ()
    first = (start + timedelta(days=1)).year
    return tuple(year for year in range(first, end.year + 1) if not calendar.covers(year))
