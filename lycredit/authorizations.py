"""A subject's written authorisations (书面授权): consents, query and sharing (Art. 11, 12, 14).

* Art. 11: market credit information that concerns a person is collected only with the
  person's consent (scope ``consent:market``), and non-public information is shared with
  the platform only under the subject's written authorisation (``share``).
* Art. 12 para. 2: a person's income, deposits, securities, commercial insurance, real
  estate and tax amounts are collected only with the person's authorisation
  (``consent:income`` ... ``consent:tax``, one per :data:`lycredit.identity.CONSENT_FIELDS`
  topic): :func:`consent_in_force`.
* Art. 14: nobody queries a subject's non-public information without its authorisation
  (``query``): :func:`query_authorization` names the rule that refuses one.

An authorisation names its subject, the unit it is given to (the grantee's unified social
credit code), its scope, its validity (both days included, Asia/Shanghai) and the signed
document, kept outside the database and pinned by its SHA-256. A revoked authorisation is
no longer in force from the day it was revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lycredit.authorization_check import AuthorizationRefused, in_force, query_authorization  # noqa: F401
from lycredit.errors import DataError, NotFound, UsageError
from lycredit.i18n import _
from lycredit.identity import SubjectKind, validate_uscc
from lycredit.inputs import check_input_file, unreadable
from lycredit.models import Authorization
from lycredit.models.base import utcnow
from lycredit.oplog.log import UnitOfWork
from lycredit.subjects import get_subject, subject_by_id, subject_view

T_AUTHORIZATION: sa.Table = Authorization.__table__

DOCUMENT_REF_MAX = 200
REASON_MAX = 1000

#: Art. 12 para. 2: the scope that authorises each topic of identity.CONSENT_FIELDS.
TOPIC_SCOPES: dict[str, str] = {
    "income": "consent:income",
    "deposits": "consent:deposits",
    "securities": "consent:securities",
    "commercial insurance": "consent:insurance",
    "real estate": "consent:real_estate",
    "tax amount": "consent:tax",
}
#: Every scope: Art. 12 consents, Art. 11 market-information consent, Art. 14 query, Art. 11 sharing.
SCOPES: tuple[str, ...] = (*TOPIC_SCOPES.values(), "consent:market", "query", "share")
_PERSONAL_SCOPES = frozenset(scope for scope in SCOPES if scope.startswith("consent:"))


def validate_scope(scope: str) -> str:
    value = scope.strip()
    if value not in SCOPES:
        raise DataError(_("Unknown authorisation scope {scope} (one of: {scopes})").format(
            scope=scope, scopes=", ".join(SCOPES)))
    return value


def consent_scope(topic: str) -> str:
    """The scope for an Art. 11/12 topic: a CONSENT_FIELDS topic (``tax amount``), ``market``, or a scope."""
    value = topic.strip()
    if value in TOPIC_SCOPES:
        return TOPIC_SCOPES[value]
    scope = value if value.startswith("consent:") else "consent:" + value
    if scope not in _PERSONAL_SCOPES:
        raise DataError(_("No consent scope covers {topic} (one of: {scopes})").format(
            topic=topic, scopes=", ".join(sorted(_PERSONAL_SCOPES))))
    return scope


def document_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of the signed authorisation document; InputMissing (66) if it is missing, a directory or
    unreadable."""
    file = check_input_file(path, missing=_("{file}: no such file (the signed authorisation document)").format(
        file=path))
    digest = hashlib.sha256()
    try:
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:  # gone or made unreadable since the check
        raise unreadable(file, exc) from None
    if file.stat().st_size == 0:
        raise DataError(_("{file} is empty; an authorisation document must hold the signed text").format(file=file))
    return digest.hexdigest()


def add(uow: UnitOfWork, subject_code: str, grantee_uscc: str, scope: str, valid_from: dt.date,
        valid_until: dt.date, document_ref: str, document_path: str | Path) -> dict[str, Any]:
    """Record a subject's written authorisation for a grantee unit; the stored row.

    Checks: the subject is registered; the grantee's USCC is valid; the scope is known and
    a ``consent:`` scope is for a natural person; ``valid_until`` is not before
    ``valid_from``; the document reference is given; the document file exists (66) and is
    not empty; the same authorisation is not recorded twice.
    """
    subject = get_subject(uow.conn, subject_code)
    grantee = validate_uscc(grantee_uscc)
    scope = validate_scope(scope)
    if scope in _PERSONAL_SCOPES and subject["kind"] != SubjectKind.natural_person:
        raise DataError(_("Scope {scope} is personal information of a natural person (Art. 11, 12); the subject "
                          "is an organisation.").format(scope=scope))
    if valid_until < valid_from:
        raise DataError(_("The authorisation ends ({until}) before it starts ({start}).").format(
            until=valid_until.isoformat(), start=valid_from.isoformat()))
    reference = document_ref.strip()
    if not reference or len(reference) > DOCUMENT_REF_MAX or not _one_line(reference):
        raise DataError(_("The document reference must have 1 to {limit} characters, on one line, with no "
                          "control characters.").format(limit=DOCUMENT_REF_MAX))
    digest = document_sha256(document_path)
    values = {"subject_id": subject["id"], "grantee": grantee, "scope": scope, "valid_from": valid_from,
              "valid_until": valid_until, "document_ref": reference, "document_sha256": digest}
    duplicate = uow.conn.execute(sa.select(T_AUTHORIZATION.c.id).where(
        T_AUTHORIZATION.c.status == "active", *(T_AUTHORIZATION.c[k] == v for k, v in values.items()))).scalar()
    if duplicate is not None:
        raise DataError(_("This authorisation is already recorded (id {id}).").format(id=duplicate))
    return uow.insert(T_AUTHORIZATION, {**values, "status": "active", "created_at": utcnow(), "revoked_at": None})


