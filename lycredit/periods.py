"""Counting periods: Civil Code Art. 200–204 (民法典 期间的计算), applied to Art. 15.

The rules this module implements:

- Art. 201: the day on which a period starts is not counted; the period starts
  on the next day.
- Art. 202: a period in years or months ends on the corresponding day
  (对应日) of the final year or month; when that month has no such day, it ends
  on the month's last day.
- Art. 203: a period ends at the end (24:00) of its last day. Days are
  Asia/Shanghai days, whatever the server's time zone.

Art. 15 of the Measures discloses dishonesty information (失信信息) for at most
five years from the day the act or event ended; :func:`disclosure_until` is
where that cap is counted.

>>> disclosure_until(date(2021, 11, 27))
datetime.date(2026, 11, 27)
>>> disclosure_until(date(2020, 2, 29))
datetime.date(2025, 2, 28)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from lycredit.errors import UsageError
from lycredit.i18n import _

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo as ZoneInfoType


def ZoneInfo(key: str) -> ZoneInfoType:  # noqa: N802 - stands for the class, which it imports when first used
    """``zoneinfo.ZoneInfo(key)``: the module loads only when a day must be found (a query --as-of needs none)."""
    from zoneinfo import ZoneInfo as zone_info

    return zone_info(key)

ART15_MAX_YEARS = 5
"""Art. 15: dishonesty information is disclosed for at most five years."""

SHANGHAI = "Asia/Shanghai"
_CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SHOWN_CHARS = 40


def add_months(d: date, months: int) -> date:
    """The corresponding day ``months`` months after (or before) ``d`` (Civil Code Art. 202).

    When the final month has no corresponding day, its last day:

    >>> add_months(date(2026, 1, 31), 1)
    datetime.date(2026, 2, 28)
    >>> add_months(date(2026, 3, 31), -1)
    datetime.date(2026, 2, 28)
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError(f"{d.isoformat()} + {months} months is outside years 1-9999")
    import calendar  # imported when used: every short command loads this module

    month = month0 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_years(d: date, years: int) -> date:
    """The corresponding day ``years`` years after ``d`` (Civil Code Art. 202).

    >>> add_years(date(2020, 2, 29), 5)
    datetime.date(2025, 2, 28)
    """
    return add_months(d, 12 * years)


def disclosure_until(act_ended: date, years: int = ART15_MAX_YEARS) -> date:
    """The last day on which information is disclosed (公示), counted from the day the act ended (Art. 15).

    The day the act or event ended is not counted (Civil Code Art. 201), so a
    period of ``years`` years ends on the corresponding day of the final year,
    or on that month's last day when it has none (Civil Code Art. 202). The
    information is disclosed through the end of that day and leaves public view
    the next day: an act that ended on 2021-11-27 is disclosed through
    2026-11-27 and is gone on 2026-11-28; one that ended on 2020-02-29 is
    disclosed through 2025-02-28.

    Art. 15 caps the period at five years (最长不得超过五年), "unless laws or
    administrative regulations provide otherwise"; ``years`` is a shorter period
    of the catalog item, or a longer one only under that proviso, which the
    catalog decides.
    """
    if years < 1:
        raise ValueError(f"a disclosure period is at least one year, not {years}")
    return add_years(act_ended, years)


def disclosure_expired(act_ended: date, as_of: date, years: int = ART15_MAX_YEARS) -> bool:
    """True when, on ``as_of``, the disclosure period of Art. 15 is over (the day after :func:`disclosure_until`)."""
    return as_of > disclosure_until(act_ended, years)


def shanghai_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai, whatever the server's time zone.

    ``now`` must be timezone-aware; it defaults to the current instant. China
    has kept UTC+8 without daylight saving since 1991, so a host without a
    time-zone database falls back to that fixed offset.
    """
    if now is None:
        return datetime.now(_shanghai_zone()).date()
    return in_shanghai(now).date()


def in_shanghai(moment: datetime) -> datetime:
    """A timezone-aware instant as Asia/Shanghai time (the fixed UTC+8 offset on a host without a time-zone
    database); OverflowError when that falls outside the years 1 to 9999."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("in_shanghai() needs a timezone-aware datetime")
    return moment.astimezone(_shanghai_zone())


def _shanghai_zone() -> timezone | ZoneInfoType:
    from zoneinfo import ZoneInfoNotFoundError

    try:
        return ZoneInfo(SHANGHAI)
    except ZoneInfoNotFoundError:
        return _CHINA_STANDARD_TIME


def parse_as_of(text: str | None) -> date:
    """The ``--as-of`` day: an ISO date ``YYYY-MM-DD``, or today in Asia/Shanghai when ``None``."""
    if text is None:
        return shanghai_today()
    value = text.strip()
    shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
    if not _ISO_DATE.fullmatch(value):
        raise UsageError(
            _('Invalid as-of date "{value}": expected an ISO date YYYY-MM-DD, for example 2026-09-28').format(
                value=shown
            )
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            _('Invalid as-of date "{value}": it has the form YYYY-MM-DD but there is no such day').format(
                value=shown
            )
        ) from None
