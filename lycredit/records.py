"""Credit records (信用记录): the rules a submitted record must meet, and single-record operations.

Art. 9: a record belongs to an item of the catalog version in force on its decision date, and
meets that item's data standard (数据标准). Art. 10: it is provided by the item's providing unit
(信息提供单位) within 7 working days (工作日) of the matter being concluded; a late record is
accepted and flagged with the working days it was late (Art. 46). Art. 11: market credit
information about a natural person needs the person's consent. Art. 12: a field the regulation
forbids collecting rejects the whole file; income, deposits, securities, commercial insurance,
real estate and tax amounts of a person need the person's authorisation. Art. 15: dishonesty
information (失信信息) is disclosed for at most five years from the day the act ended; the
catalog item's period or the record's own 公示截止期 may be shorter (:func:`disclosure_until`).
Art. 30: corrections and withdrawals keep every revision in ``record_history``: one row per change
(correct, withdraw, ...) with its reason, holding the record as it was BEFORE that change. The
submission (revision 1) has nothing before it and is the record's own ``submitted_at`` and
``submitted_by``: outputs show it first (:func:`with_submission`) without a row of its own. The
current revision is the record itself, so each revision's content is stored exactly once.

Three layouts name a row's columns (Chinese national names, English aliases): ``penalty`` and
``license`` (the 双公示 administrative penalty and licensing layouts) and ``generic`` (item code,
subject, document number, decision date and the item's own data-standard fields). Every row
check that fails is a :class:`Rejection` naming the column, a stable rule name and a message.
The natural key of a record is (provider, item code, document number).

The bulk import (:mod:`lycredit.record_import`) and the single operations here share
:class:`RowChecker` and :func:`assess`, so a rule holds the same way for both.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa

from lycredit.catalog import Item, Version, list_versions, load_catalog
from lycredit.dbapi import MAX_ID
from lycredit.errors import DataError, NotFound, PermissionDenied, UsageError
from lycredit.i18n import _
from lycredit.identity import (
    CONSENT_FIELDS,
    INVISIBLE_CHARACTERS,
    SubjectKind,
    consent_rules,
    field_rule,
    mask_name,
    mask_ric,
    strip_invisible,
    validate_ric,
    validate_uscc,
)
from lycredit.inputs import NOT_ONE_LINE, SURROGATE, escaped
from lycredit.models import CatalogItem, Operator, Record, RecordHistory, Unit
from lycredit.models.base import utcnow
from lycredit.oplog.log import UnitOfWork
from lycredit.periods import add_months, in_shanghai, shanghai_today
from lycredit.periods import disclosure_until as art15_until
from lycredit.readers import check_value_lengths, map_headers, normalize_header
from lycredit.roles import ADMIN, OPERATOR
from lycredit.workdays import ART10_WORKING_DAYS, CalendarYearMissing, WorkCalendar

T_RECORD: sa.Table = Record.__table__
T_HISTORY: sa.Table = RecordHistory.__table__
T_ITEM: sa.Table = CatalogItem.__table__

ACTIVE, WITHDRAWN = "active", "withdrawn"
NAME_LIMIT = {SubjectKind.natural_person: 100}
ORG_NAME_LIMIT = 200
DOCUMENT_NO_LIMIT = 128
AMOUNT_PLACES = 6
"""Amounts in 万元 have at most 6 decimal places: one fen (0.01 元) is 0.000001 万元."""

# --- layouts ----------------------------------------------------------------------------------

SUBJECT_NAME, SUBJECT_CODE, SUBJECT_USCC, SUBJECT_RIC = "subject_name", "subject_code", "subject_uscc", "subject_ric"
DOCUMENT_NO, DECISION, CONCLUDED, ACT_ENDED, PUBLICITY = (
    "document_no", "decision_date", "concluded_on", "act_ended_on", "publicity_until")
ITEM_CODE, CATEGORY, SOURCE_USCC, IGNORED = "item_code", "subject_category", "source_uscc", "ignored"
_IDENTITY_ROLES = frozenset({SUBJECT_NAME, SUBJECT_CODE, SUBJECT_USCC, SUBJECT_RIC, ITEM_CODE, IGNORED})
_CODE_ROLES = (SUBJECT_CODE, SUBJECT_USCC, SUBJECT_RIC)


@dataclass(frozen=True)
class LayoutField:
    """A column of a layout: its national name, English aliases, value kind and role in the record."""

    name: str
    aliases: tuple[str, ...] = ()
    kind: str = "text"
    role: str = ""


def _f(name: str, *aliases: str, kind: str = "text", role: str = "") -> LayoutField:
    spaced = tuple(a.replace("_", " ") for a in aliases if "_" in a)
    return LayoutField(name, aliases + spaced, kind, role)


_COMMON = (
    _f("事项编码", "item_code", "事项代码", role=ITEM_CODE),
    _f("公民身份号码", "ric", "resident_id", "身份证号码", "证件号码", kind="ric", role=SUBJECT_RIC),
    _f("办结日期", "concluded_on", kind="date", role=CONCLUDED),
    _f("失信行为终止日期", "act_ended_on", "行为终止日期", kind="date", role=ACT_ENDED),
    _f("序号", "row_no", "seq", role=IGNORED),
)
_PARTY = (
    _f("行政相对人名称", "subject_name", "party_name", role=SUBJECT_NAME),
    _f("行政相对人类别", "subject_category", "party_category", role=CATEGORY),
    _f("统一社会信用代码", "uscc", "unified_social_credit_code", kind="code", role=SUBJECT_USCC),
    _f("法定代表人", "legal_representative"),
)
_SOURCE = (
    _f("数据来源单位", "source_unit", "data_source"),
    _f("数据来源单位统一社会信用代码", "source_unit_uscc", "data_source_uscc", kind="code", role=SOURCE_USCC),
    _f("备注", "remarks", "note"),
)


@dataclass(frozen=True)
class Layout:
    """A file layout: its fields, the national field that names its catalog item, the columns it needs."""

    name: str
    fields: tuple[LayoutField, ...]
    document_field: str | None
    required_roles: tuple[str, ...]

    @cached_property
    def aliases(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.aliases for f in self.fields}

    @cached_property
    def by_name(self) -> dict[str, LayoutField]:
        return {f.name: f for f in self.fields}

    @cached_property
    def by_role(self) -> dict[str, str]:
        return {f.role: f.name for f in self.fields if f.role}

    @cached_property
    def normalized(self) -> dict[str, str]:
        """Normalised name or alias -> the field's national name."""
        return {normalize_header(n): f.name for f in self.fields for n in (f.name, *f.aliases)}


PENALTY = Layout("penalty", _PARTY + (
    _f("行政处罚决定书文号", "document_no", "penalty_decision_no", role=DOCUMENT_NO),
    _f("违法行为类型", "violation_type"),
    _f("违法事实", "violation_facts", "facts"),
    _f("处罚依据", "legal_basis", "basis"),
    _f("处罚类别", "penalty_category", "penalty_type"),
    _f("处罚内容", "penalty_content"),
    _f("罚款金额（万元）", "fine", "fine_amount", "罚款金额", kind="amount"),
    _f("没收违法所得、没收非法财物的金额（万元）", "confiscated_amount", "没收金额", kind="amount"),
    _f("暂扣或吊销证照名称及编号", "suspended_license"),
    _f("处罚决定日期", "decision_date", kind="date", role=DECISION),
    _f("处罚有效期", "penalty_valid_until", kind="date"),
    _f("公示截止期", "publicity_until", kind="date", role=PUBLICITY),
    _f("处罚机关", "authority", "penalty_authority"),
    _f("处罚机关统一社会信用代码", "authority_uscc", kind="code"),
) + _SOURCE + _COMMON, "行政处罚决定书文号", (SUBJECT_NAME, DOCUMENT_NO, DECISION))

LICENSE = Layout("license", _PARTY + (
    _f("行政许可决定文书名称", "decision_title", "license_decision_title"),
    _f("行政许可决定文书号", "document_no", "license_decision_no", role=DOCUMENT_NO),
    _f("许可类别", "license_category", "license_type"),
    _f("许可证书名称", "certificate_name"),
    _f("许可编号", "license_no", "certificate_no"),
    _f("许可内容", "license_content"),
    _f("许可决定日期", "decision_date", kind="date", role=DECISION),
    _f("有效期自", "valid_from", kind="date"),
    _f("有效期至", "valid_until", kind="date"),
    _f("许可机关", "authority", "licensing_authority"),
    _f("许可机关统一社会信用代码", "authority_uscc", kind="code"),
    _f("公示截止期", "publicity_until", kind="date", role=PUBLICITY),
) + _SOURCE + _COMMON, "行政许可决定文书号", (SUBJECT_NAME, DOCUMENT_NO, DECISION))

GENERIC = Layout("generic", (
    _f("主体代码", "subject_code", "code", role=SUBJECT_CODE),
    _f("统一社会信用代码", "uscc", "unified_social_credit_code", kind="code", role=SUBJECT_USCC),
    _f("主体名称", "subject_name", "name", "名称", "姓名", role=SUBJECT_NAME),
    _f("文书号", "document_no", "文书编号", role=DOCUMENT_NO),
    _f("决定日期", "decision_date", kind="date", role=DECISION),
    _f("公示截止期", "publicity_until", kind="date", role=PUBLICITY),
) + _COMMON, None, (ITEM_CODE, SUBJECT_NAME, DOCUMENT_NO, DECISION))

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (PENALTY, LICENSE, GENERIC)}

