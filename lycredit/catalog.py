"""The public credit information catalog (公共信用信息目录): Art. 9, with Art. 10, 11, 12, 13 and 15.

Art. 9: information is collected by catalog, and every item of the catalog names its providing
unit (信息提供单位) and that unit's unified social credit code, the information item (信息事项),
its data standard (数据标准), its disclosure method (披露方式) and its validity period (有效期限).
The catalog is an allow-list, versioned by effective date: a record is validated against the
version in force on its decision date (:func:`catalog_in_force`).

What an import checks, for every row, reporting every problem at once (nothing is written
unless the whole file is clean):

* the provider's code is a valid GB 32100 code (:func:`lycredit.identity.validate_uscc`);
* the category is one of Art. 10 (登记类, 行政行为, 表彰奖励/公益/志愿, 拒不执行生效法律文书, 其他)
  or market credit information (市场信用信息, Art. 11);
* the disclosure method is one of Art. 13 (社会公开, 政务共享, 授权查询);
* dishonesty information (失信信息) has a validity of at most five years (Art. 15);
* the data standard names no field that Art. 12 forbids collecting (religion, genes,
  fingerprints, blood type, diseases, medical history);
* item codes are unique within the file.

Files are read through :mod:`lycredit.readers` (CSV in UTF-8, UTF-8 with BOM or GB18030, XLSX,
JSON, NDJSON, Parquet), with Chinese or English column names (:data:`COLUMNS`). An export
(:func:`export`, :func:`write_catalog_file`) writes the Chinese columns and labels, and imports
back unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lycredit.errors import DataError, NotFound, UsageError
from lycredit.i18n import N_, _
from lycredit.identity import SubjectKind, field_rule, validate_uscc
from lycredit.inputs import escaped
from lycredit.models import CatalogItem, CatalogVersion
from lycredit.models.base import utcnow
from lycredit.oplog.append import as_text
from lycredit.oplog.log import UnitOfWork
from lycredit.outputs import output_file
from lycredit.periods import ART15_MAX_YEARS, shanghai_today
from lycredit.readers import (
    DEFAULT_MAX_CELL_CHARS,
    Row,
    Table,
    map_headers,
    normalize_header,
    open_table,
    too_many_digits,
)

T_VERSION = CatalogVersion.__table__
T_ITEM = CatalogItem.__table__

# --- vocabularies: canonical value -> the Chinese label the regulation uses ----------------------

DISCLOSURES: dict[str, str] = {"public": "社会公开", "gov_share": "政务共享", "authorised": "授权查询"}
"""Art. 13: 社会公开, 政务共享, 授权查询."""

CATEGORIES: dict[str, str] = {
    "registration": "登记类",
    "administrative": "行政行为",
    "honour": "表彰奖励",
    "judicial": "拒不执行生效法律文书",
    "other": "其他",
    "market": "市场信用信息",
}
"""Art. 10 (1)-(5), and market credit information of Art. 11."""

SEVERITIES: dict[str, str] = {"general": "一般", "serious": "严重"}
FIELD_TYPES: dict[str, str] = {
    "text": "文本", "date": "日期", "decimal": "数值", "integer": "整数",
    "code": "信用代码", "ric": "身份证号", "enum": "枚举",
}
"""Types of a data-standard field: ``code`` is a unified social credit code, ``ric`` a resident ID number."""

SUBJECT_KINDS: dict[str, str] = {kind.value: kind.label_zh for kind in SubjectKind}

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("事项编码", "事项代码", "编码"),
    "item": ("信息事项", "事项名称"),
    "provider": ("信息提供单位", "提供单位"),
    "provider_uscc": ("统一社会信用代码", "信息提供单位统一社会信用代码", "provider uscc"),
    "category": ("信息类别", "类别"),
    "data_standard": ("数据标准", "data standard"),
    "disclosure": ("公开方式", "披露方式"),
    "validity": ("有效期限", "有效期", "披露期限", "公示期限"),
    "dishonesty": ("是否失信信息", "失信信息"),
    "severity": ("失信严重程度", "严重程度"),
    "subject_kinds": ("适用主体", "主体类型", "subject kinds"),
}
"""Each field of a catalog file and the column names that name it (its own name is English)."""

REQUIRED_COLUMNS = ("code", "item", "provider", "provider_uscc", "category", "data_standard", "disclosure",
                    "validity")
EXPORT_HEADERS: dict[str, str] = {name: aliases[0] for name, aliases in COLUMNS.items()}

_NO_LIMIT = ("长期", "永久", "无期限", "不限", "none", "unlimited", "permanent")
_YES = ("是", "yes", "y", "true", "1")
_NO = ("否", "no", "n", "false", "0")
_REQUIRED = ("必填", "必须", "required", *_YES)
_OPTIONAL = ("选填", "非必填", "可选", "optional", *_NO)


def _lookup(labels: Mapping[str, str], **aliases: Sequence[str]) -> dict[str, str]:
    table = {normalize_header(name): key for key, label in labels.items() for name in (key, label)}
    return table | {normalize_header(alias): key for key, names in aliases.items() for alias in names}


_DISCLOSURE_LOOKUP = _lookup(DISCLOSURES, authorised=("authorized",))
_CATEGORY_LOOKUP = _lookup(
    CATEGORIES,
    registration=("登记类信息", "登记"),
    administrative=("行政许可", "行政处罚", "行政强制", "行政征收", "行政奖励", "行政行为类"),
    honour=("honor", "社会公益", "公益", "志愿服务", "志愿", "表彰奖励、公益、志愿"),
    judicial=("拒不执行判决、裁定等生效法律文书",),
    market=("市场信用",),
)
_SEVERITY_LOOKUP = _lookup(SEVERITIES)
_TYPE_LOOKUP = _lookup(
    FIELD_TYPES,
    text=("字符", "字符串", "string"), decimal=("数字", "金额", "小数", "number"), integer=("int",),
    code=("统一社会信用代码", "uscc"), ric=("身份证号码", "公民身份号码"),
)
_KIND_LOOKUP = _lookup(SUBJECT_KINDS)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VALIDITY = re.compile(r"(?P<n>[0-9]{1,4}|(?:[二两三四五六七八九]?十)?[一二两三四五六七八九]?) ?"
                       r"(?P<unit>年|个月|月|years?|months?|y|m)")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_MAX_TEXT = 200
_MAX_SHOWN_PROBLEMS = 200
_SHOWN_CHARS = 50
# A NUL character, which a PostgreSQL text cannot hold (SQLite would store it: the backends would differ), and
# half of a surrogate pair (JSON's \ud800), which is no character and which no UTF-8 text can hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_field_rule = functools.lru_cache(maxsize=4096)(field_rule)  # field names recur across items


# --- the data standard (数据标准) -------------------------------------------------------------------

@dataclass(frozen=True)
class DataField:
    """One field a record of the item carries: its name, type, whether it is required, enum values."""

    name: str
    type: str
    required: bool
    values: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        return out | {"values": list(self.values)} if self.type == "enum" else out

    def compact(self) -> str:
        kind = FIELD_TYPES[self.type] + (f"({'|'.join(self.values)})" if self.type == "enum" else "")
        return f"{self.name}:{kind}:{'必填' if self.required else '选填'}"


def format_data_standard(fields: Sequence[DataField]) -> str:
    """The compact text form ``字段名:类型:必填; ...``, which :func:`parse_data_standard` reads back."""
    return "; ".join(f.compact() for f in fields)


def _exported_data_standard(fields: tuple[DataField, ...]) -> str:
    """The compact text form, or the JSON list when the compact form would not read back as ``fields``
    (a name or enum value holding a line break or a full-width ｜, which the JSON form may carry)."""
    compact = format_data_standard(fields)
    if _data_standard(compact) == (fields, []):
        return compact
    return json.dumps([f.as_dict() for f in fields], ensure_ascii=False)


def parse_data_standard(text: str) -> tuple[DataField, ...]:
    """Read a data standard: compact text ``名称:类型:必填; ...`` or a JSON list of field objects.

    Raises DataError listing every problem (unknown type, duplicate name, an Art. 12 field...).
    """
    fields, problems = _data_standard(text)
    if problems:
        raise DataError(_("Data standard: {problems}").format(problems="; ".join(problems)))
    return fields


def _data_standard(text: str) -> tuple[tuple[DataField, ...], list[str]]:
    problems: list[str] = []
    specs = _json_specs(text, problems) if text.lstrip().startswith("[") else _compact_specs(text)
    fields: list[DataField] = []
    seen: set[str] = set()
    for number, spec in enumerate(specs, 1):
        try:
            data_field = _data_field(number, *spec)
        except DataError as exc:
            problems.append(exc.message)
            continue
        key = normalize_header(data_field.name)
        if key in seen:
            problems.append(_("field {name} is named twice").format(name=data_field.name))
        seen.add(key)
        rule = _field_rule(data_field.name)
        if rule is not None and rule.category == "forbidden":
            problems.append(_("field {name} carries {topic} ({topic_zh}), which Art. 12 forbids collecting")
                            .format(name=data_field.name, topic=rule.topic, topic_zh=rule.topic_zh))
        fields.append(data_field)
    if not specs and not problems:
        problems.append(_("the data standard names no field (Art. 9 requires one for every item)"))
    return tuple(fields), problems


def _compact_specs(text: str) -> list[tuple[Any, Any, Any, Any]]:
    specs = []
    for part in re.split(r"[;；\n]", text):
        if part.strip():
            name, kind, required = (re.split(r"[:：]", part, maxsplit=2) + ["", ""])[:3]
            specs.append((name, kind, required, None))
    return specs


def _json_specs(text: str, problems: list[str]) -> list[tuple[Any, Any, Any, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(_("the JSON list is malformed ({detail})").format(detail=exc.msg))
        return []
    except RecursionError:  # [[[[... nested deeper than the decoder goes
        problems.append(_("the JSON list is malformed ({detail})").format(detail=_("nested too deeply")))
        return []
    except ValueError:  # an integer beyond Python's limit of digits for int(str): not a JSONDecodeError
        problems.append(_("the JSON list is malformed ({detail})").format(detail=too_many_digits()))
        return []
    if not isinstance(data, list) or not all(isinstance(obj, dict) for obj in data):
        problems.append(_('the JSON form must be a list of objects [{"name", "type", "required"}]'))
        return []
    # \u0000 and \ud800 decode to text that cannot be stored (or even printed, in a message naming it)
    for obj in data:
        for key, value in obj.items():
            for text in (key, value, *(value if isinstance(value, list) else ())):
                if (problem := _unstorable(text)) is not None:
                    problems.append(problem)
                    return []
    specs = []
    for obj in data:
        unknown = sorted(set(obj) - {"name", "type", "required", "values"})
        if unknown:
            problem = _("field {name}: unknown key(s) {keys}; the keys are name, type, required, values")
            problems.append(problem.format(name=obj.get("name"), keys=", ".join(unknown)))
        specs.append((obj.get("name"), obj.get("type"), obj.get("required", False), obj.get("values")))
    return specs


def _unstorable(value: Any) -> str | None:
    """The problem with a text that no database can store (a NUL character, half of a surrogate pair), naming
    it with those characters escaped; None for anything else."""
    if not isinstance(value, str) or not _UNSTORABLE.search(value):
        return None
    shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
    return _("{value} is not text that can be stored: it holds a NUL character or half of a surrogate pair").format(
        value=escaped(shown).replace("\x00", "\\x00"))


def _data_field(number: int, name: Any, kind: Any, required: Any, values: Any) -> DataField:
    if not isinstance(name, str) or not name.strip():
        raise DataError(_("field {number} has no name").format(number=number))
    name = name.strip()
    if re.search(r"[:;：；|]", name):
        raise DataError(_("field name {name} contains one of : ; |").format(name=name))
    if not isinstance(kind, str) or not kind.strip():
        raise DataError(_("field {name} has no type").format(name=name))
    enum = re.fullmatch(r"([^(（]+)[(（](.*)[)）]", kind.strip(), re.S)
    type_name = _TYPE_LOOKUP.get(normalize_header(enum.group(1) if enum else kind))
    if type_name is None or (enum and type_name != "enum"):
        raise DataError(_("field {name}: unknown type {type}; use one of {types}").format(
            name=name, type=kind.strip(), types=", ".join(f"{k} ({v})" for k, v in FIELD_TYPES.items())))
    return DataField(name, type_name, _flag(required, name), _enum_values(name, type_name, enum, values))


def _flag(required: Any, name: str) -> bool:
    if isinstance(required, bool):
        return required
    word = normalize_header(str(required or ""))
    if word in _REQUIRED:
        return True
    if not word or word in _OPTIONAL:
        return False
    raise DataError(_("field {name}: {value} does not say whether the field is required; use 必填 or 选填")
                   .format(name=name, value=required))


def _enum_values(name: str, type_name: str, enum: re.Match | None, values: Any) -> tuple[str, ...]:
    if type_name != "enum":
        if values:
            raise DataError(_("field {name}: only an enum field has values").format(name=name))
        return ()
    if enum is not None:
        values = re.split(r"[|｜]", enum.group(2))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DataError(_("field {name}: an enum needs its values, as enum(a|b) or a list").format(name=name))
    cleaned = tuple(v.strip() for v in values if v.strip())
    if not cleaned:
        raise DataError(_("field {name}: the enum has no values").format(name=name))
    if len(set(cleaned)) != len(cleaned):
        raise DataError(_("field {name}: an enum value is listed twice").format(name=name))
    if any(re.search(r"[:;：；|()]", v) for v in cleaned):
        raise DataError(_("field {name}: an enum value contains one of : ; | ( )").format(name=name))
    return cleaned


# --- single values ------------------------------------------------------------------------------

def parse_validity(text: str | None) -> int | None:
    """The validity period (有效期限) in months: ``3年`` and ``36个月`` are 36; ``长期`` or empty is None.

    None means no limit; a plain number without a unit is refused, as it could mean years or months.
    """
    folded = normalize_header(text or "")
    if not folded or folded in _NO_LIMIT:
        return None
    match = _VALIDITY.fullmatch(folded)
    if match is None or not match.group("n"):
        raise DataError(_("validity {value} is not a period; write it as 3年, 36个月 or 长期 (no limit)")
                        .format(value=text))
    count = _count(match.group("n"))
    months = count * 12 if match.group("unit")[0] in "年y" else count
    if months < 1:
        raise DataError(_("validity {value} is shorter than one month").format(value=text))
    return months


def format_validity(months: int | None) -> str:
    """The text :func:`parse_validity` reads back: whole years as ``N年``, else ``N个月``; None ``长期``."""
    if months is None:
        return "长期"
    return f"{months // 12}年" if months % 12 == 0 else f"{months}个月"


def _count(text: str) -> int:
    if text.isascii():
        return int(text)
    tens, ten, ones = text.rpartition("十")
    return (_CN_DIGITS.get(tens, 1) * 10 if ten else 0) + _CN_DIGITS.get(ones, 0)


def _art15_cap(validity_months: int | None) -> str | None:
    """Art. 15: dishonesty information (失信信息) is disclosed for at most five years.

    The problem with a dishonesty item's validity, or None when it respects the cap.
    """
    limit = ART15_MAX_YEARS * 12
    if validity_months is None:
        return _("dishonesty information is disclosed for at most {years} years (Art. 15); a dishonesty item "
                 "needs a validity period, not 长期 (no limit)").format(years=ART15_MAX_YEARS)
    if validity_months > limit:
        return _("dishonesty information is disclosed for at most {years} years (Art. 15); this item says "
                 "{months} months").format(years=ART15_MAX_YEARS, months=validity_months)
    return None


def _choice(lookup: Mapping[str, str], labels: Mapping[str, str], what: str, rule: str) -> Any:
    def parse(value: str | None) -> str:
        found = lookup.get(normalize_header(value or ""))
        if found is None:
            raise DataError(_("{value} is not a known {what}; use one of {choices} ({rule})").format(
                value=value or "''", what=_(what), rule=_(rule),
                choices=", ".join(f"{label} ({key})" for key, label in labels.items())))
        return found
    return parse


_category = _choice(_CATEGORY_LOOKUP, CATEGORIES, N_("category"), N_("Art. 10, 11"))
_disclosure = _choice(_DISCLOSURE_LOOKUP, DISCLOSURES, N_("disclosure method"), N_("Art. 13"))
_severity_choice = _choice(_SEVERITY_LOOKUP, SEVERITIES, N_("severity"), N_("Art. 22"))


def _severity(value: str | None) -> str | None:
    return _severity_choice(value) if value else None


def _yes_no(value: str | None) -> bool:
    word = normalize_header(value or "")
    if word in _YES:
        return True
    if not word or word in _NO:
        return False
    raise DataError(_("{value} is neither 是 (yes) nor 否 (no)").format(value=value))


def _subject_kinds(value: str | None) -> tuple[str, ...]:
    kinds = set()
    for part in re.split(r"[,，、;；/\s]+", value or ""):
        if part:
            kind = _KIND_LOOKUP.get(normalize_header(part))
            if kind is None:
                choices = ", ".join(f"{label} ({key})" for key, label in SUBJECT_KINDS.items())
                raise DataError(_("{value} is not a kind of credit subject; use {choices} (Art. 3)").format(
                    value=part, choices=choices))
            kinds.add(kind)
    return tuple(k for k in SUBJECT_KINDS if k in kinds)


def _code(value: str | None) -> str:
    text = (value or "").strip()
    if not _CODE.fullmatch(text):
        raise DataError(_("item code {code} is not valid: 1-64 letters, digits, '.', '_' or '-', starting "
                          "with a letter or digit").format(code=text or "''"))
    return text


def _text(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise DataError(_("a value is required (Art. 9)"))
    if len(text) > _MAX_TEXT:
        raise DataError(_("the value has {length} characters, more than {limit}").format(
            length=len(text), limit=_MAX_TEXT))
    return text


def _uscc(value: str | None) -> str:
    return validate_uscc(_text(value))


def validate_version_name(version: str) -> str:
    """A catalog version name: 1-64 letters, digits, '.', '_' or '-' (``2026``, ``2026.2``)."""
    if not _VERSION.fullmatch(version or ""):
        raise DataError(_("Catalog version name {version!r} is not valid: 1-64 letters, digits, '.', '_' or "
                          "'-', starting with a letter or digit").format(version=version))
    return version


# --- items --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """One catalog item (信息事项) with the elements Art. 9 requires, plus its Art. 10 category."""

    code: str
    name: str
    provider_name: str
    provider_uscc: str
    category: str
    disclosure: str
    validity_months: int | None
    dishonesty: bool
    severity: str
    subject_kinds: tuple[str, ...]
    data_standard: tuple[DataField, ...]

    def columns(self) -> dict[str, Any]:
        """The values of its ``catalog_item`` row (without the ids)."""
        return {"code": self.code, "name": self.name, "provider_name": self.provider_name,
                "provider_uscc": self.provider_uscc, "category": self.category, "disclosure": self.disclosure,
                "validity_months": self.validity_months, "dishonesty": self.dishonesty,
                "severity": self.severity, "subject_kinds": ",".join(self.subject_kinds),
                "data_standard": json.dumps([f.as_dict() for f in self.data_standard], ensure_ascii=False,
                                            separators=(",", ":"))}

    def as_row(self) -> dict[str, Any]:
        """For display and diff: the row's values, with the data standard in its compact text form."""
        return self.columns() | {"data_standard": format_data_standard(self.data_standard)}

    def export_row(self) -> dict[str, str]:
        """The item as a row of a catalog file: Chinese column names and labels."""
        values = {
            "code": self.code, "item": self.name, "provider": self.provider_name,
            "provider_uscc": self.provider_uscc, "category": CATEGORIES[self.category],
            "data_standard": _exported_data_standard(self.data_standard),
            "disclosure": DISCLOSURES[self.disclosure], "validity": format_validity(self.validity_months),
            "dishonesty": "是" if self.dishonesty else "否", "severity": SEVERITIES.get(self.severity, ""),
            "subject_kinds": "、".join(SUBJECT_KINDS[k] for k in self.subject_kinds),
        }
        return {EXPORT_HEADERS[key]: value for key, value in values.items()}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Item:
        fields = tuple(DataField(f["name"], f["type"], f["required"], tuple(f.get("values", ())))
                       for f in json.loads(row["data_standard"]))
        kinds = tuple(k for k in row["subject_kinds"].split(",") if k)
        return cls(row["code"], row["name"], row["provider_name"], row["provider_uscc"], row["category"],
                   row["disclosure"], row["validity_months"], bool(row["dishonesty"]), row["severity"], kinds,
                   fields)


