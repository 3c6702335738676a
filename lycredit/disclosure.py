"""Disclosure of credit information: who may see what, and the log of every look (Art. 13, 14, 15, 28, 33).

The one place that decides what a query shows. A query has a *mode*, which says
who is asking, and each record has its catalog item's *disclosure method*
(披露方式, Art. 9, 13): 社会公开 ``public``, 政务共享 ``gov_share`` or 授权查询
``authorised``.

===================  =======================  ===========================================
mode                 who                      shows (disclosure methods)
===================  =======================  ===========================================
``public``           anyone (社会公开查询)     ``public``; never about a natural person
``self``             the subject itself       ``public``, ``gov_share``, ``authorised``
                     (本人实名查询)
``authorised``       a unit the subject       ``public``, ``authorised``
                     authorised (授权查询)
``gov_share``        government staff and     ``public``, ``gov_share``, ``authorised``
                     providers on duty
                     (政务共享)
===================  =======================  ===========================================

* Art. 13 para. 3: an organisation's information is disclosed by the method its
  catalog item names (:func:`public_methods`).
* Art. 13 para. 4: a natural person's information is not public; it is disclosed
  only to the person (real-name query), under the person's authorisation, or by
  government sharing. A public query about a person is refused, without even
  looking the person up (:func:`public_methods`, :func:`lookup_public_subject`).
* Art. 14 para. 1: a subject may query everything about itself that is still
  disclosed (:func:`self_methods`).
* Art. 14 para. 3: nobody queries a subject's non-public information without its
  authorisation: an ``authorised`` query needs an authorisation of scope ``query``,
  given by this subject to the querier's unit and in force on the day and today
  (:func:`authorised_methods`, checked by
  :func:`lycredit.authorizations.query_authorization`, which names the rule).
* Art. 13 para. 1: government sharing among departments in the course of duty
  (:func:`gov_share_methods`); the role table lets only staff and providers run it
  (action ``query.gov_share``).
* Art. 15 para. 2 and Art. 33: whatever the mode, a record is shown only while it
  is ``active`` and within its disclosure period (:func:`still_disclosed`). An
  ``archived`` record (period over), a ``repaired`` one (no longer provided for
  query) and a ``withdrawn`` one never are, and neither is a record whose period
  ended before the query day although the nightly sweep has not archived it yet.
  The period's end is the record's ``disclosure_until``, capped at five years for
  dishonesty information (:func:`disclosure_end`, the same rule the sweep archives
  by).

Masking (Art. 4, 13, 28). A resident ID number is never printed in clear by a
query or a report, in any mode: the subject header shows it masked and every
value in a record's fields that is a resident ID number (a field of type ``ric``,
or an 18-character number inside any text) is masked. A natural person's name is
shown in clear to the person (``self``) and to government sharing, and masked for
an ``authorised`` querier, in the header and wherever it appears in the fields.
An organisation's name and code are public.

Logging (Art. 28). Every query of non-public information (every mode but
``public``) is one signed operation with action ``query`` (``query.gov_share``
for government sharing) whose ``subject`` is the subject's internal id, whose
reason is the purpose, and whose summary holds the querier's unit, the purpose,
the mode and the authorisation id, so that the subject's report can say who
looked and why (Art. 30). A query refused by a rule is logged too, in its own
operation, as a ``query.refused`` event (:func:`record_refusal`). A public query
needs no operator and is not logged: it discloses only what is public.

Speed. A query of one subject is one indexed read of the subject and one of its
records joined with their catalog items, on the driver connection
(:mod:`lycredit.dbapi`): the functions here take a :class:`lycredit.dbapi.DB` or a
SQLAlchemy connection (whose driver connection they use, in its transaction), and
a logged query is appended by :class:`lycredit.oplog.append.LogAppender`, so
``lycredit query`` imports neither SQLAlchemy nor the ORM models; cryptography
loads only to sign a logged query and to open a person's protected fields.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from lycredit.dbapi import BOOL, DATE, DB, UTC, wrap
from lycredit.errors import NotFound, PermissionDenied, UsageError
from lycredit.i18n import _
from lycredit.inputs import NOT_ONE_LINE
from lycredit.periods import ART15_MAX_YEARS, disclosure_until, shanghai_today

if TYPE_CHECKING:
    import sqlalchemy as sa

    from lycredit.identity import PiiProtector
    from lycredit.oplog.append import LogAppender

PUBLIC, SELF, AUTHORISED, GOV_SHARE = "public", "self", "authorised", "gov_share"
MODES = (PUBLIC, SELF, AUTHORISED, GOV_SHARE)
MODE_LABELS_ZH = {
    PUBLIC: "社会公开查询",
    SELF: "本人实名查询",
    AUTHORISED: "授权查询",
    GOV_SHARE: "政务共享查询",
}

#: Art. 13: the disclosure methods of a catalog item (as ``lycredit.catalog.DISCLOSURES``).
DISCLOSURE_LABELS_ZH = {"public": "社会公开", "gov_share": "政务共享", "authorised": "授权查询"}
ALL_METHODS = frozenset(DISCLOSURE_LABELS_ZH)

ACTIVE, ARCHIVED, REPAIRED, WITHDRAWN = "active", "archived", "repaired", "withdrawn"
#: What the subject's report says a record is: shown in queries, or why not.
DISCLOSED, EXPIRED = "disclosed", "expired"
STATE_LABELS_ZH = {
    DISCLOSED: "披露中",
    EXPIRED: "披露期限届满（待转档）",
    ARCHIVED: "已转档（期满）",
    REPAIRED: "已信用修复（不再提供查询）",
    WITHDRAWN: "已撤回",
}

QUERY_ACTION, GOV_SHARE_ACTION, SELF_ACTION = "query", "query.gov_share", "query.self"
#: The log actions of the queries a subject's report lists (Art. 30).
QUERY_ACTIONS = (QUERY_ACTION, GOV_SHARE_ACTION, SELF_ACTION)
PURPOSE_MAX = 200
NATURAL_PERSON = "natural_person"

#: An 18-character number in a text, in ASCII or full-width characters (２１１３８２…, as Chinese input methods type).
_RIC_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])[0-9０-９]{17}[0-9Xx０-９Ｘｘ](?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"
)

class QueryRefused(PermissionDenied):
    """A query a disclosure rule refuses (exit 77); ``rule`` names the rule, the message its article.

    The context (subject, mode, purpose, authorisation) is what :func:`record_refusal` logs.
    """

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        subject_id: int | None = None,
        mode: str | None = None,
        purpose: str | None = None,
        authorization_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.subject_id = subject_id
        self.mode = mode
        self.purpose = purpose
        self.authorization_id = authorization_id

    def in_context(
        self, *, subject_id: int | None, mode: str, purpose: str, authorization_id: int | None
    ) -> QueryRefused:
        return QueryRefused(
            self.rule,
            self.message,
            subject_id=subject_id,
            mode=mode,
            purpose=purpose,
            authorization_id=authorization_id,
        )


# --- the rules ----------------------------------------------------------------------------------


def public_methods(subject_kind: str) -> frozenset[str]:
    """Art. 13 para. 3-4: anyone sees an organisation's ``public`` items, nothing about a natural person."""
    if subject_kind == NATURAL_PERSON:
        raise QueryRefused(
            "art13_natural_person",
            _(
                "Art. 13: a natural person's information is not public; it is disclosed only to the person "
                "(real-name query), under the person's authorisation, or by government sharing."
            ),
        )
    return frozenset({"public"})


