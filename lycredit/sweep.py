"""The nightly expiry sweep: Art. 15 (失信信息披露期限届满，转档保存).

Art. 15 discloses dishonesty information (失信信息) for at most five years from
the day the act or event ended; when the period ends, the information leaves
every public output and every query, is no longer a basis for any measure,
and is kept in the archive. :func:`sweep_expiry` does that for every record
whose *effective disclosure end* is before the ``as_of`` day:

- the effective end is the record's ``disclosure_until`` (intake sets it to the
  earliest of the record's own 公示截止期, the catalog item's validity and, for
  dishonesty information, the Art. 15 cap), recomputed defensively for
  dishonesty items as ``min(disclosure_until, act end + 5 years)`` with the act
  end taken as ``act_ended_on``, else ``decision_date`` (:func:`effective_end`).
  No dishonesty record is ever shown past five years, even if intake got its
  date wrong or left it empty; such records are counted as ``capped``;
- the record becomes ``archived`` with ``archived_on`` the day after its
  effective end, *not* the sweep day: a sweep run late, or as of a past date,
  archives exactly what was due then with the dates it would have had, and a
  later sweep never archives anything twice (idempotent and catch-up);
- the archive changes the record's status and nothing else: its fields and
  ``revision`` (which counts content revisions, see ``record_history``) stay
  as they were, so no ``record_history`` row is written. The record row says
  that and when it left view (``status``, ``archived_on``), and the signed
  log holds the change with the row's hash before and after, in an operation
  whose action is ``sweep.expiry`` (Art. 30: why it changed); a subject's
  report shows the archive from ``status`` and ``archived_on``. Copying every
  expired record into the history would add no information and double the
  sweep's cost at a million records;
- only ``active`` records are swept. ``withdrawn`` and ``repaired`` records are
  already out of every query (Art. 33) and keep their status, which says why;
  a repair revoked for fraud (Art. 36) makes a record ``active`` again, and the
  next sweep archives it as of its own period's end.

One sweep is one signed operation, even when nothing is due, so that every
cron run is visible in the log; its summary holds the counts, and its leaves
one change per archived record. The work is batched
(:data:`BATCH_SIZE` records per read, update and log call); row hashes are
computed from the rows as read, so they equal what ``audit verify`` computes
from the rows read back.

Extension point: what else depends on a record's disclosure (list entries of
Art. 21 whose basis has expired, measures based on it) registers an
:data:`ExpiryFollower` with :func:`register_follower`. Each follower is called
in the same operation with the ids archived by this run and returns counts,
which go into the operation summary and :attr:`SweepResult.follow_ups`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from lycredit.errors import UsageError
from lycredit.i18n import _
from lycredit.models import CatalogItem, Record
from lycredit.models.base import row_key, row_values
from lycredit.oplog.log import UnitOfWork, row_hash
from lycredit.periods import ART15_MAX_YEARS, add_years, disclosure_until, shanghai_today

R = Record.__table__
C = CatalogItem.__table__

ACTIVE, ARCHIVED = "active", "archived"
BATCH_SIZE = 5_000
"""Records read, updated and logged per batch: bounds memory and the size of one ``IN`` list."""

ExpiryFollower = Callable[[UnitOfWork, date, Sequence[int]], Mapping[str, int]]
"""``follower(uow, as_of, archived_record_ids) -> counts``: runs inside the sweep's operation."""

FOLLOWERS: dict[str, ExpiryFollower] = {}