_BAD = object()


def _item(values: Mapping[str, str | None]) -> tuple[Item | None, list[tuple[str, str]]]:
    """The item a row describes, or the (field, problem) pairs of everything wrong with it."""
    problems: list[tuple[str, str]] = []

    def take(name: str, parse: Any) -> Any:
        if (problem := _unstorable(values.get(name))) is not None:
            problems.append((name, problem))
            return _BAD
        try:
            return parse(values.get(name))
        except DataError as exc:
            problems.append((name, exc.message))
            return _BAD

    code = take("code", _code)
    name = take("item", _text)
    provider = take("provider", _text)
    uscc = take("provider_uscc", _uscc)
    category = take("category", _category)
    disclosure = take("disclosure", _disclosure)
    validity = take("validity", parse_validity)
    dishonesty = take("dishonesty", _yes_no)
    severity = take("severity", _severity)
    kinds = take("subject_kinds", _subject_kinds)
    fields: tuple[DataField, ...] = ()
    if (problem := _unstorable(values.get("data_standard"))) is not None:
        problems.append(("data_standard", problem))
    else:
        fields, standard_problems = _data_standard(values.get("data_standard") or "")
        problems += [("data_standard", problem) for problem in standard_problems]
        if not standard_problems and (length := len(_exported_data_standard(fields))) > DEFAULT_MAX_CELL_CHARS:
            # the export writes every field in full (name:类型:必填; ...): it must read back from one cell
            problems.append(("data_standard", _(
                "catalog export would write this data standard as {length} characters, more than the {limit} a "
                "cell of a catalog file may hold; shorten it").format(length=length, limit=DEFAULT_MAX_CELL_CHARS)))
    if dishonesty is True and validity is not _BAD and (problem := _art15_cap(validity)):
        problems.append(("validity", problem))
    if dishonesty is False and severity not in (None, _BAD):
        problems.append(("severity", _("a severity is given but the item is not dishonesty information "
                                       "(是否失信信息 is 否)")))
    if problems:
        return None, problems
    return Item(code, name, provider, uscc, category, disclosure, validity, dishonesty,
                (severity or "general") if dishonesty else "none", kinds, fields), []


