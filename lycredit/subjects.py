"""Credit subjects (信用主体): registration, lookup, Art. 8 links and bulk resolution (Art. 3, 4, 8, 13, 23, 28).

* Art. 3 and 8: a natural person is identified by the citizen identity number
  (公民身份号码, GB 11643), a legal person, unincorporated organisation or individual
  business by the unified social credit code (统一社会信用代码, GB 32100):
  :func:`validate_subject_code`, :func:`add_org`, :func:`add_person`, :func:`find_subject`.
  A genuine code failing only its check character (some codes issued before 2016) is
  admitted only by an explicit override that needs the ``subject.override_checksum`` role
  action and a reason, and is logged (:func:`add_org`).
* Art. 8 and 23: an organisation's legal representative (法定代表人), principal (主要负责人),
  actual controller (实际控制人) and financial officer (财务负责人): :func:`link`.
* Art. 4, 13 and 28: a resident ID number and a person's name are stored encrypted under
  a key kept outside the database, the number also as a keyed blind index for lookup; they
  are shown masked (:func:`show`) unless the caller is entitled to see them (:func:`reveal`).
  Nothing here puts a number in clear into a message or a log entry (:func:`display_code`).
* Record intake resolves subjects one at a time (:func:`resolve_or_create`) or ten thousand
  at a time (:func:`resolve_subjects_bulk`), and ``subject import`` reads a file of them
  (:func:`import_subjects_file`): every row checked first, all or nothing, then registered in
  batches of one signed operation each.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from stdnum.cn import ric

from lycredit import roles
from lycredit.dbapi import sqlite_rows
from lycredit.errors import DataError, NotFound, PermissionDenied, UsageError
from lycredit.i18n import _
from lycredit.identity import (
    USCC_REGISTRATION_CATEGORIES,
    ChecksumMismatch,
    PiiProtector,
    SubjectKind,
    _compact,
    _known_address_code,
    birth_date_error,
    birth_date_shaped,
    mask_name,
    mask_ric,
    province_prefix,
    strip_invisible,
    validate_ric,
    validate_uscc,
)
from lycredit.inputs import NOT_ONE_LINE
from lycredit.models import Subject, SubjectLink
from lycredit.models.base import utcnow
from lycredit.oplog.log import UnitOfWork, insert_hashes
from lycredit.subject_lookup import (
    NAME_CONTEXT,
    RIC_CONTEXT,
    lookup_where,
    open_stored,
    protector,
    require_database_key,
)
from lycredit.subject_lookup import PERSON_SHAPE as _PERSON_SHAPE

T_SUBJECT: sa.Table = Subject.__table__
T_LINK: sa.Table = SubjectLink.__table__

ORG_NAME_MAX = 200
PERSON_NAME_MAX = 100  # its AES-GCM token must fit subject.name_enc (600 characters)
OVERRIDE_ACTION = "subject.override_checksum"

#: Art. 8: the relations that tie an organisation's information to a person's.
RELATIONS: dict[str, str] = {
    "legal_representative": "法定代表人",
    "principal": "主要负责人",
    "actual_controller": "实际控制人",
    "financial_officer": "财务负责人",
}

_KIND_NAMES = {**{kind.value: kind for kind in SubjectKind}, **{kind.label_zh: kind for kind in SubjectKind}}


# --- codes ----------------------------------------------------------------------------------

_RIC_SHAPES = re.compile(r"[0-9]{15}|[0-9]{17}[0-9X]")
"""What :func:`lycredit.identity.validate_ric` can accept (an old 15-digit number only to name it)."""


def _looks_like_ric(compact: str) -> bool:
    """18 digits (or 17 and X) with a correct GB 11643 check digit or a date of birth at positions 7-14.

    The date of birth need only have the shape of one (:func:`lycredit.identity.birth_date_shaped`):
    a number whose date was mistyped into a day that does not exist is still a person's. Such a
    code is never shown in clear, even when it breaks another rule (:func:`display_code`, and
    ``lycredit.disclosure._person_shaped``, which must give the same answers).
    """
    if not _PERSON_SHAPE.fullmatch(compact):
        return False
    return birth_date_shaped(compact) or ric.calc_check_digit(compact) == compact[17]


def _may_be_ric(compact: str) -> bool:
    """:func:`_looks_like_ric` and positions 1-2 a province code: never admitted by the checksum override.

    A unified social credit code whose positions 1-2 (registration authority and organisation
    category) are no province's, such as every enterprise's 91, cannot be a person's number, so
    an all-digit one remains admissible by the override whatever its digits look like.
    """
    return _looks_like_ric(compact) and province_prefix(compact)


def _ric_but_for_birth_date(compact: str, today: dt.date | None) -> DataError | None:
    """The date-of-birth error of a number that is a resident ID number but for its date of birth, or None.

    Positions 1-6 a known division code and positions 7-14 shaped like a date of birth that
    does not exist, is before :data:`~lycredit.identity.EARLIEST_BIRTH_YEAR` or after today:
    a person's number with a mistyped date (the check digit usually breaks too). It is refused,
    naming the date of birth, and never taken for an organisation's code, whether or not its
    last character happens to fit the GB 32100 checksum and whatever the checksum override says.
    """
    if not (_PERSON_SHAPE.fullmatch(compact) and birth_date_shaped(compact)):
        return None
    error = birth_date_error(compact, today=today)
    if error is None or not _known_address_code(compact[:6]):
        return None
    return DataError(_("The code is a resident ID number (positions 1-6 a division code, 7-14 a date of "
                       "birth) with a wrong date of birth; a resident ID number is never registered as an "
                       "organisation, with or without the checksum override. {reason} Check the number "
                       "against the person's identity document.").format(reason=error.message))


def _ric_but_for_check_digit(compact: str, ric_error: DataError, today: dt.date | None) -> DataError | None:
    """The error of a number that is a resident ID number but for its check digit, or None.

    Positions 1-6 a known division code and positions 7-14 a real date of birth, with a GB 11643
    check digit that does not match: a person's number with a mistyped digit. One in about 31
    such numbers whose positions 1-2 are also a GB 32100 category (11-13, 21, 31-35, 41, 51-53,
    61, 62, 71, 81) has a last character that fits the GB 32100 checksum by chance, which
    :func:`validate_subject_code` asks this about: such a number must not be registered as an
    organisation and printed in clear.
    """
    if not (isinstance(ric_error, ChecksumMismatch) and _PERSON_SHAPE.fullmatch(compact)
            and birth_date_shaped(compact) and birth_date_error(compact, today=today) is None
            and _known_address_code(compact[:6])):
        return None
    return DataError(_("The code is a resident ID number (positions 1-6 a division code, 7-14 a date of "
                       "birth) whose check digit does not match (GB 11643); a resident ID number is never "
                       "registered as an organisation. Check the number against the person's identity "
                       "document."))


_SHOWN_MASK = 36


def display_code(code: str) -> str:
    """A code as it may appear in output and messages: a USCC in clear, anything else masked.

    Only a well-formed USCC that does not look like a resident ID number is shown in clear;
    a resident ID number, or a malformed value that may be one, is masked. A value far longer
    than a code shows its first :data:`_SHOWN_MASK` asterisks and its length, not one per character.
    """
    compact = _compact(code)
    if _looks_like_ric(compact):
        return mask_ric(compact)
    if len(compact) > _SHOWN_MASK:
        return _("{mask}… ({length} characters)").format(mask="*" * _SHOWN_MASK, length=len(compact))
    try:
        return validate_uscc(compact, allow_bad_checksum=True)
    except DataError:
        return mask_ric(compact)


def validate_subject_code(
    code: str, *, allow_bad_checksum: bool = False, today: dt.date | None = None
) -> tuple[SubjectKind, str]:
    """``(kind, compact code)`` of a resident ID number or a USCC, else DataError saying what is wrong.

    A resident ID number is tried first, so an 18-digit number valid as both is protected. A
    USCC whose only fault is its check character raises :class:`ChecksumMismatch` unless
    ``allow_bad_checksum`` (the logged override); a code that may be a resident ID number
    (:func:`_may_be_ric`) is never admitted that way, and one that is a resident ID number but
    for its date of birth or its check digit is never admitted as a USCC at all
    (:func:`_ric_but_for_birth_date`, :func:`_ric_but_for_check_digit`).
    """
    compact = _compact(code)
    if not compact:
        raise DataError(_("The credit subject code is empty: give a unified social credit code or a "
                          "resident ID number."))
    if not _RIC_SHAPES.fullmatch(compact):  # not a resident ID number: a valid USCC needs no more
        try:
            valid = validate_uscc(compact, allow_bad_checksum=allow_bad_checksum)
            return USCC_REGISTRATION_CATEGORIES[valid[:2]][1], valid
        except DataError:
            pass  # the reason is found below, as for any code
    # The errors are kept without their tracebacks: a traceback holds this frame, whose locals
    # hold the error, a cycle that only the collector frees (a bulk import validates every code).
    try:
        return SubjectKind.natural_person, validate_ric(compact, today=today)
    except DataError as error:
        ric_error = error.with_traceback(None)
    person_fault = _ric_but_for_birth_date(compact, today)
    if person_fault is not None:
        try:
            raise person_fault
        finally:  # as below: the error raised must not hold this frame through a local
            del person_fault, ric_error
    person_like = _may_be_ric(compact)
    try:
        valid = validate_uscc(compact, allow_bad_checksum=allow_bad_checksum and not person_like)
    except DataError as error:
        uscc_error = error.with_traceback(None)
    else:
        person_fault = _ric_but_for_check_digit(compact, ric_error, today) if person_like else None
        if person_fault is None:
            return USCC_REGISTRATION_CATEGORIES[valid[:2]][1], valid
        try:
            raise person_fault
        finally:
            del person_fault, ric_error
    try:
        raise _code_error(compact, ric_error, uscc_error, person_like, allow_bad_checksum)
    finally:  # the error raised is one of these locals: its traceback would hold this frame again
        del ric_error, uscc_error


def _code_error(compact: str, ric_error: DataError, uscc_error: DataError, person_like: bool,
                override: bool) -> DataError:
    """The reason that fits the code's shape: a person's number's, a USCC's, or both."""
    if not re.fullmatch(r"[0-9]*[0-9X]", compact):
        return uscc_error
    if len(compact) == 15:
        return ric_error
    if person_like:
        if override:
            return DataError(_("The code has the form of a resident ID number (a date of birth at positions "
                               "7-14); the checksum override admits only unified social credit codes. "
                               "{reason}").format(reason=ric_error.message))
        return DataError(ric_error.message)
    both = _("Identifier is neither a valid resident ID number nor a valid unified social credit code. "
             "{ric_reason} {uscc_reason}").format(ric_reason=ric_error.message, uscc_reason=uscc_error.message)
    return ChecksumMismatch(both) if isinstance(uscc_error, ChecksumMismatch) else DataError(both)


def parse_kind(text: str) -> SubjectKind:
    """A subject kind from its English name or its Chinese label (自然人, 法人, 非法人组织, 个体工商户)."""
    kind = _KIND_NAMES.get(unicodedata.normalize("NFKC", text).strip().lower())
    if kind is None:
        raise DataError(_("Unknown kind of credit subject {kind} (one of: {kinds})").format(
            kind=text, kinds=", ".join(f"{k.value} ({k.label_zh})" for k in SubjectKind)))
    return kind


def _subject_kind(compact: str, derived: SubjectKind, given: SubjectKind | None) -> SubjectKind:
    """The kind of a subject: the one its code names, or an unincorporated one where the category mixes kinds.

    Category 91 (enterprises) and the "other" categories hold both legal persons and
    unincorporated organisations (partnerships, sole proprietorships, branches); only
    there may the registration data say ``unincorporated``.
    """
    if given is None or given == derived:
        return derived
    if derived == SubjectKind.natural_person:
        raise DataError(_("Kind {given} does not fit a resident ID number, which identifies a natural "
                          "person.").format(given=given.value))
    mixed = compact[:2] == "91" or compact[1] == "9" or compact[:2] == "Y1"
    if given == SubjectKind.unincorporated and derived == SubjectKind.legal_person and mixed:
        return given
    raise DataError(_("Kind {given} does not fit unified social credit code category {pair}, which is "
                      "{derived}.").format(given=given.value, pair=compact[:2], derived=derived.value))


def _clean_name(name: str | None, limit: int) -> str:
    text = strip_invisible(unicodedata.normalize("NFC", name or ""))
    if not text:
        raise DataError(_("The name of the credit subject is empty."))
    if NOT_ONE_LINE.search(text):
        raise DataError(_("The name of the credit subject contains a control character (a line break or tab)."))
    if len(text) > limit:
        raise DataError(_("The name of the credit subject has {length} characters; at most {limit} are "
                          "allowed.").format(length=len(text), limit=limit))
    return text


# --- rows -----------------------------------------------------------------------------------

def _org_values(compact: str, kind: SubjectKind, name: str, override: bool, now: dt.datetime) -> dict[str, Any]:
    return {"kind": kind.value, "name": _clean_name(name, ORG_NAME_MAX), "name_enc": None, "uscc": compact,
            "ric_enc": None, "ric_index": None, "checksum_override": override, "created_at": now}


def _person_values(pii: PiiProtector, compact: str, name: str, now: dt.datetime) -> dict[str, Any]:
    clean = _clean_name(name, PERSON_NAME_MAX)
    return {"kind": SubjectKind.natural_person.value, "name": mask_name(clean),
            "name_enc": pii.encrypt(clean, context=NAME_CONTEXT), "uscc": None,
            "ric_enc": pii.encrypt(compact, context=RIC_CONTEXT), "ric_index": pii.blind_index(compact),
            "checksum_override": False, "created_at": now}


def _lookup_clause(compact: str, pii: PiiProtector | None) -> sa.ColumnElement[bool]:
    where, params = lookup_where(compact, pii)  # the one lookup rule, shared with the light query path
    return sa.text(f"({where})").bindparams(**params)


def find_subject(conn: sa.Connection, code: str, *, pii: PiiProtector | None = None) -> sa.RowMapping | None:
    """The subject with this USCC, or with this resident ID number (found by its blind index), or None.

    A code shaped like a resident ID number that finds nothing raises ConfigError instead when the
    personal-data key is not the database's (:func:`lycredit.subject_lookup.require_database_key`).
    """
    compact = _compact(code)
    if not compact:
        return None
    if _PERSON_SHAPE.fullmatch(compact):
        pii = pii or protector()
    row = conn.execute(sa.select(T_SUBJECT).where(_lookup_clause(compact, pii))).mappings().first()
    if row is None and pii is not None and _PERSON_SHAPE.fullmatch(compact):
        require_database_key(conn, pii)
    return row


def get_subject(conn: sa.Connection, code: str, *, pii: PiiProtector | None = None) -> sa.RowMapping:
    """Like :func:`find_subject`, but NotFound (naming the code, masked if need be) when there is none.

    When the code is not a valid one either, the message says which rule it breaks (a mistyped
    code is the likelier cause); a USCC failing only its check character may have been admitted
    by the override, so for it, as for a valid code, the subject is simply not registered.
    """
    row = find_subject(conn, code, pii=pii)
    if row is None:
        try:
            validate_subject_code(code)
        except ChecksumMismatch:
            pass
        except DataError as error:
            raise NotFound(_("No credit subject {code} is registered, and the code is not a valid one: "
                             "{reason}").format(code=display_code(code), reason=error.message)) from None
        raise NotFound(_("No credit subject {code} is registered.").format(code=display_code(code)))
    return row


def subject_by_id(conn: sa.Connection, subject_id: int) -> sa.RowMapping:
    row = conn.execute(sa.select(T_SUBJECT).where(T_SUBJECT.c.id == subject_id)).mappings().first()
    if row is None:
        raise NotFound(_("No credit subject with id {id} is registered.").format(id=subject_id))
    return row


def _refuse_duplicate(conn: sa.Connection, compact: str, pii: PiiProtector | None) -> None:
    existing = find_subject(conn, compact, pii=pii)
    if existing is not None:
        raise DataError(_("Credit subject {code} is already registered (id {id}).").format(
            code=display_code(compact), id=existing["id"]))


def _require_override_rights(uow: UnitOfWork) -> None:
    """The checksum override is staff work (role action subject.override_checksum) and needs a reason."""
    roles.require(uow.signer.role, OVERRIDE_ACTION, uow.signer.name)
    if not (uow.reason or "").strip():
        raise UsageError(_("A checksum override needs a reason (--reason): it is recorded in the signed log."))


def add_org(uow: UnitOfWork, uscc: str, name: str, *, override_checksum: bool = False,
            kind: SubjectKind | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Register an organisation by its USCC (Art. 8); the stored row.

    With ``override_checksum`` a code failing only its check character is admitted; that
    needs the ``subject.override_checksum`` role action and the operation's reason, and is
    logged as event ``subject.checksum_override`` naming the new subject's id.
    """
    overridden = False
    try:
        derived, compact = validate_subject_code(uscc, today=today)
    except ChecksumMismatch:
        if not override_checksum:
            raise
        derived, compact = validate_subject_code(uscc, allow_bad_checksum=True, today=today)
        overridden = True
    if derived == SubjectKind.natural_person:
        raise DataError(_("The code is a resident ID number: register a natural person with it instead of an "
                          "organisation."))
    if overridden:
        _require_override_rights(uow)
    _refuse_duplicate(uow.conn, compact, None)
    values = _org_values(compact, _subject_kind(compact, derived, kind), name, overridden, utcnow())
    row = uow.insert(T_SUBJECT, values)
    if overridden:
        uow.event("subject.checksum_override", subject_id=row["id"])
    return row


