"""Finding a credit subject by its code, without SQLAlchemy (Art. 3, 4, 8).

The one rule for which row a code names: a unified social credit code is found
by ``uscc``; a code shaped like a resident ID number also by its keyed blind
index ``ric_index`` (the number itself is never stored in clear, Art. 4, 28).
:mod:`lycredit.subjects` builds its SQLAlchemy lookup from :func:`lookup_where`,
and :mod:`lycredit.disclosure` reads through :func:`find_subject` on a
:class:`lycredit.dbapi.DB`, so that a query does not load the ORM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lycredit.dbapi import BOOL, DB, UTC, wrap
from lycredit.errors import ConfigError, NotFound
from lycredit.i18n import _
from lycredit.identity import PiiError, _compact

if TYPE_CHECKING:
    from lycredit.identity import PiiProtector

RIC_CONTEXT = "subject.ric"
NAME_CONTEXT = "subject.name"
PERSON_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
#: How :meth:`lycredit.dbapi.DB.rows` converts a ``subject`` row to the types of the model.
SUBJECT_TYPES = {"checksum_override": BOOL, "created_at": UTC}


def protector() -> PiiProtector:
    """The personal-data key of this process (LYCREDIT_PII_KEY or LYCREDIT_PII_KEY_FILE)."""
    from lycredit.identity import PiiProtector

    return PiiProtector.from_env()


def lookup_where(compact: str, pii: PiiProtector | None) -> tuple[str, dict[str, str]]:
    """The condition on ``subject`` (with its ``:name`` parameters) that finds the compact code's row."""
    if not PERSON_SHAPE.fullmatch(compact):
        return "uscc = :uscc", {"uscc": compact}
    pii = pii or protector()
    return "uscc = :uscc OR ric_index = :ric_index", {"uscc": compact, "ric_index": pii.blind_index(compact)}


KEY_PROBES = 50
"""How many of the first and of the last stored persons :func:`require_database_key` tries to open the number and
name of. Under the right key the first value opens; only a wrong key (or as many altered values) tries them all,
a millisecond's work."""


def require_database_key(db: DB | Any, pii: PiiProtector) -> None:
    """ConfigError (78) unless ``pii`` holds the key this database's resident ID numbers were encrypted with.

    A lookup by blind index that finds nothing cannot tell an unregistered person from a wrong
    key, under which every index differs. A stored number can: AES-GCM authentication fails under
    any other key. The numbers and names of the first and the last persons (:data:`KEY_PROBES` of each)
    are tried, so that altered values, even that of the only person, or those of every person of the
    first rows, are not taken for a wrong key (``audit verify`` reports them). A database without a
    person passes.
    """
    from lycredit.identity import KEY_ENV, KEY_FILE_ENV

    rows = wrap(db).rows(
        "SELECT ric_enc, name_enc FROM subject WHERE id IN ("
        "SELECT id FROM (SELECT id FROM subject WHERE ric_enc IS NOT NULL ORDER BY id LIMIT :n) AS first_ones "
        "UNION SELECT id FROM (SELECT id FROM subject WHERE ric_enc IS NOT NULL ORDER BY id DESC LIMIT :n) "
        "AS last_ones) ORDER BY id", {"n": KEY_PROBES})
    for row in rows:
        for column, context in (("ric_enc", RIC_CONTEXT), ("name_enc", NAME_CONTEXT)):
            if row[column] is None:
                continue
            try:
                pii.decrypt(row[column], context=context)
                return
            except PiiError:
                continue
    if rows:
        raise ConfigError(_("The PII key ({env} or {file_env}) is not the key this database's resident ID "
                            "numbers were encrypted with: a stored number fails authentication under it, so "
                            "no person can be looked up, shown or registered with it. Use the key the database "
                            "was set up with.").format(env=KEY_ENV, file_env=KEY_FILE_ENV))


def _altered_messages() -> dict[str, str]:
    return {
        "ric_enc": _("The stored resident ID number of credit subject {id} fails authentication under the PII "
                     "key, although the key opens the database's other personal data: the value was altered, "
                     "copied from another row or field, or encrypted under another key, outside lycredit. "
                     "`lycredit audit verify` reports changes made outside lycredit."),
        "name_enc": _("The stored name of credit subject {id} fails authentication under the PII key, although "
                      "the key opens the database's other personal data: the value was altered, copied from "
                      "another row or field, or encrypted under another key, outside lycredit. `lycredit audit "
                      "verify` reports changes made outside lycredit."),
    }


def open_stored(db: DB | Any, row: Mapping[str, Any], column: str, pii: PiiProtector | None = None) -> str:
    """The clear text of a person's ``ric_enc`` or ``name_enc``, from its ``subject`` row read from ``db``.

    Every decryption of stored personal data goes through here, so that a value that does not open
    is told the same way by every command: under a key that is not the database's, the ConfigError
    (78) of :func:`require_database_key`; under the database's key, a :class:`PiiError` (65) naming
    the subject, for a value altered outside lycredit (which ``audit verify`` reports).
    """
    context = {"ric_enc": RIC_CONTEXT, "name_enc": NAME_CONTEXT}[column]
    pii = pii or protector()
    token = row[column]
    if isinstance(token, str):  # a person without one was not stored by lycredit either
        try:
            return pii.decrypt(token, context=context)
        except PiiError:
            pass
    require_database_key(db, pii)
    raise PiiError(_altered_messages()[column].format(id=row["id"]))


def find_subject(db: DB | Any, code: str, *, pii: PiiProtector | None = None) -> dict[str, Any] | None:
    """The subject row with this USCC, or with this resident ID number (by its blind index), or None.

    When a code shaped like a resident ID number finds nothing, the key is checked against the
    stored numbers (:func:`require_database_key`): with a wrong key, ConfigError, not None.
    """
    compact = _compact(code)
    if not compact:
        return None
    if PERSON_SHAPE.fullmatch(compact):
        pii = pii or protector()
    where, params = lookup_where(compact, pii)
    row = wrap(db).first(f"SELECT * FROM subject WHERE {where}", params, SUBJECT_TYPES)
    if row is None and pii is not None and PERSON_SHAPE.fullmatch(compact):
        require_database_key(db, pii)
    return row


def get_subject(db: DB | Any, code: str, *, pii: PiiProtector | None = None) -> dict[str, Any]:
    """Like :func:`find_subject`, but NotFound (naming the code, masked if need be) when there is none."""
    row = find_subject(db, code, pii=pii)
    if row is None:
        from lycredit.subjects import display_code

        raise NotFound(_("No credit subject {code} is registered.").format(code=display_code(code)))
    return row