def parse_catalog(path: str | Path) -> list[Item]:
    """Read and check a catalog file; DataError naming file, row, column and rule of every problem."""
    path = Path(path)
    table = open_table(path)
    headers = map_headers(table.columns, COLUMNS, source=path)
    problems = []
    if headers.unknown:
        problems.append(_("{file}: unknown column(s) {columns}; a catalog's columns are {known}").format(
            file=path, columns=", ".join(headers.unknown),
            known=", ".join(f"{zh} ({en})" for en, zh in EXPORT_HEADERS.items())))
    missing = [EXPORT_HEADERS[name] for name in REQUIRED_COLUMNS if name in headers.missing]
    if missing:
        problems.append(_("{file}: required column(s) missing: {columns} (Art. 9)").format(
            file=path, columns=", ".join(missing)))
    if problems:
        raise _rejected(path, problems)
    items: list[Item] = []
    first_row: dict[str, int] = {}
    for row in _rows(table):
        values = {name: row.values[column] for name, column in headers.items()}
        item, row_problems = _item(values)
        where = {"file": path, "row": row.row_number}
        problems += [_("{file}, row {row}, column {column}: {problem}").format(
            column=headers[name], problem=problem, **where) for name, problem in row_problems]
        code = (values["code"] or "").strip()
        if code in first_row:
            problems.append(_("{file}, row {row}, column {column}: item code {code} is already used in row "
                              "{first}; a code names one item of a catalog version").format(
                column=headers["code"], code=code, first=first_row[code], **where))
        elif code:
            first_row[code] = row.row_number
        if item is not None:
            items.append(item)
    if not first_row and not problems:
        problems.append(_("{file}: the catalog has no items").format(file=path))
    if problems:
        raise _rejected(path, problems)
    return items