def register_follower(name: str, follower: ExpiryFollower) -> None:
    """Run ``follower`` after every sweep (the extension point for lists and measures based on records)."""
    if name in FOLLOWERS:
        raise ValueError(f"an expiry follower named {name!r} is already registered")
    FOLLOWERS[name] = follower


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did (or, in a dry run, would do)."""

    as_of: date
    archived: int
    capped: int
    """Dishonesty records archived by the Art. 15 recomputation although their ``disclosure_until`` was later or empty."""
    expired_record_ids: tuple[int, ...]
    first_archived_on: date | None = None
    last_archived_on: date | None = None
    follow_ups: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """The counts, as stored in the operation's summary and printed by ``sweep expiry``."""
        return {
            "as_of": self.as_of.isoformat(),
            "archived": self.archived,
            "capped": self.capped,
            "first_archived_on": self.first_archived_on.isoformat() if self.first_archived_on else None,
            "last_archived_on": self.last_archived_on.isoformat() if self.last_archived_on else None,
            "follow_ups": self.follow_ups,
        }


def art15_cap(act_ended_on: date | None, decision_date: date) -> date:
    """Art. 15: the last day dishonesty information may be disclosed, five years after the act ended.

    The act end is ``act_ended_on``, or the decision date when the record does not give one.
    """
    return _five_years_after(act_ended_on or decision_date)


@functools.lru_cache(maxsize=4096)
def _five_years_after(act_ended: date) -> date:
    return disclosure_until(act_ended, ART15_MAX_YEARS)  # records of one sweep share few act days


def effective_end(
    disclosure_until_: date | None, dishonesty: bool, act_ended_on: date | None, decision_date: date
) -> date | None:
    """The last day a record may be disclosed: its ``disclosure_until``, capped by Art. 15 for dishonesty.

    None when the record has no end at all (information that is not dishonesty
    information and whose catalog item sets no validity period).

    >>> effective_end(date(2030, 1, 1), True, date(2021, 11, 27), date(2021, 12, 1))
    datetime.date(2026, 11, 27)
    >>> effective_end(None, False, None, date(2021, 12, 1)) is None
    True
    """
    if not dishonesty:
        return disclosure_until_
    cap = art15_cap(act_ended_on, decision_date)
    return cap if disclosure_until_ is None else min(disclosure_until_, cap)


def first_act_end_within_cap(as_of: date) -> date:
    """The earliest act end whose five-year period still includes ``as_of``: acts ended before it are past the cap.

    ``disclosure_until`` is non-decreasing in the act end, so "past the cap on
    ``as_of``" is exactly "act ended before this day", which a query can test.

    >>> first_act_end_within_cap(date(2026, 11, 28))  # ended 2021-11-27: shown through 2026-11-27
    datetime.date(2021, 11, 28)
    >>> first_act_end_within_cap(date(2025, 3, 1))  # ended 2020-02-29: shown through 2025-02-28
    datetime.date(2020, 3, 1)
    """
    try:
        day = add_years(as_of, -ART15_MAX_YEARS)
    except OverflowError:
        return date.min
    while disclosure_until(day) >= as_of:
        if day == date.min:
            return date.min
        day -= timedelta(days=1)
    return day + timedelta(days=1)


def due_for_expiry(conn: sa.Connection, as_of: date) -> sa.CompoundSelect:
    """The ids of the ``active`` records whose effective disclosure end is before ``as_of``.

    Two disjoint parts: the records whose ``disclosure_until`` has passed (a
    range of the ``(status, disclosure_until)`` index), and the dishonesty
    records whose act ended before :func:`first_act_end_within_cap` although
    their ``disclosure_until`` is later or empty (intake errors). No index
    holds the act dates, so the second part is one pass over the table; its
    status and item are compared as expressions (``status || ''``,
    ``catalog_item_id + 0``) so that no planner walks an index through every
    active record instead, which on SQLite is three times slower. Without
    dishonesty items in the catalog there is no second part.
    """
    passed = sa.select(R.c.id).where(R.c.status == ACTIVE, R.c.disclosure_until < as_of)
    dishonest = conn.execute(sa.select(C.c.id).where(C.c.dishonesty.is_(True))).scalars().all()
    if not dishonest:
        return sa.union_all(passed)
    past_cap = sa.select(R.c.id).where(
        R.c.status.concat("") == ACTIVE,
        sa.or_(R.c.disclosure_until.is_(None), R.c.disclosure_until >= as_of),
        (R.c.catalog_item_id + 0).in_(dishonest),
        sa.func.coalesce(R.c.act_ended_on, R.c.decision_date) < first_act_end_within_cap(as_of),
    )
    return sa.union_all(passed, past_cap)