def self_methods(subject_kind: str) -> frozenset[str]:
    """Art. 14 para. 1: a subject sees everything about itself that is still disclosed."""
    return ALL_METHODS


def authorised_methods(subject_kind: str) -> frozenset[str]:
    """Art. 14 para. 3 and Art. 13 para. 4: an authorised querier sees public and authorised-query items.

    For a natural person that includes items whose method is ``public``: they are not
    public for a person, but the person's authorisation opens them.
    """
    return frozenset({"public", "authorised"})


def gov_share_methods(subject_kind: str) -> frozenset[str]:
    """Art. 13 para. 1 and 4: government sharing, in the course of duty, sees every method."""
    return ALL_METHODS


_METHODS: dict[str, Callable[[str], frozenset[str]]] = {
    PUBLIC: public_methods,
    SELF: self_methods,
    AUTHORISED: authorised_methods,
    GOV_SHARE: gov_share_methods,
}


def shown_methods(mode: str, subject_kind: str) -> frozenset[str]:
    """The disclosure methods a query in ``mode`` shows about a subject of this kind (or QueryRefused)."""
    return _METHODS[validate_mode(mode)](subject_kind)


def disclosure_end(
    until: dt.date | None, dishonesty: bool, act_ended_on: dt.date | None, decision_date: dt.date
) -> dt.date | None:
    """Art. 15: the last day a record may be disclosed; None when it has no end.

    The record's ``disclosure_until``, and for dishonesty information (失信信息) at most
    five years after the act ended (``act_ended_on``, else the decision date), counted as
    :func:`lycredit.periods.disclosure_until` counts. The expiry sweep archives by the
    same rule (``lycredit.sweep.effective_end``), so a query never shows what the next
    sweep would archive.
    """
    if not dishonesty:
        return until
    cap = disclosure_until(act_ended_on or decision_date, ART15_MAX_YEARS)
    return cap if until is None else min(until, cap)


