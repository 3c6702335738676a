"""The credit information catalog (Art. 9): import in every format, validation, versions, diff, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lycredit.catalog import (
    COLUMNS,
    EXPORT_HEADERS,
    FIELD_TYPES,
    DataField,
    format_data_standard,
    format_validity,
    parse_catalog,
    parse_data_standard,
    parse_validity,
    write_catalog_file,
)
from lycredit.errors import DataError
from lycredit.identity import field_rule
from lycredit.readers import normalize_header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "catalog"
CSV_2026 = SAMPLES / "catalog-2026.csv"
CSV_2027 = SAMPLES / "catalog-2027.csv"
JSON_2026 = SAMPLES / "catalog-2026.json"
ENGLISH = {zh: en for en, zh in EXPORT_HEADERS.items()}


def _sample_rows() -> list[dict[str, str]]:
    with CSV_2026.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _english(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{ENGLISH[k]: v for k, v in row.items()} for row in rows]


def _write_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    book.save(path)
    return path


def _write_json(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def _write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


WRITERS = {
    "csv-utf8": lambda p, rows: _write_csv(p.with_suffix(".csv"), rows, "utf-8"),
    "csv-utf8-bom": lambda p, rows: _write_csv(p.with_suffix(".csv"), rows, "utf-8-sig"),
    "csv-gb18030": lambda p, rows: _write_csv(p.with_suffix(".csv"), rows, "gb18030"),
    "xlsx": lambda p, rows: _write_xlsx(p.with_suffix(".xlsx"), rows),
    "json": lambda p, rows: _write_json(p.with_suffix(".json"), rows),
    "parquet": lambda p, rows: _write_parquet(p.with_suffix(".parquet"), rows),
}


# --- reading: every format, encoding and header language gives the same catalog ------------------

def test_the_sample_catalog_reads_the_same_from_chinese_csv_and_english_json() -> None:
    items = parse_catalog(CSV_2026)
    assert parse_catalog(JSON_2026) == items
    by_code = {i.code: i for i in items}
    penalty = by_code["XZCF-001"]
    assert (penalty.category, penalty.disclosure, penalty.dishonesty, penalty.severity,
            penalty.validity_months) == ("administrative", "public", True, "general", 36)
    national = {"行政相对人名称", "统一社会信用代码", "行政处罚决定书文号", "处罚类别", "处罚内容",
                "罚款金额（万元）", "处罚决定日期", "公示截止期", "处罚机关"}
    assert national <= {f.name for f in penalty.data_standard}
    assert by_code["SF-001"].severity == "serious" and by_code["SF-001"].validity_months == 60
    assert by_code["GR-001"].subject_kinds == ("natural_person",)
    assert by_code["GR-001"].disclosure == "authorised"
    assert by_code["SC-001"].category == "market"
    assert {i.category for i in items} >= {"registration", "administrative", "honour", "judicial", "market"}


@pytest.mark.parametrize("language", ["chinese", "english"])
@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_catalog_reads_alike_in_every_format_and_encoding(tmp_path, fmt: str, language: str) -> None:
    rows = _sample_rows() if language == "chinese" else _english(_sample_rows())
    path = WRITERS[fmt](tmp_path / "catalog", rows)
    assert parse_catalog(path) == parse_catalog(CSV_2026)


def test_the_data_standard_may_be_a_json_list(tmp_path) -> None:
    compact = "行政相对人名称:文本:必填; 处罚类别:枚举(警告|罚款):必填; 罚款金额（万元）:数值:选填"
    as_json = json.dumps([{"name": "行政相对人名称", "type": "text", "required": True},
                          {"name": "处罚类别", "type": "enum", "values": ["警告", "罚款"], "required": True},
                          {"name": "罚款金额（万元）", "type": "decimal", "required": False}],
                         ensure_ascii=False)
    assert parse_data_standard(as_json) == parse_data_standard(compact)
    rows = _sample_rows()
    rows[0]["数据标准"] = as_json
    read = parse_catalog(_write_csv(tmp_path / "c.csv", rows))
    assert read[0].data_standard == parse_data_standard(compact)


@pytest.mark.parametrize(("text", "months"), [
    ("3年", 36), ("36个月", 36), ("18月", 18), ("三年", 36), ("十八个月", 18), ("三十六个月", 36),
    ("两年", 24), ("5 years", 60), ("1 month", 1), ("３年", 36), ("长期", None), ("", None), (None, None),
    ("unlimited", None),
])
def test_validity_periods_are_read_in_months(text: str | None, months: int | None) -> None:
    assert parse_validity(text) == months


@pytest.mark.parametrize("text", ["36", "3", "三", "0年", "3天", "十十年", "五年半", "99999年", "-1年"])
def test_a_validity_without_a_unit_or_not_a_period_is_refused(text: str) -> None:
    with pytest.raises(DataError, match="validity"):
        parse_validity(text)


@given(st.one_of(st.none(), st.integers(min_value=1, max_value=9999)))
def test_validity_text_reads_back_as_the_same_months(months: int | None) -> None:
    assert parse_validity(format_validity(months)) == months


_NAMES = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8).filter(
    lambda name: (rule := field_rule(name)) is None or rule.category != "forbidden")
_VALUES = st.lists(st.text(st.characters(categories=("L", "N")), min_size=1, max_size=5), min_size=1,
                   max_size=4, unique=True)


@st.composite
def _fields(draw: st.DrawFn) -> DataField:
    kind = draw(st.sampled_from(list(FIELD_TYPES)))
    return DataField(draw(_NAMES), kind, draw(st.booleans()), tuple(draw(_VALUES)) if kind == "enum" else ())


@given(st.lists(_fields(), min_size=1, max_size=6, unique_by=lambda f: normalize_header(f.name)))
def test_a_data_standard_reads_back_from_its_compact_text(fields: list[DataField]) -> None:
    assert parse_data_standard(format_data_standard(fields)) == tuple(fields)


# --- validation: every rule names file, row, column and rule; the whole file is rejected ------------

def _reject(tmp_path: Path, code: str, column: str, value: str) -> tuple[str, int]:
    rows = _sample_rows()
    index = next(i for i, row in enumerate(rows) if row["事项编码"] == code)
    rows[index][column] = value
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as caught:
        parse_catalog(path)
    return caught.value.message, index + 2


@pytest.mark.parametrize(("code", "column", "value", "rule"), [
    ("DJ-001", "统一社会信用代码", "11211382013786428A", "GB 32100"),
    ("DJ-001", "统一社会信用代码", "1121138201378642", "requires 18"),
    ("DJ-001", "公开方式", "公开", "Art. 13"),
    ("DJ-001", "信息类别", "信用评价", "Art. 10, 11"),
    ("XZCF-001", "有效期限", "6年", "at most 5 years (Art. 15); this item says 72 months"),
    ("XZCF-001", "有效期限", "长期", "at most 5 years (Art. 15)"),
    ("XZXK-001", "事项编码", "DJ-001", "item code DJ-001 is already used in row 2"),
    ("DJ-001", "数据标准", "企业名称:文本:必填; 血型:文本:选填",
     "field 血型 carries blood type (血型), which Art. 12 forbids"),
    ("DJ-001", "数据标准", "企业名称:文本:必填; Religion:text", "field Religion carries religion"),
    ("DJ-001", "数据标准", "企业名称:blob:必填", "unknown type blob"),
    ("DJ-001", "数据标准", "企业名称:文本:必填; 企业名称:日期", "field 企业名称 is named twice"),
    ("DJ-001", "数据标准", "登记状态:枚举():必填", "the enum has no values"),
    ("DJ-001", "数据标准", "企业名称:文本:也许", "does not say whether the field is required"),
    ("DJ-001", "数据标准", "", "names no field"),
    ("DJ-001", "数据标准", "[{\"name\": \"企业名称\", \"type\": \"text\"", "the JSON list is malformed"),
    ("DJ-001", "是否失信信息", "也许", "neither 是 (yes) nor 否 (no)"),
    ("DJ-001", "失信严重程度", "一般", "not dishonesty information"),
    ("XZCF-001", "失信严重程度", "很严重", "Art. 22"),
    ("DJ-001", "适用主体", "法人、外星人", "外星人 is not a kind of credit subject"),
    ("DJ-001", "有效期限", "36", "not a period"),
    ("DJ-001", "信息事项", "", "a value is required (Art. 9)"),
    ("DJ-001", "信息提供单位", "局" * 201, "201 characters, more than 200"),
    ("DJ-001", "事项编码", "DJ 001", "item code DJ 001 is not valid"),
])
def test_a_row_breaking_a_rule_is_rejected_naming_row_column_and_rule(tmp_path, code, column, value,
                                                                      rule) -> None:
    message, row = _reject(tmp_path, code, column, value)
    assert f"bad.csv, row {row}, column {column}: " in message
    assert rule in message
    assert "nothing was imported" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path) -> None:
    rows = _sample_rows()
    rows[0]["公开方式"] = "公开"
    rows[2]["有效期限"] = "10年"
    rows[5]["统一社会信用代码"] = "123"
    with pytest.raises(DataError) as caught:
        parse_catalog(_write_csv(tmp_path / "bad.csv", rows))
    message = caught.value.message
    assert "problems found: 3" in message
    assert "row 2, column 公开方式" in message and "row 4, column 有效期限" in message
    assert "row 7, column 统一社会信用代码" in message


def test_a_huge_bad_file_is_summarised_after_two_hundred_problems(tmp_path) -> None:
    row = _sample_rows()[0] | {"公开方式": "公开"}
    rows = [row | {"事项编码": f"X-{n}"} for n in range(300)]
    with pytest.raises(DataError) as caught:
        parse_catalog(_write_csv(tmp_path / "big.csv", rows))
    message = caught.value.message
    assert "problems found: 300" in message and "... and 100 more problems" in message
    assert len(message.splitlines()) == 202


def test_unknown_and_missing_columns_are_rejected_by_name(tmp_path) -> None:
    rows = [{k: v for k, v in row.items() if k != "有效期限"} | {"是否失信": "是"} for row in _sample_rows()]
    with pytest.raises(DataError) as caught:
        parse_catalog(_write_csv(tmp_path / "cols.csv", rows))
    assert "unknown column(s) 是否失信" in caught.value.message
    assert "required column(s) missing: 有效期限 (Art. 9)" in caught.value.message


def test_a_catalog_without_items_is_rejected(tmp_path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(EXPORT_HEADERS.values()) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="the catalog has no items"):
        parse_catalog(path)


def test_every_field_has_a_chinese_and_an_english_column_name() -> None:
    for name, aliases in COLUMNS.items():
        assert name.isascii() and not aliases[0].isascii()


# --- the CLI and the database -------------------------------------------------------------------

def _counts(platform) -> tuple[int, int, int]:
    with platform.engine().connect() as conn:
        return tuple(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                     for t in ("catalog_version", "catalog_item", "oplog_entry"))


def _import(platform, path: Path, version: str, effective: str, *extra: str):
    return platform.run("catalog", "import", str(path), "--version", version, "--effective", effective,
                        *extra)


def test_import_stores_a_signed_version_that_audit_verify_accepts(platform) -> None:
    r = _import(platform, CSV_2026, "2026", "2026-01-01", "--reason", "省发改委 2026 年目录")
    assert r.exit_code == 0, r.output
    assert "Imported catalog version 2026 (9 items)" in r.stderr
    assert _counts(platform)[:2] == (1, 9)
    with platform.engine().connect() as conn:
        op = conn.execute(sa.text("SELECT action, reason, summary FROM oplog_operation ORDER BY seq DESC")
                          ).first()
    summary = json.loads(op.summary)
    assert op.action == "catalog.import" and op.reason == "省发改委 2026 年目录"
    assert summary["items"] == 9 and summary["version"] == "2026" and len(summary["source_sha256"]) == 64
    verified = platform.run("audit", "verify", key=None)
    assert verified.exit_code == 0, verified.output


def test_a_file_whose_name_is_not_utf8_is_kept_as_the_source_with_those_bytes_escaped(platform, tmp_path) -> None:
    """A file's name may be any bytes (here 测试 in GBK); the version's source keeps them as backslash escapes."""
    import os
    import shutil

    path = tmp_path / os.fsdecode(b"\xb2\xe2\xca\xd4-2026.csv")
    shutil.copyfile(CSV_2026, path)
    r = _import(platform, path, "2026", "2026-01-01")
    assert r.exit_code == 0, r.output
    with platform.engine().connect() as conn:
        source = conn.execute(sa.text("SELECT source_name FROM catalog_version")).scalar()
        summary = json.loads(conn.execute(sa.text(
            "SELECT summary FROM oplog_operation WHERE action = 'catalog.import'")).scalar())
    assert source == summary["source"] == "\\xb2\\xe2\\xca\\xd4-2026.csv"
    assert platform.run("audit", "verify", key=None).exit_code == 0


def test_a_bad_file_exits_65_and_writes_nothing(platform, tmp_path) -> None:
    rows = _sample_rows()
    rows[3]["有效期限"] = "8年"
    before = _counts(platform)
    r = _import(platform, _write_csv(tmp_path / "bad.csv", rows), "2026", "2026-01-01")
    assert r.exit_code == 65
    assert "row 5, column 有效期限" in r.stderr and "Art. 15" in r.stderr
    assert _counts(platform) == before


def test_a_version_name_or_effective_day_is_never_reused(platform) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    again = _import(platform, CSV_2027, "2026", "2027-01-01")
    assert again.exit_code == 65 and "Catalog version 2026 already exists" in again.stderr
    same_day = _import(platform, CSV_2027, "2027", "2026-01-01")
    assert same_day.exit_code == 65 and "already takes effect on 2026-01-01" in same_day.stderr
    assert _counts(platform)[:2] == (1, 9)


def _last_summary(platform) -> dict:
    with platform.engine().connect() as conn:
        return json.loads(conn.execute(sa.text("SELECT summary FROM oplog_operation ORDER BY seq DESC")).scalar())


def test_a_version_before_the_latest_needs_backdate_which_the_operation_records(platform) -> None:
    assert _import(platform, CSV_2027, "2027", "2027-01-01").exit_code == 0
    stored = _counts(platform)[:2]
    early = _import(platform, CSV_2026, "2026", "2026-01-01")
    assert early.exit_code == 65
    assert "Catalog version 2027 takes effect on 2027-01-01, after 2026-01-01" in early.stderr
    assert "--backdate" in early.stderr
    assert _counts(platform)[:2] == stored
    allowed = _import(platform, CSV_2026, "2026", "2026-01-01", "--backdate")
    assert allowed.exit_code == 0, allowed.output
    assert _last_summary(platform)["backdated"] is True
    later = _import(platform, CSV_2027, "2028", "2028-01-01")  # after the latest: no flag needed, none recorded
    assert later.exit_code == 0, later.output
    assert "backdated" not in _last_summary(platform)
    versions = platform.run("--format", "json", "catalog", "list", "--versions", key=None)
    assert [v["version"] for v in json.loads(versions.stdout)] == ["2026", "2027", "2028"]


def test_a_missing_file_exits_66_and_a_bad_date_exits_2(platform, tmp_path) -> None:
    assert _import(platform, tmp_path / "none.csv", "2026", "2026-01-01").exit_code == 66
    assert _import(platform, CSV_2026, "2026", "2026-13-01").exit_code == 2
    assert _import(platform, CSV_2026, "2026 年", "2026-01-01").exit_code == 65


def test_dry_run_reports_and_leaves_nothing(platform) -> None:
    before = _counts(platform)
    r = _import(platform, CSV_2026, "2026", "2026-01-01", "--dry-run")
    assert r.exit_code == 0 and "Dry run: would import catalog version 2026 (9 items)" in r.stderr
    assert _counts(platform) == before


def test_a_provider_may_not_import_a_catalog(platform) -> None:
    platform.add_operator("scjg-01", "provider")
    r = platform.run("catalog", "import", str(CSV_2026), "--version", "2026", "--effective", "2026-01-01",
                     key="scjg-01")
    assert r.exit_code == 77 and "catalog.import" in r.stderr
    assert _counts(platform)[:2] == (0, 0)


def test_the_version_in_force_depends_on_the_day(platform) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    assert _import(platform, CSV_2027, "2027", "2027-01-01").exit_code == 0

    def listed(*args: str) -> dict[str, dict]:
        r = platform.run("--format", "json", *args, key=None)
        assert r.exit_code == 0, r.output
        return {row["code"]: row for row in json.loads(r.stdout)}

    assert listed("--as-of", "2026-12-31", "catalog", "list")["XZCF-001"]["validity_months"] == 36
    assert "CN-001" not in listed("--as-of", "2026-12-31", "catalog", "list")
    in_2027 = listed("catalog", "list", "--on", "2027-01-01")
    assert in_2027["XZCF-001"]["validity_months"] == 12 and "CN-001" in in_2027
    assert "CN-001" not in listed("--as-of", "2027-06-01", "catalog", "list", "--version", "2026")
    versions = json.loads(platform.run("--format", "json", "catalog", "list", "--versions",
                                       "--on", "2026-05-01", key=None).stdout)
    assert [(v["version"], v["superseded_from"], v["in_force"]) for v in versions] == [
        ("2026", "2027-01-01", True), ("2027", None, False)]
    before = platform.run("--as-of", "2025-12-31", "catalog", "list", key=None)
    assert before.exit_code == 65 and "No catalog version is in force on 2025-12-31" in before.stderr


def test_show_prints_one_item_with_its_data_standard(platform) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    r = platform.run("--as-of", "2026-03-01", "--format", "json", "catalog", "show", "SF-001", key=None)
    shown = json.loads(r.stdout)
    assert shown["version"] == "2026" and shown["category"] == "judicial" and shown["severity"] == "serious"
    assert {"name": "公民身份号码", "type": "ric", "required": False} in shown["data_standard"]
    table = platform.run("catalog", "show", "XZCF-001", "--version", "2026", key=None)
    assert "罚款金额（万元）" in table.stdout and "decimal" in table.stdout
    missing = platform.run("catalog", "show", "NOPE-1", "--version", "2026", key=None)
    assert missing.exit_code == 65 and "has no item NOPE-1" in missing.stderr


def test_diff_names_the_items_added_removed_and_the_fields_changed(platform, tmp_path) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    assert _import(platform, CSV_2027, "2027", "2027-01-01").exit_code == 0
    r = platform.run("--format", "json", "catalog", "diff", "2026", "2027", key=None)
    assert r.exit_code == 0 and "1 added, 0 removed, 1 changed" in r.stderr
    assert json.loads(r.stdout) == [
        {"change": "added", "code": "CN-001", "name": "信用承诺信息", "field": None, "old": None,
         "new": None},
        {"change": "changed", "code": "XZCF-001", "name": "行政处罚信息（双公示）",
         "field": "validity_months", "old": 36, "new": 12},
    ]
    back = json.loads(platform.run("--format", "json", "catalog", "diff", "2027", "2026", key=None).stdout)
    assert [row["change"] for row in back] == ["removed", "changed"]
    assert platform.run("catalog", "diff", "2026", "2031", key=None).exit_code == 65


def test_an_exported_catalog_imports_back_unchanged_from_every_format(platform, tmp_path) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    for month, suffix in enumerate([".csv", ".xlsx", ".json", ".parquet"], start=2):
        out = tmp_path / f"export{suffix}"
        r = platform.run("catalog", "export", "--version", "2026", "--out", str(out), key=None)
        assert r.exit_code == 0, r.output
        assert parse_catalog(out) == parse_catalog(CSV_2026), suffix
        version = f"2026.{month}"
        assert _import(platform, out, version, f"2026-{month:02d}-01").exit_code == 0
        diff = platform.run("--format", "json", "catalog", "diff", "2026", version, key=None)
        assert json.loads(diff.stdout) == [], suffix
    assert (tmp_path / "export.csv").read_bytes().startswith("\ufeff事项编码".encode())


def test_export_prints_to_stdout_in_the_chosen_format(platform, tmp_path) -> None:
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    r = platform.run("--as-of", "2026-02-01", "--format", "csv", "--bom", "catalog", "export", key=None)
    assert r.stdout.startswith("\ufeff事项编码,信息事项,信息提供单位,统一社会信用代码")
    exported = platform.run("--format", "json", "catalog", "export", "--version", "2026", key=None)
    rows = json.loads(exported.stdout)
    assert {row["事项编码"] for row in rows} >= {"XZCF-001", "SF-001"} and rows[0]["公开方式"] == "社会公开"
    bad = platform.run("catalog", "export", "--version", "2026", "--out", str(tmp_path / "x.txt"), key=None)
    assert bad.exit_code == 2 and "cannot export to .txt" in bad.stderr


def test_before_any_catalog_is_imported_every_read_command_says_so_without_a_traceback(platform) -> None:
    # list_versions zipped the empty list of versions with [None] and raised ValueError.
    versions = platform.run("--format", "json", "catalog", "list", "--versions", key=None)
    assert (versions.exit_code, json.loads(versions.stdout)) == (0, [])
    for args in (["list"], ["export"], ["show", "DJ-001"]):
        r = platform.run("catalog", *args, key=None)
        assert r.exit_code == 65 and "No catalog has been imported" in r.stderr, args
    for args in (["list", "--version", "2026"], ["diff", "2026", "2027"], ["show", "DJ-001", "--version", "2026"]):
        r = platform.run("catalog", *args, key=None)
        assert r.exit_code == 65 and "There is no catalog version 2026" in r.stderr, args


def test_an_xlsx_export_keeps_control_characters_and_text_shaped_like_excel_escapes(platform, tmp_path) -> None:
    # openpyxl refused the control character with a traceback, and calamine read _x0041_ back as "A".
    rows = _sample_rows()
    rows[0]["信息事项"] = "企业\x07登记注册信息"
    rows[1]["信息提供单位"] = "凌源市_x0041_行政审批局_x005F_"
    source = _write_json(tmp_path / "hostile.json", rows)
    assert _import(platform, source, "2026", "2026-01-01").exit_code == 0
    out = tmp_path / "export.xlsx"
    r = platform.run("catalog", "export", "--version", "2026", "--out", str(out), key=None)
    assert r.exit_code == 0, r.output
    assert parse_catalog(out) == parse_catalog(source)
    assert _import(platform, out, "2026.2", "2026-02-01").exit_code == 0
    diff = platform.run("--format", "json", "catalog", "diff", "2026", "2026.2", key=None)
    assert json.loads(diff.stdout) == []


@pytest.mark.parametrize("standard", [
    [{"name": "登记状态", "type": "enum", "values": ["存续｜在营", "注销"], "required": True}],
    [{"name": "注册\n地址", "type": "text", "required": False}],
    [{"name": "登记状态", "type": "enum", "values": ["存\r\n续", "注销"], "required": True}],
])
def test_a_data_standard_the_compact_form_cannot_hold_is_exported_as_a_json_list(tmp_path, standard) -> None:
    # The compact form split the value at the full-width bar or the line break: the export read back different.
    rows = _sample_rows()
    rows[0]["数据标准"] = json.dumps(standard, ensure_ascii=False)
    source = _write_csv(tmp_path / "source.csv", rows)
    items = parse_catalog(source)
    assert items[0].data_standard[0].as_dict() == standard[0]
    exported = tmp_path / "export.csv"
    write_catalog_file([item.export_row() for item in items], exported)
    assert parse_catalog(exported) == items


@pytest.mark.parametrize(("standard", "rule"), [
    ("[" * 5000, "the JSON list is malformed (nested too deeply)"),
    ('[{"name": "企业名称", "type": "text", "required": ' + "1" * 5000 + "}]",
     "the JSON list is malformed (a number has more than 4300 digits)"),
])
def test_a_hostile_json_data_standard_is_rejected_without_a_traceback(platform, tmp_path, standard, rule) -> None:
    # json.loads raised RecursionError (deep nesting) or a plain ValueError (an integer beyond Python's limit of
    # digits), neither a JSONDecodeError: the import ended in a traceback (exit 1) instead of naming the cell.
    rows = _sample_rows()
    rows[0]["数据标准"] = standard
    before = _counts(platform)
    r = _import(platform, _write_csv(tmp_path / "hostile.csv", rows), "2026", "2026-01-01")
    assert r.exit_code == 65, r.output
    assert f"hostile.csv, row 2, column 数据标准: {rule}" in r.stderr
    assert _counts(platform) == before


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("信息事项", "企业\x00登记注册信息", "企业\\x00登记注册信息"),
    ("数据标准", '[{"name": "企业\\u0000名称", "type": "text"}]', "企业\\x00名称"),
    ("数据标准", '[{"name": "企业名称", "type": "enum", "values": ["存续\\u0000", "注销"]}]', "存续\\x00"),
    ("数据标准", '[{"name": "企业\\ud800名称", "type": "text"}]', "企业\\ud800名称"),
    ("数据标准", '[{"name": "登记状态", "type": "enum", "values": ["存续\\udfff"]}]', "存续\\udfff"),
    ("数据标准", '[{"name": "企业名称", "type": "text", "\\ud800": 1}]', "\\ud800"),
])
def test_text_no_database_can_store_is_rejected_naming_the_cell(platform, tmp_path, column, value, shown) -> None:
    # A NUL character (JSON's \u0000, a Parquet string) was stored by SQLite but made PostgreSQL fail with a
    # traceback; half of a surrogate pair (JSON's \ud800 in the data standard) failed on both backends with
    # UnicodeEncodeError. Both are refused now, on both backends alike, naming file, row, column and value.
    rows = _sample_rows()
    rows[0][column] = value
    before = _counts(platform)
    r = _import(platform, _write_json(tmp_path / "hostile.json", rows), "2026", "2026-01-01")
    assert r.exit_code == 65, r.output
    assert f"hostile.json, row 1, column {column}: " in r.stderr
    assert f"{shown} is not text that can be stored: it holds a NUL character or half of a surrogate pair" \
        in r.stderr
    assert _counts(platform) == before


def test_an_xlsx_export_keeps_carriage_returns(platform, tmp_path) -> None:
    # A worksheet's XML turns a carriage return (alone or before a line feed) into a line feed when it is read: a
    # name written on Windows ("\r\n") came back as another name, and a compact data standard with a CR in a field
    # name came back split at it ("field ... has no type"), so the export did not import back unchanged.
    rows = _sample_rows()
    rows[0]["信息事项"] = "企业登记\r\n注册信息"
    rows[1]["信息提供单位"] = "凌源市\r行政审批局"
    rows[2]["数据标准"] = "行政相对人\r名称:文本:必填; 处罚决定日期:日期:必填"
    source = _write_json(tmp_path / "windows.json", rows)
    assert _import(platform, source, "2026", "2026-01-01").exit_code == 0
    out = tmp_path / "export.xlsx"
    assert platform.run("catalog", "export", "--version", "2026", "--out", str(out), key=None).exit_code == 0
    assert parse_catalog(out) == parse_catalog(source)
    again = _import(platform, out, "2026.2", "2026-02-01")
    assert again.exit_code == 0, again.output
    diff = platform.run("--format", "json", "catalog", "diff", "2026", "2026.2", key=None)
    assert json.loads(diff.stdout) == []


def test_a_data_standard_too_long_to_be_exported_and_read_back_is_rejected(platform, tmp_path) -> None:
    # A cell holds at most 10,000 characters. A data standard just under that in the file is written back longer
    # (each field gains ":选填" and a "; " separator), so its export was refused when imported again: the export
    # did not import back unchanged. Such a standard is now rejected when imported, naming its length.
    from lycredit.readers import DEFAULT_MAX_CELL_CHARS

    rows = _sample_rows()
    rows[0]["数据标准"] = ";".join(f"字段{i:04d}:文本" for i in range(900))
    assert len(rows[0]["数据标准"]) < DEFAULT_MAX_CELL_CHARS
    before = _counts(platform)
    r = _import(platform, _write_csv(tmp_path / "long.csv", rows), "2026", "2026-01-01")
    assert r.exit_code == 65, r.output
    assert ("long.csv, row 2, column 数据标准: catalog export would write this data standard as 12598 characters, "
            "more than the 10000 a cell of a catalog file may hold; shorten it") in r.stderr
    assert _counts(platform) == before
    rows[0]["数据标准"] = ";".join(f"字段{i:04d}:文本" for i in range(600))  # written back in 8398 characters
    assert _import(platform, _write_csv(tmp_path / "long.csv", rows), "2026", "2026-01-01").exit_code == 0
    out = tmp_path / "export.csv"
    assert platform.run("catalog", "export", "--version", "2026", "--out", str(out), key=None).exit_code == 0
    assert _import(platform, out, "2026.2", "2026-02-01").exit_code == 0


def test_show_as_csv_for_excel_starts_with_one_bom_and_has_none_inside(platform) -> None:
    """catalog show writes two tables (the item, its data standard); with --bom each began with a BOM, so the
    second sat inside the file and Excel showed it as part of the cell 'name'. --bom starts the CSV with one."""
    assert _import(platform, CSV_2026, "2026", "2026-01-01").exit_code == 0
    r = platform.run("--format", "csv", "--bom", "catalog", "show", "XZCF-001", "--version", "2026", key=None)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("\ufeff") and r.stdout.count("\ufeff") == 1
    lines = r.stdout[1:].splitlines()
    assert lines[0] == "field,value" and "name,type,required,values" in lines
    assert any(line.startswith("罚款金额（万元）,decimal,") for line in lines)
    plain = platform.run("--format", "csv", "catalog", "show", "XZCF-001", "--version", "2026", key=None)
    assert "\ufeff" not in plain.stdout and plain.stdout.splitlines()[1:] == lines[1:]