def add_person(uow: UnitOfWork, ric_number: str, name: str, *, pii: PiiProtector | None = None,
               today: dt.date | None = None) -> dict[str, Any]:
    """Register a natural person by resident ID number (Art. 8); number and name stored encrypted.

    The date of birth must not be after ``today`` (the ``--as-of`` day; default today in Asia/Shanghai).
    """
    kind, compact = validate_subject_code(ric_number, today=today)
    if kind != SubjectKind.natural_person:
        raise DataError(_("The code is a unified social credit code: register an organisation with it instead "
                          "of a natural person."))
    pii = pii or protector()
    _refuse_duplicate(uow.conn, compact, pii)
    return uow.insert(T_SUBJECT, _person_values(pii, compact, name, utcnow()))


def add_subject(uow: UnitOfWork, code: str, name: str, *, override_checksum: bool = False,
                today: dt.date | None = None) -> dict[str, Any]:
    """Register a person or an organisation, whichever the code identifies, as of ``today`` (default today)."""
    try:
        kind = validate_subject_code(code, today=today)[0]
    except ChecksumMismatch:
        if not override_checksum:
            raise
        kind = None
    if kind == SubjectKind.natural_person:
        return add_person(uow, code, name, today=today)
    return add_org(uow, code, name, override_checksum=override_checksum, today=today)