def _one_line(text: str) -> bool:
    """No control or format character and no line break: every character printable, or a space of any width
    (str.isprintable() refuses all but the ASCII space, and a full-width space U+3000 is typed in Chinese text)."""
    return all(char.isprintable() or unicodedata.category(char) == "Zs" for char in text)


def get(conn: sa.Connection, authorization_id: int) -> sa.RowMapping:
    row = conn.execute(sa.select(T_AUTHORIZATION).where(T_AUTHORIZATION.c.id == authorization_id)).mappings().first()
    if row is None:
        raise NotFound(_("No authorisation with id {id} is recorded.").format(id=authorization_id))
    return row


def revoke(uow: UnitOfWork, authorization_id: int, reason: str) -> dict[str, Any]:
    """Revoke an authorisation from now on (the subject withdrew it); the reason is the operation's."""
    if not reason.strip() or len(reason) > REASON_MAX:
        raise UsageError(_("Revoking an authorisation needs a reason of 1 to {limit} characters.").format(
            limit=REASON_MAX))
    row = get(uow.conn, authorization_id)
    if row["status"] != "active":
        raise DataError(_("Authorisation {id} is already revoked.").format(id=authorization_id))
    return uow.update(T_AUTHORIZATION, {"id": authorization_id}, {"status": "revoked", "revoked_at": utcnow()})


def list_(conn: sa.Connection, subject_code: str | None = None, active_on: dt.date | None = None) -> list[dict]:
    """Authorisations, oldest first, with the subject's code masked where it is a person's.

    ``subject_code`` keeps one subject's; ``active_on`` those in force on that day.
    """
    query = sa.select(T_AUTHORIZATION).order_by(T_AUTHORIZATION.c.id)
    if subject_code is not None:
        query = query.where(T_AUTHORIZATION.c.subject_id == get_subject(conn, subject_code)["id"])
    if active_on is not None:
        query = query.where(T_AUTHORIZATION.c.valid_from <= active_on, T_AUTHORIZATION.c.valid_until >= active_on)
    subjects: dict[int, dict[str, Any]] = {}
    views = []
    for row in conn.execute(query).mappings():
        if active_on is not None and not in_force(row, active_on):
            continue
        if row["subject_id"] not in subjects:
            subjects[row["subject_id"]] = subject_view(conn, subject_by_id(conn, row["subject_id"]))
        subject = subjects[row["subject_id"]]
        views.append({"id": row["id"], "subject": subject["code"], "subject_name": subject["name"],
                      "grantee": row["grantee"], "scope": row["scope"], "valid_from": row["valid_from"],
                      "valid_until": row["valid_until"], "status": row["status"],
                      "document_ref": row["document_ref"], "document_sha256": row["document_sha256"],
                      "created_at": row["created_at"], "revoked_at": row["revoked_at"]})
    return views


def consent_in_force(conn: sa.Connection, subject_id: int, topic: str, on: dt.date, *,
                     grantee: str | None = None) -> bool:
    """Whether the subject's consent for ``topic`` (Art. 11, 12) is in force on ``on``.

    ``topic`` is an identity.CONSENT_FIELDS topic (``income``, ``tax amount``), ``market``
    or a ``consent:`` scope; ``grantee``, when given, must be the unit it was given to.
    """
    query = sa.select(T_AUTHORIZATION).where(
        T_AUTHORIZATION.c.subject_id == subject_id, T_AUTHORIZATION.c.scope == consent_scope(topic),
        T_AUTHORIZATION.c.valid_from <= on, T_AUTHORIZATION.c.valid_until >= on)
    if grantee is not None:
        query = query.where(T_AUTHORIZATION.c.grantee == validate_uscc(grantee))
    return any(in_force(row, on) for row in conn.execute(query).mappings())