def sweep_expiry(
    uow: UnitOfWork,
    as_of: date,
    *,
    today: date | None = None,
    batch_size: int = BATCH_SIZE,
) -> SweepResult:
    """Archive every record due on ``as_of`` (Art. 15), in ``uow``'s one operation.

    ``as_of`` may be any day up to ``today`` (default: today in Asia/Shanghai);
    a later day would take information out of view before its period ends and
    is refused (a dry run may preview it by passing ``today=as_of``).
    """
    today = shanghai_today() if today is None else today
    if as_of > today:
        raise UsageError(
            _("Cannot sweep as of {as_of}, after today ({today}): information would leave view before its "
              "disclosure period ends. Use --dry-run to preview").format(as_of=as_of, today=today)
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    conn = uow.conn
    ids = sorted(conn.execute(due_for_expiry(conn, as_of)).scalars().all())
    dishonesty = dict(conn.execute(sa.select(C.c.id, C.c.dishonesty)).all())
    archive = (
        sa.update(R)
        .where(R.c.id == sa.bindparam("b_id"))
        .values(status=ARCHIVED, archived_on=sa.bindparam("b_archived_on"))
    )
    capped = 0
    first: date | None = None
    last: date | None = None
    for chunk in _chunks(ids, batch_size):
        rows = conn.execute(sa.select(R).where(R.c.id.in_(chunk)).order_by(R.c.id)).all()
        if len(rows) != len(chunk):
            raise RuntimeError(f"read {len(rows)} of {len(chunk)} due records: the table changed under the sweep")
        batch = _archive_batch(rows, as_of, dishonesty)
        conn.execute(archive, batch.updates)
        uow.record_changes(R.name, batch.changes)
        capped += batch.capped
        first = batch.first if first is None else min(first, batch.first)
        last = batch.last if last is None else max(last, batch.last)
    expired = tuple(ids)
    result = SweepResult(
        as_of=as_of,
        archived=len(ids),
        capped=capped,
        expired_record_ids=expired,
        first_archived_on=first,
        last_archived_on=last,
        follow_ups={name: dict(follower(uow, as_of, expired)) for name, follower in FOLLOWERS.items()},
    )
    uow.summary.update(result.summary())
    return result


@dataclass
class _Batch:
    updates: list[dict[str, object]] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    capped: int = 0
    first: date = date.max
    last: date = date.min


_COLUMNS = tuple(c.name for c in R.columns)


def _archive_batch(rows: Sequence[sa.Row], as_of: date, dishonesty: Mapping[int, bool]) -> _Batch:
    """The updates and log changes of one batch: each row hashed as read, and as it will be after the update."""
    batch = _Batch()
    for row in rows:
        record = dict(zip(_COLUMNS, row, strict=True))
        end = effective_end(record["disclosure_until"], bool(dishonesty[record["catalog_item_id"]]),
                            record["act_ended_on"], record["decision_date"])
        if end is None or end >= as_of:
            raise RuntimeError(f"record {record['id']} is not due on {as_of} (effective end {end})")
        if record["disclosure_until"] is None or end < record["disclosure_until"]:
            batch.capped += 1
        archived_on = end + timedelta(days=1)
        before = row_values(R, record)
        after = {**before, "status": ARCHIVED, "archived_on": archived_on.isoformat()}
        batch.updates.append({"b_id": record["id"], "b_archived_on": archived_on})
        batch.changes.append((row_key(R, record), row_hash(R.name, before), row_hash(R.name, after)))
        batch.first = min(batch.first, archived_on)
        batch.last = max(batch.last, archived_on)
    return batch


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