def resolve_or_create(uow: UnitOfWork, code: str, name: str, *, override_checksum: bool = False) -> int:
    """The id of the subject with this code, registering it (person or organisation) when it is new.

    A code already admitted through the checksum override is found like any other.
    """
    existing = find_subject(uow.conn, code)
    if existing is not None:
        return existing["id"]
    return add_subject(uow, code, name, override_checksum=override_checksum)["id"]


# --- bulk -----------------------------------------------------------------------------------

def _existing_ids(conn: sa.Connection, usccs: Sequence[str], indexes: Mapping[str, str]) -> dict[str, int]:
    """Compact code -> id of the subjects already registered, by USCC and by blind index
    (:func:`lycredit.records.rows_where_in`)."""
    from lycredit.records import rows_where_in

    found = {uscc: subject_id for subject_id, uscc in rows_where_in(
        conn, "SELECT id, uscc FROM subject WHERE uscc {values}", (), usccs)}
    found.update((indexes[index], subject_id) for subject_id, index in rows_where_in(
        conn, "SELECT id, ric_index FROM subject WHERE ric_index {values}", (), list(indexes)))
    return found


def _insert_many(uow: UnitOfWork, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT the rows with the driver's bulk path and record each as a change, as UnitOfWork.insert does.

    The ids come from the table's own sequence on PostgreSQL (one ``nextval`` per row, in one
    query) and follow the largest id on SQLite (the operation holds the write lock); each row's
    hash is the generic one of the values inserted, which are the values read back.
    """
    if not rows:
        return []
    from lycredit.records import next_id

    conn = uow.conn
    columns = [c.name for c in T_SUBJECT.columns]
    if conn.dialect.name == "postgresql":
        ids = list(conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('subject', 'id')) FROM generate_series(1, {len(rows)})").scalars())
    else:
        first = next_id(conn, T_SUBJECT)
        ids = list(range(first, first + len(rows)))
    stored = [{**row, "id": subject_id} for row, subject_id in zip(rows, ids, strict=True)]
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        from lycredit.models.base import copy_types

        with driver.cursor() as cursor, cursor.copy(
                f"COPY subject ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(copy_types(T_SUBJECT, tuple(columns)))  # values cross as stored, not as text to parse
            for row in stored:
                copy.write_row([row[c] for c in columns])
    else:  # the values as SQLAlchemy stores them on SQLite (timestamps naive UTC, booleans 0/1)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO subject ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                               sqlite_rows(stored, columns))
        finally:
            cursor.close()
    uow.record_inserts(T_SUBJECT.name, insert_hashes(T_SUBJECT, stored))
    uow.summary["subjects_created"] = uow.summary.get("subjects_created", 0) + len(stored)
    return ids


@dataclass(frozen=True)
class NewSubject:
    """A validated subject to resolve: its compact code, kind and name as given."""

    code: str
    kind: SubjectKind
    name: str


def _resolve(uow: UnitOfWork, wanted: Mapping[str, NewSubject],
             unchecked: Mapping[str, DataError]) -> tuple[dict[str, int], int]:
    """Ids of the wanted subjects, creating the missing ones; and how many were created.

    ``unchecked`` holds codes that failed only their checksum: found when registered by
    override, otherwise their error is raised. The personal-data key is needed only when a
    wanted subject is a person: organisations are found and registered without it, as
    ``subject add`` and record intake register them.
    """
    usccs = [code for code, new in wanted.items() if new.kind != SubjectKind.natural_person] + list(unchecked)
    persons = [code for code, new in wanted.items() if new.kind == SubjectKind.natural_person]
    pii = protector() if persons else None
    indexes = {pii.blind_index(code): code for code in persons} if pii is not None else {}
    ids = _existing_ids(uow.conn, usccs, indexes)
    if pii is not None and any(code not in ids for code in indexes.values()):
        require_database_key(uow.conn, pii)  # a wrong key finds no one and would register everyone again
    for code, error in unchecked.items():
        if code not in ids:
            raise error
    now = utcnow()
    missing = [new for code, new in wanted.items() if code not in ids]
    rows = []
    for new in missing:
        try:
            rows.append(_person_values(pii, new.code, new.name, now) if new.kind == SubjectKind.natural_person
                        else _org_values(new.code, new.kind, new.name, False, now))
        except DataError as error:
            raise DataError(_("Credit subject {code}: {problem}").format(
                code=display_code(new.code), problem=error.message)) from None
    ids.update(zip((new.code for new in missing), _insert_many(uow, rows), strict=True))
    return ids, len(rows)


def resolve_subjects_bulk(uow: UnitOfWork, items: Iterable[tuple[str, str]], *,
                          today: dt.date | None = None) -> dict[str, int]:
    """Map each ``(code, name)``'s compact code to a subject id, registering the new subjects.

    The keys are the codes as :func:`validate_subject_code` compacts them (upper case, no
    spaces or hyphens, full-width folded). Existing subjects are found in one pass of
    ``IN`` queries (500 codes each, by USCC and by blind index) and keep their names; new
    ones are inserted with one executemany, each recorded in the log like
    ``UnitOfWork.insert`` records it. A code that repeats keeps its first name.

    An invalid code raises DataError with the code's problem, masked where it may be a
    person's number. A USCC failing only its checksum is found if it was admitted by
    override, and raises :class:`ChecksumMismatch` otherwise.
    """
    wanted: dict[str, NewSubject] = {}
    unchecked: dict[str, DataError] = {}
    for code, name in items:
        compact = _compact(code)
        if compact in wanted or compact in unchecked:
            continue
        try:
            kind, compact = validate_subject_code(compact, today=today)
        except ChecksumMismatch as error:
            unchecked[compact] = ChecksumMismatch(_("Credit subject {code}: {problem}").format(
                code=display_code(compact), problem=error.message))
            continue
        except DataError as error:
            raise DataError(_("Credit subject {code}: {problem}").format(
                code=display_code(compact), problem=error.message)) from None
        wanted[compact] = NewSubject(compact, kind, name)
    ids, _created = _resolve(uow, wanted, unchecked)
    return ids


def register_checked(uow: UnitOfWork, subjects: Mapping[str, tuple[SubjectKind, str]]) -> dict[str, int]:
    """Ids of subjects whose codes a row checker already validated and compacted: ``{code: (kind, name)}``.

    :func:`resolve_subjects_bulk` without validating each code again (a bulk import's rows were
    checked by :class:`lycredit.records.RowChecker`, which validates with the same function).
    """
    wanted = {code: NewSubject(code, kind, name) for code, (kind, name) in subjects.items()}
    ids, _created = _resolve(uow, wanted, {})
    return ids


# --- Art. 8 links ---------------------------------------------------------------------------

def parse_relation(text: str) -> str:
    """A relation from its name (``legal_representative``) or its Chinese term (法定代表人)."""
    value = text.strip()
    for relation, label_zh in RELATIONS.items():
        if value in (relation, label_zh):
            return relation
    raise DataError(_("Unknown relation {relation} (one of: {relations})").format(
        relation=text, relations=", ".join(f"{k} ({v})" for k, v in RELATIONS.items())))


def link(uow: UnitOfWork, org_code: str, person_code: str, relation: str) -> dict[str, Any]:
    """Record that a person is an organisation's legal representative, principal, ... (Art. 8, 23)."""
    relation = parse_relation(relation)
    pii = protector()
    org = get_subject(uow.conn, org_code, pii=pii)
    person = get_subject(uow.conn, person_code, pii=pii)
    if org["kind"] == SubjectKind.natural_person:
        raise DataError(_("The first code is a natural person; Art. 8 links an organisation to a person."))
    if person["kind"] != SubjectKind.natural_person:
        raise DataError(_("The second code is an organisation; Art. 8 links an organisation to a natural "
                          "person."))
    existing = uow.conn.execute(sa.select(T_LINK.c.id, T_LINK.c.ended_at).where(
        T_LINK.c.org_id == org["id"], T_LINK.c.person_id == person["id"], T_LINK.c.relation == relation)).first()
    if existing is not None and existing.ended_at is None:
        raise DataError(_("This link is already recorded (id {id}).").format(id=existing.id))
    if existing is not None:  # ended (unlink) and now in force again: the same link, its history in the log
        return uow.update(T_LINK, {"id": existing.id}, {"ended_at": None})
    return uow.insert(T_LINK, {"org_id": org["id"], "person_id": person["id"], "relation": relation,
                               "created_at": utcnow(), "ended_at": None})