def _rows(table: Table) -> Iterator[Row]:
    for batch in table.batches():
        yield from batch


def _rejected(path: Path, problems: list[str]) -> DataError:
    shown = problems[:_MAX_SHOWN_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(_("... and {count} more problems").format(count=len(problems) - len(shown)))
    head = _("{file}: the catalog is rejected and nothing was imported; problems found: {count}").format(
        file=path, count=len(problems))
    return DataError("\n".join([head, *shown]))


# --- import -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    version: str
    effective_from: dt.date
    items: int
    source_sha256: str
    earlier_records: int = 0
    """Stored records whose decision date the new version now covers: they were checked against an
    earlier version, whose items they keep (a correction of one is checked against the new version)."""


def import_catalog(uow: UnitOfWork, path: str | Path, version: str, effective_from: dt.date, *,
                   backdate: bool = False) -> ImportResult:
    """Check a catalog file and store it as a new version in force from ``effective_from``: one operation.

    A version name is never reused, and no two versions take effect on the same day. A new version
    takes effect after the latest one: one that would take effect before it (and change the version
    in force on days the later one already governs) needs ``backdate``, which the operation records.
    """
    name = validate_version_name(version)
    latest = uow.conn.execute(sa.select(T_VERSION.c.version, T_VERSION.c.effective_from)
                              .order_by(T_VERSION.c.effective_from.desc())).first()
    backdated = latest is not None and latest.effective_from > effective_from
    if backdated and not backdate:
        raise DataError(_("Catalog version {latest} takes effect on {day}, after {effective}: a new version takes "
                          "effect after the latest one, so that the version in force on a day never changes "
                          "under the records checked against it. To put version {version} before {latest} on "
                          "purpose, give --backdate (the operation records it)").format(
            latest=latest.version, day=latest.effective_from, effective=effective_from, version=version))
    clash = uow.conn.execute(sa.select(T_VERSION.c.version, T_VERSION.c.effective_from).where(
        sa.or_(T_VERSION.c.version == name, T_VERSION.c.effective_from == effective_from))).first()
    if clash is not None and clash.version == name:
        raise DataError(_("Catalog version {version} already exists; a version is never replaced: import the "
                          "new catalog under a new version name").format(version=name))
    if clash is not None:
        problem = _("Catalog version {other} already takes effect on {day}; give version {version} another "
                    "effective date")
        raise DataError(problem.format(other=clash.version, day=effective_from, version=name))
    path = Path(path)
    items = parse_catalog(path)
    with path.open("rb") as source:
        digest = hashlib.file_digest(source, "sha256").hexdigest()
    stored = uow.insert(T_VERSION, {"version": name, "effective_from": effective_from,
                                    "source_name": as_text(path.name)[:255], "source_sha256": digest,
                                    "imported_at": utcnow()})
    for item in items:
        uow.insert(T_ITEM, {"version_id": stored["id"], **item.columns()})
    earlier = _records_now_covered(uow.conn, effective_from)
    uow.summary.update(version=name, effective_from=effective_from.isoformat(), items=len(items),
                       source=as_text(path.name), source_sha256=digest)
    if backdated:
        uow.summary.update(backdated=True)
    if earlier:
        uow.summary.update(earlier_records=earlier)
    return ImportResult(name, effective_from, len(items), digest, earlier)


def _records_now_covered(conn: sa.Connection, effective_from: dt.date) -> int:
    """Records with a decision date from ``effective_from`` to the day before the next version takes effect."""
    from lycredit.models import Record

    record = Record.__table__
    following = conn.execute(sa.select(sa.func.min(T_VERSION.c.effective_from))
                             .where(T_VERSION.c.effective_from > effective_from)).scalar()
    where = record.c.decision_date >= effective_from
    if following is not None:
        where = sa.and_(where, record.c.decision_date < following)
    return conn.execute(sa.select(sa.func.count()).select_from(record).where(where)).scalar() or 0


# --- queries ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """A catalog version: in force from ``effective_from`` until the day before ``superseded_from``."""

    id: int
    version: str
    effective_from: dt.date
    superseded_from: dt.date | None
    source_name: str
    source_sha256: str
    imported_at: dt.datetime
    items: int

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.superseded_from is None or day < self.superseded_from)

    def as_row(self) -> dict[str, Any]:
        return {"version": self.version, "effective_from": self.effective_from,
                "superseded_from": self.superseded_from, "items": self.items, "source_name": self.source_name,
                "source_sha256": self.source_sha256, "imported_at": self.imported_at}


