"""Whether a subject's authorisation lets a unit query it (Art. 14), without SQLAlchemy.

The rules of :mod:`lycredit.authorizations` that a query checks: an authorisation
is in force within its days (both included, Asia/Shanghai) until the day it is
revoked (:func:`in_force`), and a query needs one of scope ``query`` from this
subject to this unit (:func:`query_authorization`, which names the rule that
refuses). Kept apart so that ``lycredit query`` reads it through
:mod:`lycredit.dbapi`; :mod:`lycredit.authorizations` re-exports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from lycredit.dbapi import DATE, DB, UTC, wrap
from lycredit.errors import PermissionDenied
from lycredit.i18n import _

#: How :meth:`lycredit.dbapi.DB.rows` converts an ``authorization`` row to the types of the model.
AUTHORIZATION_TYPES = {"valid_from": DATE, "valid_until": DATE, "created_at": UTC, "revoked_at": UTC}


class AuthorizationRefused(PermissionDenied):
    """An authorisation that does not cover a query; ``rule`` names the check that failed."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _revoked_on(row: Mapping[str, Any]) -> dt.date | None:
    """The day (Asia/Shanghai) from which a revoked authorisation is no longer in force."""
    if row["revoked_at"] is None:
        return None
    from zoneinfo import ZoneInfo

    return row["revoked_at"].astimezone(ZoneInfo("Asia/Shanghai")).date()


def in_force(row: Mapping[str, Any], on: dt.date) -> bool:
    """Within its validity (both days included) and not revoked on or before ``on``."""
    revoked = _revoked_on(row)
    return row["valid_from"] <= on <= row["valid_until"] and (revoked is None or on < revoked)


def query_authorization(conn: DB | Any, authorization_id: int, querier_uscc: str, subject_id: int,
                        on: dt.date, *, scope: str = "query") -> dict[str, Any]:
    """The authorisation that lets ``querier_uscc`` query ``subject_id`` on ``on`` (Art. 14).

    Raises :class:`AuthorizationRefused` (exit 77) naming the rule: ``unknown``,
    ``other_subject``, ``other_grantee``, ``wrong_scope``, ``revoked``, ``not_yet_valid``
    or ``expired``. Messages name ids, never a person's number.
    """
    row = wrap(conn).first('SELECT * FROM "authorization" WHERE id = :id', {"id": authorization_id},
                           AUTHORIZATION_TYPES)
    if row is None:
        raise AuthorizationRefused("unknown", _("Authorisation {id} is not recorded.").format(id=authorization_id))
    if row["subject_id"] != subject_id:
        raise AuthorizationRefused("other_subject", _(
            "Authorisation {id} was given by another subject (id {given}), not by subject {subject}.").format(
            id=authorization_id, given=row["subject_id"], subject=subject_id))
    if row["grantee"] != querier_uscc.strip().upper():
        raise AuthorizationRefused("other_grantee", _(
            "Authorisation {id} was given to unit {grantee}, not to {querier}.").format(
            id=authorization_id, grantee=row["grantee"], querier=querier_uscc))
    if row["scope"] != scope:
        raise AuthorizationRefused("wrong_scope", _(
            "Authorisation {id} has scope {found}; this needs scope {scope}.").format(
            id=authorization_id, found=row["scope"], scope=scope))
    revoked = _revoked_on(row)
    if revoked is not None and on >= revoked:
        raise AuthorizationRefused("revoked", _("Authorisation {id} was revoked on {day}.").format(
            id=authorization_id, day=revoked.isoformat()))
    if on < row["valid_from"]:
        raise AuthorizationRefused("not_yet_valid", _("Authorisation {id} is valid only from {start}.").format(
            id=authorization_id, start=row["valid_from"].isoformat()))
    if on > row["valid_until"]:
        raise AuthorizationRefused("expired", _("Authorisation {id} expired after {until}.").format(
            id=authorization_id, until=row["valid_until"].isoformat()))
    return row
