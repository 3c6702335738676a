"""Bulk import of credit records (Art. 10, 11, 12, 46): streamed, batch by batch, resumable.

A file (CSV in UTF-8, UTF-8 with BOM or GB18030, XLSX, JSON, NDJSON, Parquet) in one of the
layouts of :mod:`lycredit.records` is read in batches (default 10,000 rows). Each batch is ONE
transaction and ONE signed operation whose leaves are the per-row change hashes (oplog.md,
"Scale"): new records are written with bulk SQL (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) under ids taken while holding the log's lock; corrections go
through the unit of work one by one. A row whose content is already stored changes nothing and
leaves no leaf.

* Every rejected row is written, with each reason, to the rejects file: CSV, UTF-8 with a BOM,
  columns ``file, row, field, rule, message, raw``; a text that starts like a spreadsheet formula
  (``=``, ``+``, ``-``, ``@``, a tab or a carriage return) has an apostrophe before it, so that Excel shows it rather than runs it. A batch's rejects are flushed before the
  batch commits, and the file's length is committed with the batch, so that ``--resume`` cuts
  the file back to exactly the committed batches. A rejects file that cannot be created or written
  (a full disk) stops the import with exit 78 naming it, before the batch whose rejects it could not
  take commits, and is cut back to the committed batches: ``--resume`` continues once there is room.
* ``max_rejects``: the file is read and checked to its end first (the validation pass, which
  writes nothing to the database); only when at most ``max_rejects`` rows are rejected does the
  write pass start. So a file over the limit leaves nothing behind, even if the process dies.
* ``resume``: an import is an ``import_run`` row keyed by the file's SHA-256; each batch commits
  the last row it covered. A killed import continues after that row, without duplicates.
* ``dry_run``: every batch runs for real and is rolled back.
* Two imports never overlap: the run lock ``record-import`` (exit 75).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import functools
import gc
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from lycredit import forked
from lycredit.dbapi import MAX_ID, sqlite_timestamp
from lycredit.errors import ConfigError, DataError, NotFound, UsageError
from lycredit.i18n import _
from lycredit.models import ImportRun
from lycredit.models.base import copy_types, hashed_columns, utcnow
from lycredit.oplog.append import as_text
from lycredit.oplog.log import row_hash, timestamp
from lycredit.output import spreadsheet_row
from lycredit.outputs import cannot_write
from lycredit.readers import DEFAULT_BATCH_SIZE, Row, open_table
from lycredit.records import (
    T_RECORD,
    CatalogIndex,
    Checked,
    ForbiddenColumn,
    Rejection,
    RowChecker,
    apply_correction,
    assess,
    checked_columns,
    checked_rows,
    duplicate_in_file,
    intake_day,
    layout_of,
    next_id,
    provider_for,
)
from lycredit.runlock import run_lock
from lycredit.seen import Seen

if TYPE_CHECKING:
    from lycredit.context import AppContext
    from lycredit.oplog.log import UnitOfWork

T_RUN: sa.Table = ImportRun.__table__
ACTION = "record.import"
ABANDON_ACTION = "record.abandon"
LOCK_NAME = "record-import"
KIND = "record"
REJECTS_COLUMNS = ("file", "row", "field", "rule", "message", "raw")
PARALLEL_FORMATS = frozenset({"csv", "tsv", "json", "ndjson"})
"""The formats read in pure Python, so that the reading child can be forked (no native thread pools)."""
PARALLEL_MIN_BYTES = 4 << 20
"""Below this a file is read and checked in-process: forking would cost more than it saves."""
DEFER_ENV = "LYCREDIT_IMPORT_DEFER_INDEXES"
"""``1``: always take the record table's secondary indexes down for an import and rebuild them at its
end; ``0``: never; unset: when the import is large (:func:`_worth_deferring`)."""
DEFERRED_INDEXES = ("ix_record_subject_id", "ix_record_status_disclosure_until")
"""The record table's secondary indexes that no step of an import reads (it looks records up by
their natural key, whose unique index always stays). A batch's rows land on their pages all over
the file, and every commit writes each page it touched again: on SQLite a million-row import spent
about 6 s more on them than building them once at the end takes (about 2 s)."""
DEFERRED_FOREIGN_KEYS = ("record_catalog_item_id_fkey", "record_subject_id_fkey")
"""On PostgreSQL, the record table's foreign keys, taken down with the indexes and added back (the names
PostgreSQL gives the schema's unnamed keys). Their triggers look the catalog item and the subject up
again for each row COPY stores, which the import has just read or written itself: half the server's
time to store the records. Added back, each is checked by one query over the whole table. SQLite cannot
drop a constraint; its import leaves the checks out instead (:meth:`lycredit.context.AppContext.operation`)."""
DEFER_MIN_ROWS = 100_000
"""The rows an import must still have to do, at least, before its indexes are taken down; and at
least as many as the table holds already (rebuilding costs in proportion to the whole table)."""
PHASES_ENV = "LYCREDIT_IMPORT_PHASES"
"""Set to 1 to have the importer report the time spent in each phase (for the benchmark)."""

Progress = Callable[[int, int, dict[str, int]], None]


@dataclass
class ImportSummary:
    """The outcome of an import: the counts, the run, and (when measured) the time of each phase."""

    file: str
    layout: str
    provider: str
    run_id: int | None = None
    dry_run: bool = False
    resumed_from: int = 0
    rejects_file: str = ""
    read: int = 0
    accepted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: int = 0
    late: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the operator should know that is not a count (a ``--resume`` with nothing to resume)."""

    COUNTS = ("read", "accepted", "corrected", "unchanged", "rejected", "late")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def add(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)


# --- the rejects file ---------------------------------------------------------------------------