def still_disclosed(status: str, end: dt.date | None, as_of: dt.date) -> bool:
    """Art. 15 para. 2 and Art. 33: provided for query only while ``active`` and on or before its end.

    ``archived`` (period over, kept in the archive), ``repaired`` (no longer provided
    for query, never deleted) and ``withdrawn`` records are never shown; neither is an
    active record past its end that the sweep has not archived yet.
    """
    return status == ACTIVE and (end is None or as_of <= end)


def record_state(status: str, end: dt.date | None, as_of: dt.date) -> str:
    """The report's name for a record: ``disclosed``, ``expired`` (not archived yet) or its status."""
    if status != ACTIVE:
        return status
    return DISCLOSED if still_disclosed(status, end, as_of) else EXPIRED


def is_visible(record: Mapping[str, Any], methods: frozenset[str], as_of: dt.date) -> bool:
    """A record (from :func:`subject_records`) is shown iff its method is shown and it is still disclosed."""
    return record["disclosure"] in methods and still_disclosed(record["status"], record["end"], as_of)


def validate_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(
            _("Unknown query mode {mode} (one of: {modes})").format(mode=mode, modes=", ".join(MODES))
        )
    return mode


def validate_purpose(purpose: str | None) -> str:
    """Art. 14 and 28: a query names its purpose, one line of 1 to 200 characters. A resident ID number typed
    into it is masked (the purpose goes into the log, which carries no person's number)."""
    text = _RIC_IN_TEXT.sub(_mask_number_in_text, unicodedata.normalize("NFC", purpose or "")).strip()
    if not text:
        raise UsageError(_("A query must name its purpose (Art. 28): the purpose is empty."))
    if NOT_ONE_LINE.search(text):
        raise UsageError(
            _("The purpose must be one line: it contains a control character (a line break or tab).")
        )
    if len(text) > PURPOSE_MAX:
        raise UsageError(
            _("The purpose has {length} characters; at most {limit} are allowed.").format(
                length=len(text), limit=PURPOSE_MAX
            )
        )
    return text


def action_for(mode: str) -> str | None:
    """The log action (and role-table action) of a query in ``mode``; None for a public query (not logged)."""
    validate_mode(mode)
    if mode == PUBLIC:
        return None
    if mode == SELF:
        return SELF_ACTION  # the subject's real-name query is served by staff at the window (Art. 14)
    return GOV_SHARE_ACTION if mode == GOV_SHARE else QUERY_ACTION


# --- reading --------------------------------------------------------------------------------------


def lookup_public_subject(conn: DB | sa.Connection, code: str) -> Mapping[str, Any]:
    """The organisation a public query names: found by its USCC, else the reason it cannot be shown.

    A code that is a resident ID number is refused by Art. 13 para. 4 without looking the
    person up, so a public query does not even tell whether a person is registered.
    """
    from lycredit.identity import _compact
    from lycredit.subject_lookup import SUBJECT_TYPES, get_subject

    db = wrap(conn)
    row = db.first("SELECT * FROM subject WHERE uscc = :uscc", {"uscc": _compact(code)}, SUBJECT_TYPES)
    if row is not None:
        return row
    from lycredit.subjects import validate_subject_code

    kind, _compact_code = validate_subject_code(code)
    public_methods(kind.value)
    return get_subject(db, code)


def lookup_subject(
    conn: DB | sa.Connection, code: str, *, pii: PiiProtector | None = None
) -> Mapping[str, Any]:
    """The subject with this USCC or resident ID number; DataError for a malformed code, else NotFound."""
    from lycredit.subject_lookup import find_subject, get_subject

    row = find_subject(conn, code, pii=pii)
    if row is not None:
        return row
    from lycredit.subjects import validate_subject_code

    validate_subject_code(code)
    return get_subject(conn, code, pii=pii)