def unlink(uow: UnitOfWork, link_id: int) -> dict[str, Any]:
    """End a link (the person is no longer the organisation's legal representative, ...): it stays on record,
    with the time it ended, and no longer counts for Art. 23's joint measures (:func:`linked_persons`)."""
    row = uow.conn.execute(sa.select(T_LINK).where(T_LINK.c.id == link_id)).mappings().first()
    if row is None:
        raise NotFound(_("No link {id} is recorded; 'lycredit subject show CODE' lists a subject's links").format(
            id=link_id))
    if row["ended_at"] is not None:
        raise DataError(_("Link {id} already ended at {at}").format(id=link_id, at=row["ended_at"]))
    return uow.update(T_LINK, {"id": link_id}, {"ended_at": utcnow()})


def linked_persons(conn: sa.Connection, org_id: int, relations: Iterable[str] = tuple(RELATIONS)) -> list[int]:
    """Ids of the persons in force in these relations to an organisation (Art. 23 uses three of them)."""
    return list(conn.execute(sa.select(T_LINK.c.person_id).distinct().where(
        T_LINK.c.org_id == org_id, T_LINK.c.relation.in_(list(relations)), T_LINK.c.ended_at.is_(None))
        .order_by(T_LINK.c.person_id)).scalars())


# --- display (Art. 4, 13) -------------------------------------------------------------------

