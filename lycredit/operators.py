"""Operators, units and keys: who may sign what, registered through the log.

``db init`` bootstraps the first administrator, whose first operation signs
its own registration. After that only an administrator registers, rotates
and revokes; each of those is a ``key.*`` event in the log, so that the log
alone says which key was valid when (``audit verify`` replays it).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lycredit import dbapi, keys
from lycredit.errors import DataError, NotFound
from lycredit.i18n import _
from lycredit.models import Operator, OperatorKey, PlatformMeta, Unit
from lycredit.models.base import utcnow
from lycredit.oplog.append import find_signer
from lycredit.oplog.log import Signer, UnitOfWork, timestamp
from lycredit.oplog.note import key_id as note_key_id
from lycredit.roles import ADMIN, validate_role

NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
DEFAULT_ROTATION_OVERLAP = dt.timedelta(days=7)

T_UNIT = Unit.__table__
T_OPERATOR = Operator.__table__
T_KEY = OperatorKey.__table__
T_META = PlatformMeta.__table__


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise DataError(
            _("Operator name {name!r} is not valid: 2-64 characters, lower-case letters, digits, '.', '_', '-',"
              " starting with a letter").format(name=name)
        )
    return name


def key_id_hex(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    raw = public_key if isinstance(public_key, bytes) else keys.public_raw(public_key)
    return note_key_id(name, raw).hex()


def _ensure_unit(uow: UnitOfWork, uscc: str, unit_name: str | None) -> int:
    from lycredit.identity import validate_uscc

    code = validate_uscc(uscc)
    unit_id = uow.conn.execute(sa.select(T_UNIT.c.id).where(T_UNIT.c.uscc == code)).scalar()
    if unit_id is not None:
        return unit_id
    if not unit_name:
        raise DataError(_("Unit {code} is not registered yet: give its name with --unit-name").format(code=code))
    return uow.insert(T_UNIT, {"uscc": code, "name": unit_name, "created_at": utcnow()})["id"]


def _register(
    uow: UnitOfWork, name: str, role: str, unit_uscc: str, unit_name: str | None, public_key: Ed25519PublicKey
) -> dict:
    validate_name(name)
    validate_role(role)
    if uow.conn.execute(sa.select(T_OPERATOR.c.id).where(T_OPERATOR.c.name == name)).scalar() is not None:
        raise DataError(_("Operator {name} already exists").format(name=name))
    raw_b64 = keys.public_b64(public_key)
    if uow.conn.execute(sa.select(T_KEY.c.id).where(T_KEY.c.public_key == raw_b64)).scalar() is not None:
        raise DataError(_("This public key is already registered to an operator"))
    unit_id = _ensure_unit(uow, unit_uscc, unit_name)
    now = utcnow()
    op = uow.insert(T_OPERATOR, {"name": name, "role": role, "unit_id": unit_id, "status": "active", "created_at": now})
    kid = key_id_hex(name, public_key)
    uow.insert(T_KEY, {"operator_id": op["id"], "key_id": kid, "public_key": raw_b64, "valid_from": now})
    uow.event(
        "key.register", operator=name, role=role, key_id=kid, public_key=raw_b64,
        valid_from=timestamp(now), valid_until=None,
    )
    return op


def check_bootstrap(*, admin_name: str, unit_uscc: str, unit_name: str, origin: str | None = None) -> None:
    """Every check of :func:`bootstrap`'s arguments that needs no database (65 for the first that fails), so that
    ``db init`` refuses them before it writes a key file or creates anything."""
    from lycredit.identity import validate_uscc
    from lycredit.oplog.note import Checkpoint, NoteError

    validate_name(admin_name)
    code = validate_uscc(unit_uscc)
    if not unit_name:
        raise DataError(_("Unit {code} is not registered yet: give its name with --unit-name").format(code=code))
    if origin is not None:  # given: it names the log in every checkpoint, so blank or padded is a mistake
        try:
            if not origin.strip() or origin != origin.strip():
                raise NoteError(origin)
            Checkpoint(origin, 0, bytes(32))  # the origin is the first line of every signed checkpoint
        except NoteError:
            raise DataError(_("Log origin {origin!r} is not valid: it must be one line of text without control "
                              "characters, and neither empty nor starting or ending with a space").format(
                origin=origin)) from None


def bootstrap(
    conn: sa.Connection,
    *,
    admin_name: str,
    unit_uscc: str,
    unit_name: str,
    private_key: Ed25519PrivateKey,
    origin: str | None = None,
) -> Signer:
    """Register the first administrator on a fresh database; its key signs its own registration."""
    check_bootstrap(admin_name=admin_name, unit_uscc=unit_uscc, unit_name=unit_name, origin=origin)
    if conn.execute(sa.select(sa.func.count()).select_from(T_OPERATOR)).scalar():
        raise DataError(_("The database already has operators; the first administrator exists"))
    name = admin_name
    signer = Signer(0, name, ADMIN, key_id_hex(name, private_key.public_key()), private_key)
    uow = UnitOfWork(conn, signer, command="db init", action="db.init", reason="bootstrap")
    origin = origin or f"lycredit.local/{secrets.token_hex(8)}"
    uow.insert(T_META, {"key": "origin", "value": origin})
    op = _register(uow, name, ADMIN, unit_uscc, unit_name, private_key.public_key())
    uow.close()
    return Signer(op["id"], name, ADMIN, signer.key_id, private_key)


def add_operator(
    uow: UnitOfWork, name: str, role: str, unit_uscc: str, unit_name: str | None, public_key: Ed25519PublicKey
) -> dict:
    op = _register(uow, name, role, unit_uscc, unit_name, public_key)
    uow.summary.update(operator=name, role=role)
    return op


def _operator(conn: sa.Connection, name: str) -> sa.RowMapping:
    row = conn.execute(sa.select(T_OPERATOR).where(T_OPERATOR.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(_("No operator named {name}").format(name=name))
    return row


def revoke_operator(uow: UnitOfWork, name: str, reason: str) -> None:
    """Revoke an operator and end every one of its keys now."""
    op = _operator(uow.conn, name)
    if op["status"] == "revoked":
        raise DataError(_("Operator {name} is already revoked").format(name=name))
    if op["id"] == uow.signer.operator_id:
        raise DataError(_("An administrator cannot revoke itself"))
    now = utcnow()
    uow.update(T_OPERATOR, {"id": op["id"]}, {"status": "revoked", "revoked_at": now, "revoke_reason": reason})
    for k in _open_keys(uow.conn, op["id"], now):
        uow.update(T_KEY, {"id": k["id"]}, {"valid_until": now})
        uow.event("key.revoke", operator=name, key_id=k["key_id"], valid_until=timestamp(now))
    uow.summary.update(operator=name)


def _open_keys(conn: sa.Connection, operator_id: int, now: dt.datetime) -> list[sa.RowMapping]:
    rows = conn.execute(sa.select(T_KEY).where(T_KEY.c.operator_id == operator_id).order_by(T_KEY.c.id)).mappings()
    return [r for r in rows if r["valid_until"] is None or r["valid_until"] > now]


def rotate_key(
    uow: UnitOfWork, name: str, public_key: Ed25519PublicKey, overlap: dt.timedelta = DEFAULT_ROTATION_OVERLAP
) -> str:
    """Register a new key for ``name``; its current keys stay valid for ``overlap`` more, then end."""
    op = _operator(uow.conn, name)
    if op["status"] != "active":
        raise DataError(_("Operator {name} is revoked; its keys cannot be rotated").format(name=name))
    raw_b64 = keys.public_b64(public_key)
    if uow.conn.execute(sa.select(T_KEY.c.id).where(T_KEY.c.public_key == raw_b64)).scalar() is not None:
        raise DataError(_("This public key is already registered to an operator"))
    now = utcnow()
    ends = now + overlap
    for k in _open_keys(uow.conn, op["id"], now):
        if k["valid_until"] is None or k["valid_until"] > ends:
            uow.update(T_KEY, {"id": k["id"]}, {"valid_until": ends})
            uow.event("key.expire", operator=name, key_id=k["key_id"], valid_until=timestamp(ends))
    kid = key_id_hex(name, public_key)
    uow.insert(T_KEY, {"operator_id": op["id"], "key_id": kid, "public_key": raw_b64, "valid_from": now})
    uow.event(
        "key.register", operator=name, role=op["role"], key_id=kid, public_key=raw_b64,
        valid_from=timestamp(now), valid_until=None,
    )
    uow.summary.update(operator=name, key_id=kid)
    return kid


@dataclass(frozen=True)
class OperatorView:
    name: str
    role: str
    unit: str
    unit_code: str
    status: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str | None
    keys: list[dict]


def list_operators(conn: sa.Connection, *, include_revoked: bool = True) -> list[OperatorView]:
    q = (
        sa.select(T_OPERATOR, T_UNIT.c.name.label("unit_name"), T_UNIT.c.uscc)
        .join(T_UNIT, T_UNIT.c.id == T_OPERATOR.c.unit_id)
        .order_by(T_OPERATOR.c.name)
    )
    if not include_revoked:
        q = q.where(T_OPERATOR.c.status == "active")
    out = []
    for r in conn.execute(q).mappings():
        key_rows = conn.execute(
            sa.select(T_KEY).where(T_KEY.c.operator_id == r["id"]).order_by(T_KEY.c.id)
        ).mappings()
        out.append(
            OperatorView(
                r["name"], r["role"], r["unit_name"], r["uscc"], r["status"], r["created_at"], r["revoked_at"],
                r["revoke_reason"],
                [{"key_id": k["key_id"], "public_key": k["public_key"], "valid_from": k["valid_from"],
                  "valid_until": k["valid_until"]} for k in key_rows],
            )
        )
    return out


def show_operator(conn: sa.Connection, name: str) -> OperatorView:
    _operator(conn, name)
    return next(v for v in list_operators(conn) if v.name == name)


def signer_for(conn: sa.Connection, private_key: Ed25519PrivateKey, now: dt.datetime | None = None) -> Signer:
    """The operator whose registered key this is, if it may sign now; otherwise exit 77 saying why."""
    return find_signer(dbapi.wrap(conn), private_key, now)
