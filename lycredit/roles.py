"""Which role may run what: the one role table of lycredit.

Five roles (see the README): ``admin`` (NDRC platform administrator),
``operator`` (NDRC credit office staff), ``provider`` (a providing department,
信息提供单位), ``agency`` (a selected credit service agency, Art. 39) and
``auditor`` (discipline inspection or an external auditor; read-only, Art. 47).

Every state-changing action is named here with the roles allowed to run it.
:func:`require` is the only check; a refusal names the role, the action and
who may run it, and the caller logs it before exiting 77.
"""

from __future__ import annotations

from lycredit.errors import PermissionDenied
from lycredit.i18n import N_, _

ADMIN, OPERATOR, PROVIDER, AGENCY, AUDITOR = "admin", "operator", "provider", "agency", "auditor"
ROLES: dict[str, str] = {
    ADMIN: N_("NDRC platform administrator"),
    OPERATOR: N_("NDRC credit office staff"),
    PROVIDER: N_("information providing unit"),
    AGENCY: N_("selected credit service agency"),
    AUDITOR: N_("discipline inspection or external auditor (read-only)"),
}

_STAFF = frozenset({ADMIN, OPERATOR})

PERMISSIONS: dict[str, frozenset[str]] = {
    # foundation
    "operator.add": frozenset({ADMIN}),
    "operator.revoke": frozenset({ADMIN}),
    "key.rotate": frozenset({ADMIN}),
    "policy.set": frozenset({ADMIN}),
    # intake (Art. 8-12)
    "calendar.import": _STAFF,
    "catalog.import": _STAFF,
    "subject.add": _STAFF | {PROVIDER},
    "subject.link": _STAFF | {PROVIDER},
    "subject.unlink": _STAFF | {PROVIDER},
    "subject.override_checksum": _STAFF,
    "subject.import": _STAFF | {PROVIDER},
    "pii.reveal": frozenset({ADMIN}),
    "authorization.add": _STAFF | {PROVIDER},
    "authorization.revoke": _STAFF | {PROVIDER},
    "record.submit": _STAFF | {PROVIDER},
    "record.import": _STAFF | {PROVIDER},
    "record.correct": _STAFF | {PROVIDER},
    "record.withdraw": _STAFF | {PROVIDER},
    "record.abandon": _STAFF | {PROVIDER},
    # disclosure (Art. 13-15, 30)
    "query": frozenset({ADMIN, OPERATOR, PROVIDER, AGENCY, AUDITOR}),
    "query.gov_share": frozenset({ADMIN, OPERATOR, PROVIDER}),
    "query.self": _STAFF,
    "report": _STAFF,
    "sweep.expiry": _STAFF,
    # audit (Art. 28, 47)
    "audit.anchor": frozenset({ADMIN, OPERATOR, AUDITOR}),
}


def allowed_roles(action: str) -> frozenset[str]:
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"action {action!r} is not in the role table") from None


def may(role: str, action: str) -> bool:
    return role in allowed_roles(action)


def require(role: str, action: str, operator: str = "") -> None:
    """Raise :class:`PermissionDenied` (exit 77) unless ``role`` may run ``action``."""
    allowed = allowed_roles(action)
    if role not in allowed:
        raise PermissionDenied(
            _("Operator {operator} has role {role}, which may not run {action} (allowed: {allowed})").format(
                operator=operator or "?", role=role, action=action, allowed=", ".join(sorted(allowed))
            )
        )


def validate_role(role: str) -> str:
    if role not in ROLES:
        from lycredit.errors import DataError

        raise DataError(_("Unknown role {role} (one of: {roles})").format(role=role, roles=", ".join(ROLES)))
    return role