def subject_view(conn: sa.Connection, row: Mapping[str, Any], *, reveal: bool = False,
                 pii: PiiProtector | None = None) -> dict[str, Any]:
    """A subject (a row read on ``conn``) for output: a person's number and name masked unless ``reveal``.

    A person's stored number is opened through :func:`lycredit.subject_lookup.open_stored`: under a
    key that is not the database's, ConfigError (78); a value altered under the right one, PiiError (65).
    """
    kind = SubjectKind(row["kind"])
    if kind != SubjectKind.natural_person:
        code, name = row["uscc"], row["name"]
    else:
        pii = pii or protector()
        number = open_stored(conn, row, "ric_enc", pii)
        code = number if reveal else mask_ric(number)
        name = open_stored(conn, row, "name_enc", pii) if reveal else row["name"]
    return {"id": row["id"], "kind": kind.value, "kind_zh": kind.label_zh, "code": code, "name": name,
            "checksum_override": bool(row["checksum_override"]), "created_at": row["created_at"]}


def _links_view(conn: sa.Connection, subject_id: int, reveal: bool,
                pii: PiiProtector | None) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(T_LINK).where(sa.or_(T_LINK.c.org_id == subject_id,
                                                       T_LINK.c.person_id == subject_id))
                        .order_by(T_LINK.c.id)).mappings().all()
    views = []
    for row in rows:
        other_id = row["person_id"] if row["org_id"] == subject_id else row["org_id"]
        other = subject_view(conn, subject_by_id(conn, other_id), reveal=reveal, pii=pii)
        views.append({"link_id": row["id"], "relation": row["relation"], "relation_zh": RELATIONS[row["relation"]],
                      "party": "organisation" if row["person_id"] == subject_id else "person",
                      "code": other["code"], "name": other["name"], "ended_at": row["ended_at"]})
    return views