@dataclass(frozen=True)
class Catalog:
    version: Version
    items: tuple[Item, ...]

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise NotFound(_("Catalog version {version} has no item {code}").format(
            version=self.version.version, code=code))


def list_versions(conn: sa.Connection) -> list[Version]:
    """Every version, oldest effective date first, with its item count and the day it was superseded."""
    per_version = sa.select(T_ITEM.c.version_id, sa.func.count()).group_by(T_ITEM.c.version_id)
    counts = dict(conn.execute(per_version).all())
    rows = conn.execute(sa.select(T_VERSION).order_by(T_VERSION.c.effective_from)).mappings().all()
    nexts = [row["effective_from"] for row in rows[1:]] + [None] if rows else []
    return [Version(row["id"], row["version"], row["effective_from"], following, row["source_name"],
                    row["source_sha256"], row["imported_at"], counts.get(row["id"], 0))
            for row, following in zip(rows, nexts, strict=True)]


def _load(conn: sa.Connection, version: Version) -> Catalog:
    rows = conn.execute(sa.select(T_ITEM).where(T_ITEM.c.version_id == version.id).order_by(T_ITEM.c.id))
    return Catalog(version, tuple(Item.from_row(row) for row in rows.mappings()))


def load_catalog(conn: sa.Connection, version: str) -> Catalog:
    """The catalog of the version named ``version`` (NotFound if there is none)."""
    for found in list_versions(conn):
        if found.version == version:
            return _load(conn, found)
    raise NotFound(_("There is no catalog version {version}").format(version=version))