def subject_kind(conn: DB | sa.Connection, subject_id: int) -> str:
    kind = wrap(conn).scalar("SELECT kind FROM subject WHERE id = :id", {"id": subject_id})
    if kind is None:
        raise NotFound(_("No credit subject with id {id} is registered.").format(id=subject_id))
    return kind


_RECORDS_OF_SUBJECT = (
    "SELECT r.id, r.subject_id, r.catalog_item_id, r.provider_uscc, r.item_code, r.document_no,"
    " r.decision_date, r.concluded_on, r.act_ended_on, r.publicity_until, r.disclosure_until, r.fields,"
    " r.status, r.revision, r.archived_on, r.submitted_at, r.submitted_by, i.name AS item_name, i.provider_name,"
    " i.disclosure,"
    " i.dishonesty, i.data_standard"
    " FROM record r JOIN catalog_item i ON i.id = r.catalog_item_id"
    " WHERE r.subject_id = :subject_id ORDER BY r.decision_date, r.id"
)
_RECORD_TYPES = {
    **dict.fromkeys(
        ("decision_date", "concluded_on", "act_ended_on", "publicity_until", "disclosure_until", "archived_on"),
        DATE,
    ),
    "submitted_at": UTC,
    "dishonesty": BOOL,
}


def subject_records(conn: DB | sa.Connection, subject_id: int) -> list[dict[str, Any]]:
    """Every record about the subject, with its catalog item and Art. 15 ``end``, oldest decision first."""
    records = wrap(conn).rows(_RECORDS_OF_SUBJECT, {"subject_id": subject_id}, _RECORD_TYPES)
    for record in records:
        record["dishonesty"] = bool(record["dishonesty"])
        record["end"] = disclosure_end(
            record["disclosure_until"], record["dishonesty"], record["act_ended_on"], record["decision_date"]
        )
    return records


def check_authorisation(
    conn: DB | sa.Connection,
    authorization_id: int | None,
    querier_unit: str | None,
    subject_id: int,
    as_of: dt.date,
) -> None:
    """Art. 14 para. 3: an authorisation of scope ``query`` from this subject to this unit, in force.

    In force on ``as_of`` and on today (Asia/Shanghai) too: the information is disclosed today, so an
    earlier ``as_of`` does not reopen an authorisation that was revoked or has lapsed since, and a later
    one does not open one before its first day.
    """
    if authorization_id is None:
        raise QueryRefused(
            "art14_no_authorisation",
            _(
                "Art. 14: querying a subject's non-public information needs its authorisation; "
                "none was given."
            ),
        )
    if not querier_unit:
        raise QueryRefused("art14_no_unit", _("Art. 14: an authorised query needs the querier's unit."))
    from lycredit.authorization_check import AuthorizationRefused, query_authorization

    try:
        for day in dict.fromkeys((as_of, shanghai_today())):
            query_authorization(conn, authorization_id, querier_unit, subject_id, day)
    except AuthorizationRefused as refusal:
        raise QueryRefused(
            "art14_" + refusal.rule, _("Art. 14: {reason}").format(reason=refusal.message)
        ) from None