def show(conn: sa.Connection, code: str, *, reveal: bool = False) -> dict[str, Any]:
    """The subject and its Art. 8 links; a person's number and name masked unless ``reveal``.

    Who may reveal is the caller's decision (the CLI lets only an administrator, through :func:`reveal`).
    """
    row = get_subject(conn, code)
    pii = protector() if row["kind"] == SubjectKind.natural_person else None
    view = subject_view(conn, row, reveal=reveal, pii=pii)
    view["links"] = _links_view(conn, view["id"], reveal, pii)
    return view


def reveal(uow: UnitOfWork, code: str) -> dict[str, Any]:
    """:func:`show` in clear, for an administrator only, with the operation's reason as its purpose.

    Logged as event ``pii.reveal`` naming the subject's id (Art. 4, 14, 28).
    """
    if uow.signer.role != roles.ADMIN:
        raise PermissionDenied(_("Operator {operator} has role {role}; only an administrator may see personal "
                                 "data in clear.").format(operator=uow.signer.name, role=uow.signer.role))
    if not (uow.reason or "").strip():
        raise UsageError(_("Seeing personal data in clear needs a reason (--reason): it is logged as its "
                           "purpose."))
    view = show(uow.conn, code, reveal=True)
    uow.event("pii.reveal", subject_id=view["id"])
    return view


# --- subject import -------------------------------------------------------------------------

IMPORT_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "主体名称", "姓名", "信用主体名称"),
    "uscc": ("统一社会信用代码", "社会信用代码"),
    "ric": ("公民身份号码", "身份证号码", "居民身份证号码"),
    "code": ("代码", "信用主体代码", "证件号码"),
    "kind": ("类型", "主体类型", "信用主体类型"),
}
_CODE_FIELDS = ("uscc", "ric", "code")


class ImportRejected(DataError):
    """A subjects file with problems, each naming file, row, field and rule: all of them, or the first ones
    (``problems``) and how many there are (``total``)."""

    def __init__(self, problems: list[str], total: int | None = None):
        total = len(problems) if total is None else total
        more = [_("... and {count} more (the first {shown} are listed)").format(
            count=total - len(problems), shown=len(problems))] if total > len(problems) else []
        super().__init__(_("{count} problem(s); nothing was imported:").format(count=total)
                         + "\n" + "\n".join(problems + more))
        self.problems = problems
        self.total = total


def _code_columns(values: Mapping[str, str | None], columns: Mapping[str, str]) -> list[str]:
    """The code fields (``uscc``, ``ric``, ``code``) the file has and the row fills."""
    return [field for field in _CODE_FIELDS if field in columns and values.get(columns[field])]


