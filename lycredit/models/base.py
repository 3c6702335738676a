"""Shared column types and the row-hash view of a logged table.

Timestamps are stored as UTC and always come back timezone-aware, on SQLite
as on PostgreSQL, so that a row hashes the same on both and after a round trip.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from lycredit.dbapi import utcnow

UTC = dt.UTC
__all__ = ["UTCDateTime", "utcnow", "logged", "logged_models", "hashed_columns", "row_key", "row_values",
           "copy_types"]


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC, returned timezone-aware (UTC) on every dialect."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


LOGGED_TABLES: dict[str, type[SQLModel]] = {}


def logged(cls: type[SQLModel]) -> type[SQLModel]:
    """Class decorator: this table changes only through the signed log and is verified by replay."""
    LOGGED_TABLES[cls.__tablename__] = cls
    return cls


def logged_models() -> dict[str, type[SQLModel]]:
    return dict(LOGGED_TABLES)


@functools.cache
def hashed_columns(table: sa.Table) -> tuple[str, ...]:
    """Every column of the table, in a fixed (sorted) order: the row hash covers them all."""
    return tuple(sorted(c.name for c in table.columns))


def row_key(table: sa.Table, values: dict[str, Any]) -> str:
    """The row's identity in the log: its primary key value(s) as text, joined by '/'."""
    return "/".join(str(values[c.name]) for c in table.primary_key.columns)


def row_text(value: Any) -> str | None:
    """A column value's text in the row form the log hashes (None stays None)."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return None
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def row_values(table: sa.Table, row: Any) -> dict[str, str | None]:
    """The row as ``{column: text or None}``, the canonical form hashed by the log.

    ``row`` is a model instance, a mapping, or a SQLAlchemy Row.
    """
    if hasattr(row, "_mapping"):
        row = row._mapping
    columns = hashed_columns(table)
    if isinstance(row, dict) or hasattr(row, "get"):
        get = row.get
        return {name: row_text(get(name)) for name in columns}
    return {name: row_text(getattr(row, name)) for name in columns}


_BINARY_TYPES = {"INTEGER": "int4", "BIGINT": "int8", "TEXT": "text", "DATE": "date", "BOOLEAN": "bool",
                 "TIMESTAMP WITH TIME ZONE": "timestamptz", "BYTEA": "bytea"}


@functools.cache
def copy_types(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The PostgreSQL types of these columns, as COPY's binary format takes them (from the table's model). In
    binary, values cross as they are stored (a date as a day number, text as its bytes) instead of as text the
    server parses again; a type not listed here is a KeyError, not a wrong guess."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    compiled = [table.c[name].type.compile(dialect=dialect) for name in columns]
    return tuple("varchar" if kind.startswith("VARCHAR") else _BINARY_TYPES[kind] for kind in compiled)
