"""The intake side's tables: the working-day calendar and the versioned catalog (Art. 9, 10).

``calendar_day`` holds the official schedules operators import for years the
``chinesecalendar`` package does not cover (``lycredit calendar import``).
``catalog_version`` / ``catalog_item`` hold the public credit information
catalog (公共信用信息目录): each version has an effective date, and a record is
validated against the version in force on its decision date.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from lycredit.models.base import UTCDateTime, logged


@logged
class CalendarDay(SQLModel, table=True):
    """One day of an imported official schedule (工作日 or 休息日), with the notice's note."""

    __tablename__ = "calendar_day"
    day: dt.date = Field(primary_key=True)
    year: int = Field(index=True)
    is_workday: bool
    note: str = Field(default="", max_length=200)


@logged
class CatalogVersion(SQLModel, table=True):
    """One version of the catalog, in force from ``effective_from`` until the next version."""

    __tablename__ = "catalog_version"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, unique=True)
    effective_from: dt.date = Field(index=True)
    source_name: str = Field(max_length=255)
    source_sha256: str = Field(max_length=64)
    imported_at: dt.datetime = Field(sa_type=UTCDateTime)


@logged
class CatalogItem(SQLModel, table=True):
    """An item of the catalog (信息事项) with the elements Art. 9 requires.

    ``disclosure`` is 社会公开 ``public``, 政务共享 ``gov_share`` or 授权查询
    ``authorised``; ``category`` is the Art. 10 category; ``validity_months`` the
    disclosure (validity) period, capped for dishonesty information by Art. 15;
    ``data_standard`` the JSON list of fields ``{"name", "type", "required"}``.
    """

    __tablename__ = "catalog_item"
    __table_args__ = (sa.UniqueConstraint("version_id", "code", name="uq_catalog_item_version_code"),)
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="catalog_version.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    provider_uscc: str = Field(max_length=18, index=True)
    provider_name: str = Field(max_length=200)
    category: str = Field(max_length=32)
    disclosure: str = Field(max_length=16)
    validity_months: int | None = Field(default=None)
    dishonesty: bool = Field(default=False)
    severity: str = Field(default="none", max_length=16)
    subject_kinds: str = Field(default="", max_length=100)
    data_standard: str = Field(default="[]", sa_type=sa.Text)
