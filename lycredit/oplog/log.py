"""One way to change state: the unit of work that signs and appends to the log.

Every write lycredit makes goes through :class:`UnitOfWork` (Art. 28: no
tampering, no fabricated or unlawfully deleted information). It records each
changed row as a *change* leaf (table, key, hash of the row before and after),
and anything else worth proving (a key registered, a query of non-public
information) as an *event* leaf. On :meth:`UnitOfWork.close` it appends those
leaves, then one *operation* leaf signed by the operator, to the RFC 6962
tree, and a signed checkpoint of the new tree, in the same transaction as the
data. A crash leaves neither a change without its entry nor the reverse.

The signing and appending are :class:`lycredit.oplog.append.LogAppender`'s,
which works on the driver connection underneath ``conn`` (same transaction)
and which a logged query uses without SQLAlchemy; this class adds the
SQLAlchemy ``insert``/``update``/``delete`` that record their own changes.
The names of the entry format (:func:`row_hash`, :func:`timestamp`,
:func:`signing_bytes`, :class:`Signer` ...) are re-exported from there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lycredit import dbapi, digest
from lycredit.models.base import hashed_columns, row_key, row_text, row_values, utcnow
from lycredit.oplog import append
from lycredit.oplog.append import (  # noqa: F401 - the entry format, re-exported
    ADVISORY_LOCK_ID,
    ENTRY_VERSION,
    ROW_LABEL,
    SIGN_LABEL,
    Appended,
    Head,
    LogAppender,
    Signer,
    _jsonable,
    require_key_window,
    row_hash,
    signing_bytes,
    timestamp,
)


def insert_hashes(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(key, row hash)`` of rows a bulk path inserts, as :meth:`LogAppender.record_inserts` takes them.

    Each hash is :func:`row_hash` of :func:`row_values` of the row, built from one template of the
    table's columns instead of a dictionary per row sorted by the encoder, and with each time
    converted once however many rows share it. The first row is checked against the generic hash.
    """
    encode = json.encoder.encode_basestring  # the C string encoder: the row encoder's, for text values
    columns = hashed_columns(table)
    template = ROW_LABEL.decode() + '{"row":{' + ",".join(f'"{name}":%s' for name in columns) + \
        '},"table":' + encode(table.name) + "}"
    times: dict[Any, str] = {}

    def slot(value: Any) -> str:
        if value.__class__ is str:
            return encode(value)
        if value is None:
            return "null"
        if isinstance(value, dt.date):  # a datetime too: many rows of one operation share their time
            found = times.get(value)
            if found is None:
                found = times[value] = encode(row_text(value))
            return found
        return encode(row_text(value))

    sha256 = digest.sha256
    hashes = [(row_key(table, row), sha256((template % tuple([slot(row[name]) for name in columns])).encode()
                                           ).hexdigest()) for row in rows]
    if hashes and hashes[0][1] != row_hash(table.name, row_values(table, rows[0])):
        raise RuntimeError(f"bulk row hash of {table.name} differs from the generic row hash")
    return hashes


class UnitOfWork(LogAppender):
    """Collects the changes of one operation; :meth:`close` signs and appends them.

    Use it inside a transaction on ``conn``; the caller commits (or, for
    ``--dry-run``, rolls back) after :meth:`close`.
    """

    def __init__(
        self,
        conn: sa.Connection,
        signer: Signer,
        *,
        command: str,
        action: str,
        reason: str | None = None,
        subject: str | None = None,
    ) -> None:
        self.conn = conn
        if not conn.in_transaction():
            conn.begin()  # as SQLAlchemy's autobegin would: the log is appended in the caller's transaction
        super().__init__(dbapi.wrap(conn), signer, command=command, action=action, reason=reason, subject=subject)

    def _lock(self) -> None:
        _lock_log(self.conn)

    def _now(self) -> dt.datetime:
        return utcnow()

    def _require_key_valid_at(self, at: dt.datetime) -> None:
        _require_key_valid_at(self.conn, self.signer, at)

    # ---- writing through the unit of work ---------------------------------
    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """INSERT one row and record it; returns the row as stored (with its generated id)."""
        row = self.conn.execute(sa.insert(table).values(**values).returning(*table.c)).mappings().one()
        stored = dict(row)
        self.record_change(table.name, row_key(table, stored), None, row_hash(table.name, row_values(table, stored)))
        return stored

    def update(self, table: sa.Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        """UPDATE one row by primary key and record its before and after hashes."""
        where = _where(table, key)
        before = self.conn.execute(sa.select(table).where(where)).mappings().one()
        after = self.conn.execute(sa.update(table).where(where).values(**values).returning(*table.c)).mappings().one()
        self.record_change(
            table.name,
            row_key(table, before),
            row_hash(table.name, row_values(table, before)),
            row_hash(table.name, row_values(table, after)),
        )
        return dict(after)

    def delete(self, table: sa.Table, key: Mapping[str, Any]) -> None:
        where = _where(table, key)
        before = self.conn.execute(sa.select(table).where(where)).mappings().one()
        self.conn.execute(sa.delete(table).where(where))
        self.record_change(table.name, row_key(table, before), row_hash(table.name, row_values(table, before)), None)


def _require_key_valid_at(conn: sa.Connection, signer: Signer, at: dt.datetime) -> None:
    """The key must be valid when the operation is signed (:func:`lycredit.oplog.append.require_key_valid_at`)."""
    append.require_key_valid_at(dbapi.wrap(conn), signer, at)


def _where(table: sa.Table, key: Mapping[str, Any]) -> sa.ColumnElement[bool]:
    return sa.and_(*(table.c[name] == value for name, value in key.items()))


def _lock_log(conn: sa.Connection) -> None:
    """Serialise appenders: an advisory transaction lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already does."""
    append.lock_log(dbapi.wrap(conn))


def _insert_entries(conn: sa.Connection, first_idx: int, seq: int, entries: list[bytes]) -> None:
    append.insert_entries(dbapi.wrap(conn), first_idx, seq, entries)


def latest_checkpoint(conn: sa.Connection) -> Head | None:
    return append.latest_checkpoint(dbapi.wrap(conn))


def log_origin(conn: sa.Connection) -> str:
    return append.log_origin(dbapi.wrap(conn))
