"""The signed operation log's tables (append-only; see ``lycredit.oplog``).

``oplog_entry`` holds the leaves of the RFC 6962 Merkle tree, in order, as the
exact canonical-JSON bytes that are hashed. ``oplog_operation`` indexes the
operations (one signed header leaf each) for ``audit log``; ``audit verify``
checks it against the leaves. ``oplog_checkpoint`` holds the signed checkpoint
after each operation, with the tree's right edge so that the next append does
not have to re-read the log.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from lycredit.models.base import UTCDateTime


class LogEntry(SQLModel, table=True):
    __tablename__ = "oplog_entry"
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    op_seq: int  # no index: entries are read by position (idx); an operation's run is first_idx..+leaf_count
    entry: bytes = Field(sa_type=sa.LargeBinary)


class LogOperation(SQLModel, table=True):
    __tablename__ = "oplog_operation"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    first_idx: int
    leaf_count: int
    at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    operator: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=8)
    command: str = Field(max_length=100)
    action: str = Field(max_length=64, index=True)
    subject: str | None = Field(default=None, max_length=64, index=True)
    reason: str | None = Field(default=None, max_length=1000)
    summary: str = Field(default="{}", sa_type=sa.Text)


class Checkpoint(SQLModel, table=True):
    __tablename__ = "oplog_checkpoint"
    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    op_seq: int
    root: bytes = Field(sa_type=sa.LargeBinary)
    note: str = Field(sa_type=sa.Text)
    frontier: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