def _row_subject(values: Mapping[str, str | None], columns: Mapping[str, str],
                 today: dt.date | None) -> tuple[NewSubject | None, list[tuple[str, str]], ChecksumFault | None]:
    """The subject a row names, or the (column, problem) pairs that stop it; and its code's checksum fault.

    A USCC whose only fault is its check character is not a problem of the row by itself: it may
    have been admitted by the checksum override already, which only the database can tell
    (:func:`import_subjects_file`). It is returned apart, whatever else is wrong with the row.
    """
    problems: list[tuple[str, str]] = []
    checksum_fault: ChecksumFault | None = None

    def fail(field: str, problem: str) -> None:
        problems.append((columns.get(field, field), problem))

    present = _code_columns(values, columns)
    if len(present) != 1:
        fields = [field for field in _CODE_FIELDS if field in columns]
        problems.append((", ".join(columns[field] for field in fields),
                         _("give exactly one code (a unified social credit code or a resident ID number)")))
        return None, problems, None
    field = present[0]
    kind = compact = None
    try:
        kind, compact = validate_subject_code(values[columns[field]] or "", today=today)
    except ChecksumMismatch as error:
        kind, compact = validate_subject_code(values[columns[field]] or "", allow_bad_checksum=True, today=today)
        checksum_fault = ChecksumFault(compact, columns.get(field, field), error.message + " " + _(
            "A genuine code can be admitted with 'subject add --override-checksum'."))
    except DataError as error:
        fail(field, error.message)
    if kind is not None and field != "code" and (kind == SubjectKind.natural_person) != (field == "ric"):
        fail(field, _("this column is for the other kind of code (统一社会信用代码 for organisations, 公民身份号码 "
                      "for natural persons)"))
    given_kind = None
    if "kind" in columns and values.get(columns["kind"]):
        try:
            given_kind = parse_kind(values[columns["kind"]] or "")
        except DataError as error:
            fail("kind", error.message)
    name = ""
    try:
        name = _clean_name(values.get(columns["name"]),
                           PERSON_NAME_MAX if kind == SubjectKind.natural_person else ORG_NAME_MAX)
    except DataError as error:
        fail("name", error.message)
    if kind is not None and compact is not None:
        try:
            kind = _subject_kind(compact, kind, given_kind)
        except DataError as error:
            fail("kind", error.message)
    if problems or kind is None or compact is None:
        return None, problems, checksum_fault
    return NewSubject(compact, kind, name), problems, checksum_fault


def _column_problem(column: str) -> str:
    """Why a column that names no subject field is refused: Art. 12, or simply unknown."""
    from lycredit.identity import field_rule

    rule = field_rule(column)
    if rule is None:
        return _("unknown column; the columns are 名称, 统一社会信用代码 or 公民身份号码, and 类型")
    if rule.category == "forbidden":
        return _("Art. 12 forbids collecting {topic}").format(topic=rule.topic_zh)
    return _("{topic} needs the subject's authorisation and is not part of a subject").format(topic=rule.topic_zh)


@dataclass(frozen=True)
class ChecksumFault:
    """A row's USCC whose only fault is its check character: a problem unless admitted by override already."""

    code: str
    column: str
    problem: str


@dataclass
class SubjectsFile:
    """The subjects of a file read by :func:`read_subjects_file`, every row checked.

    ``problems`` are the first :data:`PROBLEMS_SHOWN` problems by row, each naming file, row and
    field; ``problem_count`` counts them all. ``admitted`` are the codes that fail only their check
    character but were admitted by the checksum override already (code -> subject id).
    """

    path: str | Path
    problems: list[tuple[int, str]] = field(default_factory=list)
    problem_count: int = 0
    admitted: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    """The rows that name a subject and have no problem of their own."""
    persons: int = 0
    """How many of them are natural persons."""
    kept: list[tuple[NewSubject, bool]] | None = field(default_factory=list)
    """Those rows' subjects, each with whether its code fails only its checksum; None if there were too many."""

    def problem(self, row: int, field_name: str, problem: str) -> None:
        self.problem_count += 1
        self.problems.append((row, _("{file}, row {row}, field {field}: {problem}").format(
            file=self.path, row=row, field=field_name, problem=problem)))
        if len(self.problems) >= 2 * PROBLEMS_SHOWN:  # keep the first ones by row, not every one
            self.problems = sorted(self.problems, key=itemgetter(0))[:PROBLEMS_SHOWN]

    def rejected(self) -> ImportRejected:
        shown = sorted(self.problems, key=itemgetter(0))[:PROBLEMS_SHOWN]
        return ImportRejected([text for _row, text in shown], total=self.problem_count)


PROBLEMS_SHOWN = 1000
"""Problems of a subject file listed by the error that rejects it (the first by row; all are counted)."""
FAULTS_AT_ONCE = 10_000
"""Codes failing only their check character looked up in the database at once, while a subject file is read."""