class RejectsFile:
    """The rejects CSV (UTF-8 with a BOM): one line per reason a row was rejected.

    Written unbuffered, so that a write that fails (a full disk, a read-only file system, an I/O error) fails
    in :meth:`write`, before the batch commits: it is cut back to its length before the write and is a
    ConfigError (78) naming it (:mod:`lycredit.outputs`), so the file stays what the committed batches wrote,
    which is what ``--resume`` continues from. One that cannot be started is removed.
    """

    def __init__(self, path: Path, source: str, offset: int | None = None):
        """A new rejects file at ``path``, or (``offset``: an interrupted run's, resumed) the one there, cut back to
        the ``offset`` bytes its committed batches wrote. One that holds fewer is ConfigError (78): it was cut,
        replaced or removed since, and continuing in it would lose those batches' rejects without a word."""
        self.path = path
        self.source = source
        try:
            if offset:
                if path.exists() and not path.is_file():  # a directory there now: say that, as for a new file
                    raise cannot_write(path, errno.EISDIR if path.is_dir() else errno.EINVAL)
                size = path.stat().st_size if path.is_file() else None
                if size is None or size < offset:
                    raise ConfigError(_(
                        "{file} holds {size} bytes, fewer than the {offset} that the import's committed batches "
                        "wrote to it: it was cut, replaced or removed since, and some of their rejected rows are no "
                        "longer in it. To go on, give --rejects with another file (the rejects of the rows still to "
                        "come go there; a --dry-run of the same file lists every rejected row again)").format(
                        file=path, size=size or 0, offset=offset))
                self._out = open(path, "r+b", buffering=0)  # noqa: SIM115 - closed in close()
                self._out.truncate(offset)
                self._out.seek(offset)
                return
            self._out = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        except OSError as exc:  # no such directory, a directory there, no permission, a read-only file system
            raise cannot_write(path, exc) from None
        try:
            self._write_all(b"\xef\xbb\xbf" + self._lines([REJECTS_COLUMNS]))
            os.fsync(self._out.fileno())
        except OSError as exc:  # a full disk: no rejects file with half a header
            self._out.close()
            if path.is_file():
                path.unlink(missing_ok=True)
            raise cannot_write(path, exc) from None

    @staticmethod
    def _lines(rows: Iterable[tuple[Any, ...]]) -> bytes:
        """The rows as CSV lines, each text that Excel would take for a formula behind an apostrophe
        (:func:`lycredit.output.spreadsheet_text`): the file is for people, and a rejected row's value is
        whatever the file held."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(map(spreadsheet_row, rows))
        return buffer.getvalue().encode("utf-8")

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._out.write(view):]

    def write(self, rejected: list[tuple[int, str, Rejection]]) -> int:
        """Append the lines (one write for them all); the file's length after them. A write that fails leaves
        the file as it was before it and is 78."""
        if rejected:
            before = self._out.tell()
            try:
                self._write_all(self._lines((self.source, row, problem.field, problem.rule, problem.message, raw)
                                            for row, raw, problem in rejected))
                os.fsync(self._out.fileno())  # on disk before the batch commits: its offset is committed with it
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self._out.truncate(before)
                with contextlib.suppress(OSError):
                    self._out.seek(before)
                raise cannot_write(self.path, exc) from None
        return self._out.tell()

    @property
    def offset(self) -> int:
        return self._out.tell()

    def truncate(self, offset: int) -> None:
        try:
            self._out.truncate(offset)
            self._out.seek(offset)
        except OSError as exc:
            raise cannot_write(self.path, exc) from None

    def close(self) -> None:
        self._out.close()


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- fast rows: bulk SQL and their row hashes ----------------------------------------------------------

_encode = json.encoder.encode_basestring  # the C encoder: RFC 8785 escapes for these strings
_json_text = msgspec.json.Encoder().encode
"""A text as a JSON string in UTF-8: the bytes ``encode_basestring(text).encode()`` makes (a test holds the two
equal over every character), in half the time."""


_ROW_LABEL = b"lycredit/row/v1\n"
_sha256 = hashlib.sha256
#: The bulk INSERT's columns: the ids the writer assigns, those :meth:`RowParts.reader_part` fills from
#: the row, then those all rows of a batch share (on SQLite written into the statement, not bound per row).
_ROW_VALUE_COLUMNS = ("item_code", "document_no", "catalog_item_id", "decision_date", "concluded_on", "act_ended_on",
                      "publicity_until", "disclosure_until", "fields", "due_date", "due_guessed", "late_days")
_BATCH_COLUMNS = ("provider_uscc", "status", "revision", "archived_on", "submitted_at", "submitted_by",
                  "import_run_id")
_INSERT_COLUMNS = ("id", "subject_id", *_ROW_VALUE_COLUMNS, *_BATCH_COLUMNS)
_RECORD_COLUMNS = hashed_columns(T_RECORD)
#: How each column that varies from row to row is written into the row text.
_RECORD_SLOTS = {"act_ended_on": "%s", "catalog_item_id": '"%d"', "concluded_on": "%s", "decision_date": "%s",
                 "disclosure_until": "%s", "document_no": "%s", "due_date": "%s", "due_guessed": '"%s"',
                 "fields": "%s", "id": '"%d"', "item_code": "%s", "late_days": '"%d"', "publicity_until": "%s",
                 "subject_id": '"%d"'}
_ROW_CONSTANTS = {"archived_on": "null", "revision": '"1"', "status": '"active"'}
"""Columns every new record has the same value in (besides its provider's)."""
SHARE_GAIN = 0.25
"""How far :meth:`RowParts.share` moves towards the balance it measures, each batch."""
_WRITER_COLUMNS = ("id", "subject_id", "submitted_at", "submitted_by", "import_run_id")
"""What only the writing process knows: the ids it assigns, and its batch's time, operator and run."""
if sorted(_INSERT_COLUMNS) != list(_RECORD_COLUMNS) or \
        set(_BATCH_COLUMNS) != _ROW_CONSTANTS.keys() | set(_WRITER_COLUMNS[2:]) | {"provider_uscc"} or \
        set(_RECORD_COLUMNS) != _RECORD_SLOTS.keys() | _ROW_CONSTANTS.keys() | set(_WRITER_COLUMNS) | {"provider_uscc"}:
    raise RuntimeError("the record table's columns changed: update lycredit.record_import.FastRows")


def _runs() -> list[tuple[str, ...]]:
    """The hashed columns in order, cut into runs that alternate between the reading process's columns
    (the even runs, the first included) and the writer's (the odd runs)."""
    runs: list[list[str]] = [[]]
    for column in _RECORD_COLUMNS:
        if (len(runs) % 2 == 0) != (column in _WRITER_COLUMNS):
            runs.append([])
        runs[-1].append(column)
    return [tuple(run) for run in runs]


_RUNS = _runs()
if [run[0] for run in _RUNS[1::2]] != ["id", "subject_id"] or len(_RUNS) != 4:
    raise RuntimeError("the record table's columns changed: update lycredit.record_import.FastRows")


def _run_text(columns: tuple[str, ...], values: dict[str, str]) -> str:
    return ",".join(f'"{column}":{values.get(column) or _RECORD_SLOTS[column]}' for column in columns)


class RowParts:
    """A new record's parts that a checked row and its provider decide: its own INSERT values
    (:data:`_ROW_VALUE_COLUMNS`), and its two runs of the text its row hash covers (``{"row":{...},"table":"record"}``
    under the row label). :meth:`reader_part` writes them, in the reading process where it has time
    to spare (:meth:`share`); :meth:`FastRows.add` adds the ids and the batch's values.
    """

    def __init__(self, provider: str, dialect: str):
        self.postgresql = dialect == "postgresql"
        values = {**_ROW_CONSTANTS, "provider_uscc": _encode(provider)}
        values = {name: text.replace("%", "%%") for name, text in values.items()}
        self._first, self._second = _run_text(_RUNS[0], values).encode(), _run_text(_RUNS[2], values).encode()
        self._quoted: dict[dt.date, bytes] = {}  # b'"2026-11-27"', for the text
        self._days: dict[dt.date, str] = {}  # '2026-11-27', for SQLite
        self._items: dict[str, bytes] = {}  # the item codes, as JSON text
        self.rows = 0.0
        """How many rows of a batch the reading process writes the parts of (:meth:`share`)."""
        self._most = 0  # rows in the largest batch so far: a batch of mostly rejected rows leaves the share as it is
        self._seconds_per_row = 5e-6  # until measured

    def share(self, rows: list[Checked], busy: tuple[float, float]) -> None:
        """In the reading process: write the parts of some of a batch's rows, the writer those of the others.

        ``busy`` is how long the reader and the writer each last worked on a batch, waits for
        each other left out (:func:`lycredit.forked.busy`). Moving a row's parts from the writer
        to the reader narrows the gap between the two by about twice what the row costs; the share
        moves a fraction (:data:`SHARE_GAIN`) of the way each batch, as the writer's times reach
        the reader a few batches late and vary from batch to batch (a checkpoint, a commit).
        """
        reader, writer = busy
        self._most = max(self._most, len(rows))
        if reader and writer:
            self.rows = max(0.0, min(float(self._most),
                                     self.rows + SHARE_GAIN * (writer - reader) / (2 * self._seconds_per_row)))
        count = min(int(self.rows), len(rows))
        if count:
            started = time.perf_counter()
            part = self.reader_part
            for row in rows[:count]:
                row.parts = part(row)
            self._seconds_per_row = max((time.perf_counter() - started) / count, 1e-7)

    def reader_part(self, row: Checked) -> tuple[bytes, bytes, tuple]:
        """The row's own two runs of the text, as UTF-8, and its INSERT values (:data:`_ROW_VALUE_COLUMNS`).

        Written as bytes from the fields' UTF-8 JSON (:attr:`lycredit.records.Checked.fields_json`), which
        goes into the text as a JSON string: a JSON text holds no control character, so escaping its
        backslashes and quotes is all :func:`json.encoder.encode_basestring` would do to it. On SQLite the
        fields are bound as those bytes and stored as text (:meth:`FastRows.write`).
        """
        days, day = self._quoted.get, self._quote  # a batch's rows share a few hundred days
        dec, con = days(row.decision) or day(row.decision), days(row.concluded) or day(row.concluded)
        act = b"null" if row.act_ended is None else days(row.act_ended) or day(row.act_ended)
        pub = b"null" if row.publicity is None else days(row.publicity) or day(row.publicity)
        dis = b"null" if row.disclosure is None else days(row.disclosure) or day(row.disclosure)
        due = b"null" if row.due is None else days(row.due) or day(row.due)
        item, document, fields, entry_id = row.entry.item.code, row.document_no, row.fields_json, row.entry.id
        first = self._first % (act, entry_id, con, dec, dis, _json_text(document), due,
                               b"true" if row.guessed else b"false",
                               b'"' + fields.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"')
        second = self._second % (self._items.get(item) or self._item(item), row.late, pub)
        if self.postgresql:
            values = (item, document, entry_id, row.decision, row.concluded, row.act_ended, row.publicity,
                      row.disclosure, fields.decode(), row.due, row.guessed, row.late)
        else:
            days, day = self._days.get, self._day
            values = (item, document, entry_id, days(row.decision) or day(row.decision),
                      days(row.concluded) or day(row.concluded),
                      None if row.act_ended is None else days(row.act_ended) or day(row.act_ended),
                      None if row.publicity is None else days(row.publicity) or day(row.publicity),
                      None if row.disclosure is None else days(row.disclosure) or day(row.disclosure), fields,
                      None if row.due is None else days(row.due) or day(row.due), int(row.guessed), row.late)
        return first, second, values

    def _quote(self, day: dt.date) -> bytes:
        text = self._quoted[day] = f'"{day.isoformat()}"'.encode()
        return text

    def _day(self, day: dt.date) -> str:
        text = self._days[day] = day.isoformat()
        return text

    def _item(self, code: str) -> bytes:
        text = self._items[code] = _json_text(code)
        return text


class FastRows:
    """New records as bulk rows, with the row hashes the log records for them.

    The row hash is the one :func:`lycredit.oplog.log.row_hash` computes over
    :func:`lycredit.models.base.row_values` of the row read back; :meth:`self_check`
    proves it on the first row of every batch. A record's submission (revision 1) is the
    record itself: no ``record_history`` row (:func:`lycredit.records.with_submission`).
    """

    def __init__(self, dialect: str, provider: str, operator: str, run_id: int | None, now: dt.datetime,
                 parts: RowParts | None = None):
        self.dialect = dialect
        self.records: list[tuple] = []
        self.record_hashes: list[tuple[str, str]] = []
        now_db: Any = now if dialect == "postgresql" else sqlite_timestamp(now)
        self._batch = (provider, "active", 1, None, now_db, operator, run_id)  # _BATCH_COLUMNS
        # SQLite: the batch's values as literals in the statement, seven values fewer to bind per row (about
        # a sixth of the INSERT's time); COPY takes every column of every row
        self._literals = None if dialect == "postgresql" else _sql_literals(self._batch)
        self._per_row = () if self._literals else self._batch
        values = {"import_run_id": "null" if run_id is None else f'"{run_id}"', "submitted_at": f'"{timestamp(now)}"',
                  "submitted_by": _encode(operator)}
        values = {name: text.replace("%", "%%") for name, text in values.items()}
        self._head = _ROW_LABEL + b'{"row":{'
        self._ids, self._subject = _run_text(_RUNS[1], values).encode(), _run_text(_RUNS[3], values).encode()
        self._tail = b'},"table":"record"}'
        self._parts = parts or RowParts(provider, dialect)  # the run's, whose days outlive the batch

    def add(self, row: Checked, record_id: int, subject_id: int) -> None:
        first, second, values = row.parts or self._parts.reader_part(row)
        self.records.append((record_id, subject_id, *values, *self._per_row))
        self.record_hashes.append((str(record_id), _sha256(b"".join((
            self._head, first, b",", self._ids % record_id, b",", second, b",", self._subject % subject_id,
            self._tail))).hexdigest()))

    def self_check(self) -> None:
        """The first row's fast hash equals the generic one of the same values (a guard against drift)."""
        from lycredit.models.base import row_values

        if not self.records:
            return
        first = self.records[0] if not self._literals else self.records[0] + self._batch
        typed = dict(zip(_INSERT_COLUMNS, first, strict=True))
        for column in T_RECORD.columns:
            typed[column.name] = _typed(column, typed[column.name])
        if row_hash(T_RECORD.name, row_values(T_RECORD, typed)) != self.record_hashes[0][1]:
            raise RuntimeError("bulk row hash of record differs from the generic row hash")

    def write(self, conn: sa.Connection) -> None:
        """Insert the rows with the driver's own bulk path."""
        if not self.records:
            return
        driver = conn.connection.driver_connection
        columns = ", ".join(_INSERT_COLUMNS)
        if self.dialect == "postgresql":
            with driver.cursor() as cursor, cursor.copy(f"COPY record ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(copy_types(T_RECORD, _INSERT_COLUMNS))
                for values in self.records:
                    copy.write_row(values)
        else:
            values = ["?"] * (2 + len(_ROW_VALUE_COLUMNS)) + (self._literals or ["?"] * len(_BATCH_COLUMNS))
            values[_INSERT_COLUMNS.index("fields")] = "CAST(? AS TEXT)"  # UTF-8 bytes, stored as the text they are
            cursor = driver.cursor()
            cursor.executemany(f'INSERT INTO record ({columns}) VALUES ({", ".join(values)})', self.records)
            cursor.close()


def _sql_literals(values: tuple) -> list[str] | None:
    """SQLite literals of these values, stored as their bound values would be; None when one cannot be
    written as a literal (a NUL character in a text, or a type other than text, integer or null)."""
    literals = []
    for value in values:
        if value is None:
            literals.append("NULL")
        elif value.__class__ is int:
            literals.append(str(value))
        elif value.__class__ is str and "\x00" not in value:
            literals.append("'" + value.replace("'", "''") + "'")
        else:
            return None
    return literals


def _typed(column: sa.Column, value: Any) -> Any:
    """A SQLite text value back to the Python type the column reads as (for :meth:`FastRows.self_check`)."""
    kind = getattr(column.type, "impl", column.type)
    if isinstance(value, bytes):  # the fields, bound as UTF-8 and stored as text
        return value.decode()
    if not isinstance(value, str):
        return bool(value) if isinstance(kind, sa.Boolean) else value
    if isinstance(kind, sa.DateTime):
        return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
    if isinstance(kind, sa.Date):
        return dt.date.fromisoformat(value)
    return value


Rejected = list[tuple[int, str, Rejection]]


# --- the import ----------------------------------------------------------------------------------------

KNOWN_SUBJECTS = 200_000
"""Subject ids an import keeps in memory between batches (a cache; beyond it, it starts again)."""


@dataclass
class _Run:
    """The state of one import: its run row, where it is, what it has seen."""

    ctx: AppContext
    path: Path
    checker: RowChecker
    provider: str
    dry_run: bool
    summary: ImportSummary
    rejects: RejectsFile
    parallel: bool = False
    run_id: int | None = None
    start_row: int = 0
    seen: Seen = field(default_factory=Seen)
    whole_file_duplicates: bool = True
    """Whether ``seen`` spans the file (validation pass, dry run) or only the batch (a writing pass)."""
    settled: Seen = field(default_factory=Seen)
    """A writing pass's keys of the rows it stored nothing for (unchanged, or rejected by :func:`assess`): a
    later batch's row with one of them repeats it (``duplicate_in_file``), as a dry run finds in ``seen``;
    no record of this run holds the key for :func:`assess` to find."""
    subjects: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    parts: RowParts | None = None
    """A writing pass's new-record parts: a forked reader writes its share of them, the writer the rest."""

    @functools.cached_property
    def file_name(self) -> str:
        """The file's name as the log and the history keep it (:func:`lycredit.oplog.append.as_text`)."""
        return as_text(self.path.name)

    def clock(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - started
        return now


GC_THRESHOLDS = (1_000_000, 10, 10)
"""Python's collector during an import. A batch makes a few hundred thousand container objects that
live until the batch is written and then go by reference counting; with the default thresholds (700,
10, 10) the collector rescanned the live ones again and again (unpickling a batch took three times as
long), and even with 20 000 a 1M-row import spent about 2.2 s of the reading process and 0.9 s of the
writer in collections (measured with ``gc.callbacks``). A batch's objects are gone before the count
reaches a million, so collections now come only when something keeps objects: a cache growing, or
garbage in reference cycles, which the import's own code does not make per row (a test holds code
validation to that). A million-row import peaks near 330 MB, both processes together, as before."""
IMPORT_WAL_AUTOCHECKPOINT = 25_000
"""SQLite pages (100 MB) the WAL may grow to before a commit copies it into the database, during an
import (default 1 000). A batch's inserts land on index pages all over the file; with the default
every batch's commit checkpointed them all, so a page changed by ten batches was written to the
database ten times. At the end of the import the default comes back and a passive checkpoint runs."""
IMPORT_CACHE_KIB = 65_536
"""SQLite's page cache during an import, in KiB (default 2 MiB). A batch inserts into the record
indexes at random places (a subject's id, a disclosure date); with the default cache most of those
index pages were read back from the file for every batch. With 64 MiB the inserts of a million-row
import took 11 s instead of 21 s; 256 MiB was no faster."""


@contextlib.contextmanager
def _bulk_gc() -> Iterator[None]:
    """Freeze what exists (never rescanned) and collect rarely while the import runs; restore after."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def import_file(
    ctx: AppContext,
    path: str | Path,
    layout: str,
    *,
    provider: str | None = None,
    max_rejects: int | None = None,
    dry_run: bool = False,
    resume: bool = False,
    rejects_path: str | Path | None = None,
    assume_weekends: bool = False,
    progress_callback: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    parallel: bool | None = None,
) -> ImportSummary:
    """Import a file of records in ``layout`` (``penalty``, ``license`` or ``generic``); the summary.

    ``parallel`` reads and checks in a forked child process while this one writes (see
    :func:`_checked`); by default it does so for a text file of at least
    :data:`PARALLEL_MIN_BYTES` (any size with ``LYCREDIT_PIPELINE=1``) where
    :func:`lycredit.forked.available` allows it (never with ``LYCREDIT_PIPELINE=0``).

    Raises DataError (65) for a file that cannot be imported (an Art. 12 forbidden column, a
    missing required column, more rejected rows than ``max_rejects``), Locked (75) when another
    import runs, PermissionDenied (77) for a provider importing for another unit.
    """
    with _bulk_gc():
        return _import_file(ctx, path, layout, provider=provider, max_rejects=max_rejects, dry_run=dry_run,
                            resume=resume, rejects_path=rejects_path, assume_weekends=assume_weekends,
                            progress_callback=progress_callback, batch_size=batch_size, parallel=parallel)


def _import_file(ctx: AppContext, path: str | Path, layout: str, *, provider: str | None, max_rejects: int | None,
                 dry_run: bool, resume: bool, rejects_path: str | Path | None, assume_weekends: bool,
                 progress_callback: Progress | None, batch_size: int, parallel: bool | None) -> ImportSummary:
    from lycredit.calendar_store import load_calendar

    begun = time.perf_counter()
    chosen = layout_of(layout)
    if max_rejects is not None and max_rejects < 0:
        raise UsageError(_("--max-rejects must be 0 or more"))
    path = Path(path)
    table = open_table(path, batch_size=batch_size)
    engine = ctx.checked_engine
    ctx.require_role(ACTION)  # a role that may not import is refused, and the refusal logged (77), before the lock
    with run_lock(engine, LOCK_NAME):
        digest = file_sha256(path)
        with ctx.reading() as conn:
            signer = ctx.signer(conn)
            unit = provider_for(conn, signer, provider)
            intake_day(ctx.as_of, dry_run=dry_run)  # after the role check: a role that may not import is logged (77)
            previous = _running(conn, digest, chosen.name)
            if previous is not None and not resume:
                raise UsageError(_("An import of {file} was interrupted after row {row} (run {id}); rerun with "
                                   "--resume to continue it, or give it up with 'lycredit record abandon {id} "
                                   "--reason TEXT' to import the file afresh").format(
                    file=path, row=previous["rows_done"], id=previous["id"]))
            counts = json.loads(previous["counts"]) if previous is not None else {}
            if previous is not None and counts.get("provider") != unit:
                raise UsageError(_("Run {id} imports {file} for provider {provider}, not {unit}").format(
                    id=previous["id"], file=path, provider=counts.get("provider"), unit=unit))
            rejects_file = Path(rejects_path or counts.get("rejects_file") or default_rejects_path(path))
            if _same_file(rejects_file, path):  # writing the rejects would empty the file before it is read
                raise UsageError(_("The rejects file {rejects} is the file being imported, which writing the "
                                   "rejects would overwrite; give --rejects another file").format(
                                       rejects=as_text(str(rejects_file))))
            for kept, what in _kept_files(ctx, engine):  # nor may it replace the database or the key in use
                if _same_file(rejects_file, kept):
                    raise UsageError(_("The rejects file {rejects} is {what}, which writing the rejects would "
                                       "destroy; give --rejects another file").format(
                                           rejects=as_text(str(rejects_file)), what=what))
            # a resumed run goes on in its rejects file; another one given with --rejects starts afresh
            recorded = counts.get("rejects_file")
            same_rejects = recorded is not None and Path(recorded).resolve() == rejects_file.resolve()
            source = as_text(str(path))  # the file as the summary, the rejects file, messages and the run name it
            summary = ImportSummary(source, chosen.name, unit, dry_run=dry_run, rejects_file=as_text(str(rejects_file)))
            if resume and previous is None:
                summary.notes = _nothing_to_resume(conn, source, unit)
            rejects = RejectsFile(rejects_file, source, counts.get("rejects_offset") if same_rejects else None)
            try:
                checker = RowChecker(chosen, table.columns, provider=unit, as_of=ctx.as_of,
                                     calendar=load_calendar(conn, assume_weekends), catalog=CatalogIndex(conn),
                                     source=source)
            except ForbiddenColumn as forbidden:
                try:
                    rejects.write([(1, ",".join(table.columns), Rejection(forbidden.column, "forbidden_field",
                                                                          forbidden.message))])
                finally:
                    rejects.close()
                raise
            except BaseException:  # a missing column, the calendar or the catalog: the file is closed before it goes on
                rejects.close()
                raise
        if parallel is None:
            parallel = table.format in PARALLEL_FORMATS and (
                table.bytes_total >= PARALLEL_MIN_BYTES or forked.forced())
        run = _Run(ctx, path, checker, unit, dry_run, summary, rejects, parallel=parallel and forked.available())
        if previous is not None:
            run.run_id, run.start_row = previous["id"], previous["rows_done"]
            summary.run_id, summary.resumed_from = run.run_id, run.start_row
            summary.add({name: counts.get(name, 0) for name in ImportSummary.COUNTS})
        try:
            if max_rejects is not None:
                _validation_pass(run, table, max_rejects)
            run.clock("prepare", begun)
            _write_pass(run, table, digest, progress_callback)
        finally:
            rejects.close()
    if os.environ.get(PHASES_ENV) == "1":
        summary.phases = {**run.phases, "forked_reader": float(run.parallel)}
    return summary


def _kept_files(ctx: AppContext, engine: sa.Engine) -> list[tuple[Path, str]]:
    """The files the rejects file must never be: a SQLite database's file and its journals, the operator's key."""
    kept = []
    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        database = str(engine.url.database)
        kept += [(Path(database + suffix), _("the SQLite database")) for suffix in ("", "-wal", "-shm", "-journal")]
    if ctx.key_file:
        kept.append((Path(ctx.key_file), _("the operator's key file")))
    return kept


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (a link, another spelling of the path); False when one is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _nothing_to_resume(conn: sa.Connection, source: str, provider: str) -> list[str]:
    """Why ``--resume`` starts from the first row: no interrupted import of this content; and the interrupted
    imports of a file of the same name for the provider, whose content was other (the file changed since)."""
    notes = [_("Nothing to resume: no interrupted import of {file} with this content; it is imported from its "
               "first row").format(file=source)]
    for run in conn.execute(sa.select(T_RUN.c.id, T_RUN.c.rows_done, T_RUN.c.counts).where(
            T_RUN.c.kind == KIND, T_RUN.c.status == "running", T_RUN.c.file_name == source[:500])
            .order_by(T_RUN.c.id)).mappings():
        if json.loads(run["counts"]).get("provider") == provider:
            notes.append(_("Run {id} of a file of this name was interrupted after row {row}, but its content was "
                           "other (the file has changed since): it is left as it is ('lycredit record abandon {id}' "
                           "closes it), and rows it committed that this file repeats come out unchanged").format(
                id=run["id"], row=run["rows_done"]))
    return notes


def _running(conn: sa.Connection, digest: str, layout: str) -> sa.RowMapping | None:
    return conn.execute(sa.select(T_RUN).where(
        T_RUN.c.kind == KIND, T_RUN.c.file_sha256 == digest, T_RUN.c.layout == layout, T_RUN.c.status == "running")
        .order_by(T_RUN.c.id.desc())).mappings().first()


@dataclass(frozen=True)
class _Batch:
    """One batch read and checked: where it lies in the file, its checked rows and its rejections."""

    first_row: int
    last_row: int
    count: int
    bytes_read: int
    checked: list[Checked]
    rejected: Rejected
    read_seconds: float
    check_seconds: float

    def __reduce__(self) -> tuple:
        """Its checked rows go to the writing process by column (:func:`lycredit.records.checked_columns`)."""
        return (_batch_again, (self.first_row, self.last_row, self.count, self.bytes_read,
                               checked_columns(self.checked), self.rejected, self.read_seconds, self.check_seconds))


def _batch_again(first_row: int, last_row: int, count: int, bytes_read: int, columns: tuple[tuple, ...],
                 rejected: Rejected, read_seconds: float, check_seconds: float) -> _Batch:
    return _Batch(first_row, last_row, count, bytes_read, checked_rows(columns), rejected, read_seconds,
                  check_seconds)


def _read_and_check(run: _Run, table: Any) -> Iterator[_Batch]:
    """The batches still to do (rows after the last committed one), read and checked, with their times."""
    started = time.perf_counter()
    for batch in table.batches():
        if not run.whole_file_duplicates:
            run.seen.clear()
        if batch[-1].row_number > run.start_row:
            rows = batch if batch[0].row_number > run.start_row else [r for r in batch if r.row_number > run.start_row]
            read = time.perf_counter()
            checked, rejected = _check(run, rows)
            if run.parallel and run.parts is not None:
                run.parts.share(checked, forked.busy())
            done = time.perf_counter()
            yield _Batch(rows[0].row_number, rows[-1].row_number, len(rows), table.bytes_read, checked, rejected,
                         read - started, done - read)
        started = time.perf_counter()


def _checked(run: _Run, table: Any) -> Iterator[_Batch]:
    """The batches still to do, checked: in a forked child while this process writes (two cores), or here.

    Reading and checking need no database, so on a machine with two cores they run one batch
    ahead of the writing, in a child process (:mod:`lycredit.forked`); the rows, rules and
    rejections are the same either way.
    """
    if run.parallel:
        batches = forked.iterate(lambda: _read_and_check(run, table))
    else:
        batches = _read_and_check(run, table)
    waited = time.perf_counter()
    for batch in batches:
        run.clock("wait", waited)
        run.phases["read"] = run.phases.get("read", 0.0) + batch.read_seconds
        run.phases["check"] = run.phases.get("check", 0.0) + batch.check_seconds
        yield batch
        waited = time.perf_counter()


def _check(run: _Run, rows: list[Row]) -> tuple[list[Checked], Rejected]:
    """Every rule that needs no database, and duplicates within the file."""
    checked: list[Checked] = []
    rejected: list[tuple[int, str, Rejection]] = []
    check, seen = run.checker.check, run.seen
    for row in rows:
        result = check(row.row_number, row.values, row.raw)
        if result.__class__ is list:
            rejected.extend((row.row_number, row.raw, problem) for problem in result)
            continue
        key = _natural_key(result)
        if key in seen:
            rejected.append((row.row_number, row.raw, duplicate_in_file(result)))
            continue
        seen.add(key)
        checked.append(result)
    return checked, rejected


def _validation_pass(run: _Run, table: Any, max_rejects: int) -> None:
    """Check the whole file, writing nothing to the database; DataError when too many rows are rejected."""
    start = run.rejects.offset
    rejected_rows = set()
    with run.ctx.reading() as conn:
        for batch in _checked(run, table):
            rejected = list(batch.rejected)
            found = assess(conn, batch.checked, provider=run.provider, run_id=run.run_id, known_subjects=run.subjects)
            rejected += found.rejected
            run.rejects.write(rejected)
            rejected_rows.update(row for row, _raw, _problem in rejected)
    total = len(rejected_rows) + run.summary.rejected
    if total > max_rejects:
        raise DataError(_("{file}: {count} rows are rejected, more than --max-rejects {limit}; nothing of the file "
                          "was imported. The reasons are in {rejects}").format(
            file=run.path, count=total, limit=max_rejects, rejects=run.rejects.path))
    run.rejects.truncate(start)
    run.seen.clear()


def _write_pass(run: _Run, table: Any, digest: str, progress: Progress | None) -> None:
    run.whole_file_duplicates = run.dry_run  # a dry run stores nothing for assess to find
    # indexes an earlier import took down and could not rebuild (it was killed) come back at this one's end
    deferred = not run.dry_run and bool(missing_indexes(run.ctx.checked_engine))
    if not run.dry_run:
        run.parts = RowParts(run.provider, run.ctx.checked_engine.dialect.name)
    try:
        for number, batch in enumerate(_checked(run, table), 1):
            _batch(run, batch, digest)
            if number == 1 and not deferred and not run.dry_run and _worth_deferring(run, table, batch):
                deferred = _take_indexes_down(run)
            if number & (number - 1) == 0:
                _refresh_statistics(run)
            if progress is not None:
                progress(batch.bytes_read, table.bytes_total, run.summary.counts())
        if deferred:
            deferred = False
            _rebuild_indexes(run)
        if not run.dry_run:
            started = time.perf_counter()
            _finish(run, digest)
            run.clock("finish", started)
    except BaseException:
        if deferred:  # the import failed (or was interrupted): its indexes come back before the error goes on
            with contextlib.suppress(Exception):  # the import's own error is the one to report; db status
                _rebuild_indexes(run)             # names indexes still missing, and db upgrade rebuilds them
        raise
    finally:
        started = time.perf_counter()
        _checkpoint(run)
        run.clock("last_checkpoint", started)


def deferred(dialect: str) -> tuple[str, ...]:
    """What a large import takes down on this database: the secondary indexes, and on PostgreSQL the foreign keys."""
    return DEFERRED_INDEXES + (DEFERRED_FOREIGN_KEYS if dialect == "postgresql" else ())


def missing_indexes(engine: sa.Engine | sa.Connection) -> list[str]:
    """Those of :func:`deferred` the record table lacks (an import that was killed took them down)."""
    inspector = sa.inspect(engine)
    present = {index["name"] for index in inspector.get_indexes(T_RECORD.name)}
    if inspector.dialect.name == "postgresql":
        present.update(key["name"] for key in inspector.get_foreign_keys(T_RECORD.name))
    return [name for name in deferred(inspector.dialect.name) if name not in present]


def _foreign_key(name: str) -> sa.ForeignKeyConstraint:
    """The record table's foreign key that PostgreSQL names ``name``."""
    return next(key for key in T_RECORD.foreign_key_constraints
                if f"{T_RECORD.name}_{key.column_keys[0]}_fkey" == name)


def rebuild_indexes(engine: sa.Engine) -> list[str]:
    """Build the record table's missing secondary indexes (and on PostgreSQL add back its foreign keys), exactly as
    the schema declares them; their names. A key that the stored records break (a record naming a subject or a
    catalog item that does not exist, which only a write outside lycredit can make) is a :class:`DataError` naming
    it, after everything else is rebuilt; it stays missing, as ``db status`` says."""
    with engine.begin() as conn:
        missing = missing_indexes(conn)
        sqlite = conn.dialect.name == "sqlite"
        if missing and sqlite:  # the sort that builds an index spills to temporary files with the default cache
            conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
            conn.exec_driver_sql("PRAGMA threads = 2")  # and sorts in a second thread (the reader has ended)
        try:
            for index in T_RECORD.indexes:
                if index.name in missing:
                    index.create(conn)
        finally:
            if missing and sqlite:
                conn.exec_driver_sql("PRAGMA cache_size = -2000")
                conn.exec_driver_sql("PRAGMA threads = 0")
    broken = []
    for name in DEFERRED_FOREIGN_KEYS:
        if name in missing:  # PostgreSQL checks the whole table in one query as it adds the key, in its own transaction
            key = _foreign_key(name)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        f"ALTER TABLE {T_RECORD.name} ADD CONSTRAINT {name} FOREIGN KEY ({key.column_keys[0]})"
                        f" REFERENCES {key.referred_table.name} ({key.elements[0].column.name})")
            except sa.exc.IntegrityError as exc:
                broken.append((name, " ".join(str(exc.orig).split())))
    if broken:
        raise DataError(_("The record table's foreign keys {names} cannot be added back, because stored records break "
                          "them ({detail}); correct those records, then run 'lycredit db upgrade'").format(
            names=", ".join(name for name, _detail in broken), detail="; ".join(detail for _name, detail in broken)))
    return missing


def _worth_deferring(run: _Run, table: Any, first: _Batch) -> bool:
    """Whether to take the secondary indexes down after the first batch: the rows still to come, estimated
    from the bytes the first batch took, are at least :data:`DEFER_MIN_ROWS` and the records already stored."""
    setting = os.environ.get(DEFER_ENV)
    if setting in ("0", "1"):
        return setting == "1"
    to_come = rows_to_come(first.last_row, first.bytes_read, table.bytes_total)
    if to_come < DEFER_MIN_ROWS:
        return False
    with run.ctx.reading() as conn:
        stored = next_id(conn, T_RECORD) - 1  # ids are assigned in order: the largest is about the count
    return to_come >= stored


def rows_to_come(last_row: int, bytes_read: int, bytes_total: int) -> float:
    """The rows after ``last_row`` (a row number: the rows read so far, and the header), estimated from
    the bytes read so far; 0 when nothing can be told (nothing read, or the whole file read)."""
    if bytes_read <= 0 or bytes_total <= bytes_read:
        return 0.0
    return (bytes_total - bytes_read) * last_row / bytes_read


def _take_indexes_down(run: _Run) -> bool:
    """Drop :func:`deferred` in a transaction of their own; False if PostgreSQL could not lock the
    table within two seconds (a long query of another session holds it), or if the database role does not
    own the table (a provider's login role under ``sql/postgresql-roles.sql``): the import keeps its indexes."""
    started = time.perf_counter()
    engine = run.ctx.checked_engine
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            for index in T_RECORD.indexes:
                if index.name in DEFERRED_INDEXES:
                    index.drop(conn, checkfirst=True)
            if engine.dialect.name == "postgresql":
                for name in DEFERRED_FOREIGN_KEYS:
                    conn.exec_driver_sql(f"ALTER TABLE {T_RECORD.name} DROP CONSTRAINT IF EXISTS {name}")
    except sa.exc.OperationalError:
        return False
    except sa.exc.ProgrammingError as exc:
        if not _not_owner(exc):
            raise
        return False
    finally:
        run.clock("indexes", started)
    return True


def _not_owner(exc: sa.exc.DBAPIError) -> bool:
    """PostgreSQL refused DDL on the record table to a role that does not own it (insufficient_privilege)."""
    return getattr(exc.orig, "sqlstate", None) == "42501"


def _rebuild_indexes(run: _Run) -> None:
    """Build the indexes an import took down (or an earlier, killed one left out). A role that may not create
    them leaves them to ``db upgrade`` by the table's owner, as ``db status`` says, rather than fail an import
    whose rows are all written."""
    started = time.perf_counter()
    try:
        rebuild_indexes(run.ctx.checked_engine)
    except sa.exc.ProgrammingError as exc:
        if not _not_owner(exc):
            raise
    finally:
        run.clock("indexes", started)


def _checkpoint(run: _Run) -> None:
    """SQLite: the default WAL size limit again, and the WAL copied into the database if no reader holds it."""
    engine = run.ctx.checked_engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        driver = conn.connection.driver_connection  # outside a transaction: a checkpoint cannot run inside one
        driver.execute("PRAGMA wal_autocheckpoint = 1000")
        driver.execute("PRAGMA cache_size = -2000")
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _refresh_statistics(run: _Run) -> None:
    """PostgreSQL plans the natural-key and subject lookups from table statistics, which a big import
    outdates at once (a plan for an empty table scans); refresh them after batches 1, 2, 4, 8, ..."""
    engine = run.ctx.checked_engine
    if engine.dialect.name != "postgresql" or run.dry_run:
        return
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE record, record_history, subject")
        conn.commit()
    run.clock("analyze", started)


def _batch(run: _Run, batch: _Batch, digest: str) -> None:
    """One batch: one transaction, one signed operation."""
    started = time.perf_counter()
    reason = f"{run.file_name}, rows {batch.first_row}-{batch.last_row}"  # data, not a message
    rejected = list(batch.rejected)
    # every id a batch's rows refer to it reads or writes itself, in its own transaction (subjects and catalog
    # items are never deleted): SQLite's per-row foreign key checks are left out (lycredit.database)
    with run.ctx.operation(ACTION, reason=reason, dry_run=run.dry_run, foreign_keys=False) as uow:
        started = run.clock("begin", started)
        if uow.conn.dialect.name == "sqlite":
            uow.conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint = {IMPORT_WAL_AUTOCHECKPOINT}")
            uow.conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        if run.run_id is None and not run.dry_run:
            run.run_id = run.summary.run_id = _start_run(uow, run, digest)
        checked = _not_settled(run, batch.checked, rejected) if run.settled else batch.checked
        found = assess(uow.conn, checked, provider=run.provider, run_id=run.run_id,
                       known_subjects=run.subjects if not run.dry_run else dict(run.subjects))
        rejected += found.rejected
        if (found.unchanged or found.rejected) and not run.whole_file_duplicates:
            stored = {id(row) for row in found.new} | {id(row) for row, _existing in found.corrections}
            for row in checked:
                if id(row) not in stored:
                    run.settled.add(_natural_key(row))
        started = run.clock("assess", started)
        counts = _apply(run, uow, found)
        counts["rejected"] = len({row for row, _raw, _problem in rejected})
        counts["read"] = batch.count
        run.summary.add(counts)
        started = run.clock("write", started)
        offset = run.rejects.write(rejected)
        if run.run_id is not None:
            _progress_run(uow, run, batch.last_row, offset)
        uow.summary.update(batch=counts, total=run.summary.counts(), provider=run.provider)
        started = run.clock("other", started)
        uow.close()
        started = run.clock("log", started)
    run.clock("commit", started)


def _not_settled(run: _Run, checked: list[Checked], rejected: list[tuple[int, str, Rejection]]) -> list[Checked]:
    """The rows whose key no earlier batch of this run left unchanged or rejected; the others are duplicates."""
    out = []
    for row in checked:
        if _natural_key(row) in run.settled:
            rejected.append((row.row, row.raw, duplicate_in_file(row)))
        else:
            out.append(row)
    return out


def _natural_key(row: Checked) -> int:
    """A checked row's natural key within the provider's file (item, document number) as the keys met so far
    hold it, in ``_Run.seen`` and ``_Run.settled`` alike (the provider is the file's)."""
    return hash((row.entry.item.code, row.document_no))


def _apply(run: _Run, uow: UnitOfWork, found: Any) -> dict[str, int]:
    from lycredit.subjects import register_checked

    started = time.perf_counter()
    needed = {row.code: (row.kind, row.name) for row in found.new if row.code not in found.subject_ids}
    needed.update((row.code, (row.kind, row.name)) for row, _existing in found.corrections
                  if row.code not in found.subject_ids)
    ids = found.subject_ids  # the run's cache of subject ids (a copy of it in a dry run), this batch's included
    if needed:
        ids.update(register_checked(uow, needed))
    started = run.clock("subjects", started)
    fast = FastRows(uow.conn.dialect.name, run.provider, uow.signer.name, run.run_id, utcnow(), run.parts)
    record_id = next_id(uow.conn, T_RECORD)
    for offset, row in enumerate(found.new):
        fast.add(row, record_id + offset, ids[row.code])
    fast.self_check()
    started = run.clock("rows", started)
    fast.write(uow.conn)
    started = run.clock("sql", started)
    uow.record_inserts(T_RECORD.name, fast.record_hashes)
    started = run.clock("leaves", started)
    for row, existing in found.corrections:
        apply_correction(uow, row, existing, ids[row.code], f"{run.file_name}, row {row.row}", run.run_id)
    if len(run.subjects) > KNOWN_SUBJECTS:
        run.subjects.clear()  # a cache: assess looks up the subjects it does not know
    run.clock("corrections", started)
    return {"accepted": len(found.new), "corrected": len(found.corrections), "unchanged": len(found.unchanged),
            "late": sum(1 for row in found.new if row.late > 0)}


def _start_run(uow: UnitOfWork, run: _Run, digest: str) -> int:
    stored = uow.insert(T_RUN, {
        "kind": KIND, "file_name": run.summary.file[:500], "file_sha256": digest, "layout": run.checker.layout.name,
        "operator": uow.signer.name, "status": "running", "rows_done": 0,
        "counts": _counts_json(run, run.rejects.offset), "started_at": utcnow(), "finished_at": None})
    return stored["id"]


def _counts_json(run: _Run, offset: int) -> str:
    return json.dumps({**run.summary.counts(), "provider": run.provider, "rejects_file": str(run.rejects.path),
                       "rejects_offset": offset}, sort_keys=True)


def _progress_run(uow: UnitOfWork, run: _Run, last_row: int, offset: int) -> None:
    uow.update(T_RUN, {"id": run.run_id}, {"rows_done": last_row, "counts": _counts_json(run, offset)})


def _finish(run: _Run, digest: str) -> None:
    """Mark the run done in its own small operation, with the whole file's summary."""
    with run.ctx.operation(ACTION, reason=f"{run.file_name}: done") as uow:
        if run.run_id is None:
            run.run_id = run.summary.run_id = _start_run(uow, run, digest)
        uow.update(T_RUN, {"id": run.run_id}, {"status": "done", "finished_at": utcnow(),
                                               "counts": _counts_json(run, run.rejects.offset)})
        uow.summary.update(total=run.summary.counts(), provider=run.provider, run=run.run_id)


# --- the runs ------------------------------------------------------------------------------------------

RUN_COLUMNS = ["id", "file_name", "layout", "provider", "operator", "status", "rows_done", "read", "accepted",
               "corrected", "unchanged", "rejected", "late", "started_at", "finished_at"]


def _run_view(row: Mapping[str, Any]) -> dict[str, Any]:
    counts = json.loads(row["counts"] or "{}")
    return {"id": row["id"], "file_name": row["file_name"], "layout": row["layout"],
            "provider": counts.get("provider"), "operator": row["operator"], "status": row["status"],
            "rows_done": row["rows_done"], **{name: counts.get(name, 0) for name in ImportSummary.COUNTS},
            "started_at": row["started_at"], "finished_at": row["finished_at"],
            "rejects_file": counts.get("rejects_file"), "file_sha256": row["file_sha256"]}


def list_runs(conn: sa.Connection, *, status: str | None = None, provider: str | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    """Record imports, newest first: where each stands (``rows_done``, the last committed row) and its counts.

    A run is ``running`` while it imports and after it was interrupted (``--resume`` continues it), ``done`` once
    its file's last batch committed, ``abandoned`` when an operator gave it up (:func:`abandon_run`)."""
    from lycredit.records import provider_code

    query = sa.select(T_RUN).where(T_RUN.c.kind == KIND).order_by(T_RUN.c.id.desc())
    if status:
        query = query.where(T_RUN.c.status == status)
    wanted = provider_code(provider) if provider else None
    if wanted is None:
        return [_run_view(row) for row in conn.execute(query.limit(limit)).mappings()]
    views = []  # the provider is in the run's counts (JSON): filtered here, newest first, until there are enough
    for chunk in conn.execute(query).mappings().partitions(500):
        views += [view for view in map(_run_view, chunk) if view["provider"] == wanted]
        if len(views) >= limit:
            break
    return views[:limit]


def abandon_run(ctx: AppContext, run_id: int, *, reason: str, dry_run: bool = False) -> dict[str, Any]:
    """Give up an interrupted import (its status ``abandoned``), so that its file can be imported afresh without
    ``--resume``. The batches it committed stay: importing the file again finds their rows unchanged.

    Holds the import's run lock, so a run still importing (in another process) cannot be abandoned (75). Only
    a ``running`` run can be (65 otherwise); a provider abandons only its own unit's imports (77).
    """
    if not (reason or "").strip():
        raise UsageError(_("Abandoning an import needs a reason (--reason): it is kept in the log."))
    engine = ctx.checked_engine
    ctx.require_role(ABANDON_ACTION)  # a role that may not is refused (77) before it waits on the lock
    with run_lock(engine, LOCK_NAME), ctx.operation(ABANDON_ACTION, reason=reason, dry_run=dry_run) as uow:
        row = uow.conn.execute(sa.select(T_RUN).where(T_RUN.c.id == run_id, T_RUN.c.kind == KIND)).mappings().first() \
            if run_id <= MAX_ID else None
        if row is None:
            raise NotFound(_("No record import run {id}; 'lycredit record runs' lists them").format(id=run_id))
        if row["status"] != "running":
            raise DataError(_("Import run {id} is {status}; only an interrupted one (running) can be abandoned").format(
                id=run_id, status=row["status"]))
        provider_for(uow.conn, uow.signer, json.loads(row["counts"] or "{}").get("provider"))  # 77: another unit's
        stored = uow.update(T_RUN, {"id": run_id}, {"status": "abandoned", "finished_at": utcnow()})
        uow.summary.update(run=run_id, file=row["file_name"], rows_done=row["rows_done"])
    return _run_view(stored)