#: 行政相对人类别 and the kinds of subject each admits.
SUBJECT_CATEGORIES: dict[str, frozenset[str]] = {
    "法人及非法人组织": frozenset({SubjectKind.legal_person, SubjectKind.unincorporated}),
    "自然人": frozenset({SubjectKind.natural_person}),
    "个体工商户": frozenset({SubjectKind.individual_business}),
}


def layout_of(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise UsageError(_("Unknown layout {layout} (one of: {layouts})").format(
            layout=name, layouts=", ".join(LAYOUTS))) from None


def layout_of_fields(fields: Mapping[str, Any]) -> Layout:
    """The layout a stored record came in: generic rows carry 文书号, 双公示 rows their national number."""
    if GENERIC.by_role[DOCUMENT_NO] in fields:
        return GENERIC
    for layout in (PENALTY, LICENSE):
        if layout.document_field in fields:
            return layout
    return GENERIC


# --- values -----------------------------------------------------------------------------------

class Rejection(NamedTuple):
    """Why a row is rejected: the column (as the file names it), the rule and a message."""

    field: str
    rule: str
    message: str


class _Bad(Exception):
    """A value breaks a rule (raised afresh each time: a kept exception would keep its frames alive)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


class _Fault(NamedTuple):
    """A remembered rejection of a value: the rule and the message."""

    rule: str
    message: str


_DATE = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?"
                   r"(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?)?")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
#: A date-time with a time zone: Z or a UTC offset (ISO 8601 / RFC 3339, as APIs and JSON write an instant).
_DATE_ZONED = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{2})"
                         r"(?::([0-9]{2})(?:[.,][0-9]{1,9})?)? ?(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)")
_EXCEL_SERIAL = re.compile(r"[1-9][0-9]{4}")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MASKED_RIC = re.compile(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]")
_CACHE_LIMIT = 200_000


class _Memo(dict):
    """A bounded memo of parse results (values repeat a lot in a file: dates, codes)."""

    def put(self, key: Any, value: Any) -> Any:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[key] = value
        return value


_dates: _Memo = _Memo()
_iso_dates: _Memo = _Memo()
_codes: _Memo = _Memo()
_rics: _Memo = _Memo()


def parse_date(text: str) -> dt.date:
    """A day written ``YYYY-MM-DD``, as Excel writes it (``2026/3/5``, ``2026年3月5日``, a date-time),
    ``YYYYMMDD``, or as a five-digit Excel serial day number; otherwise raises :class:`_Bad`.

    A date-time with a time zone (``2026-02-28T20:00:00Z``, ``...+08:00``) is an instant: its day is the
    day it falls on in Asia/Shanghai (2026-03-01). A date-time without one is already a local time: its
    own day, whatever the time."""
    found = _dates.get(text)
    if found is None:
        found = _dates.put(text, _date_or_error(text))
    if found.__class__ is _Fault:
        raise _Bad(*found)
    return found


def _date_or_error(text: str) -> dt.date | _Fault:
    match = _DATE.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    try:
        if match:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
            if match.re is _DATE and match[4] is not None and (
                    int(match[4]) > 23 or int(match[5]) > 59 or int(match[6] or 0) > 60):  # 60: a leap second
                return _Fault("invalid_date", _("{value} is not a real date and time").format(value=_shown(text)))
            return day
        if _EXCEL_SERIAL.fullmatch(text):
            return _EXCEL_EPOCH + dt.timedelta(days=int(text))
    except ValueError:
        return _Fault("invalid_date", _("{value} is not a real day").format(value=_shown(text)))
    zoned = _DATE_ZONED.fullmatch(text)
    if zoned:
        return _shanghai_day(zoned, text)
    return _Fault("invalid_date", _("{value} is not a date; write YYYY-MM-DD, for example 2026-03-05").format(
        value=_shown(text)))


def _shanghai_day(match: re.Match[str], text: str) -> dt.date | _Fault:
    """The Asia/Shanghai day of a date-time with a time zone (:data:`_DATE_ZONED`)."""
    year, month, day, hour, minute, second = (int(group or 0) for group in match.group(1, 2, 3, 4, 5, 6))
    sign, offset_hours, offset_minutes = match[7], int(match[8] or 0), int(match[9] or 0)
    try:
        if offset_minutes > 59:
            raise ValueError
        offset = dt.timedelta(hours=offset_hours, minutes=offset_minutes)
        zone = dt.timezone(-offset if sign == "-" else offset)  # ValueError from 24 hours on
        return in_shanghai(dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)).date()
    except (ValueError, OverflowError):
        return _Fault("invalid_date", _("{value} is not a real date and time").format(value=_shown(text)))


def parse_iso_date(text: str) -> str:
    """:func:`parse_date` written ``YYYY-MM-DD``: how a date field is stored."""
    found = _iso_dates.get(text)
    if found is None:
        try:
            found = _iso_dates.put(text, parse_date(text).isoformat())
        except _Bad as bad:
            found = _iso_dates.put(text, _Fault(bad.rule, bad.message))
    if found.__class__ is _Fault:
        raise _Bad(*found)
    return found


def _memoised(parse: Any) -> Any:
    """``parse`` with its results (and its rejections) remembered for the values a file repeats."""
    memo = _Memo()

    def cached(text: str) -> str:
        found = memo.get(text)
        if found is None:
            try:
                found = memo.put(text, parse(text))
            except _Bad as bad:
                found = memo.put(text, _Fault(bad.rule, bad.message))
        if found.__class__ is _Fault:
            raise _Bad(*found)
        return found

    cached.__doc__ = parse.__doc__
    return cached


def _parse_decimal(text: str) -> str:
    """The canonical text of a decimal number written without exponent or thousands separators."""
    if not _DECIMAL.fullmatch(text):
        raise _Bad("invalid_decimal", _("{value} is not a decimal number (digits, an optional sign and one "
                                        "decimal point)").format(value=_shown(text)))
    value = Decimal(text)
    out = format(value, "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out


def _parse_amount(text: str) -> str:
    """An amount in 万元: a decimal, not negative, with at most 6 decimal places (one fen)."""
    out = _parse_decimal(text)
    if out.startswith("-"):
        raise _Bad("invalid_amount", _("{value} is negative; an amount is 0 or more").format(value=text))
    if "." in out and len(out.partition(".")[2]) > AMOUNT_PLACES:
        raise _Bad("invalid_amount", _("{value} has more than {places} decimal places; an amount in 万元 is "
                                       "exact to one fen (0.000001 万元)").format(value=text, places=AMOUNT_PLACES))
    return out


parse_decimal = _memoised(_parse_decimal)
parse_amount = _memoised(_parse_amount)


def parse_integer(text: str) -> str:
    if not _INTEGER.fullmatch(text):
        raise _Bad("invalid_integer", _("{value} is not a whole number").format(value=_shown(text)))
    # str(int(text)), written out: int() refuses a text of more than 4300 digits (a ValueError, a traceback)
    negative, digits = text[0] == "-", text.lstrip("+-").lstrip("0") or "0"
    return "-" + digits if negative and digits != "0" else digits


def parse_code(text: str) -> str:
    """A unified social credit code (GB 32100), compacted."""
    found = _codes.get(text)
    if found is None:
        try:
            found = _codes.put(text, validate_uscc(text))
        except DataError as error:
            found = _codes.put(text, _Fault("invalid_code", error.message))
    if found.__class__ is _Fault:
        raise _Bad(*found)
    return found


def parse_ric(text: str, today: dt.date) -> str:
    """A resident ID number (GB 11643), compacted; never repeated in a message."""
    found = _rics.get((text, today))
    if found is None:
        try:
            found = _rics.put((text, today), validate_ric(text, today=today))
        except DataError as error:
            found = _rics.put((text, today), _Fault("invalid_resident_id", error.message))
    if found.__class__ is _Fault:
        raise _Bad(*found)
    return found


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


# --- the catalog -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """A catalog item with its row id, as a record refers to it."""

    id: int
    item: Item

    @cached_property
    def standard_names(self) -> frozenset[str]:
        return frozenset(normalize_header(f.name) for f in self.item.data_standard)


class CatalogIndex:
    """Every catalog version with its items (Art. 9: a record follows the version in force on its decision date)."""

    def __init__(self, conn: sa.Connection):
        self.versions: list[Version] = list_versions(conn)
        self._starts = [v.effective_from for v in self.versions]
        self._items: dict[int, dict[str, Entry]] = {}
        for version in self.versions:
            ids = dict(conn.execute(sa.select(T_ITEM.c.code, T_ITEM.c.id).where(T_ITEM.c.version_id == version.id)).all())
            self._items[version.id] = {i.code: Entry(ids[i.code], i)
                                       for i in load_catalog(conn, version.version).items}

    def version_on(self, day: dt.date) -> Version | None:
        index = bisect.bisect_right(self._starts, day)
        return self.versions[index - 1] if index else None

    def items(self, version: Version) -> dict[str, Entry]:
        return self._items[version.id]


# --- checked rows --------------------------------------------------------------------------------

@dataclass(slots=True)
class Checked:
    """A row that passed every check that needs no database lookup; what the record will hold."""

    row: int
    raw: str
    entry: Entry
    code: str
    kind: SubjectKind
    name: str
    document_no: str
    decision: dt.date
    concluded: dt.date
    act_ended: dt.date | None
    publicity: dt.date | None
    disclosure: dt.date | None
    due: dt.date | None
    guessed: bool
    late: int
    fields_json: bytes
    """The fields as stored: compact JSON in UTF-8 (:data:`_FIELDS_JSON`); :attr:`fields` is its text."""
    code_field: str
    document_field: str
    consent: tuple[tuple[str, str], ...] = ()
    parts: tuple[bytes, bytes, tuple] | None = None
    """The row's own parts of its record's hashed text and INSERT values, when the reading process
    wrote them (:meth:`lycredit.record_import.RowParts.reader_part`)."""

    def __reduce__(self) -> tuple:
        """Pickle as one constructor call (the generated state functions of a slotted dataclass cost
        several times more); many rows at once go by :func:`checked_columns`."""
        return (Checked, self._arguments())

    def _arguments(self) -> tuple:
        return (self.row, self.raw, self.entry, self.code, self.kind, self.name, self.document_no, self.decision,
                self.concluded, self.act_ended, self.publicity, self.disclosure, self.due, self.guessed, self.late,
                self.fields_json, self.code_field, self.document_field, self.consent, self.parts)

    @property
    def fields(self) -> str:
        """The fields as stored, as text."""
        return self.fields_json.decode()

    def content(self, subject_id: int | None) -> tuple:
        """What the provider said: compared with a stored record to tell unchanged from a correction."""
        return (subject_id, self.decision, self.concluded, self.act_ended, self.publicity, self.fields)


def checked_columns(rows: Sequence[Checked]) -> tuple[tuple, ...]:
    """Checked rows as one tuple per attribute, for :func:`checked_rows` in another process: a large
    import hands its rows over like this, which unpickles in about two thirds of the time that one
    constructor call per row takes (one opcode per value, no argument tuple per row)."""
    return tuple(zip(*map(Checked._arguments, rows), strict=True))


def checked_rows(columns: tuple[tuple, ...]) -> list[Checked]:
    """The rows :func:`checked_columns` took apart."""
    return list(map(Checked, *columns)) if columns else []


def stored_content(row: Mapping[str, Any]) -> tuple:
    return (row["subject_id"], row["decision_date"], row["concluded_on"], row["act_ended_on"],
            row["publicity_until"], row["fields"])


def disclosure_until(item: Item, decision: dt.date, act_ended: dt.date | None,
                     publicity: dt.date | None) -> dt.date | None:
    """The last day the record may be disclosed: the earliest of its 公示截止期, the item's validity
    counted from the act's end (or the decision), and for dishonesty information five years from
    the day the act ended (Art. 15). None when nothing limits it; a validity that ends after the
    calendar's last year (9999) limits nothing."""
    start = act_ended or decision
    limits = [publicity] if publicity is not None else []
    if item.validity_months:
        with contextlib.suppress(OverflowError):
            limits.append(add_months(start, item.validity_months))
    if item.dishonesty:
        limits.append(art15_until(start))
    return min(limits) if limits else None


def _fields_json(fields: Mapping[str, str]) -> bytes:
    """A record's fields as stored: compact JSON of text values in UTF-8, keys in sorted order (the checker
    fills them so), the bytes ``json.dumps(fields, ensure_ascii=False, separators=(",", ":"))`` writes.

    msgspec writes the same bytes (a test holds the two equal over every character) in a sixth of the
    time the json module's C encoder takes to build the text and encode it (2.3 µs a row of the 双公示
    layouts, the largest single step of checking a row); as bytes they cross to the writing process and
    into SQLite without being encoded again (:mod:`lycredit.record_import`). It writes into one buffer
    that is copied out: bytes returned fresh from the encoder (orjson's, msgspec's own) leave the heap
    fragmented, and a million-row import's reading process peaked 130 MB higher with them. A text that
    is not Unicode (half of a surrogate pair) is UnicodeEncodeError, as encoding the json module's text was.
    """
    _encode_into(fields, _BUFFER)
    return bytes(_BUFFER)


_BUFFER = bytearray(4096)
_encode_into = msgspec.json.Encoder().encode_into
_FIELDS_JSON = _fields_json


# --- the row checker --------------------------------------------------------------------------------

class _Plan(NamedTuple):
    """How a file's columns meet one item's data standard and the layout's own fields."""

    steps: tuple[tuple[str | None, str, Any, bool], ...]  # (column, stored name, parser or None, required)
    identity: tuple[tuple[str, str], ...]  # (role, column): a required data-standard field the subject fills
    extras: tuple[str, ...]  # columns in neither the data standard nor the layout


class RowChecker:
    """Checks rows of one file (one header, one layout, one provider) against every rule.

    ``columns`` are the file's column names; :meth:`check` takes a row's values by column.
    Header problems (an Art. 12 forbidden column, a missing required column) raise
    DataError at construction: they reject the whole file.
    """

    def __init__(self, layout: Layout, columns: Sequence[str], *, provider: str, as_of: dt.date,
                 calendar: WorkCalendar, catalog: CatalogIndex, source: str = ""):
        self.layout = layout
        self.provider = provider
        self.as_of = as_of
        self.calendar = calendar
        self.catalog = catalog
        self.source = source
        check_header(layout, columns, source)
        header = map_headers(columns, layout.aliases, source=source)
        self.columns = dict(header)
        self.extra = {normalize_header(c): c for c in header.unknown}
        self.consent_columns = tuple((c, rule.topic) for c in columns for rule in consent_rules(c))
        column = {role: self.columns.get(name) for role, name in layout.by_role.items()}
        self._labels = {role: column[role] or name for role, name in layout.by_role.items()}
        self._code_columns = tuple((role, column[role]) for role in _CODE_ROLES if column.get(role))
        (self._name_column, self._document_column, self._decision_column, self._concluded_column,
         self._act_ended_column, self._publicity_column, self._item_column, self._category_column,
         self._source_column) = (column.get(role) for role in (
            SUBJECT_NAME, DOCUMENT_NO, DECISION, CONCLUDED, ACT_ENDED, PUBLICITY, ITEM_CODE, CATEGORY, SOURCE_USCC))
        self._plans: dict[int, _Plan] = {}
        self._subjects: dict[str, Any] = {}
        self._items: dict[tuple[str | None, dt.date], tuple[Entry | None, Rejection | None]] = {}
        self._layout_items: dict[int, list[Entry]] = {}
        self._deadlines: dict[dt.date, Any] = {}
        self._disclosures: dict[tuple, dt.date | None] = {}

    def label(self, role: str) -> str:
        """The column a role is read from, as the file names it (or the layout's name for it)."""
        return self._labels.get(role, role)

    # ---- one row ----
    def check(self, row: int, values: Mapping[str, str | None], raw: str = "") -> Checked | list[Rejection]:
        problems: list[Rejection] = []
        get = values.get
        code, kind, code_field = self._subject(get, problems)
        name = self._name(get(self._name_column), kind, problems)
        document_no = self._document_no(get(self._document_column), problems)
        decision = self._date(DECISION, get(self._decision_column), problems, required=True)
        concluded_given = self._date(CONCLUDED, get(self._concluded_column), problems)
        concluded = concluded_given or decision
        act_ended = self._date(ACT_ENDED, get(self._act_ended_column), problems)
        publicity = self._date(PUBLICITY, get(self._publicity_column), problems)
        if decision is not None:
            self._dates_make_sense(decision, concluded_given, publicity, problems)
        entry = self._item(get(self._item_column), decision, problems) if decision else None
        stored: dict[str, str] = {}
        if entry is not None:
            if kind is not None and entry.item.subject_kinds and kind.value not in entry.item.subject_kinds:
                problems.append(Rejection(code_field, "subject_kind_not_allowed", _(
                    "item {item} is not about a {kind}; it admits: {kinds}").format(
                    item=entry.item.code, kind=kind.label_zh, kinds=", ".join(entry.item.subject_kinds))))
            self._fields(entry, get, code, kind, stored, problems)
            if kind == SubjectKind.natural_person:
                for key, text in stored.items():
                    if text == name:
                        stored[key] = mask_name(text)
                    elif code in text.upper():  # the person's number, in a text (a final x as typed)
                        stored[key] = re.sub(re.escape(code), mask_ric(code), text, flags=re.IGNORECASE)
        if self._category_column:
            self._category(get(self._category_column), kind, problems)
        if self._source_column:
            self._source(get(self._source_column), problems)
        if self.layout.document_field is not None:
            self._layout_rules(stored, decision, problems)
        if problems or entry is None:
            return problems
        due, guessed, late = self._deadline(concluded, problems)
        if problems:
            return problems
        consent = self._consent(get, entry, code_field) if kind == SubjectKind.natural_person else ()
        key = (entry.id, act_ended or decision, publicity)
        disclosure = self._disclosures.get(key, False)
        if disclosure is False:
            disclosure = self._disclosures[key] = disclosure_until(entry.item, decision, act_ended, publicity)
        return Checked(row, raw, entry, code, kind, name, document_no, decision, concluded, act_ended, publicity,
                       disclosure, due, guessed, late, _FIELDS_JSON(stored), code_field, self.label(DOCUMENT_NO),
                       consent)

    def _subject(self, get: Any, problems: list[Rejection]) -> tuple[str, SubjectKind | None, str]:
        given = [(role, column, text) for role, column in self._code_columns if (text := get(column))]
        if not given:
            field = self._code_columns[0][1] if self._code_columns else self.label(SUBJECT_USCC)
            problems.append(Rejection(field, "required", _(
                "the credit subject's code is empty: give a unified social credit code (统一社会信用代码) or a "
                "resident ID number (公民身份号码)")))
            return "", None, field
        role, field, text = given[0]
        found = self._subjects.get(text)
        if found is None:
            from lycredit.subjects import validate_subject_code

            try:
                found = validate_subject_code(text, today=self.as_of)
            except DataError as error:
                found = _Fault("subject_code_invalid", error.message)
            if len(self._subjects) >= _CACHE_LIMIT:
                self._subjects.clear()
            self._subjects[text] = found
        if found.__class__ is _Fault:
            problems.append(Rejection(field, found.rule, found.message))
            return "", None, field
        kind, code = found
        person = kind == SubjectKind.natural_person
        for _role, other_field, other in given[1:]:
            if other.replace(" ", "").upper() != code:
                problems.append(Rejection(other_field, "subject_code_conflict", _(
                    "the row names two different subject codes, in {first} and {second}").format(
                    first=field, second=other_field)))
        if role == SUBJECT_USCC and person:
            problems.append(Rejection(field, "subject_code_invalid", _(
                "the value is a resident ID number, not a unified social credit code; put it in 公民身份号码")))
        elif role == SUBJECT_RIC and not person:
            problems.append(Rejection(field, "subject_code_invalid", _(
                "the value is a unified social credit code, not a resident ID number; put it in 统一社会信用代码")))
        return code, kind, field

    def _name(self, name: str | None, kind: SubjectKind | None, problems: list[Rejection]) -> str:
        if not name or (name[0] in INVISIBLE_CHARACTERS and not strip_invisible(name)):  # only zero-width ones
            problems.append(Rejection(self.label(SUBJECT_NAME), "required", _("the credit subject's name is empty")))
            return ""
        limit = NAME_LIMIT.get(kind, ORG_NAME_LIMIT)
        if len(name) > limit or NOT_ONE_LINE.search(name):
            problems.append(Rejection(self.label(SUBJECT_NAME), "subject_name_invalid", _(
                "a subject's name has at most {limit} characters and no line breaks or tabs").format(limit=limit)))
        return name

    def _document_no(self, text: str | None, problems: list[Rejection]) -> str:
        if not text:
            problems.append(Rejection(self.label(DOCUMENT_NO), "required", _(
                "the document number is empty; it identifies the record")))
            return ""
        if len(text) > DOCUMENT_NO_LIMIT or NOT_ONE_LINE.search(text):
            problems.append(Rejection(self.label(DOCUMENT_NO), "document_no_invalid", _(
                "a document number has at most {limit} characters and no line breaks or tabs").format(
                limit=DOCUMENT_NO_LIMIT)))
        return text

    def _date(self, role: str, text: str | None, problems: list[Rejection], *,
              required: bool = False) -> dt.date | None:
        if not text:
            if required:
                problems.append(Rejection(self.label(role), "required", _("the date is empty")))
            return None
        try:
            return parse_date(text)
        except _Bad as bad:
            problems.append(Rejection(self.label(role), bad.rule, bad.message))
            return None

    def _dates_make_sense(self, decision: dt.date, concluded: dt.date | None, publicity: dt.date | None,
                          problems: list[Rejection]) -> None:
        if decision > self.as_of:
            problems.append(Rejection(self.label(DECISION), "decision_in_future", _(
                "the decision date {day} is after today ({today})").format(day=decision, today=self.as_of)))
        if concluded is not None and concluded < decision:
            problems.append(Rejection(self.label(CONCLUDED), "concluded_before_decision", _(
                "the matter is concluded on {day}, before its decision date {decision}").format(
                day=concluded, decision=decision)))
        elif concluded is not None and concluded > self.as_of:
            problems.append(Rejection(self.label(CONCLUDED), "concluded_in_future", _(
                "the conclusion date {day} is after today ({today})").format(day=concluded, today=self.as_of)))
        if publicity is not None and publicity < decision:
            problems.append(Rejection(self.label(PUBLICITY), "publicity_before_decision", _(
                "the publicity end {day} (公示截止期) is before the decision date {decision}").format(
                day=publicity, decision=decision)))

    def _item(self, code: str | None, decision: dt.date, problems: list[Rejection]) -> Entry | None:
        """Art. 9: the item in the version in force on the decision date, of the submitting provider."""
        found = self._items.get((code, decision))
        if found is None:
            found = self._items[(code, decision)] = self._find_item(code, decision)
        entry, problem = found
        if problem is not None:
            problems.append(problem)
        return entry

    def _find_item(self, code: str | None, decision: dt.date) -> tuple[Entry | None, Rejection | None]:
        field = self.label(ITEM_CODE)
        version = self.catalog.version_on(decision)
        if version is None:
            return None, Rejection(field, "no_catalog_in_force", _(
                "no catalog version is in force on the decision date {day}").format(day=decision))
        items = self.catalog.items(version)
        if code:
            entry = items.get(code.strip())
            if entry is None:
                return None, Rejection(field, "item_not_in_catalog", _(
                    "item {item} is not in catalog version {version}, in force on {day}").format(
                    item=code, version=version.version, day=decision))
            if self.layout.document_field and normalize_header(self.layout.document_field) \
                    not in entry.standard_names:
                return None, Rejection(field, "item_layout_mismatch", _(
                    "item {item} has no field {field} in its data standard, so it is not a {layout} item").format(
                    item=code, field=self.layout.document_field, layout=self.layout.name))
        elif self.layout.document_field is None:
            return None, Rejection(field, "required", _("the item code is empty"))
        else:
            wanted = normalize_header(self.layout.document_field)
            candidates = [e for e in items.values() if e.item.provider_uscc == self.provider
                          and wanted in e.standard_names]
            if not candidates:
                return None, Rejection(field, "item_not_in_catalog", _(
                    "catalog version {version} (in force on {day}) has no {layout} item of provider {provider}: no "
                    "item of it has the field {field}").format(version=version.version, day=decision,
                                                                layout=self.layout.name, provider=self.provider,
                                                                field=self.layout.document_field))
            if len(candidates) > 1:
                return None, Rejection(field, "item_ambiguous", _(
                    "provider {provider} has several {layout} items ({items}); name one in column 事项编码").format(
                    provider=self.provider, layout=self.layout.name,
                    items=", ".join(e.item.code for e in candidates)))
            entry = candidates[0]
        if entry.item.provider_uscc != self.provider:
            return entry, Rejection(field, "item_not_owned", _(
                "item {item} is provided by {owner} ({name}), not by {provider}").format(
                item=entry.item.code, owner=entry.item.provider_uscc, name=entry.item.provider_name,
                provider=self.provider))
        return entry, None

    def _plan(self, entry: Entry) -> _Plan:
        """The data standard's fields, then the layout's own, each with its column and parser (sorted by name)."""
        steps: dict[str, tuple[str | None, str, Any, bool]] = {}
        identity = []
        covered = set()
        for data_field in entry.item.data_standard:
            key = normalize_header(data_field.name)
            layout_name = self.layout.normalized.get(key)
            column = self.columns.get(layout_name) if layout_name else self.extra.get(key)
            covered.add(layout_name)
            role = self.layout.by_name[layout_name].role if layout_name else ""
            if role in _IDENTITY_ROLES:
                if data_field.required:
                    identity.append((role, column or data_field.name))
                continue
            steps[data_field.name] = (column, data_field.name, self._parser(data_field.type, data_field.values,
                                                                             data_field.name), data_field.required)
        for layout_name, column in self.columns.items():
            layout_field = self.layout.by_name[layout_name]
            if layout_name not in covered and layout_field.role not in _IDENTITY_ROLES:
                steps[layout_name] = (column, layout_name, self._parser(layout_field.kind, (), layout_name), False)
        extras = tuple(column for key, column in self.extra.items() if key not in entry.standard_names)
        return _Plan(tuple(steps[name] for name in sorted(steps)), tuple(identity), extras)

    def _parser(self, kind: str, choices: Sequence[str], name: str) -> Any:
        """The function that checks and normalises a value of this kind (None: text, kept as it is)."""
        if kind == "date":
            return parse_iso_date
        if kind == "amount" or kind == "decimal" and "万元" in name:
            return parse_amount
        if kind == "decimal":
            return parse_decimal
        if kind == "integer":
            return parse_integer
        if kind == "code":
            return parse_code
        if kind == "ric":
            return lambda text: text if _MASKED_RIC.fullmatch(text) else mask_ric(parse_ric(text, self.as_of))
        if kind == "enum":
            allowed = frozenset(choices)

            def enum(text: str) -> str:
                if text not in allowed:
                    raise _Bad("not_in_enum", _("{value} is not one of: {choices}").format(
                        value=_shown(text), choices=" | ".join(choices)))
                return text
            return enum
        return None

    def _fields(self, entry: Entry, get: Any, code: str, kind: SubjectKind | None, stored: dict[str, str],
                problems: list[Rejection]) -> None:
        """The data standard (required fields, types, enum values), the layout's own fields, no other field."""
        plan = self._plans.get(entry.id)
        if plan is None:
            plan = self._plans[entry.id] = self._plan(entry)
        for column, key, parse, required in plan.steps:
            text = get(column)
            if not text:
                if required:
                    problems.append(Rejection(column or key, "required", _(
                        "the data standard of item {item} requires {field}").format(item=entry.item.code, field=key)))
            elif parse is None:
                stored[key] = text
            else:
                try:
                    stored[key] = parse(text)
                except _Bad as bad:
                    problems.append(Rejection(column, bad.rule, bad.message))
        person = kind == SubjectKind.natural_person
        for role, column in plan.identity:
            if code and (role == SUBJECT_USCC and person or role == SUBJECT_RIC and not person):
                problems.append(Rejection(column, "required", _(
                    "the data standard of item {item} requires {field}").format(item=entry.item.code, field=column)))
        for column in plan.extras:
            if get(column):
                problems.append(Rejection(column, "field_not_in_standard", _(
                    "column {column} is not a field of item {item}'s data standard nor of the {layout} layout; "
                    "leave it empty or remove it").format(column=column, item=entry.item.code,
                                                           layout=self.layout.name)))

    def _category(self, text: str | None, kind: SubjectKind | None, problems: list[Rejection]) -> None:
        if not text:
            return
        kinds = SUBJECT_CATEGORIES.get(text)
        if kinds is None:
            problems.append(Rejection(self.label(CATEGORY), "subject_category_invalid", _(
                "{value} is not a category of 行政相对人 (one of: {choices})").format(
                value=_shown(text), choices=" | ".join(SUBJECT_CATEGORIES))))
        elif kind is not None and kind not in kinds:
            problems.append(Rejection(self.label(CATEGORY), "subject_category_mismatch", _(
                "the category {value} does not fit the subject's code, which identifies a {kind}").format(
                value=text, kind=kind.label_zh)))

    def _source(self, text: str | None, problems: list[Rejection]) -> None:
        if text and text != self.provider and text.replace(" ", "").upper() != self.provider:
            problems.append(Rejection(self.label(SOURCE_USCC), "source_unit_mismatch", _(
                "the data source unit {code} is not the provider {provider} submitting the file").format(
                code=_shown(text), provider=self.provider)))

    def _layout_rules(self, stored: Mapping[str, str], decision: dt.date | None, problems: list[Rejection]) -> None:
        """The 双公示 layouts' own consistency rules."""
        if self.layout is PENALTY:
            if "罚款" in stored.get("处罚类别", "") and not stored.get("罚款金额（万元）"):
                problems.append(Rejection(self._column("罚款金额（万元）"), "fine_required", _(
                    "the penalty includes a fine (罚款), so 罚款金额（万元） is required")))
            until = stored.get("处罚有效期")
            if until and decision and until < decision.isoformat():
                problems.append(Rejection(self._column("处罚有效期"), "validity_before_decision", _(
                    "处罚有效期 {day} is before the decision date {decision}").format(day=until, decision=decision)))
        elif self.layout is LICENSE:
            start, end = stored.get("有效期自"), stored.get("有效期至")
            if start and end and end < start:
                problems.append(Rejection(self._column("有效期至"), "validity_end_before_start", _(
                    "有效期至 {end} is before 有效期自 {start}").format(end=end, start=start)))

    def _column(self, name: str) -> str:
        return self.columns.get(name, name)

    def _consent(self, get: Any, entry: Entry, code_field: str) -> tuple[tuple[str, str], ...]:
        """The (column, topic) pairs that need the person's consent (Art. 11, 12); market information is
        named by the column the person's number was read from."""
        needed = tuple((column, topic) for column, topic in self.consent_columns if get(column))
        if entry.item.category == "market":
            needed += ((code_field, "market"),)
        return needed

    def _deadline(self, concluded: dt.date, problems: list[Rejection]) -> tuple[dt.date | None, bool, int]:
        """Art. 10: due 7 working days after the conclusion; Art. 46: working days late as of today."""
        found = self._deadlines.get(concluded)
        if found is None:
            try:
                deadline = self.calendar.deadline(concluded, ART10_WORKING_DAYS)
                found = (deadline.due, deadline.guessed, self.calendar.working_days_late(deadline.due, self.as_of))
            except CalendarYearMissing as missing:
                found = _Fault("calendar_year_missing", missing.message)
            self._deadlines[concluded] = found
        if found.__class__ is _Fault:
            problems.append(Rejection(self.label(CONCLUDED if self._concluded_column else DECISION),
                                      found.rule, found.message))
            return None, False, 0
        return found


def check_header(layout: Layout, columns: Sequence[str], source: str = "") -> None:
    """Reject a whole file whose header names a field Art. 12 forbids, or lacks a column the layout needs."""
    for column in columns:
        rule = field_rule(column)
        if rule is not None and rule.category == "forbidden":
            raise ForbiddenColumn(column, _(
                "{file}: column {column} carries {topic} ({topic_zh}), which Art. 12 forbids collecting; the whole "
                "file is rejected").format(file=source, column=column, topic=rule.topic, topic_zh=rule.topic_zh))
    present = {layout.normalized[normalize_header(c)] for c in columns if normalize_header(c) in layout.normalized}
    missing = [layout.by_role[role] for role in layout.required_roles if layout.by_role[role] not in present]
    if not any(layout.by_role.get(role) in present for role in _CODE_ROLES):
        missing.append(" / ".join(layout.by_role[role] for role in _CODE_ROLES if role in layout.by_role))
    if missing:
        raise DataError(_("{file}: the header has no column for {fields}, which the {layout} layout needs").format(
            file=source, fields=", ".join(missing), layout=layout.name))


class ForbiddenColumn(DataError):
    """An Art. 12 field in a file's header: the whole file is rejected, naming the column."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


def subject_option(requested: str, conn: sa.Connection | None = None) -> str:
    """``--subject`` as a code is read (lower case, full-width, spaces do not matter), compacted; DataError (65)
    naming the option for one that is not a subject's code, the value masked as a person's number may be.

    A unified social credit code that fails only its check character may have been admitted through the
    checksum override: it is looked up as given, and refused like any malformed code only when no subject has
    it (a mistyped character is the likelier cause of a wrong check character)."""
    from lycredit.identity import ChecksumMismatch
    from lycredit.subjects import display_code, find_subject, validate_subject_code

    try:
        return validate_subject_code(requested)[1]
    except DataError as bad:
        if isinstance(bad, ChecksumMismatch) and conn is not None and find_subject(conn, requested) is not None:
            return requested
        raise DataError(_("--subject {value}: {problem}").format(value=display_code(requested),
                                                                 problem=bad.message)) from None


# --- database lookups shared by single and bulk submission ------------------------------------------

def operator_unit(conn: sa.Connection, operator_id: int) -> str:
    """The unified social credit code of the operator's unit."""
    unit = Unit.__table__
    op = Operator.__table__
    return conn.execute(sa.select(unit.c.uscc).join(op, op.c.unit_id == unit.c.id)
                        .where(op.c.id == operator_id)).scalar_one()


def provider_for(conn: sa.Connection, signer: Any, requested: str | None) -> str:
    """The providing unit a submission is for: the operator's own, or ``requested`` for NDRC staff.

    A provider may submit only for its own unit (exit 77 otherwise).
    """
    own = operator_unit(conn, signer.operator_id)
    if not requested:
        return own
    wanted = provider_code(requested)
    if wanted != own and signer.role not in (ADMIN, OPERATOR):
        raise PermissionDenied(_("Operator {operator} ({role}) submits for its own unit {own} only, not for "
                                 "{provider}").format(operator=signer.name, role=signer.role, own=own,
                                                      provider=wanted))
    return wanted


def provider_code(requested: str) -> str:
    """``--provider`` as a code is read (lower case, full-width, spaces do not matter), compacted; DataError (65)
    naming the option for one that is not a unified social credit code."""
    try:
        return validate_uscc(requested)
    except DataError as bad:  # the code alone would not say which value it is about (a file's row, or this)
        raise DataError(_("--provider {value}: {problem}").format(value=requested, problem=bad)) from None


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _driver_rows(conn: sa.Connection, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Rows of one plain query through the driver (``?`` placeholders): the bulk lookups' hot path.

    Not :meth:`lycredit.dbapi.DB.rows`: its named parameters, converted one by one, made an
    ``IN`` list of 2 000 codes 8 times slower on SQLite (named binding alone, 4 times).
    """
    if conn.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, list(params))
        return cursor.fetchall()
    finally:
        cursor.close()


def _in_list(count: int) -> str:
    return ", ".join("?" * count)


def rows_where_in(conn: sa.Connection, sql: str, params: Sequence[Any], values: Sequence[Any]) -> Iterator[tuple]:
    """Rows of ``sql``, whose ``{values}`` is the test of a column against ``values``, after ``params``: on
    PostgreSQL one array, ``= ANY(...)`` (an ``IN`` list of 2 000 parameters is parsed and planned anew each
    time), sent as one text the server splits (:func:`_joined`) where it can be; on SQLite ``IN`` lists of
    :data:`_LOOKUP_CHUNK` parameters."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        joined = _joined(values)
        if joined is None:
            yield from _driver_rows(conn, sql.format(values="= ANY(?)"), [*params, list(values)])
        else:
            yield from _driver_rows(conn, sql.format(values=f"= ANY(string_to_array(?, E'{_UNIT_SEPARATOR_SQL}'))"),
                                    [*params, joined])
        return
    for chunk in _chunks(values, _LOOKUP_CHUNK):
        yield from _driver_rows(conn, sql.format(values=f"IN ({_in_list(len(chunk))})"), [*params, *chunk])


_UNIT_SEPARATOR, _UNIT_SEPARATOR_SQL = "\x1f", "\\x1f"


def _joined(values: Sequence[Any]) -> str | None:
    """Texts as one text, separated by the unit separator (U+001F), for ``string_to_array`` on the server;
    None when that would not give them back exactly (a value that is not text, holds the separator, or a
    lone empty text, which splits into no element). psycopg adapts a list element by element in Python,
    2.5 µs a text: a batch's 10 000 codes or document numbers took 25 ms to send, one text 1 ms."""
    try:
        joined = _UNIT_SEPARATOR.join(values)
    except TypeError:
        return None
    if not joined or joined.count(_UNIT_SEPARATOR) != len(values) - 1:
        return None
    return joined


def subject_ids(conn: sa.Connection, codes: Mapping[str, SubjectKind]) -> dict[str, int]:
    """Ids of the subjects already registered with these codes (a person's found by its blind index)."""
    from lycredit.subjects import protector

    found: dict[str, int] = {}
    orgs = [c for c, k in codes.items() if k != SubjectKind.natural_person]
    found.update((uscc, sid) for sid, uscc in rows_where_in(
        conn, "SELECT id, uscc FROM subject WHERE uscc {values}", (), orgs))
    persons = [c for c, k in codes.items() if k == SubjectKind.natural_person]
    if persons:
        pii = protector()
        indexes = {pii.blind_index(c): c for c in persons}
        found.update((indexes[ix], sid) for sid, ix in rows_where_in(
            conn, "SELECT id, ric_index FROM subject WHERE ric_index {values}", (), list(indexes)))
    return found


_LOOKUP_CHUNK = 2000
"""Codes or document numbers per ``IN`` list (well under SQLite's 32 766 parameters)."""


def existing_records(conn: sa.Connection, provider: str,
                     keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], sa.RowMapping]:
    """The stored records with these (item code, document number) keys of the provider.

    A plain query finds which keys are stored (in a new import, usually none); only those
    are read whole, with their types.
    """
    by_item: dict[str, list[str]] = {}
    for item, document in keys:
        by_item.setdefault(item, []).append(document)
    found: dict[tuple[str, str], sa.RowMapping] = {}
    for item, documents in by_item.items():
        stored = [document for (document,) in rows_where_in(
            conn, "SELECT document_no FROM record WHERE provider_uscc = ? AND item_code = ? AND document_no {values}",
            (provider, item), documents)]
        for part in _stored_parts(conn, stored):
            for row in conn.execute(sa.select(T_RECORD).where(
                    T_RECORD.c.provider_uscc == provider, T_RECORD.c.item_code == item, part)).mappings():
                found[(item, row["document_no"])] = row
    return found


def _stored_parts(conn: sa.Connection, documents: Sequence[str]) -> Iterator[sa.ColumnElement[bool]]:
    """Tests of the document number that together cover ``documents``: on PostgreSQL one array (a re-import
    reads a whole batch of stored records in one statement), sent as one text where it can be, as
    :func:`rows_where_in` sends it; on SQLite ``IN`` lists of 500."""
    if not documents:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        joined = _joined(documents)
        array = (sa.func.string_to_array(joined, _UNIT_SEPARATOR) if joined is not None
                 else sa.bindparam("documents", list(documents), type_=ARRAY(sa.String)))
        yield T_RECORD.c.document_no == sa.any_(array)
        return
    for part in _chunks(documents):
        yield T_RECORD.c.document_no.in_(part)


@dataclass
class Assessment:
    """What a batch of checked rows will do: insert, correct, nothing, or be rejected."""

    new: list[Checked] = field(default_factory=list)
    corrections: list[tuple[Checked, sa.RowMapping]] = field(default_factory=list)
    unchanged: list[tuple[Checked, sa.RowMapping]] = field(default_factory=list)
    rejected: list[tuple[int, str, Rejection]] = field(default_factory=list)
    subject_ids: dict[str, int] = field(default_factory=dict)


def assess(conn: sa.Connection, checked: Sequence[Checked], *, provider: str, run_id: int | None = None,
           known_subjects: dict[str, int] | None = None) -> Assessment:
    """Consent (Art. 11, 12) and the natural key: which checked rows are new, corrections or unchanged.

    A row whose key a stored record of this same import run already holds repeats an earlier
    row of the file (``duplicate_in_file``); one that differs from a withdrawn or archived
    record is rejected (``record_not_active``). A row equal to its stored record collects
    nothing and is unchanged whatever the consent is now (it may have been revoked since);
    every other row needs the consent its fields and item call for.
    """
    out = Assessment()
    known = known_subjects if known_subjects is not None else {}
    wanted = {c.code: c.kind for c in checked if c.code not in known}
    known.update(subject_ids(conn, wanted))
    stored = existing_records(conn, provider, ((c.entry.item.code, c.document_no) for c in checked))
    for row in checked:
        existing = stored.get((row.entry.item.code, row.document_no))
        same_run = existing is not None and run_id is not None and existing["import_run_id"] == run_id
        if existing is not None and not same_run and row.content(known.get(row.code)) == stored_content(existing):
            out.unchanged.append((row, existing))  # collects nothing: no consent asked
            continue
        problems = consent_problems(conn, row, known.get(row.code), provider) if row.consent else None
        if problems:
            out.rejected.extend((row.row, row.raw, p) for p in problems)
        elif existing is None:
            out.new.append(row)
        elif same_run:
            out.rejected.append((row.row, row.raw, duplicate_in_file(row)))
        elif existing["status"] != ACTIVE:
            out.rejected.append((row.row, row.raw, Rejection(row.document_field, "record_not_active", _(
                "record {id} with this document number is {status}; it cannot be corrected").format(
                id=existing["id"], status=existing["status"]))))
        else:
            out.corrections.append((row, existing))
    out.subject_ids = known
    return out


def duplicate_in_file(row: Checked) -> Rejection:
    """The rejection of a row whose item and document number an earlier row of the same file had."""
    return Rejection(row.document_field, "duplicate_in_file", _(
        "the document number {number} of item {item} is already in this file").format(
        number=row.document_no, item=row.entry.item.code))


def consent_problems(conn: sa.Connection, row: Checked, subject_id: int | None, provider: str) -> list[Rejection]:
    """A consent the row needs and that is not in force on its decision date, given to the provider."""
    from lycredit.authorizations import consent_in_force, consent_scope

    problems = []
    for column, topic in row.consent:
        if subject_id is None or not consent_in_force(conn, subject_id, topic, row.decision, grantee=provider):
            what = (_("market credit information about a natural person (Art. 11)") if topic == "market"
                    else _("{topic} ({topic_zh}) of a natural person (Art. 12)").format(
                        topic=topic, topic_zh=_CONSENT_TOPICS_ZH[topic]))
            problems.append(Rejection(column, "consent_missing", _(
                "{what} needs the person's consent: no {scope} authorisation given to {provider} is in force on "
                "{day}").format(what=what, scope=consent_scope(topic), provider=provider, day=row.decision)))
    return problems


_CONSENT_TOPICS_ZH = {rule.topic: rule.topic_zh for rule in CONSENT_FIELDS}


# --- writing one record ------------------------------------------------------------------------------

def record_values(row: Checked, *, record_id: int, subject_id: int, provider: str, submitted_at: dt.datetime,
                  submitted_by: str, import_run_id: int | None) -> dict[str, Any]:
    """The ``record`` row of a new submission (revision 1, active)."""
    return {"id": record_id, "provider_uscc": provider, "item_code": row.entry.item.code,
            "document_no": row.document_no, "catalog_item_id": row.entry.id, "subject_id": subject_id,
            "decision_date": row.decision, "concluded_on": row.concluded, "act_ended_on": row.act_ended,
            "publicity_until": row.publicity, "disclosure_until": row.disclosure, "fields": row.fields,
            "status": ACTIVE, "revision": 1, "due_date": row.due, "due_guessed": row.guessed, "late_days": row.late,
            "submitted_at": submitted_at, "submitted_by": submitted_by, "import_run_id": import_run_id,
            "archived_on": None}


def _day(value: dt.date | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


NOTHING_BEFORE = "{}"
"""The state before a submission: there was no record before it."""


def submission_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """Revision 1 of a record, its submission, as a ``record_history`` row would hold it.

    ``record_history`` keeps the state *before* each later change (correction, withdrawal,
    repair). The submission itself is not stored there: there is nothing before it, and
    when and by whom it was made are the record's own ``submitted_at`` and
    ``submitted_by``, which no later change alters. Outputs show it as the first entry of
    a record's history (:func:`with_submission`).
    """
    return {"id": None, "record_id": record["id"], "revision": 1, "change": "submit", "fields": NOTHING_BEFORE,
            "reason": None, "changed_at": record["submitted_at"], "changed_by": record["submitted_by"]}


def with_submission(record: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A record's history rows, oldest first, led by its submission (unless stored as a row, as it once was)."""
    rows = list(history)
    if rows and rows[0]["revision"] == 1:
        return rows
    return [submission_entry(record), *rows]


def snapshot(record: Mapping[str, Any]) -> str:
    """A stored revision as ``record_history`` keeps it: the subject, the dates and the fields (Art. 30)."""
    return (f'{{"act_ended_on":{_day(record["act_ended_on"])},"concluded_on":{_day(record["concluded_on"])},'
            f'"decision_date":{_day(record["decision_date"])},"fields":{record["fields"]},'
            f'"publicity_until":{_day(record["publicity_until"])},"revision":{record["revision"]},'
            f'"subject_id":{record["subject_id"]}}}')


def revise(uow: UnitOfWork, record: Mapping[str, Any], change: str, values: Mapping[str, Any],
           reason: str) -> dict[str, Any]:
    """The record's next revision with ``values``, and its state before kept in ``record_history`` (Art. 30)."""
    revision = record["revision"] + 1
    after = uow.update(T_RECORD, {"id": record["id"]}, {**values, "revision": revision})
    uow.insert(T_HISTORY, {
        "id": next_id(uow.conn, T_HISTORY), "record_id": record["id"], "revision": revision, "change": change,
        "fields": snapshot(record), "reason": reason, "changed_at": utcnow(), "changed_by": uow.signer.name})
    return after


def next_id(conn: sa.Connection, table: sa.Table) -> int:
    """The next application-assigned id (call under the log's lock, inside the operation)."""
    return (conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


def insert_record(uow: UnitOfWork, row: Checked, subject_id: int, provider: str,
                  import_run_id: int | None = None) -> dict[str, Any]:
    """Insert one new record through the unit of work (its submission is the record's revision 1)."""
    return uow.insert(T_RECORD, record_values(
        row, record_id=next_id(uow.conn, T_RECORD), subject_id=subject_id, provider=provider,
        submitted_at=utcnow(), submitted_by=uow.signer.name, import_run_id=import_run_id))


def apply_correction(uow: UnitOfWork, row: Checked, existing: Mapping[str, Any], subject_id: int, reason: str,
                     import_run_id: int | None = None) -> dict[str, Any]:
    """Correct a stored record: the next revision, the new content, the old revision kept in the history.

    The submission facts (when, by whom, due date, working days late) stay: lateness is judged on
    the original submission (Art. 46).
    """
    changes = {"catalog_item_id": row.entry.id, "subject_id": subject_id, "decision_date": row.decision,
               "concluded_on": row.concluded, "act_ended_on": row.act_ended, "publicity_until": row.publicity,
               "disclosure_until": row.disclosure, "fields": row.fields}
    if import_run_id is not None:
        changes["import_run_id"] = import_run_id
    return revise(uow, existing, "correct", changes, reason)


# --- single-record operations --------------------------------------------------------------------------

class RecordRejected(DataError):
    """A submitted or corrected record that breaks rules: every rejection, each naming field and rule."""

    def __init__(self, problems: Sequence[Rejection]):
        super().__init__(_("The record is rejected:") + "\n" + "\n".join(
            _("  {field}: {message} [{rule}]").format(field=p.field, message=p.message, rule=p.rule)
            for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Outcome:
    """What a single operation did: ``submitted``, ``corrected``, ``unchanged`` or ``withdrawn``."""

    action: str
    record: dict[str, Any]


def _checker(conn: sa.Connection, layout: Layout, columns: Sequence[str], provider: str, as_of: dt.date,
             assume_weekends: bool) -> RowChecker:
    from lycredit.calendar_store import load_calendar

    try:
        return RowChecker(layout, columns, provider=provider, as_of=as_of,
                          calendar=load_calendar(conn, assume_weekends), catalog=CatalogIndex(conn),
                          source=_("the record"))
    except ForbiddenColumn as forbidden:  # the import's message speaks of its file: one record is rejected
        rule = field_rule(forbidden.column)
        raise RecordRejected([Rejection(forbidden.column, "forbidden_field", _(
            "the field carries {topic} ({topic_zh}), which Art. 12 forbids collecting").format(
            topic=rule.topic, topic_zh=rule.topic_zh))]) from None


def _refuse_non_text(values: Mapping[str, str | None]) -> None:
    """RecordRejected for a field name or value that is not Unicode text: half of a surrogate pair, which is
    what Python makes of bytes that are not UTF-8 in a command's arguments (a shell in another encoding). The
    files an import reads refuse them when they are read (:mod:`lycredit.readers`)."""
    problems = [Rejection(escaped(name), "not_text", _(
                    "the value holds bytes that are not UTF-8 text ({value}); give it as UTF-8").format(
                    value=_shown(escaped(text or ""))))
                for name, text in values.items()
                if SURROGATE.search(name) or text is not None and SURROGATE.search(text)]
    if problems:
        raise RecordRejected(problems)


def submit(uow: UnitOfWork, values: Mapping[str, str | None], *, provider: str, as_of: dt.date,
           assume_weekends: bool = False, dry_run: bool = False) -> Outcome:
    """Submit one record given in the generic layout's names (事项编码, 主体代码, 主体名称, 文书号, 决定日期 ...).

    The same rules as a bulk import; a record with the same natural key and the same content
    changes nothing, with other content it is a correction (the old revision kept). ``as_of`` may not be
    after today unless ``dry_run`` (:func:`intake_day`).
    """
    intake_day(as_of, dry_run=dry_run)
    cleaned = {k.strip(): (v.strip() if isinstance(v, str) else v) or None for k, v in values.items()}
    _refuse_non_text(cleaned)
    check_value_lengths(cleaned, _("the record"))
    checker = _checker(uow.conn, GENERIC, list(cleaned), provider, as_of, assume_weekends)
    result = checker.check(1, cleaned)
    if isinstance(result, list):
        raise RecordRejected(result)
    return _store(uow, result, provider, reason=uow.reason or "resubmitted")


def intake_day(as_of: dt.date, *, dry_run: bool, today: dt.date | None = None) -> None:
    """Records are checked as of ``as_of`` (``--as-of``): an earlier day replays an intake that was missed, but a
    later one would let a decision dated after today pass and count a deadline from a day to come, marking a
    record late that is not: UsageError (2), unless it is a dry run (a preview), as the sweep refuses it."""
    today = shanghai_today() if today is None else today
    if as_of > today and not dry_run:
        raise UsageError(_("Cannot take in records as of {as_of}, after today ({today}): a decision dated after "
                           "today would pass and deadlines would be counted from a day to come. Use --dry-run to "
                           "preview").format(as_of=as_of, today=today))


def _store(uow: UnitOfWork, row: Checked, provider: str, reason: str) -> Outcome:
    from lycredit.subjects import resolve_or_create

    found = assess(uow.conn, [row], provider=provider)
    if found.rejected:
        raise RecordRejected([problem for _row, _raw, problem in found.rejected])
    if found.unchanged:
        return Outcome("unchanged", dict(found.unchanged[0][1]))
    subject_id = resolve_or_create(uow, row.code, row.name)
    if found.corrections:
        return Outcome("corrected", apply_correction(uow, row, found.corrections[0][1], subject_id, reason))
    return Outcome("submitted", insert_record(uow, row, subject_id, provider))


def get_record(conn: sa.Connection, key: str | int, provider: str | None = None) -> sa.RowMapping:
    """A record by id, or by ``ITEM_CODE:DOCUMENT_NO`` of ``provider``; NotFound (65) otherwise."""
    text = str(key).strip()
    if text.isdecimal():  # not isdigit(): int() refuses a superscript or circled digit ('²', '①')
        number = int(text) if len(text) <= 20 else MAX_ID + 1  # int() refuses more than 4300 digits
        if number > MAX_ID:  # no record has it, and PostgreSQL cannot even compare with it
            raise NotFound(_("No record {key}").format(key=text))
        where = [T_RECORD.c.id == number]
    else:
        item, sep, document = text.partition(":")
        if not sep:
            raise UsageError(_("Name a record by its id or as ITEM_CODE:DOCUMENT_NO, not {key}").format(key=text))
        if provider is None:
            raise UsageError(_("Record {key} is named by its item and document number: give its provider with "
                               "--provider USCC").format(key=text))
        where = [T_RECORD.c.provider_uscc == provider, T_RECORD.c.item_code == item, T_RECORD.c.document_no == document]
    row = conn.execute(sa.select(T_RECORD).where(*where)).mappings().first()
    if row is None:
        raise NotFound(_("No record {key}").format(key=text))
    return row


def _owned_by(uow: UnitOfWork, record: Mapping[str, Any]) -> None:
    """A provider changes only its own unit's records; NDRC staff any (exit 77 otherwise)."""
    if uow.signer.role in (ADMIN, OPERATOR):
        return
    unit = operator_unit(uow.conn, uow.signer.operator_id)
    if record["provider_uscc"] != unit:
        raise PermissionDenied(_("Record {id} was provided by {provider}; operator {operator} of {unit} may not "
                                 "change it").format(id=record["id"], provider=record["provider_uscc"],
                                                     operator=uow.signer.name, unit=unit))


def _row_of(conn: sa.Connection, record: Mapping[str, Any]) -> tuple[Layout, dict[str, str | None]]:
    """A stored record as the row that would submit it again (the subject's code and name in clear)."""
    from lycredit.subjects import subject_by_id, subject_view

    fields = json.loads(record["fields"])
    layout = layout_of_fields(fields)
    subject = subject_view(conn, subject_by_id(conn, record["subject_id"]), reveal=True)
    person = subject["kind"] == SubjectKind.natural_person
    code_role = SUBJECT_CODE if layout is GENERIC else SUBJECT_RIC if person else SUBJECT_USCC
    values = {layout.by_role[ITEM_CODE]: record["item_code"], layout.by_role[code_role]: subject["code"],
              layout.by_role[SUBJECT_NAME]: subject["name"]}
    return layout, {**values, **fields}


def _corrected_subject(conn: sa.Connection, record: Mapping[str, Any], layout: Layout,
                       values: dict[str, str | None], named: Mapping[str, str], as_of: dt.date) -> None:
    """The subject a correction names, and its name, in ``values`` (the record's row, the changes applied).

    A subject's name belongs to the subject, not to the record: a registered subject keeps the name it
    was registered under, so the row takes that name. A correction that names a code not registered yet
    must give the new subject's name (the present subject's name would otherwise be registered under the
    new code). A name that differs from the registered one is refused: a correction cannot rename a
    subject, and saying nothing would report the record unchanged or drop the name. A person's number and
    name appear masked in every message. A code or name that breaks a rule is left to the row's check.
    """
    from lycredit.subjects import (
        display_code,
        find_subject,
        subject_by_id,
        subject_view,
        validate_subject_code,
    )

    roles = {target: layout.by_name[target].role for target in named if target in layout.by_name}
    code_fields = [target for target, role in roles.items() if role in _CODE_ROLES]
    if code_fields:  # the correction says who the subject is: the stored code is not a second opinion
        for role in _CODE_ROLES:
            column = layout.by_role.get(role)
            if column is not None and column not in code_fields:
                values.pop(column, None)
    name_field = layout.by_role[SUBJECT_NAME]
    name_given = name_field in named
    code = next((values[f] for f in code_fields if values.get(f)), None)
    if code is None:
        if code_fields:  # emptied: the check says the code is required
            return
        subject = subject_by_id(conn, record["subject_id"])
    else:
        try:
            validate_subject_code(code, today=as_of)
        except DataError:
            return
        subject = find_subject(conn, code)
    if subject is None:
        if not name_given:
            raise DataError(_("Record {id}: subject {code} is not registered; give its name with --field "
                              "{field}=NAME to register it (the name of the record's present subject is not "
                              "taken for another subject)").format(id=record["id"], code=display_code(code),
                                                                   field=name_field))
        return
    registered = subject_view(conn, subject, reveal=True)["name"]
    given = values.get(name_field) if name_given else None
    if name_given and not given:  # emptied: the check says the name is required
        return
    if given is not None and strip_invisible(unicodedata.normalize("NFC", given)) != registered:
        shown = subject_view(conn, subject)
        if subject["id"] == record["subject_id"]:
            raise DataError(_("Record {id}: {field} is the name of the record's subject {code}, registered as "
                              "{name}; a name is kept with the subject, not with the record, and a correction "
                              "cannot change it. To name another subject, correct the subject's code").format(
                id=record["id"], field=named[name_field], code=shown["code"], name=shown["name"]))
        raise DataError(_("Record {id}: subject {code} is registered as {name}; a name is kept with the subject, "
                          "not with the record, and a correction cannot change it: leave {field} out or give "
                          "it as registered").format(id=record["id"], code=shown["code"], name=shown["name"],
                                                     field=named[name_field]))
    values[name_field] = registered


def correct(uow: UnitOfWork, key: str | int, changes: Mapping[str, str | None], *, reason: str, as_of: dt.date,
            provider: str | None = None, assume_weekends: bool = False, dry_run: bool = False) -> Outcome:
    """Correct a record's fields (``changes`` by field name; an empty value removes a field).

    The corrected record is checked by every rule again; its natural key (item, document
    number) cannot change: withdraw it and submit a new one instead. ``as_of`` may not be after today
    unless ``dry_run`` (:func:`intake_day`).
    """
    intake_day(as_of, dry_run=dry_run)
    if not (reason or "").strip():
        raise UsageError(_("A correction needs a reason (--reason): it is kept in the record's history."))
    record = get_record(uow.conn, key, provider)
    _owned_by(uow, record)
    if record["status"] != ACTIVE:
        raise DataError(_("Record {id} is {status}; only an active record can be corrected").format(
            id=record["id"], status=record["status"]))
    layout, values = _row_of(uow.conn, record)
    by_key = {normalize_header(k): k for k in values}
    named: dict[str, str] = {}
    for name, value in changes.items():
        norm = normalize_header(name)
        target = by_key.get(norm) or layout.normalized.get(norm) or name.strip()
        if named.setdefault(target, name) != name:  # fine= and 罚款金额（万元）=: which one?
            raise UsageError(_("field {name} is given twice (as {earlier} and {name}); give it once").format(
                name=name, earlier=named[target]))
        values[target] = (value or "").strip() or None
    _refuse_non_text(values)
    check_value_lengths(values, _("the record"))
    _corrected_subject(uow.conn, record, layout, values, named, as_of)
    checker = _checker(uow.conn, layout, list(values), record["provider_uscc"], as_of, assume_weekends)
    result = checker.check(1, values)
    if isinstance(result, list):
        raise RecordRejected(result)
    if (result.entry.item.code, result.document_no) != (record["item_code"], record["document_no"]):
        raise DataError(_("The item code and the document number identify record {id} and cannot be corrected; "
                          "withdraw it and submit a new record").format(id=record["id"]))
    return _store(uow, result, record["provider_uscc"], reason)


def withdraw(uow: UnitOfWork, key: str | int, *, reason: str, provider: str | None = None) -> Outcome:
    """Withdraw a record (status ``withdrawn``, the next revision); it and its history are kept."""
    if not (reason or "").strip():
        raise UsageError(_("A withdrawal needs a reason (--reason): it is kept in the record's history."))
    record = get_record(uow.conn, key, provider)
    _owned_by(uow, record)
    if record["status"] != ACTIVE:
        raise DataError(_("Record {id} is {status}; only an active record can be withdrawn").format(
            id=record["id"], status=record["status"]))
    return Outcome("withdrawn", revise(uow, record, "withdraw", {"status": WITHDRAWN}, reason))


LIST_COLUMNS = ["id", "provider_uscc", "item_code", "document_no", "subject", "subject_name", "decision_date",
                "concluded_on", "due_date", "due_guessed", "late_days", "disclosure_until", "status", "revision"]


def _view(record: Mapping[str, Any], subject: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: record[k] for k in LIST_COLUMNS if k in record}
    return {**view, "subject": subject["code"], "subject_name": subject["name"]}


def show(conn: sa.Connection, key: str | int, provider: str | None = None) -> dict[str, Any]:
    """A record with its fields, its subject (a person's code and name masked) and its history."""
    from lycredit.subjects import subject_by_id, subject_view

    record = get_record(conn, key, provider_code(provider) if provider else None)
    subject = subject_view(conn, subject_by_id(conn, record["subject_id"]))
    history = conn.execute(sa.select(T_HISTORY).where(T_HISTORY.c.record_id == record["id"])
                           .order_by(T_HISTORY.c.revision, T_HISTORY.c.id)).mappings().all()
    return {**_view(record, subject), "subject_kind": subject["kind"], "act_ended_on": record["act_ended_on"],
            "publicity_until": record["publicity_until"], "due_guessed": record["due_guessed"],
            "submitted_at": record["submitted_at"], "submitted_by": record["submitted_by"],
            "import_run_id": record["import_run_id"], "fields": json.loads(record["fields"]),
            "history": [{"revision": h["revision"], "change": h["change"], "reason": h["reason"],
                         "changed_at": h["changed_at"], "changed_by": h["changed_by"]}
                        for h in with_submission(record, history)]}


def list_(conn: sa.Connection, *, provider: str | None = None, item: str | None = None, subject: str | None = None,
          status: str | None = None, late_only: bool = False, guessed_only: bool = False,
          limit: int = 1000) -> list[dict[str, Any]]:
    """Records, newest first, filtered; a person's code and name masked."""
    from lycredit.subjects import T_SUBJECT, find_subject, subject_view

    query = sa.select(T_RECORD).order_by(T_RECORD.c.id.desc()).limit(limit)
    if provider:
        query = query.where(T_RECORD.c.provider_uscc == provider_code(provider))
    if item:
        query = query.where(T_RECORD.c.item_code == item)
    if status:
        query = query.where(T_RECORD.c.status == status)
    if late_only:
        query = query.where(T_RECORD.c.late_days > 0)
    if guessed_only:
        query = query.where(T_RECORD.c.due_guessed.is_(True))
    if subject:
        found = find_subject(conn, subject_option(subject, conn))
        if found is None:
            return []
        query = query.where(T_RECORD.c.subject_id == found["id"])
    records = conn.execute(query).mappings().all()
    ids = sorted({r["subject_id"] for r in records})
    subjects = {}
    for chunk in _chunks(ids):
        for row in conn.execute(sa.select(T_SUBJECT).where(T_SUBJECT.c.id.in_(chunk))).mappings():
            subjects[row["id"]] = subject_view(conn, row)
    return [_view(r, subjects[r["subject_id"]]) for r in records]
