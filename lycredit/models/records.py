"""Credit subjects, their links, authorisations, records and import runs (Art. 3, 8, 10-15, 46).

A resident ID number (公民身份号码) is never stored in clear: ``ric_enc`` is an
AES-GCM token under a key kept outside the database and ``ric_index`` a keyed
blind index for lookup (``lycredit.identity.PiiProtector``). A natural
person's name is stored the same way (``name_enc``), with only the masked
form in ``name``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from lycredit.models.base import UTCDateTime, logged


@logged
class Subject(SQLModel, table=True):
    """A credit subject (信用主体): a natural person, legal person, unincorporated organisation or individual business."""

    __tablename__ = "subject"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24, index=True)
    name: str = Field(max_length=200)
    name_enc: str | None = Field(default=None, max_length=600)
    uscc: str | None = Field(default=None, max_length=18, unique=True)
    ric_enc: str | None = Field(default=None, max_length=200)
    ric_index: str | None = Field(default=None, max_length=64, unique=True)
    checksum_override: bool = Field(default=False)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


@logged
class SubjectLink(SQLModel, table=True):
    """Art. 8: an organisation's legal representative, principal, actual controller or financial officer."""

    __tablename__ = "subject_link"
    __table_args__ = (sa.UniqueConstraint("org_id", "person_id", "relation", name="uq_subject_link"),)
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="subject.id", index=True)
    person_id: int = Field(foreign_key="subject.id", index=True)
    relation: str = Field(max_length=32)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


@logged
class Authorization(SQLModel, table=True):
    """A subject's written authorisation (Art. 11, 12, 14): consent to collect, to query, or to share.

    ``scope`` is ``consent:<field topic>`` (e.g. ``consent:income``), ``consent:market``
    (a person's market credit information), ``query`` or ``share``; ``grantee`` the
    unified social credit code of the unit it is given to.
    """

    __tablename__ = "authorization"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    grantee: str = Field(max_length=18, index=True)
    scope: str = Field(max_length=64)
    valid_from: dt.date
    valid_until: dt.date
    document_ref: str = Field(max_length=200)
    document_sha256: str = Field(max_length=64)
    status: str = Field(default="active", max_length=16)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


@logged
class Record(SQLModel, table=True):
    """A submitted credit record (信用记录) of one catalog item about one subject.

    The natural key is (provider, item, document number). ``disclosure_until`` is
    the last day it may be disclosed (Art. 15); ``status`` is ``active``,
    ``withdrawn``, ``archived`` (expired and kept in the archive) or ``repaired``.
    ``due_date`` is 7 working days after ``concluded_on`` (Art. 10); ``late_days``
    the working days it was late (Art. 46).
    """

    __tablename__ = "record"
    __table_args__ = (
        sa.UniqueConstraint("provider_uscc", "item_code", "document_no", name="uq_record_natural_key"),
        sa.Index("ix_record_status_disclosure_until", "status", "disclosure_until"),
    )
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    provider_uscc: str = Field(max_length=18)
    item_code: str = Field(max_length=64)
    document_no: str = Field(max_length=128)
    # no index: nothing looks records up by item (catalog items are never deleted; the sweep reads the table)
    catalog_item_id: int = Field(foreign_key="catalog_item.id")
    subject_id: int = Field(foreign_key="subject.id", index=True)
    decision_date: dt.date
    concluded_on: dt.date
    act_ended_on: dt.date | None = Field(default=None)
    publicity_until: dt.date | None = Field(default=None)
    disclosure_until: dt.date | None = Field(default=None)
    fields: str = Field(sa_type=sa.Text)
    status: str = Field(default="active", max_length=16)
    revision: int = Field(default=1)
    due_date: dt.date | None = Field(default=None)
    due_guessed: bool = Field(default=False)
    late_days: int = Field(default=0)
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime)
    submitted_by: str = Field(max_length=64)
    import_run_id: int | None = Field(default=None)  # no index: a run's records are found by natural key
    archived_on: dt.date | None = Field(default=None)


@logged
class RecordHistory(SQLModel, table=True):
    """Every revision of a record with why it changed (Art. 30): submission, correction, withdrawal, archive."""

    __tablename__ = "record_history"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    record_id: int = Field(foreign_key="record.id", index=True)
    revision: int
    change: str = Field(max_length=16)
    fields: str = Field(sa_type=sa.Text)
    reason: str | None = Field(default=None, max_length=1000)
    changed_at: dt.datetime = Field(sa_type=UTCDateTime)
    changed_by: str = Field(max_length=64)


@logged
class ImportRun(SQLModel, table=True):
    """A bulk import, committed batch by batch so that ``--resume`` continues a killed run."""

    __tablename__ = "import_run"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    file_name: str = Field(max_length=500)
    file_sha256: str = Field(max_length=64, index=True)
    layout: str = Field(max_length=32)
    operator: str = Field(max_length=64)
    status: str = Field(default="running", max_length=16)
    rows_done: int = Field(default=0)
    counts: str = Field(default="{}", sa_type=sa.Text)
    started_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
