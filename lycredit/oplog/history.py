"""``audit log``: the operation log for people: who did what, when, to what (Art. 28, 47).

It reads the ``oplog_operation`` index, one row per signed operation, newest
first. ``audit verify`` proves that index agrees with the signed leaves; this
module only filters and shows it. Days are Asia/Shanghai days, both ends
inclusive.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from lycredit.errors import UsageError
from lycredit.i18n import _
from lycredit.models.oplog import LogOperation
from lycredit.periods import SHANGHAI

T_OPERATION = LogOperation.__table__
DEFAULT_LIMIT = 100
COLUMNS = ("seq", "at", "operator", "key_id", "command", "action", "subject", "reason", "summary")


@dataclass(frozen=True)
class LogFilter:
    """Which operations to show; ``None`` means no condition. ``action`` is a prefix (``operator.``)."""

    operator: str | None = None
    subject: str | None = None
    action: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int = DEFAULT_LIMIT


def shanghai_zone() -> dt.tzinfo:
    """Asia/Shanghai; UTC+8 where the host has no time-zone database (China has no daylight saving since 1991)."""
    try:
        return ZoneInfo(SHANGHAI)
    except ZoneInfoNotFoundError:
        return dt.timezone(dt.timedelta(hours=8), "CST")


def day_start(day: dt.date) -> dt.datetime:
    """The instant an Asia/Shanghai day begins."""
    return dt.datetime.combine(day, dt.time(), shanghai_zone())


def operations(conn: sa.Connection, flt: LogFilter) -> list[dict[str, Any]]:
    """The operations matching ``flt``, newest first, at most ``flt.limit``; ``summary`` parsed from JSON."""
    if flt.limit < 1:
        raise UsageError(_("--limit must be at least 1, not {limit}").format(limit=flt.limit))
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise UsageError(_("--since {since} is after --until {until}: no day is in between").format(
            since=flt.since.isoformat(), until=flt.until.isoformat()))
    c = T_OPERATION.c
    query = sa.select(*(c[name] for name in COLUMNS)).order_by(c.seq.desc()).limit(flt.limit)
    if flt.operator is not None:
        query = query.where(c.operator == flt.operator)
    if flt.subject is not None:
        query = query.where(c.subject == flt.subject)
    if flt.action is not None:
        # exact and case-sensitive on both dialects (SQLite's LIKE ignores case and treats "_" as a wildcard)
        query = query.where(sa.func.substr(c.action, 1, len(flt.action)) == flt.action)
    # the calendar's first day begins, and its last ends, outside the years 1 to 9999 in UTC: they bound nothing
    if flt.since is not None and flt.since > dt.date.min:
        query = query.where(c.at >= day_start(flt.since))
    if flt.until is not None and flt.until < dt.date.max:
        query = query.where(c.at < day_start(flt.until + dt.timedelta(days=1)))
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["summary"] = json.loads(row["summary"] or "{}")
    return rows
