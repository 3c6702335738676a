"""Operators, their units and their keys (who may change what, and how it is proved).

An operator is a person or a cron job acting for a unit (an organisation with
its unified social credit code, 统一社会信用代码) in one role. Each state change
is signed with one of the operator's Ed25519 keys, valid from its registration
until its revocation or the end of a rotation's overlap.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from lycredit.models.base import UTCDateTime, logged


@logged
class PlatformMeta(SQLModel, table=True):
    """Facts about this platform set at ``db init`` (the log origin, the city)."""

    __tablename__ = "platform_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=500)


@logged
class Unit(SQLModel, table=True):
    """An organisation (单位): a department, a provider, an agency, the NDRC office."""

    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    uscc: str = Field(max_length=18, unique=True)
    name: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


@logged
class Operator(SQLModel, table=True):
    """A person or job that runs lycredit in one role for one unit."""

    __tablename__ = "operator"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    status: str = Field(default="active", max_length=16)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoke_reason: str | None = Field(default=None, max_length=500)


@logged
class OperatorKey(SQLModel, table=True):
    """An operator's Ed25519 public key and the window in which it may sign."""

    __tablename__ = "operator_key"
    __table_args__ = (sa.UniqueConstraint("public_key", name="uq_operator_key_public_key"),)
    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    key_id: str = Field(max_length=8, index=True)
    public_key: str = Field(max_length=64)
    valid_from: dt.datetime = Field(sa_type=UTCDateTime)
    valid_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