def catalog_in_force(conn: sa.Connection, on: dt.date) -> Catalog:
    """The catalog version in force on ``on``: the latest whose effective date is not after it."""
    versions = list_versions(conn)
    for version in versions:
        if version.in_force_on(on):
            return _load(conn, version)
    if not versions:
        raise NotFound(_("No catalog has been imported; import one with 'lycredit catalog import'"))
    raise NotFound(_("No catalog version is in force on {day}: the first one takes effect on {first}").format(
        day=on, first=versions[0].effective_from))


def select_catalog(conn: sa.Connection, version: str | None, on: dt.date) -> Catalog:
    """The named version, or else the one in force on ``on``."""
    return load_catalog(conn, version) if version is not None else catalog_in_force(conn, on)


def show_item(conn: sa.Connection, code: str, version: str | None = None, *,
              on: dt.date | None = None) -> tuple[Version, Item]:
    """One item of the named version, or of the version in force on ``on`` (today in Asia/Shanghai)."""
    catalog = select_catalog(conn, version, on or shanghai_today())
    return catalog.version, catalog.item(code)


@dataclass(frozen=True)
class ItemChange:
    code: str
    name: str
    fields: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class CatalogDiff:
    """What changed from version ``old`` to version ``new``, item by item (by code)."""

    old: str
    new: str
    added: tuple[Item, ...]
    removed: tuple[Item, ...]
    changed: tuple[ItemChange, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One row per added or removed item and per changed field: change, code, name, field, old, new."""
        out = [{"change": "added", "code": i.code, "name": i.name, "field": None, "old": None, "new": None}
               for i in self.added]
        out += [{"change": "removed", "code": i.code, "name": i.name, "field": None, "old": None, "new": None}
                for i in self.removed]
        out += [{"change": "changed", "code": c.code, "name": c.name, "field": key, "old": old, "new": new}
                for c in self.changed for key, (old, new) in c.fields.items()]
        return sorted(out, key=lambda row: (row["code"], row["field"] or ""))


def diff(conn: sa.Connection, v1: str, v2: str) -> CatalogDiff:
    """Items added, removed and changed (each changed field with old and new value) from ``v1`` to ``v2``."""
    old = {i.code: i for i in load_catalog(conn, v1).items}
    new = {i.code: i for i in load_catalog(conn, v2).items}
    changed = []
    for code in sorted(old.keys() & new.keys()):
        before, after = old[code].as_row(), new[code].as_row()
        fields = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
        if fields:
            changed.append(ItemChange(code, new[code].name, fields))
    return CatalogDiff(v1, v2, tuple(new[c] for c in sorted(new.keys() - old.keys())),
                       tuple(old[c] for c in sorted(old.keys() - new.keys())), tuple(changed))


# --- export -------------------------------------------------------------------------------------

EXPORT_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".parquet": "parquet"}


def export(conn: sa.Connection, version: str) -> list[dict[str, str]]:
    """The rows of a catalog file for ``version`` (Chinese columns and labels); they import back unchanged."""
    return [item.export_row() for item in load_catalog(conn, version).items]


def write_catalog_file(rows: Sequence[Mapping[str, str]], path: str | Path) -> str:
    """Write export rows to ``path`` in the format its suffix names (csv with a BOM for Excel, xlsx, json,
    parquet); the file appears whole or not at all. Returns the format."""
    path = Path(path)
    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(_("{file}: cannot export to {suffix}; use one of {suffixes}").format(
            file=path, suffix=path.suffix or "''", suffixes=", ".join(EXPORT_FORMATS)))
    columns = list(EXPORT_HEADERS.values())
    with output_file(path) as target:
        _WRITERS[fmt](rows, columns, target)
    return fmt


def _write_csv(rows: Sequence[Mapping[str, str]], columns: list[str], path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in rows)


def _write_xlsx(rows: Sequence[Mapping[str, str]], columns: list[str], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("公共信用信息目录")

    def cells(values: list[str]) -> list[WriteOnlyCell]:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=_xlsx_text(value))
            cell.data_type = "s"  # text, never a formula or a number
            out.append(cell)
        return out

    sheet.append(cells(columns))
    for row in rows:
        sheet.append(cells([row[c] for c in columns]))
    book.save(path)


# Control characters cannot stand in a worksheet as they are (openpyxl raises), a carriage return would be read
# back as a line feed (XML's end-of-line handling turns "\r\n" and a lone "\r" into "\n"), and text that looks
# like Excel's escape _xHHHH_ would be read back as the character it names: all are written as escapes (a
# carriage return as _x000D_, an underscore as _x005F_), which readers of XLSX, calamine included, turn back into
# the same text. Tabs and line feeds stand as they are.
_XLSX_ESCAPED = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f]")


def _xlsx_text(value: str) -> str:
    return _XLSX_ESCAPED.sub(lambda match: f"_x{ord(match.group()):04X}_", value)


def _write_json(rows: Sequence[Mapping[str, str]], columns: list[str], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        json.dump([{c: row[c] for c in columns} for row in rows], out, ensure_ascii=False, indent=2)
        out.write("\n")


def _write_parquet(rows: Sequence[Mapping[str, str]], columns: list[str], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in columns])
    pq.write_table(pa.Table.from_pylist([{c: row[c] for c in columns} for row in rows], schema=schema), path)


_WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "json": _write_json, "parquet": _write_parquet}