def read_subjects_file(path: str | Path, *, today: dt.date | None = None, keep: int = 0,
                       admitted: Callable[[list[str]], Mapping[str, int]] | None = None) -> SubjectsFile:
    """Every subject of a CSV/XLSX/JSON/Parquet file, or ImportRejected listing its problems.

    Columns: 名称/name, one of 统一社会信用代码/uscc, 公民身份号码/ric or code, and optionally
    类型/kind. A column carrying information that Art. 12 forbids or conditions on consent,
    or any other column, is refused by name; so is a code given twice. A resident ID number's
    date of birth must not be after ``today`` (the ``--as-of`` day; default today). A USCC whose only
    fault is its check character is a problem unless ``admitted`` (given the codes, a batch at a time)
    returns it: admitted by the checksum override already, which only the database can tell.
    The subjects of the first ``keep`` rows are kept (``kept``); a file with more is only checked and
    counted, and :func:`import_subjects_file` reads it again to register them. Memory does not grow
    with the file: the codes seen go to a temporary file beyond a limit (:class:`lycredit.seen.Seen`),
    and only the first :data:`PROBLEMS_SHOWN` problems are kept.
    """
    from lycredit.readers import map_headers, open_table
    from lycredit.seen import Seen

    table = open_table(path)
    columns = map_headers(table.columns, IMPORT_FIELDS, source=path)
    header_problems = [_("{file}: column {column}: {problem}").format(file=path, column=column,
                                                                         problem=_column_problem(column))
                       for column in columns.unknown]
    if "name" not in columns or not any(field in columns for field in _CODE_FIELDS):
        header_problems.append(_("{file}: the header needs a name column (名称) and a code column (统一社会信用代码 "
                                 "or 公民身份号码)").format(file=path))
    if header_problems:
        raise ImportRejected(header_problems)
    read = SubjectsFile(path)
    seen = Seen()
    faults: list[tuple[int, ChecksumFault]] = []

    def look_up_faults() -> None:
        known = admitted(list(dict.fromkeys(fault.code for _row, fault in faults))) if admitted else {}
        read.admitted.update(known)
        for row, fault in faults:
            if fault.code not in known:
                read.problem(row, fault.column, fault.problem)
        faults.clear()

    try:
        for batch in table.batches():
            rows = [(row.row_number, row.values, *_row_subject(row.values, columns, today)) for row in batch]
            earlier = seen.found({new.code for _row, _values, new, _problems, _fault in rows if new is not None})
            for row_number, values, new, row_problems, checksum_fault in rows:
                first = earlier.get(new.code) if new is not None else None
                if first is not None:  # named in the column the code is in (a person's: 公民身份号码)
                    row_problems.append((columns[_code_columns(values, columns)[0]],
                                         _("the code appears again (first at row {row})").format(row=first)))
                elif checksum_fault is not None:
                    faults.append((row_number, checksum_fault))
                for field_name, problem in row_problems:
                    read.problem(row_number, field_name, problem)
                if new is not None and not row_problems:
                    seen.add(new.code, row_number)
                    earlier[new.code] = row_number
                    read.rows += 1
                    read.persons += new.kind == SubjectKind.natural_person
                    if read.kept is not None:
                        read.kept.append((new, checksum_fault is not None))
                        if len(read.kept) > keep:
                            read.kept = None  # more than memory should hold: read again when registering
            if len(faults) >= FAULTS_AT_ONCE:
                look_up_faults()
        look_up_faults()
    finally:
        seen.clear()
    if read.problem_count:
        raise read.rejected()
    if not read.rows:
        raise DataError(_("{file} has no rows.").format(file=path))
    return read


SUBJECT_BATCH = 10_000
"""Rows of a subject file registered per signed operation (:func:`import_subjects_file`)."""


def import_subjects_file(ctx: Any, path: str | Path, *, reason: str | None = None, dry_run: bool = False,
                         today: dt.date | None = None, batch_size: int = SUBJECT_BATCH) -> dict[str, int]:
    """Check a whole subject file, then register its new subjects in batches of ``batch_size`` rows, each one
    signed operation (``ctx``: an :class:`lycredit.context.AppContext`); the counts.

    Nothing is written unless every row passes (:func:`read_subjects_file`, then the checksum faults against
    the database: a code admitted by the override is found like any other). The subjects checked are kept for
    registering up to :data:`SUBJECTS_KEPT` rows; a larger file is read again, so that memory holds a batch
    and not the file, and if it changed since its check the import stops (65) at the first row that no longer
    passes, the batches before it registered. Subjects already registered are kept as they are, so running an
    interrupted import again completes it.
    """
    def admitted(codes: list[str]) -> dict[str, int]:
        with ctx.reading() as conn:
            return _existing_ids(conn, codes, {})

    read = read_subjects_file(path, today=today, keep=SUBJECTS_KEPT, admitted=admitted)
    if read.persons:  # a missing or wrong personal-data key stops the import before its first batch, not midway
        pii = protector()
        with ctx.reading() as conn:
            require_database_key(conn, pii)
    totals = {"rows": 0, "created": 0, "existing": 0, "persons": 0, "organisations": 0}
    pending: list[NewSubject] = []
    admitted_rows = 0

    def register() -> None:
        nonlocal admitted_rows
        if not pending and not admitted_rows:
            return
        with ctx.operation("subject.import", reason=reason, dry_run=dry_run) as uow:
            _ids, created = _resolve(uow, {new.code: new for new in pending}, {}) if pending else ({}, 0)
            rows = len(pending) + admitted_rows
            persons = sum(new.kind == SubjectKind.natural_person for new in pending)
            counts = {"rows": rows, "created": created, "existing": rows - created, "persons": persons,
                      "organisations": rows - persons}
            uow.summary.update(counts)
        for name, value in counts.items():
            totals[name] += value
        pending.clear()
        admitted_rows = 0

    try:
        for new, fault in (read.kept if read.kept is not None else _read_again(path, today, read.admitted)):
            if fault:
                admitted_rows += 1
            else:
                pending.append(new)
            if len(pending) + admitted_rows >= batch_size:
                register()
    except _FileChanged:
        register()  # what passed before the changed row stays (running the import again completes the file)
        raise
    register()
    return totals


SUBJECTS_KEPT = 200_000
"""Rows of a subject file whose subjects are kept from the check to the registering (about 40 MB); a larger file
is read again instead, so that memory does not grow with it."""


class _FileChanged(DataError):
    """A subject file no longer passes, row by row, the check it passed whole before it was read again."""


def _read_again(path: str | Path, today: dt.date | None,
                admitted: Mapping[str, int]) -> Iterator[tuple[NewSubject, bool]]:
    """The subjects of a checked file, read again (with whether each code fails only its checksum); DataError at
    the first row that no longer passes (the file changed since it was checked)."""
    from lycredit.readers import map_headers, open_table

    table = open_table(path)
    columns = map_headers(table.columns, IMPORT_FIELDS, source=path)
    for batch in table.batches():
        for row in batch:
            new, row_problems, checksum_fault = _row_subject(row.values, columns, today)
            if new is None and not row_problems:
                continue
            if row_problems or (checksum_fault is not None and checksum_fault.code not in admitted):
                raise _FileChanged(_("{file}, row {row}: the file changed while it was imported: {problem}").format(
                    file=path, row=row.row_number,
                    problem="; ".join(problem for _field, problem in row_problems) or checksum_fault.problem))
            yield new, checksum_fault is not None