def visible_records(
    conn: DB | sa.Connection,
    subject_id: int,
    mode: str,
    *,
    querier_unit: str | None,
    authorization: int | None = None,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """The subject's records a query in ``mode`` may show on ``as_of`` (unmasked; QueryRefused if none may).

    ``querier_unit`` is the USCC of the querier's unit and ``authorization`` the id of the
    subject's authorisation; both matter only in the ``authorised`` mode.
    """
    db = wrap(conn)
    return _visible(db, subject_id, subject_kind(db, subject_id), mode, querier_unit, authorization, as_of)


def _visible(
    conn: DB,
    subject_id: int,
    kind: str,
    mode: str,
    querier_unit: str | None,
    authorization: int | None,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    methods = shown_methods(mode, kind)
    if mode == AUTHORISED:
        check_authorisation(conn, authorization, querier_unit, subject_id, as_of)
    return [record for record in subject_records(conn, subject_id) if is_visible(record, methods, as_of)]


# --- masking (Art. 4, 13, 28) ---------------------------------------------------------------------


def _mask_number_in_text(match: re.Match[str]) -> str:
    """A number shaped like a person's masked; a USCC of 18 digits that is not kept in clear.

    The rule of ``lycredit.subjects.display_code`` (a test holds them equal), for an
    18-digit number found in text, without loading the ORM models that module needs.
    """
    from lycredit.errors import DataError
    from lycredit.identity import mask_ric, validate_uscc

    number = unicodedata.normalize("NFKC", match.group()).upper()
    if _person_shaped(number):
        return mask_ric(number)
    try:
        return validate_uscc(number, allow_bad_checksum=True)
    except DataError:
        return mask_ric(number)


def _person_shaped(number: str) -> bool:
    """A GB 11643 check digit that fits, or positions 7-14 shaped like a date of birth (even an impossible one).

    The rule of ``lycredit.subjects._looks_like_ric``: :func:`lycredit.identity.birth_date_shaped`.
    """
    from lycredit.identity import birth_date_shaped  # loaded already: the caller masks with it

    if birth_date_shaped(number):
        return True
    from stdnum.cn import ric  # python-stdnum takes 30 ms to import: only when the date does not settle it

    return ric.calc_check_digit(number) == number[17]


def mask_text(text: str, names: Mapping[str, str]) -> str:
    """Mask every resident ID number in ``text`` (a USCC stays) and each name in ``names`` by its mask."""
    masked = _RIC_IN_TEXT.sub(_mask_number_in_text, text)
    for clear, shown in names.items():
        masked = masked.replace(clear, shown)
    return masked


def ric_fields(data_standard: str | None) -> frozenset[str]:
    """The names of the fields the item's data standard types ``ric`` (a resident ID number)."""
    try:
        fields = json.loads(data_standard or "[]")
    except ValueError:
        return frozenset()
    if not isinstance(fields, list):
        return frozenset()
    return frozenset(
        f["name"] for f in fields if isinstance(f, dict) and f.get("type") == "ric" and "name" in f
    )


def mask_fields(fields_json: str, ric_names: Iterable[str], names: Mapping[str, str]) -> Any:
    """A record's fields for output: ``ric`` fields masked whole, numbers and ``names`` in every text."""
    try:
        fields = json.loads(fields_json)
    except ValueError:
        return mask_text(fields_json, names)
    if not isinstance(fields, dict):
        return _mask_value(fields, names)
    numbers = frozenset(ric_names)
    out = {}
    for name, value in fields.items():
        if name in numbers and isinstance(value, str) and value.strip():
            from lycredit.identity import mask_ric

            out[name] = mask_ric(value)
        else:
            out[name] = _mask_value(value, names)
    return out


def _mask_value(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return mask_text(value, names)
    if isinstance(value, list):
        return [_mask_value(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, names) for k, v in value.items()}
    return value


def record_view(record: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A record as a query shows it: item, providing unit, disclosure method and end, masked fields."""
    return {
        "record_id": record["id"],
        "item_code": record["item_code"],
        "item_name": record["item_name"],
        "provider_name": record["provider_name"],
        "provider_uscc": record["provider_uscc"],
        "disclosure": record["disclosure"],
        "disclosure_zh": DISCLOSURE_LABELS_ZH.get(record["disclosure"], ""),
        "document_no": mask_text(record["document_no"], names),
        "decision_date": record["decision_date"],
        "disclosure_until": record["end"],
        "dishonesty": record["dishonesty"],
        "fields": mask_fields(record["fields"], ric_fields(record["data_standard"]), names),
    }


class ShownSubject(NamedTuple):
    """A subject as an output shows it (code and name masked as the mode requires), and the names to mask."""

    id: int
    kind: str
    code: str
    name: str
    hidden_names: Mapping[str, str] = MappingProxyType({})

    @property
    def kind_zh(self) -> str:
        from lycredit.identity import SubjectKind

        return SubjectKind(self.kind).label_zh

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "kind_zh": self.kind_zh,
            "code": self.code,
            "name": self.name,
        }


def show_subject(
    db: DB | sa.Connection, row: Mapping[str, Any], *, name_in_clear: bool, pii: PiiProtector | None = None
) -> ShownSubject:
    """Art. 4, 13: an organisation in clear; a person's number always masked, the name only if allowed.

    ``row`` was read from ``db``; a person's stored data is opened through
    :func:`lycredit.subject_lookup.open_stored` (a wrong key: ConfigError, 78).
    """
    if row["kind"] != NATURAL_PERSON:
        return ShownSubject(row["id"], row["kind"], row["uscc"], row["name"])
    from lycredit.identity import mask_ric
    from lycredit.subject_lookup import open_stored, protector

    pii = pii or protector()
    number = mask_ric(open_stored(db, row, "ric_enc", pii))
    clear = open_stored(db, row, "name_enc", pii)
    if name_in_clear:
        return ShownSubject(row["id"], row["kind"], number, clear)
    return ShownSubject(row["id"], row["kind"], number, row["name"], {clear: row["name"]} if clear else {})


# --- the query ------------------------------------------------------------------------------------


class QueryResult(NamedTuple):
    """What a query shows: the subject (masked per mode) and its visible records."""

    subject: dict[str, Any]
    mode: str
    purpose: str
    as_of: dt.date
    authorization_id: int | None
    querier_unit: str | None
    records: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "mode": self.mode,
            "mode_zh": MODE_LABELS_ZH[self.mode],
            "purpose": self.purpose,
            "as_of": self.as_of,
            "authorization_id": self.authorization_id,
            "querier_unit": self.querier_unit,
            "records": self.records,
        }


class Querier(NamedTuple):
    operator: str
    unit: str
    unit_name: str


def querier_of(uow: LogAppender) -> Querier:
    """The operator a logged query runs as, with its unit's code and name."""
    row = uow.db.first(
        "SELECT u.uscc, u.name FROM operator o JOIN unit u ON u.id = o.unit_id WHERE o.id = :id",
        {"id": uow.signer.operator_id},
    )
    return Querier(uow.signer.name, row["uscc"], row["name"])


def query(
    source: DB | sa.Connection | LogAppender,
    subject_code: str,
    mode: str,
    purpose: str,
    *,
    authorization_id: int | None = None,
    as_of: dt.date,
    pii: PiiProtector | None = None,
) -> QueryResult:
    """Query a subject's credit information in ``mode`` on ``as_of``; log it unless it is public.

    ``source`` is a connection for a public query, and the :class:`UnitOfWork` of an
    operation for every other mode (the query is logged in it). Raises
    :class:`QueryRefused` (exit 77) naming the rule when the mode may not see the
    subject; a caller logs that with :func:`record_refusal` in an operation of its own.
    """
    validate_mode(mode)
    purpose = validate_purpose(purpose)
    uow = source if hasattr(source, "signer") else None
    if mode != PUBLIC and uow is None:
        raise TypeError("a query of non-public information is logged: pass the operation's UnitOfWork")
    conn = uow.db if uow is not None else wrap(source)
    querier = querier_of(uow) if uow is not None else None
    context = {"mode": mode, "purpose": purpose, "authorization_id": authorization_id}
    try:
        row = (
            lookup_public_subject(conn, subject_code)
            if mode == PUBLIC
            else lookup_subject(conn, subject_code, pii=pii)
        )
    except QueryRefused as refusal:
        raise refusal.in_context(subject_id=None, **context) from None
    try:
        records = _visible(
            conn, row["id"], row["kind"], mode, querier and querier.unit, authorization_id, as_of
        )
    except QueryRefused as refusal:
        raise refusal.in_context(subject_id=row["id"], **context) from None
    shown = show_subject(conn, row, name_in_clear=mode in (SELF, GOV_SHARE), pii=pii)
    result = QueryResult(
        shown.as_dict(),
        mode,
        purpose,
        as_of,
        authorization_id,
        querier and querier.unit,
        [record_view(r, shown.hidden_names) for r in records],
    )
    if uow is not None and querier is not None:
        _log(uow, querier, "query", row["id"], context, record_ids=[r["id"] for r in records])
    return result


def record_refusal(uow: LogAppender, refusal: QueryRefused) -> None:
    """Log a refused query (Art. 28): a ``query.refused`` event with the rule, in its own operation."""
    context = {"mode": refusal.mode, "purpose": refusal.purpose, "authorization_id": refusal.authorization_id}
    _log(uow, querier_of(uow), "query.refused", refusal.subject_id, context, rule=refusal.rule)


def _log(
    uow: LogAppender,
    querier: Querier,
    event: str,
    subject_id: int | None,
    context: Mapping[str, Any],
    **extra: Any,
) -> None:
    """The event (internal ids, no personal data) and the summary the subject's report reads."""
    uow.subject = None if subject_id is None else str(subject_id)
    uow.reason = context["purpose"]
    details = {"querier_unit": querier.unit, **context}
    uow.event(event, querier=querier.operator, subject_id=subject_id, **details, **extra)
    outcome = (
        {"outcome": "refused", "rule": extra["rule"]}
        if "rule" in extra
        else {"outcome": "disclosed", "records": len(extra.get("record_ids", ()))}
    )
    uow.summary.update(details, querier_unit_name=querier.unit_name, **outcome)
