"""Specification of a credit record's rules (Art. 9-12, 15, 46) and of the single-record commands.

The row rules are specified on :class:`lycredit.records.RowChecker` directly, over the test
catalog (the shipped 2026 catalog plus three items of our own); the commands run on SQLite and
on PostgreSQL through the real CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lycredit.catalog import Version, parse_catalog
from lycredit.errors import DataError
from lycredit.periods import add_months
from lycredit.records import (
    GENERIC,
    LAYOUTS,
    LICENSE,
    PENALTY,
    Checked,
    Entry,
    ForbiddenColumn,
    RowChecker,
    check_header,
    disclosure_until,
    parse_amount,
    parse_date,
)
from lycredit.workdays import WorkCalendar

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = ROOT / "samples" / "catalog" / "catalog-2026.csv"
MARKET, APPROVAL, HRSS, ASSOC = "11211382013786428K", "11211382MB1529301Y", "11211382001085405G", "51211382MJ0558206W"
COMPANY, COMPANY_NAME = "91211382MA0Y7K2R12", "凌源市鑫源商贸有限公司"
SHOP = "92211382MA0R5GHJ57"
PERSON, PERSON_NAME = "110101199003074477", "张三"
AS_OF = dt.date(2026, 11, 27)
EXTRA_ITEMS = [
    "GEN-001,抽查检查结果信息,凌源市市场监督管理局,11211382013786428K,其他,检查结果:枚举(合格|不合格):必填; "
    "检查日期:日期:必填; 检查项目数:整数:选填; 抽检金额（万元）:数值:选填; 被检单位代码:信用代码:选填; 月收入:数值:选填,"
    "政务共享,2年,否,,自然人、法人、非法人组织、个体工商户",
    "MKT-001,会员个人违约信息,凌源市建筑业协会,51211382MJ0558206W,市场信用信息,违约事由:文本:必填,授权查询,2年,是,一般,自然人",
    "DIS-001,严重违法失信信息,凌源市市场监督管理局,11211382013786428K,行政行为,失信事由:文本:必填,社会公开,5年,是,严重,"
    "法人、非法人组织",
]


def write_test_catalog(path: Path) -> Path:
    """The shipped 2026 catalog plus GEN-001 (every field type, a consent field), MKT-001 and DIS-001."""
    text = SAMPLE_CATALOG.read_text(encoding="utf-8-sig").rstrip("\n")
    path.write_text(text + "\n" + "\n".join(EXTRA_ITEMS) + "\n", encoding="utf-8")
    return path


class FakeCatalog:
    """One catalog version in force from ``effective`` (the database's CatalogIndex, without a database)."""

    def __init__(self, path: Path, effective: dt.date = dt.date(2025, 1, 1)):
        items = parse_catalog(path)
        self.version = Version(1, "test", effective, None, path.name, "", dt.datetime.now(dt.UTC), len(items))
        self._items = {item.code: Entry(number, item) for number, item in enumerate(items, 1)}

    def version_on(self, day: dt.date) -> Version | None:
        return self.version if day >= self.version.effective_from else None

    def items(self, version: Version) -> dict[str, Entry]:
        return self._items


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> FakeCatalog:
    return FakeCatalog(write_test_catalog(tmp_path_factory.mktemp("catalog") / "catalog.csv"))


def penalty_row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "行政相对人名称": COMPANY_NAME, "行政相对人类别": "法人及非法人组织", "统一社会信用代码": COMPANY,
        "法定代表人": "王建华", "行政处罚决定书文号": "凌市监罚〔2026〕301号", "违法行为类型": "销售过期药品",
        "违法事实": "经查，当事人销售过期药品。", "处罚依据": "《中华人民共和国药品管理法》第一百一十七条",
        "处罚类别": "罚款", "处罚内容": "罚款人民币3万元", "罚款金额（万元）": "3", "处罚决定日期": "2026-11-18",
        "处罚有效期": "2027-11-18", "公示截止期": "2027-11-18", "处罚机关": "凌源市市场监督管理局",
        "处罚机关统一社会信用代码": MARKET, "数据来源单位": "凌源市市场监督管理局",
        "数据来源单位统一社会信用代码": MARKET,
    }
    row.update(changes)
    return row


def generic_row(**changes: str | None) -> dict[str, str | None]:
    row = {"事项编码": "GEN-001", "主体代码": COMPANY, "主体名称": COMPANY_NAME, "文书号": "凌市监查〔2026〕7号",
           "决定日期": "2026-11-20", "检查结果": "合格", "检查日期": "2026-11-19"}
    row.update(changes)
    return row


def check(catalog: FakeCatalog, row: dict, *, layout=PENALTY, provider: str = MARKET, as_of: dt.date = AS_OF,
          calendar: WorkCalendar | None = None):
    checker = RowChecker(layout, list(row), provider=provider, as_of=as_of, calendar=calendar or WorkCalendar(),
                         catalog=catalog, source="test.csv")
    return checker.check(2, row, "raw")


def rules(result) -> list[tuple[str, str]]:
    assert isinstance(result, list), f"expected a rejection, got {result}"
    return [(p.field, p.rule) for p in result]


# --- a good row --------------------------------------------------------------------------------------

def test_a_complete_penalty_row_becomes_a_record_of_the_providers_penalty_item(catalog) -> None:
    result = check(catalog, penalty_row())
    assert isinstance(result, Checked)
    assert result.entry.item.code == "XZCF-001" and result.code == COMPANY and result.document_no.endswith("301号")
    assert result.decision == result.concluded == dt.date(2026, 11, 18)
    assert (result.due, result.late, result.guessed) == (dt.date(2026, 11, 27), 0, False)
    fields = json.loads(result.fields)
    assert fields["罚款金额（万元）"] == "3" and fields["处罚类别"] == "罚款"
    assert "行政相对人名称" not in fields and "统一社会信用代码" not in fields  # the subject holds them


def test_a_penalty_is_disclosed_until_its_publicity_end_when_that_is_earliest(catalog) -> None:
    assert check(catalog, penalty_row()).disclosure == dt.date(2027, 11, 18)
    assert check(catalog, penalty_row(公示截止期="2030-01-01")).disclosure == dt.date(2029, 11, 18)  # 3 years


def test_english_headers_name_the_same_fields_as_the_national_ones(catalog) -> None:
    english = {"subject_name": COMPANY_NAME, "uscc": COMPANY, "document_no": "凌市监罚〔2026〕9号",
               "violation_type": "虚假宣传", "violation_facts": "虚假宣传。", "legal_basis": "《反不正当竞争法》",
               "penalty_category": "警告", "penalty_content": "警告", "decision_date": "2026-11-18",
               "publicity_until": "2027-11-18", "authority": "凌源市市场监督管理局", "authority_uscc": MARKET,
               "source_unit": "凌源市市场监督管理局", "source_unit_uscc": MARKET, "subject_category": "法人及非法人组织"}
    result = check(catalog, english)
    assert isinstance(result, Checked), result
    assert json.loads(result.fields)["处罚类别"] == "警告"


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_every_alias_of_every_layout_names_exactly_one_field(layout) -> None:
    from lycredit.readers import map_headers

    for f in layout.fields:
        for alias in f.aliases:
            assert dict(map_headers([alias], layout.aliases)) == {f.name: alias}


# --- each rule: a bad row rejected, naming the column and the rule ---------------------------------------

@pytest.mark.parametrize("changes, expected", [
    ({"统一社会信用代码": COMPANY[:17] + "0"}, ("统一社会信用代码", "subject_code_invalid")),
    ({"统一社会信用代码": None}, ("统一社会信用代码", "required")),
    ({"统一社会信用代码": PERSON}, ("统一社会信用代码", "subject_code_invalid")),
    ({"行政相对人名称": ""}, ("行政相对人名称", "required")),
    ({"行政相对人名称": "\u200b"}, ("行政相对人名称", "required")),
    ({"行政相对人名称": "名" * 201}, ("行政相对人名称", "subject_name_invalid")),
    ({"行政相对人名称": "凌源市\u2028示例建材有限公司"}, ("行政相对人名称", "subject_name_invalid")),
    ({"行政相对人名称": "凌源市\u202e司公限有材建"}, ("行政相对人名称", "subject_name_invalid")),
    ({"行政处罚决定书文号": "凌市监罚\x85〔2026〕1号"}, ("行政处罚决定书文号", "document_no_invalid")),
    ({"行政相对人类别": "自然人"}, ("行政相对人类别", "subject_category_mismatch")),
    ({"行政相对人类别": "法人"}, ("行政相对人类别", "not_in_enum")),
    ({"行政处罚决定书文号": None}, ("行政处罚决定书文号", "required")),
    ({"行政处罚决定书文号": "号" * 129}, ("行政处罚决定书文号", "document_no_invalid")),
    ({"处罚决定日期": "2026-02-30"}, ("处罚决定日期", "invalid_date")),
    ({"处罚决定日期": "18/11/2026"}, ("处罚决定日期", "invalid_date")),
    ({"处罚决定日期": "2026-11-28"}, ("处罚决定日期", "decision_in_future")),
    ({"公示截止期": "2026-11-17"}, ("公示截止期", "publicity_before_decision")),
    ({"处罚有效期": "2026-01-01"}, ("处罚有效期", "validity_before_decision")),
    ({"处罚类别": "打板子"}, ("处罚类别", "not_in_enum")),
    ({"罚款金额（万元）": None}, ("罚款金额（万元）", "fine_required")),
    ({"罚款金额（万元）": "1.2.3"}, ("罚款金额（万元）", "invalid_decimal")),
    ({"罚款金额（万元）": "1e3"}, ("罚款金额（万元）", "invalid_decimal")),
    ({"罚款金额（万元）": "-1"}, ("罚款金额（万元）", "invalid_amount")),
    ({"罚款金额（万元）": "0.0000001"}, ("罚款金额（万元）", "invalid_amount")),
    ({"违法事实": None}, ("违法事实", "required")),
    ({"处罚机关统一社会信用代码": "12345"}, ("处罚机关统一社会信用代码", "invalid_code")),
    ({"数据来源单位统一社会信用代码": APPROVAL}, ("数据来源单位统一社会信用代码", "source_unit_mismatch")),
    ({"开户银行": "凌源农商行"}, ("开户银行", "field_not_in_standard")),
    ({"事项编码": "BZ-001"}, ("事项编码", "item_layout_mismatch")),
    ({"事项编码": "NOPE-1"}, ("事项编码", "item_not_in_catalog")),
    ({"办结日期": "2026-11-17"}, ("办结日期", "concluded_before_decision")),
])
def test_a_penalty_row_breaking_a_rule_is_rejected_naming_column_and_rule(catalog, changes, expected) -> None:
    found = rules(check(catalog, penalty_row(**changes)))
    assert expected in found, found


def test_an_empty_column_that_no_field_names_is_ignored(catalog) -> None:
    assert isinstance(check(catalog, penalty_row(开户银行="")), Checked)


def test_a_provider_without_a_penalty_item_has_its_penalty_rows_rejected(catalog) -> None:
    assert rules(check(catalog, penalty_row(数据来源单位统一社会信用代码=APPROVAL), provider=APPROVAL)) == [
        ("事项编码", "item_not_in_catalog")]


def test_a_row_with_several_faults_reports_every_one(catalog) -> None:
    found = rules(check(catalog, penalty_row(违法事实=None, 处罚类别="打板子", 处罚决定日期="2027-01-01")))
    assert {("违法事实", "required"), ("处罚类别", "not_in_enum"), ("处罚决定日期", "decision_in_future")} <= set(found)


@pytest.mark.parametrize("changes, provider, expected", [
    ({"事项编码": "BZ-001"}, MARKET, ("事项编码", "item_not_owned")),
    ({"事项编码": "NOPE-1"}, MARKET, ("事项编码", "item_not_in_catalog")),
    ({"事项编码": None}, MARKET, ("事项编码", "required")),
    ({"决定日期": "2024-12-31"}, MARKET, ("事项编码", "no_catalog_in_force")),
    ({"事项编码": "DIS-001", "失信事由": "虚假注册", "主体代码": SHOP, "检查结果": None}, MARKET, ("主体代码", "subject_kind_not_allowed")),
    ({"检查项目数": "3.5"}, MARKET, ("检查项目数", "invalid_integer")),
    ({"检查结果": None}, MARKET, ("检查结果", "required")),
    ({"被检单位代码": "91211382MA0Y7K2R10"}, MARKET, ("被检单位代码", "invalid_code")),
    ({"主体代码": "11010119900307447X"}, MARKET, ("主体代码", "subject_code_invalid")),
    ({"主体代码": COMPANY, "统一社会信用代码": SHOP}, MARKET, ("统一社会信用代码", "subject_code_conflict")),
])
def test_a_generic_row_breaking_a_rule_is_rejected(catalog, changes, provider, expected) -> None:
    found = rules(check(catalog, generic_row(**changes), layout=GENERIC, provider=provider))
    assert expected in found, found


def test_a_natural_persons_number_is_never_repeated_in_a_message(catalog) -> None:
    wrong = PERSON[:17] + ("0" if PERSON[17] != "0" else "1")
    found = check(catalog, generic_row(主体代码=wrong), layout=GENERIC)
    assert all(wrong not in p.message for p in found)


@pytest.mark.parametrize("text, day", [
    ("2026-03-05", dt.date(2026, 3, 5)), ("2026/3/5", dt.date(2026, 3, 5)), ("2026.03.05", dt.date(2026, 3, 5)),
    ("2026年3月5日", dt.date(2026, 3, 5)), ("20260305", dt.date(2026, 3, 5)),
    ("2026-03-05 00:00:00", dt.date(2026, 3, 5)), ("46086", dt.date(2026, 3, 5)),
])
def test_dates_are_read_as_iso_or_as_excel_writes_them(text, day) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize("text, day", [
    ("2026/3/5 0:00", dt.date(2026, 3, 5)), ("2026-03-05 23:59:59.999", dt.date(2026, 3, 5)),
    ("2026年3月5日 10:00", dt.date(2026, 3, 5)), ("2026-03-05T10:00:00,5", dt.date(2026, 3, 5)),
    ("2026-03-05 25:00", None), ("2026-03-05T24:00:00", None), ("2026-03-05 10:60", None),
    ("2026-03-05 10:00:61", None), ("2026-03-05 99:99:99", None), ("2026-03-05 1000", None),
])
def test_a_date_time_without_a_time_zone_stands_for_its_day_only_when_its_time_is_a_time(text, day) -> None:
    """Its own day whatever the time, but a time it is: 25:00 or 99:99:99 (a slip, a swapped field) was read as
    the date before it, silently; it is invalid_date now, as 2026-02-30 is."""
    from lycredit.records import _Bad

    if day is not None:
        assert parse_date(text) == day
        return
    with pytest.raises(_Bad) as bad:
        parse_date(text)
    assert bad.value.rule == "invalid_date" and text in bad.value.message


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_an_amount_of_at_most_six_decimals_reads_back_as_the_same_number(value) -> None:
    from decimal import Decimal

    assert Decimal(parse_amount(format(value, "f"))) == value


# --- Art. 12: forbidden and consent-only fields --------------------------------------------------------

@pytest.mark.parametrize("column", ["血型", "宗教信仰", "指纹信息", "Blood Type", "病史"])
def test_a_forbidden_column_anywhere_in_the_header_rejects_the_whole_file(column) -> None:
    with pytest.raises(ForbiddenColumn) as caught:
        check_header(PENALTY, [*penalty_row(), column], "p.csv")
    assert caught.value.column == column and column in caught.value.message and "Art. 12" in caught.value.message


def test_a_header_without_the_layouts_required_columns_is_rejected_naming_them() -> None:
    with pytest.raises(DataError, match="行政处罚决定书文号"):
        check_header(PENALTY, ["行政相对人名称", "统一社会信用代码", "处罚决定日期"], "p.csv")
    with pytest.raises(DataError, match="统一社会信用代码"):
        check_header(LICENSE, ["行政相对人名称", "行政许可决定文书号", "许可决定日期"], "l.csv")


def test_a_persons_income_needs_consent_and_an_organisations_does_not(catalog) -> None:
    person = check(catalog, generic_row(主体代码=PERSON, 主体名称=PERSON_NAME, 月收入="0.8"), layout=GENERIC)
    assert person.consent == (("月收入", "income"),)
    company = check(catalog, generic_row(月收入="80"), layout=GENERIC)
    assert company.consent == ()
    empty = check(catalog, generic_row(主体代码=PERSON, 主体名称=PERSON_NAME, 月收入=""), layout=GENERIC)
    assert empty.consent == ()


def test_market_information_about_a_person_needs_consent(catalog) -> None:
    row = generic_row(事项编码="MKT-001", 主体代码=PERSON, 主体名称=PERSON_NAME, 违约事由="拖欠会费",
                      检查结果=None, 检查日期=None)
    result = check(catalog, row, layout=GENERIC, provider=ASSOC)
    assert result.consent == (("主体代码", "market"),)


def test_a_persons_name_and_number_are_not_kept_in_the_records_fields(catalog) -> None:
    row = generic_row(事项编码="MKT-001", 主体代码=PERSON, 主体名称=PERSON_NAME, 违约事由=f"{PERSON_NAME}拖欠会费",
                      检查结果=None, 检查日期=None)
    result = check(catalog, row, layout=GENERIC, provider=ASSOC)
    assert PERSON not in result.fields and f'"{PERSON_NAME}"' not in result.fields


# --- Art. 10 and 46: the deadline in working days ------------------------------------------------------

@pytest.mark.parametrize("decided, as_of, due, late", [
    ("2026-09-28", "2026-10-13", "2026-10-13", 0),   # National Day: two days before, five after
    ("2026-09-28", "2026-10-14", "2026-10-13", 1),
    ("2026-10-09", "2026-10-19", "2026-10-19", 0),   # the make-up Saturday 10-10 is a working day
    ("2026-10-09", "2026-10-24", "2026-10-19", 5),   # submitted on a Saturday: counts from the next working day
    ("2026-02-12", "2026-02-28", "2026-02-28", 0),   # Spring Festival with make-up Saturdays 02-14 and 02-28
    ("2026-02-12", "2026-03-02", "2026-02-28", 1),
])
def test_the_deadline_is_seven_working_days_after_the_conclusion(catalog, decided, as_of, due, late) -> None:
    day = dt.date.fromisoformat(decided)
    row = penalty_row(处罚决定日期=decided, 处罚有效期=None, 公示截止期=str(day.replace(year=2027)))
    result = check(catalog, row, as_of=dt.date.fromisoformat(as_of))
    assert (result.due, result.late) == (dt.date.fromisoformat(due), late)


def test_a_deadline_in_a_year_without_schedule_rejects_the_row_unless_weekends_are_assumed(catalog) -> None:
    row = penalty_row(处罚决定日期="2026-12-28", 处罚有效期=None, 公示截止期="2027-12-28")
    rejected = check(catalog, row, as_of=dt.date(2026, 12, 30))
    assert rules(rejected) == [("处罚决定日期", "calendar_year_missing")]
    assert "2027" in rejected[0].message and "calendar import" in rejected[0].message
    guessed = check(catalog, row, as_of=dt.date(2026, 12, 30), calendar=WorkCalendar(assume_weekends=True))
    assert (guessed.due, guessed.guessed, guessed.late) == (dt.date(2027, 1, 6), True, 0)


# --- Art. 15: the disclosure period ----------------------------------------------------------------------

def test_dishonesty_information_is_disclosed_five_years_from_the_end_of_the_act_at_most(catalog) -> None:
    row = generic_row(事项编码="DIS-001", 失信事由="虚假注册", 决定日期="2026-11-20", 失信行为终止日期="2021-11-27",
                      检查结果=None, 检查日期=None)
    assert check(catalog, row, layout=GENERIC).disclosure == dt.date(2026, 11, 27)


@given(decision=st.dates(dt.date(2000, 1, 1), dt.date(2090, 12, 31)), months=st.one_of(st.none(), st.integers(1, 60)),
       dishonest=st.booleans(), publicity_days=st.one_of(st.none(), st.integers(0, 4000)))
def test_the_disclosure_end_is_the_earliest_limit_and_never_past_five_years_for_dishonesty(
        catalog, decision, months, dishonest, publicity_days) -> None:
    item = catalog.items(catalog.version)["XZCF-001"].item
    item = type(item)(**{**item.__dict__, "validity_months": months, "dishonesty": dishonest})
    publicity = None if publicity_days is None else decision + dt.timedelta(days=publicity_days)
    until = disclosure_until(item, decision, None, publicity)
    limits = [d for d in (publicity, months and add_months(decision, months),
                          dishonest and add_months(decision, 60)) if d]
    assert until == (min(limits) if limits else None)
    if dishonest:
        assert until <= add_months(decision, 60)


# --- the commands, on SQLite and PostgreSQL ----------------------------------------------------------------

@pytest.fixture
def records_platform(platform, tmp_path):
    """The platform with the test catalog in force from 2025-01-01 and one provider operator per unit."""
    path = write_test_catalog(tmp_path / "catalog.csv")
    r = platform.run("catalog", "import", str(path), "--version", "2026", "--effective", "2025-01-01")
    assert r.exit_code == 0, r.output
    platform.add_operator("market", "provider", unit=MARKET, unit_name="凌源市市场监督管理局")
    platform.add_operator("assoc", "provider", unit=ASSOC, unit_name="凌源市建筑业协会")
    return platform


def submit(platform, *args: str, key: str = "market", as_of: str = "2026-11-27"):
    return platform.run("--as-of", as_of, "--format", "json", "record", "submit", *args, key=key)


GEN = ("--item", "GEN-001", "--subject", COMPANY, "--name", COMPANY_NAME, "--document-no", "凌市监查〔2026〕7号",
       "--decision-date", "2026-11-20", "--field", "检查结果=合格", "--field", "检查日期=2026-11-19")


def test_a_catalog_version_that_covers_stored_records_says_so_and_they_keep_their_items(
        records_platform, tmp_path) -> None:
    platform = records_platform
    assert submit(platform, *GEN).exit_code == 0
    item_before = scalar(platform, "SELECT catalog_item_id FROM record")
    path = write_test_catalog(tmp_path / "catalog-b.csv")
    r = platform.run("catalog", "import", str(path), "--version", "2026b", "--effective", "2026-06-01")
    assert r.exit_code == 0, r.output
    assert "Note: 1 stored records have a decision date that version 2026b now covers" in r.stderr
    assert scalar(platform, "SELECT catalog_item_id FROM record") == item_before
    summary = scalar(platform, "SELECT summary FROM oplog_operation ORDER BY seq DESC")
    assert json.loads(summary)["earlier_records"] == 1
    later = platform.run("catalog", "import", str(path), "--version", "2027", "--effective", "2027-01-01")
    assert later.exit_code == 0 and "Note:" not in later.stderr
    verify(platform)


def scalar(platform, sql: str, **params):
    with platform.engine().connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def verify(platform) -> None:
    r = platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output


def test_a_submitted_record_is_shown_with_its_fields_and_its_submit_revision(records_platform) -> None:
    r = submit(records_platform, *GEN)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["action"] == "submitted" and out["late_days"] == 0 and out["disclosure_until"] == "2028-11-20"
    shown = json.loads(records_platform.run("--format", "json", "record", "show", str(out["id"]), key=None).stdout)
    assert shown["fields"]["检查结果"] == "合格" and shown["subject"] == COMPANY
    assert [h["change"] for h in shown["history"]] == ["submit"]
    verify(records_platform)


def test_record_list_says_when_its_limit_cut_it(records_platform) -> None:
    assert submit(records_platform, *GEN).exit_code == 0
    second = (*GEN[:7], "凌市监查〔2026〕8号", *GEN[8:])
    assert submit(records_platform, *second).exit_code == 0
    cut = records_platform.run("--format", "json", "record", "list", "--limit", "1", key=None)
    assert len(json.loads(cut.stdout)) == 1 and "Only the first 1 are shown; there are more" in cut.stderr
    whole = records_platform.run("--format", "json", "record", "list", "--limit", "2", key=None)
    assert len(json.loads(whole.stdout)) == 2 and "there are more" not in whole.stderr
    quiet = records_platform.run("--quiet", "record", "list", "--limit", "1", key=None)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_resubmitting_the_same_record_changes_nothing_and_logs_no_change(records_platform) -> None:
    assert submit(records_platform, *GEN).exit_code == 0
    leaves = scalar(records_platform, "SELECT count(*) FROM oplog_entry")
    again = submit(records_platform, *GEN)
    assert json.loads(again.stdout)["action"] == "unchanged"
    assert scalar(records_platform, "SELECT count(*) FROM oplog_entry") == leaves + 1  # the operation only
    assert scalar(records_platform, "SELECT count(*) FROM record_history") == 0  # a submission has no history row


def test_a_correction_keeps_every_revision_with_its_reason(records_platform) -> None:
    record_id = json.loads(submit(records_platform, *GEN).stdout)["id"]
    r = records_platform.run("--as-of", "2026-11-27", "--format", "json", "record", "correct", str(record_id),
                             "--field", "检查结果=不合格", "--reason", "录入错误", key="market")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["revision"] == 2
    shown = json.loads(records_platform.run("--format", "json", "record", "show", str(record_id), key=None).stdout)
    assert shown["fields"]["检查结果"] == "不合格"
    assert [(h["revision"], h["change"], h["reason"]) for h in shown["history"]] == [
        (1, "submit", None), (2, "correct", "录入错误")]
    with records_platform.engine().connect() as conn:
        states = [json.loads(s) for s in conn.execute(sa.text(
            "SELECT fields FROM record_history WHERE record_id = :id ORDER BY revision"), {"id": record_id}).scalars()]
    assert len(states) == 1 and states[0]["fields"]["检查结果"] == "合格" and states[0]["revision"] == 1
    verify(records_platform)


def test_a_day_after_today_is_refused_for_intake_except_in_a_dry_run(records_platform, tmp_path) -> None:
    """A later --as-of would let a decision dated after today pass and count the deadline from a day to come
    (marking the record late): submit, import and correct refuse it (2) and write nothing; a dry run previews."""
    from lycredit.periods import shanghai_today

    platform = records_platform
    later = str(shanghai_today() + dt.timedelta(days=1))
    future = (*GEN[:-6], "--decision-date", later, *GEN[-4:])
    r = submit(platform, *future, as_of=later)
    assert r.exit_code == 2 and "after today" in r.stderr and "--dry-run" in r.stderr, r.output
    assert scalar(platform, "SELECT count(*) FROM record") == 0
    preview = submit(platform, *future, "--dry-run", as_of=later)
    assert preview.exit_code == 0 and json.loads(preview.stdout)["action"] == "submitted", preview.output
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    correct = ("record", "correct", str(record_id), "--field", "检查结果=不合格", "--reason", "录入错误")
    r = platform.run("--as-of", later, *correct, key="market")
    assert r.exit_code == 2 and "after today" in r.stderr, r.output
    assert platform.run("--as-of", later, *correct, "--dry-run", key="market").exit_code == 0
    sample = Path(__file__).resolve().parents[1] / "samples" / "records" / "penalty-2026.csv"
    r = platform.run("--as-of", later, "record", "import", str(sample), "--layout", "penalty", "--rejects",
                     str(tmp_path / "r.csv"), key="market")
    assert r.exit_code == 2 and "after today" in r.stderr, r.output
    assert not (tmp_path / "r.csv").exists()
    platform.add_operator("aud", "auditor")  # a role that may not import is refused as such, and logged, first
    r = platform.run("--as-of", later, "record", "import", str(sample), "--layout", "penalty", key="aud")
    assert r.exit_code == 77, r.output
    assert scalar(platform, "SELECT action FROM oplog_operation ORDER BY seq DESC") == "refused"
    dry = platform.run("--as-of", later, "record", "import", str(sample), "--layout", "penalty", "--rejects",
                       str(tmp_path / "r.csv"), "--dry-run", key="market")
    assert dry.exit_code == 0, dry.output
    assert scalar(platform, "SELECT count(*) FROM record") == 1
    assert scalar(platform, "SELECT revision FROM record") == 1
    today = str(shanghai_today())  # today itself is no later day
    assert platform.run("--as-of", today, *correct, key="market").exit_code == 0
    verify(platform)


def test_importing_a_years_schedule_names_the_records_counted_on_a_guessed_calendar_in_it(records_platform,
                                                                                           tmp_path) -> None:
    """A deadline counted Monday to Friday (--assume-weekends) is flagged due_guessed; when the year's official
    schedule arrives, calendar import says how many stored records were counted over it (they are not recounted:
    their late days stand as counted), and record list --guessed lists them."""
    platform = records_platform
    path = write_test_catalog(tmp_path / "catalog-2003.csv")  # chinesecalendar starts with 2004
    r = platform.run("catalog", "import", str(path), "--version", "2003", "--effective", "2003-01-01", "--backdate",
                     "--reason", "2003年目录")
    assert r.exit_code == 0, r.output
    old = ("--item", "GEN-001", "--subject", COMPANY, "--name", COMPANY_NAME, "--document-no", "凌市监查〔2003〕1号",
           "--decision-date", "2003-06-10", "--field", "检查结果=合格", "--field", "检查日期=2003-06-09")
    refused = submit(platform, *old)
    assert refused.exit_code == 65 and "calendar_year_missing" in refused.stderr, refused.output
    guessed = json.loads(submit(platform, *old, "--assume-weekends").stdout)
    assert json.loads(submit(platform, *GEN).stdout)["action"] == "submitted"
    listed = json.loads(platform.run("--format", "json", "record", "list", "--guessed", key=None).stdout)
    assert [(r["id"], r["due_date"], r["due_guessed"]) for r in listed] == [(guessed["id"], "2003-06-19", True)]
    schedule = tmp_path / "2003.csv"
    schedule.write_text("日期,类型,说明\n2003-06-12,节假日,示例\n", encoding="utf-8")
    r = platform.run("--format", "json", "calendar", "import", str(schedule), key="admin")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["guessed_records"] == 1
    assert "Note: 1 stored records had their Art. 10 deadline counted Monday to Friday over 2003" in r.stderr
    assert "record list --guessed" in r.stderr
    schedule.write_text("日期,类型,说明\n2002-06-12,节假日,示例\n", encoding="utf-8")  # a year it did not touch
    r = platform.run("--format", "json", "calendar", "import", str(schedule), key="admin")
    assert r.exit_code == 0 and json.loads(r.stdout)["guessed_records"] == 0 and "Note:" not in r.stderr, r.output
    assert scalar(platform, "SELECT due_date FROM record WHERE id = :id", id=guessed["id"]) in (
        "2003-06-19", dt.date(2003, 6, 19))  # not recounted
    verify(platform)


def test_a_record_submitted_before_a_year_whose_deadline_was_counted_into_it_is_named_when_it_is_imported(
        records_platform) -> None:
    """A record concluded in late December and taken in before the new year, whose next year had no schedule yet
    (--assume-weekends), has its deadline counted over the new year's first days: calendar import of that year
    counted only records submitted in the year and missed it (0), although its due date lies in the year."""
    platform = records_platform
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    with platform.engine().begin() as conn:  # as stored by an intake on 2026-12-29 (the clock cannot be moved)
        conn.execute(sa.text("UPDATE record SET concluded_on = :concluded, due_date = :due, due_guessed = :guessed, "
                             "submitted_at = :at WHERE id = :id"),
                     {"concluded": dt.date(2026, 12, 28), "due": dt.date(2027, 1, 6), "guessed": True,
                      "at": dt.datetime(2026, 12, 29, 2, 0), "id": record_id})
    sample = Path(__file__).resolve().parents[1] / "samples" / "calendar" / "2027.csv"
    r = platform.run("--format", "json", "calendar", "import", str(sample), "--dry-run", "--replace-package-year",
                     key="admin")  # whether or not the installed chinesecalendar has 2027 yet
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["guessed_records"] == 1, r.output
    assert "Note: 1 stored records" in r.stderr


def test_a_correction_is_checked_by_every_rule_again(records_platform) -> None:
    record_id = json.loads(submit(records_platform, *GEN).stdout)["id"]
    r = records_platform.run("--as-of", "2026-11-27", "record", "correct", str(record_id), "--field", "检查结果=良好",
                             "--reason", "x", key="market")
    assert r.exit_code == 65 and "检查结果" in r.stderr and "not_in_enum" in r.stderr
    r = records_platform.run("--as-of", "2026-11-27", "record", "correct", str(record_id), "--field", "文书号=X-1",
                             "--reason", "x", key="market")
    assert r.exit_code == 65 and "withdraw" in r.stderr


def test_a_withdrawn_record_is_kept_and_can_no_longer_be_corrected(records_platform) -> None:
    record_id = json.loads(submit(records_platform, *GEN).stdout)["id"]
    r = records_platform.run("--format", "json", "record", "withdraw", str(record_id), "--reason", "重复报送",
                             key="market")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "withdrawn"
    r = records_platform.run("--as-of", "2026-11-27", "record", "correct", str(record_id), "--field", "检查结果=不合格",
                             "--reason", "x", key="market")
    assert r.exit_code == 65 and "withdrawn" in r.stderr
    listed = json.loads(records_platform.run("--format", "json", "record", "list", "--status", "withdrawn",
                                             key=None).stdout)
    assert [row["id"] for row in listed] == [record_id]
    verify(records_platform)


def test_a_rejected_submission_exits_65_naming_field_and_rule(records_platform) -> None:
    r = submit(records_platform, *GEN, "--field", "检查项目数=很多")
    assert r.exit_code == 65 and "检查项目数" in r.stderr and "invalid_integer" in r.stderr
    assert scalar(records_platform, "SELECT count(*) FROM record") == 0


def test_a_submission_without_the_options_a_record_needs_is_a_usage_error_naming_them(
        records_platform, tmp_path) -> None:
    """record submit with no --item, --subject ... said 'the record: the header has no column for 事项编码, ...'
    and exited 65, as if a file's header were wrong. It is a usage error (2) naming the options left out, before
    anything is done; a --field with the layout's name counts as given, and --json keeps its data error (65)."""
    entries = scalar(records_platform, "SELECT count(*) FROM oplog_entry")
    r = submit(records_platform)
    assert r.exit_code == 2, r.output
    for option in ("--item", "--subject", "--name", "--document-no", "--decision-date"):
        assert option in r.stderr
    without_date = [a for i, a in enumerate(GEN) if "--decision-date" not in GEN[max(i - 1, 0):i + 1]]
    r = submit(records_platform, *without_date)
    assert r.exit_code == 2 and "--decision-date (决定日期)" in r.stderr and "--item" not in r.stderr, r.output
    assert submit(records_platform, *without_date, "--field", "决定日期=2026-11-20").exit_code == 0
    assert scalar(records_platform, "SELECT count(*) FROM oplog_entry") > entries
    document = tmp_path / "record.json"
    document.write_text(json.dumps({"事项编码": "GEN-001"}), encoding="utf-8")
    r = submit(records_platform, "--json", str(document))
    assert r.exit_code == 65 and "主体名称" in r.stderr, r.output


def test_a_provider_submits_only_for_its_own_unit_and_only_its_own_items(records_platform) -> None:
    r = submit(records_platform, *GEN, "--provider", ASSOC)
    assert r.exit_code == 77 and ASSOC in r.stderr
    r = submit(records_platform, *GEN, key="assoc")
    assert r.exit_code == 65 and "item_not_owned" in r.stderr
    r = submit(records_platform, *GEN, "--provider", MARKET, key="admin")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("key", ["99999999999999999999", "9223372036854775808", "9" * 5000, "²", str(2**31),
                                 "10000000000"])
def test_an_id_no_record_can_have_is_an_error_naming_it_not_a_traceback(records_platform, key) -> None:
    """An id beyond what the id column holds (a pasted document number, a typo) is no record (65), as id 0 is; a
    digit that is not a decimal digit ('²') names no record at all (2). Before, each ended in a traceback
    (OverflowError from the SQLite driver beyond 64 bits, 'integer out of range' from PostgreSQL beyond 32,
    ValueError from int())."""
    expected = 2 if key == "²" else 65
    assert submit(records_platform, *GEN).exit_code == 0
    for args in (("record", "show", key), ("record", "withdraw", key, "--reason", "x"),
                 ("record", "correct", key, "--field", "检查结果=不合格", "--reason", "x")):
        r = records_platform.run("--as-of", "2026-11-27", *args, key="market")
        assert r.exit_code == expected, r.output
        assert key in r.stderr and "Traceback" not in r.output
    assert scalar(records_platform, "SELECT status FROM record") == "active"


def test_an_integer_field_of_more_digits_than_int_takes_is_checked_not_a_traceback(records_platform) -> None:
    """检查项目数 (整数) of 5000 digits passed the pattern and went to int(), which refuses more than 4300 digits:
    a ValueError and a traceback, from submit and from an import row alike. An integer is written out in its
    canonical form without int() now, like a decimal, and its sign and leading zeros go as before."""
    for value, stored in (("9" * 5000, "9" * 5000), ("-0042", "-42"), ("+007", "7"), ("-000", "0")):
        r = submit(records_platform, *GEN, "--field", f"检查项目数={value}")
        assert r.exit_code == 0, r.output[-2000:]
        assert json.loads(scalar(records_platform, "SELECT fields FROM record"))["检查项目数"] == stored
    verify(records_platform)


def test_a_malformed_provider_code_is_named_as_the_provider_option(records_platform) -> None:
    """--provider with a code that is not a USCC said only 'Unified social credit code has 3 characters', which in
    an import reads like a row's code; the message names --provider and its value now (65, as before)."""
    record_id = str(json.loads(submit(records_platform, *GEN).stdout)["id"])
    for args in (("record", "withdraw", record_id, "--reason", "x"), ("record", "submit", *GEN[2:], "--item", "GEN-001"),
                 ("record", "import", str(write_test_catalog(records_platform.dir / "c.csv")), "--layout", "penalty")):
        r = records_platform.run("--as-of", "2026-11-27", *args, "--provider", "abc", key="admin")
        assert r.exit_code == 65 and "--provider abc: " in r.stderr and "18" in r.stderr, r.output
    assert scalar(records_platform, "SELECT status FROM record") == "active"


def test_show_and_list_read_the_provider_code_as_typed_like_the_commands_that_change_records(records_platform) -> None:
    """record correct, withdraw and import read --provider as a code is read everywhere (lower case, full-width
    characters, spaces do not matter) and refuse a malformed one naming --provider; record show and list compared
    the text as given: `record list --provider 11211382013786428k` listed nothing and `record show ITEM:NO` with it
    found no record, both silently, and a malformed code listed nothing (exit 0). Named as ITEM_CODE:DOCUMENT_NO
    without --provider, show said to name the record as ITEM_CODE:DOCUMENT_NO, which it was."""
    platform = records_platform
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    name = "GEN-001:凌市监查〔2026〕7号"
    typed = " ".join(MARKET.lower()[i:i + 6] for i in range(0, 18, 6))  # '112113 820137 86428k'
    for provider in (MARKET, typed, "１１２１１３８２０１３７８６４２８Ｋ"):
        listed = platform.run("--format", "json", "record", "list", "--provider", provider, key=None)
        assert listed.exit_code == 0 and [r["id"] for r in json.loads(listed.stdout)] == [record_id], provider
        shown = platform.run("--format", "json", "record", "show", name, "--provider", provider, key=None)
        assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == record_id, (provider, shown.output)
    for args in (("record", "list"), ("record", "show", name), ("record", "show", str(record_id))):
        r = platform.run(*args, "--provider", "abc", key=None)
        assert r.exit_code == 65 and "--provider abc: " in r.stderr, (args, r.output)
    r = platform.run("record", "show", name, key=None)
    assert r.exit_code == 2 and "--provider" in r.stderr, r.output


def test_a_value_longer_than_an_import_takes_is_refused_by_submit_and_correct_too(records_platform, tmp_path) -> None:
    """An import refuses a cell of more than 10 000 characters; record submit (--field or a --json of any size:
    50 MB went through) and record correct stored it. All three refuse it now (65), naming the field; 10 000
    characters still go."""
    record_id = str(json.loads(submit(records_platform, *GEN).stdout)["id"])
    long, fits = "长" * 10_001, "长" * 10_000
    r = records_platform.run("--as-of", "2026-11-27", "record", "correct", record_id, "--field", f"检查结果={long}",
                             "--reason", "x", key="market")
    assert r.exit_code == 65 and "检查结果 has 10001 characters, more than the limit of 10000" in r.stderr, r.output
    r = submit(records_platform, *GEN, "--document-no", "凌市监查〔2026〕9号", "--field", f"备注={long}")
    assert r.exit_code == 65 and "备注 has 10001 characters" in r.stderr, r.output
    document = tmp_path / "record.json"
    document.write_text(json.dumps({"备注": long * 50}, ensure_ascii=False), encoding="utf-8")
    r = submit(records_platform, *GEN, "--json", str(document))
    assert r.exit_code == 65 and f"{document}: the value of column 备注 has 500050 characters" in r.stderr, r.output
    assert scalar(records_platform, "SELECT count(*) FROM record") == 1
    assert scalar(records_platform, "SELECT revision FROM record") == 1
    dishonesty = ("--item", "DIS-001", "--subject", COMPANY, "--name", COMPANY_NAME, "--document-no", "凌市监〔2026〕1号",
                  "--decision-date", "2026-11-20")
    r = submit(records_platform, *dishonesty, "--field", f"失信事由={long}")
    assert r.exit_code == 65 and "失信事由 has 10001 characters" in r.stderr, r.output
    r = submit(records_platform, *dishonesty, "--field", f"失信事由={fits}")
    assert r.exit_code == 0, r.output
    assert json.loads(scalar(records_platform, "SELECT fields FROM record WHERE item_code = 'DIS-001'"))["失信事由"] == fits


def test_a_field_given_twice_is_a_usage_error_not_the_last_one_silently(records_platform) -> None:
    """record correct --field 抽检金额（万元）=5 --field 抽检金额(万元)=7 stored 7 without a word (one column to an
    import, which refuses a header naming it twice, as a JSON object refuses a repeated name). Given twice by
    the same name, by another spelling of it, or by its English alias for the layout's column: a usage error
    (2) naming both, and the record unchanged."""
    record_id = str(json.loads(submit(records_platform, *GEN).stdout)["id"])
    for pairs in (("抽检金额（万元）=5", "抽检金额(万元)=7"), ("检查结果=合格", "检查结果=不合格"),
                  ("文书号=X", "document_no=Y")):
        r = records_platform.run("--as-of", "2026-11-27", "record", "correct", record_id, "--field", pairs[0],
                                 "--field", pairs[1], "--reason", "x", key="market")
        assert r.exit_code == 2 and "given twice" in r.stderr, r.output
    r = submit(records_platform, *GEN, "--field", "抽检金额(万元)=1", "--field", "抽检金额（万元）=2")
    assert r.exit_code == 2 and "given twice" in r.stderr, r.output
    assert scalar(records_platform, "SELECT revision FROM record") == 1
    assert "抽检金额（万元）" not in json.loads(scalar(records_platform, "SELECT fields FROM record"))


def test_control_characters_a_provider_sent_reach_a_table_escaped_and_every_other_format_as_sent(
        records_platform) -> None:
    """A --reason or a field holding ESC sequences or BEL was printed raw by record show and record list, so a
    provider could recolour, retitle or hide text on an NDRC operator's terminal. A table shows each control
    character as its escape now; json keeps the value as sent."""
    hostile = "重复\x1b[2J\x1b]0;pwned\x07报送\r"
    dishonesty = ("--item", "DIS-001", "--subject", COMPANY, "--name", COMPANY_NAME, "--document-no", "凌市监〔2026〕2号",
                  "--decision-date", "2026-11-20", "--field", "失信事由=虚假\x1b[8m隐藏")
    record_id = str(json.loads(submit(records_platform, *dishonesty).stdout)["id"])
    r = records_platform.run("record", "withdraw", record_id, "--reason", hostile, key="market")
    assert r.exit_code == 0, r.output
    for args in (("record", "show", record_id), ("record", "list", "--status", "withdrawn")):
        shown = records_platform.run(*args, key=None)
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout and "\r" not in shown.stdout
    table = records_platform.run("record", "show", record_id, key=None).stdout
    assert "重复\\x1b[2J\\x1b]0;pwned\\x07报送" in table and "虚假\\x1b[8m隐藏" in table
    as_sent = json.loads(records_platform.run("--format", "json", "record", "show", record_id, key=None).stdout)
    assert as_sent["history"][-1]["reason"].startswith("重复\x1b[2J\x1b]0;pwned\x07报送")
    assert as_sent["fields"]["失信事由"] == "虚假\x1b[8m隐藏"


def test_a_provider_cannot_correct_another_providers_record(records_platform) -> None:
    record_id = json.loads(submit(records_platform, *GEN).stdout)["id"]
    r = records_platform.run("record", "withdraw", str(record_id), "--reason", "x", key="assoc")
    assert r.exit_code == 77


def test_a_persons_income_is_accepted_only_with_consent_in_force(records_platform, tmp_path) -> None:
    person = ("--subject", PERSON, "--name", PERSON_NAME, "--field", "月收入=0.8")
    base = ["--item", "GEN-001", "--document-no", "凌市监查〔2026〕8号", "--decision-date", "2026-11-20",
            "--field", "检查结果=合格", "--field", "检查日期=2026-11-19", *person]
    r = submit(records_platform, *base)
    assert r.exit_code == 65 and "月收入" in r.stderr and "consent_missing" in r.stderr
    assert PERSON not in r.stderr
    assert records_platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")
    r = records_platform.run("authorization", "add", PERSON, "--grantee", MARKET, "--scope", "consent:income",
                             "--from", "2026-01-01", "--until", "2026-12-31", "--document-ref", "授权书-1",
                             "--document", str(document))
    assert r.exit_code == 0, r.output
    r = submit(records_platform, *base)
    assert r.exit_code == 0, r.output
    assert PERSON not in scalar(records_platform, "SELECT fields FROM record")
    verify(records_platform)


def test_resubmitting_a_stored_record_after_the_consent_was_revoked_is_unchanged_not_rejected(
        records_platform, tmp_path) -> None:
    """A person's income record, stored under consent, submitted again unchanged after the consent was revoked
    (on its decision day) was refused (65, consent_missing) although the record stayed stored and active: nothing
    is collected by an unchanged record. record correct with no change likewise; a change still needs consent."""
    from lycredit.periods import shanghai_today

    platform, today = records_platform, str(shanghai_today())
    assert platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")
    r = platform.run("authorization", "add", PERSON, "--grantee", MARKET, "--scope", "consent:income", "--from",
                     "2026-01-01", "--until", "2099-12-31", "--document-ref", "授权书-1", "--document", str(document))
    assert r.exit_code == 0, r.output
    authorization = r.stdout.strip()
    args = ("--item", "GEN-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌市监查〔2026〕8号",
            "--decision-date", today, "--field", "检查结果=合格", "--field", f"检查日期={today}", "--field", "月收入=0.8",
            "--assume-weekends")
    r = submit(platform, *args, as_of=today)
    assert r.exit_code == 0, r.output
    record_id = str(json.loads(r.stdout)["id"])
    assert platform.run("authorization", "revoke", authorization, "--reason", "本人书面撤回").exit_code == 0
    again = submit(platform, *args, as_of=today)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["action"] == "unchanged"
    same = platform.run("--as-of", today, "--format", "json", "record", "correct", record_id, "--field", "月收入=0.8",
                        "--reason", "核对", "--assume-weekends", key="market")
    assert same.exit_code == 0 and json.loads(same.stdout)["action"] == "unchanged", same.output
    changed = submit(platform, *args[:-3], "--field", "月收入=0.9", "--assume-weekends", as_of=today)
    assert changed.exit_code == 65 and "consent_missing" in changed.stderr
    assert scalar(platform, "SELECT revision FROM record") == 1
    verify(platform)


@pytest.mark.parametrize("field", ["房产税纳税额", "房產稅納稅額"])  # in traditional characters too
def test_a_field_that_carries_two_consent_topics_needs_both_consents(platform, tmp_path, field) -> None:
    """A field such as 房产税纳税额 (real estate tax paid) carries both a person's real estate and a tax amount
    (Art. 12 para. 2), but only the first topic its name matched (real estate) was asked for: with consent:real_estate
    alone the tax amount was stored. Each topic needs its own consent."""
    path = write_test_catalog(tmp_path / "catalog.csv")
    with path.open("a", encoding="utf-8") as catalog:
        catalog.write(f"GEN-002,房产税缴纳信息,凌源市市场监督管理局,11211382013786428K,其他,{field}:数值:必填,"
                      "政务共享,2年,否,,自然人\n")
    assert platform.run("catalog", "import", str(path), "--version", "2026", "--effective", "2025-01-01").exit_code == 0
    platform.add_operator("market", "provider", unit=MARKET, unit_name="凌源市市场监督管理局")
    assert platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")
    args = ("--item", "GEN-002", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌市监税〔2026〕1号",
            "--decision-date", "2026-11-20", "--field", f"{field}=0.12")
    for scope, missing in (("consent:real_estate", "consent:tax"), ("consent:tax", None)):
        r = platform.run("authorization", "add", PERSON, "--grantee", MARKET, "--scope", scope, "--from", "2026-01-01",
                         "--until", "2026-12-31", "--document-ref", scope, "--document", str(document))
        assert r.exit_code == 0, r.output
        r = submit(platform, *args)
        if missing:
            assert r.exit_code == 65 and "[consent_missing]" in r.stderr and f"no {missing} authorisation" in r.stderr
            assert "no consent:real_estate" not in r.stderr, r.stderr
        else:
            assert r.exit_code == 0, r.output
    assert scalar(platform, "SELECT count(*) FROM record") == 1


def test_a_missing_consent_is_named_in_chinese_with_the_scope_to_record(records_platform) -> None:
    """In Chinese the consent_missing message named the topic in English only (自然人的income信息 ... 的 income 授权,
    and 'market' for Art. 11); it names the information in Chinese now (the English term beside it, as the
    forbidden-field messages do), and in both languages the scope the missing authorisation needs
    (consent:income), which is what authorization add takes."""
    income = ("--item", "GEN-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌市监查〔2026〕8号",
              "--decision-date", "2026-11-20", "--field", "检查结果=合格", "--field", "检查日期=2026-11-19",
              "--field", "月收入=0.8")
    market = ("--item", "MKT-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌建协〔2026〕3号",
              "--decision-date", "2026-11-20", "--field", "违约事由=拖欠会费")
    for args, key, zh, scope in ((income, "market", "自然人的收入", "consent:income"),
                                 (market, "assoc", "自然人的市场信用信息", "consent:market")):
        r = records_platform.run("--lang", "zh", "--as-of", "2026-11-27", "record", "submit", *args, key=key)
        assert r.exit_code == 65 and "[consent_missing]" in r.stderr, r.output
        message = r.stderr.split("[consent_missing]")[0]
        assert zh in message and f"的 {scope} 授权" in message, message
        assert "income信息" not in message and "的 income 授权" not in message and "market" not in message.replace(
            scope, ""), message
        r = submit(records_platform, *args, key=key)
        assert r.exit_code == 65 and scope in r.stderr, r.output


def test_market_information_about_a_person_needs_the_persons_consent(records_platform) -> None:
    args = ("--item", "MKT-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌建协〔2026〕3号",
            "--decision-date", "2026-11-20", "--field", "违约事由=拖欠会费")
    r = submit(records_platform, *args, key="assoc")
    assert r.exit_code == 65 and "consent_missing" in r.stderr and "Art. 11" in r.stderr


def test_a_forbidden_field_given_to_submit_or_correct_rejects_the_record_naming_it_not_a_file(records_platform) -> None:
    """A field Art. 12 forbids, given to record submit or record correct, was refused (65) with the import's
    message 'the record: column 血型 carries ... ; the whole file is rejected', about a file there is none of. It
    rejects the record now, naming the field and the rule like every other rule; nothing is stored."""
    platform = records_platform
    r = submit(platform, *GEN, "--field", "宗教信仰=佛教")
    assert r.exit_code == 65 and "file" not in r.stderr, r.output
    assert "The record is rejected:" in r.stderr and "宗教信仰" in r.stderr and "[forbidden_field]" in r.stderr
    assert scalar(platform, "SELECT count(*) FROM record") == 0
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    r = platform.run("--as-of", "2026-11-27", "record", "correct", str(record_id), "--field", "血型=A",
                     "--reason", "x", key="market")
    assert r.exit_code == 65 and "file" not in r.stderr, r.output
    assert "血型" in r.stderr and "Art. 12" in r.stderr and "[forbidden_field]" in r.stderr
    assert scalar(platform, "SELECT revision FROM record") == 1
    verify(platform)


def test_record_show_as_csv_for_excel_starts_with_one_bom_and_has_none_inside(records_platform) -> None:
    """record show writes three tables (the record, its fields, its history); with --bom each began with a BOM,
    so the second and third sat inside the file and Excel showed them as part of the cells 'field' and
    'revision'. --bom starts the CSV with one; the formula guard still holds for every table."""
    record_id = json.loads(submit(records_platform, *GEN).stdout)["id"]
    r = records_platform.run("--as-of", "2026-11-27", "record", "correct", str(record_id), "--field",
                             "检查结果=不合格", "--reason", "=HYPERLINK(1)", key="market")
    assert r.exit_code == 0, r.output
    out = records_platform.run("--format", "csv", "--bom", "record", "show", str(record_id), key=None)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("\ufeff") and out.stdout.count("\ufeff") == 1
    lines = out.stdout[1:].splitlines()
    assert lines.count("field,value") == 2 and "revision,change,reason,changed_at,changed_by" in lines
    assert "检查结果,不合格" in lines and any(line.startswith("2,correct,'=HYPERLINK(1),") for line in lines)
    plain = records_platform.run("--format", "csv", "record", "show", str(record_id), key=None)
    assert "\ufeff" not in plain.stdout and any(line.startswith("2,correct,=HYPERLINK(1),")
                                                for line in plain.stdout.splitlines())


def test_a_persons_number_in_a_text_field_is_stored_and_shown_masked(records_platform, tmp_path) -> None:
    """A person's name in another field was stored masked, the person's number in clear: 违约事由 holding the
    number (or a text with it) was kept as sent, and record show printed it, in every format, after a
    correction too. Every output shows a person's number masked (README, Subjects)."""
    platform = records_platform
    assert platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")
    assert platform.run("authorization", "add", PERSON, "--grantee", ASSOC, "--scope", "consent:market", "--from",
                        "2026-01-01", "--until", "2026-12-31", "--document-ref", "授权书-2",
                        "--document", str(document)).exit_code == 0
    masked = PERSON[:6] + "*" * 8 + PERSON[-4:]
    args = ("--item", "MKT-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no", "凌建协〔2026〕4号",
            "--decision-date", "2026-11-20", "--field", f"违约事由={PERSON}")
    r = submit(platform, *args, key="assoc")
    assert r.exit_code == 0, r.output
    record_id = str(json.loads(r.stdout)["id"])
    for value, stored in ((None, masked), (f"会员（身份证号{PERSON.lower()}）拖欠会费", f"会员（身份证号{masked}）拖欠会费")):
        if value is not None:
            r = platform.run("--as-of", "2026-11-27", "record", "correct", record_id, "--field", f"违约事由={value}",
                             "--reason", "补充说明", key="assoc")
            assert r.exit_code == 0, r.output
        assert json.loads(scalar(platform, "SELECT fields FROM record"))["违约事由"] == stored
        for fmt in ("json", "table", "csv"):
            shown = platform.run("--format", fmt, "record", "show", record_id, key=None)
            assert shown.exit_code == 0 and PERSON not in shown.stdout.upper() and masked in shown.stdout, fmt
    with platform.engine().connect() as conn:
        assert all(PERSON not in text.upper() for text in conn.execute(sa.text(
            "SELECT fields FROM record_history")).scalars())
    assert json.loads(submit(platform, *args, key="assoc").stdout)["action"] == "corrected"
    assert json.loads(submit(platform, *args, key="assoc").stdout)["action"] == "unchanged"
    verify(platform)


OTHER, OTHER_NAME = "91211382MA0Y8C1K08", "凌源市示例建材有限公司"
PERSON_B, PERSON_B_NAME = "211382198001010014", "李四"
PERSON_C = "110101198505121232"


def mask(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def correct(platform, record_id, *fields: str, key: str = "market", fmt: str = "json"):
    pairs = [arg for pair in fields for arg in ("--field", pair)]
    return platform.run("--as-of", "2026-11-27", "--format", fmt, "record", "correct", str(record_id), *pairs,
                        "--reason", "主体有误", key=key)


def subject_of(platform, record_id) -> tuple:
    with platform.engine().connect() as conn:
        return tuple(conn.execute(sa.text("SELECT s.uscc, s.name, s.kind FROM record r JOIN subject s "
                                          "ON s.id = r.subject_id WHERE r.id = :id"), {"id": record_id}).one())


def test_a_correction_to_a_code_not_yet_registered_needs_that_subjects_name(records_platform) -> None:
    """record correct --field 主体代码=CODE registered CODE's subject under the name of the record's present
    subject. A code that is not registered now needs its name with it (65, naming the name field, nothing
    registered or changed); with the name, the new subject is registered under that name. A code that is
    registered takes its registered name; a different name for it is refused, as a correction cannot rename
    a subject."""
    platform = records_platform
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    for field in ("主体代码", "统一社会信用代码", "subject_code", "uscc"):
        r = correct(platform, record_id, f"{field}={OTHER.lower()}")
        assert r.exit_code == 65, (field, r.output)
        assert "is not registered" in r.stderr and "--field 主体名称=" in r.stderr and OTHER in r.stderr
    assert scalar(platform, "SELECT count(*) FROM subject WHERE uscc = :c", c=OTHER) == 0
    assert scalar(platform, "SELECT revision FROM record") == 1
    r = correct(platform, record_id, f"统一社会信用代码={OTHER}", f"主体名称={OTHER_NAME}")
    assert r.exit_code == 0 and json.loads(r.stdout)["action"] == "corrected", r.output
    assert subject_of(platform, record_id) == (OTHER, OTHER_NAME, "legal_person")
    assert scalar(platform, "SELECT name FROM subject WHERE uscc = :c", c=COMPANY) == COMPANY_NAME
    r = correct(platform, record_id, f"主体代码={COMPANY}")  # registered: its own name, none needed
    assert r.exit_code == 0 and json.loads(r.stdout)["revision"] == 3, r.output
    assert subject_of(platform, record_id) == (COMPANY, COMPANY_NAME, "legal_person")
    r = correct(platform, record_id, f"主体代码={OTHER}", "主体名称=凌源市另一家公司")
    assert r.exit_code == 65 and f"registered as {OTHER_NAME}" in r.stderr, r.output
    assert subject_of(platform, record_id) == (COMPANY, COMPANY_NAME, "legal_person")
    shown = json.loads(platform.run("--format", "json", "record", "show", str(record_id), key=None).stdout)
    assert [h["change"] for h in shown["history"]] == ["submit", "correct", "correct"]
    verify(platform)


def test_a_correction_of_only_the_subjects_name_is_refused_not_reported_unchanged(records_platform) -> None:
    """record correct --field 主体名称=NEW said 'Record 1 is unchanged': the name is the subject's, not the
    record's, so nothing changed and nothing said why. It is refused now (65) saying so; the name as registered
    is no change and goes with a correction of other fields."""
    platform = records_platform
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    for field in ("主体名称", "subject_name", "名称"):
        r = correct(platform, record_id, f"{field}=凌源市鑫源商贸有限责任公司")
        assert r.exit_code == 65, (field, r.output)
        assert "unchanged" not in r.output and "kept with the subject" in r.stderr and COMPANY_NAME in r.stderr
    assert scalar(platform, "SELECT revision FROM record") == 1
    assert scalar(platform, "SELECT name FROM subject") == COMPANY_NAME
    r = correct(platform, record_id, f"主体名称={COMPANY_NAME}", "检查结果=不合格")
    assert r.exit_code == 0 and json.loads(r.stdout)["action"] == "corrected", r.output
    verify(platform)


def test_a_penalty_records_subject_is_corrected_by_its_own_columns(records_platform, tmp_path) -> None:
    """The same through the 双公示 columns of an imported penalty record: 统一社会信用代码 alone to a code not
    registered is refused asking for 行政相对人名称; 行政相对人名称 alone is refused as the subject's; both
    together register the new subject under the name given."""
    platform = records_platform
    sample = (ROOT / "samples" / "records" / "penalty-2026.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "penalty.csv"
    path.write_text("\n".join(sample[:2]) + "\n", encoding="utf-8")
    r = platform.run("--as-of", "2026-11-27", "record", "import", str(path), "--layout", "penalty", key="market")
    assert r.exit_code == 0 and scalar(platform, "SELECT count(*) FROM record") == 1, r.output
    record_id = scalar(platform, "SELECT id FROM record")
    before = subject_of(platform, record_id)
    r = correct(platform, record_id, f"统一社会信用代码={OTHER}")
    assert r.exit_code == 65 and "--field 行政相对人名称=" in r.stderr, r.output
    r = correct(platform, record_id, "行政相对人名称=凌源市宏达建材有限公司")
    assert r.exit_code == 65 and "kept with the subject" in r.stderr, r.output
    assert subject_of(platform, record_id) == before and scalar(platform, "SELECT revision FROM record") == 1
    r = correct(platform, record_id, f"uscc={OTHER}", f"行政相对人名称={OTHER_NAME}")
    assert r.exit_code == 0, r.output
    assert subject_of(platform, record_id) == (OTHER, OTHER_NAME, "legal_person")
    verify(platform)


def test_a_correction_to_a_persons_number_registers_the_person_under_the_name_given_and_shows_both_masked(
        records_platform) -> None:
    """A person's number given alone was registered under the organisation's name (stored as the person's name,
    encrypted). It needs the person's name now, and the message masks the number; with the name, the person is
    registered under it, and every output shows number and name masked."""
    platform = records_platform
    record_id = json.loads(submit(platform, *GEN).stdout)["id"]
    r = correct(platform, record_id, f"主体代码={PERSON}")
    assert r.exit_code == 65 and "is not registered" in r.stderr and mask(PERSON) in r.stderr, r.output
    assert PERSON not in r.output
    assert scalar(platform, "SELECT count(*) FROM subject WHERE kind = 'natural_person'") == 0
    r = correct(platform, record_id, f"公民身份号码={PERSON}", f"姓名={PERSON_NAME}")
    assert r.exit_code == 0 and json.loads(r.stdout)["action"] == "corrected", r.output
    for fmt in ("json", "table", "csv"):
        shown = platform.run("--format", fmt, "record", "show", str(record_id), key=None)
        assert shown.exit_code == 0 and PERSON not in shown.stdout and PERSON_NAME not in shown.stdout, fmt
        assert mask(PERSON) in shown.stdout and "张*" in shown.stdout, fmt
    revealed = json.loads(platform.run("--format", "json", "subject", "show", PERSON, "--reveal", "--reason",
                                       "核对身份").stdout)
    assert revealed["name"] == PERSON_NAME
    r = correct(platform, record_id, "姓名=张叁")
    assert r.exit_code == 65 and "kept with the subject" in r.stderr and "张*" in r.stderr, r.output
    assert PERSON_NAME not in r.output and PERSON not in r.output and "张叁" not in r.output
    def text(value) -> str:
        return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else str(value)

    with platform.engine().connect() as conn:
        logged = " ".join(text(v) for table in ("oplog_entry", "oplog_operation", "record_history", "record")
                          for row in conn.execute(sa.text(f"SELECT * FROM {table}")) for v in row)
    assert PERSON not in logged and PERSON_NAME not in logged
    verify(platform)


def test_a_correction_that_moves_market_information_to_another_person_needs_that_persons_consent(
        records_platform, tmp_path) -> None:
    """Art. 11: market credit information about a person needs the person's consent, given to the provider. A
    correction to another person is checked for that person's consent: a registered person without it, or a
    person not registered (named with the correction), is refused (consent_missing) and nothing is registered."""
    platform = records_platform
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")

    def consent(number: str, ref: str) -> None:
        r = platform.run("authorization", "add", number, "--grantee", ASSOC, "--scope", "consent:market", "--from",
                         "2026-01-01", "--until", "2026-12-31", "--document-ref", ref, "--document", str(document))
        assert r.exit_code == 0, r.output

    assert platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    assert platform.run("subject", "add", PERSON_B, "--name", PERSON_B_NAME).exit_code == 0
    consent(PERSON, "授权书-1")
    r = submit(platform, "--item", "MKT-001", "--subject", PERSON, "--name", PERSON_NAME, "--document-no",
               "凌建协〔2026〕5号", "--decision-date", "2026-11-20", "--field", "违约事由=拖欠会费", key="assoc")
    assert r.exit_code == 0, r.output
    record_id = json.loads(r.stdout)["id"]
    r = correct(platform, record_id, f"主体代码={PERSON_B}", key="assoc")
    assert r.exit_code == 65 and "consent_missing" in r.stderr and "Art. 11" in r.stderr, r.output
    assert PERSON_B not in r.output
    r = correct(platform, record_id, f"主体代码={PERSON_C}", "主体名称=王五", key="assoc")
    assert r.exit_code == 65 and "consent_missing" in r.stderr and PERSON_C not in r.output, r.output
    assert scalar(platform, "SELECT count(*) FROM subject") == 2 and scalar(platform, "SELECT revision FROM record") == 1
    consent(PERSON_B, "授权书-2")
    r = correct(platform, record_id, f"主体代码={PERSON_B}", key="assoc")
    assert r.exit_code == 0, r.output
    shown = json.loads(platform.run("--format", "json", "record", "show", str(record_id), key=None).stdout)
    assert shown["subject"] == mask(PERSON_B) and shown["subject_name"] == "李*"
    verify(platform)


def test_record_list_refuses_a_malformed_subject_code_naming_the_option(records_platform) -> None:
    """record list --subject with a code that is no code (a typo) listed nothing with exit 0, as if the subject
    had no records. It exits 65 naming --subject now, as --provider does, and masks a value that may be a
    person's number; a valid code of a subject that is not registered still lists nothing. The code is read
    as everywhere: lower case, full-width characters and spaces do not matter."""
    platform = records_platform
    company_id = json.loads(submit(platform, *GEN).stdout)["id"]
    person = [value if value not in (COMPANY, COMPANY_NAME, "凌市监查〔2026〕7号") else
              {COMPANY: PERSON, COMPANY_NAME: PERSON_NAME}.get(value, "凌市监查〔2026〕9号") for value in GEN]
    person_id = json.loads(submit(platform, *person).stdout)["id"]
    bad_check_digit = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    for code in ("abc", COMPANY[:-1], COMPANY[:-1] + "9", PERSON[:17], bad_check_digit, PERSON[:6] + "19900230" + "4477"):
        r = platform.run("--format", "json", "record", "list", "--subject", code, key=None)
        assert r.exit_code == 65 and "--subject " in r.stderr and r.stdout == "", (code, r.output)
        assert PERSON[:17] not in r.output and "Traceback" not in r.output, (code, r.output)
    admitted = OTHER[:-1] + "9"  # fails only its check character, admitted through the checksum override
    assert platform.run("subject", "add", admitted, "--name", OTHER_NAME, "--override-checksum", "--reason",
                        "2016年前发放").exit_code == 0
    for code in (OTHER, PERSON_C, admitted.lower()):  # valid (or admitted), no records
        r = platform.run("--format", "json", "record", "list", "--subject", code, key=None)
        assert r.exit_code == 0 and json.loads(r.stdout) == [], r.output
    full_width = COMPANY.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    for code, wanted in ((COMPANY.lower(), company_id), (f" {COMPANY[:9]} {COMPANY[9:]} ", company_id),
                         (full_width, company_id), (f"{PERSON[:6]} {PERSON[6:14]} {PERSON[14:]}", person_id)):
        r = platform.run("--format", "json", "record", "list", "--subject", code, key=None)
        assert r.exit_code == 0 and [row["id"] for row in json.loads(r.stdout)] == [wanted], (code, r.output)
        assert PERSON not in r.stdout


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=8))
def test_the_fields_encoder_writes_what_the_json_module_writes(fields) -> None:
    from lycredit.records import _FIELDS_JSON

    assert _FIELDS_JSON(fields) == json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def test_the_fields_encoder_and_the_import_s_text_encoder_escape_every_character_as_the_json_module_does() -> None:
    """msgspec writes the stored fields and the texts of the import's row hashes; every character, in a
    key and in a value, comes out as the json module writes it (RFC 8785's escapes, nothing else escaped)."""
    from json.encoder import encode_basestring

    from lycredit.record_import import _json_text
    from lycredit.records import _FIELDS_JSON

    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(characters), 4096):
        text = "".join(characters[start:start + 4096])
        fields = {text: "x", "v": text, "quote\"\\": text[:50]}
        assert _FIELDS_JSON(fields) == json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        assert _json_text(text) == encode_basestring(text).encode()
    with pytest.raises(UnicodeEncodeError):  # half of a surrogate pair: refused, as encoding the json text was
        _FIELDS_JSON({"k": "\ud800"})


# --- text that is not UTF-8 ----------------------------------------------------------------------------------

def test_an_argument_that_is_not_utf8_text_is_a_usage_error_naming_its_option_and_nothing_is_stored(
        records_platform) -> None:
    """Bytes of another encoding in an argument (a shell set to GBK) reach Python as halves of surrogate pairs,
    which neither the database nor the log can hold: a usage error (2) naming the option, not a traceback."""
    platform = records_platform
    args = [value if value != "检查结果=合格" else "检查结果=\udcb9\udcfb" for value in GEN]
    refused = submit(platform, *args)
    assert refused.exit_code == 2 and "'--field'" in refused.stderr and "not UTF-8 text" in refused.stderr
    assert "Traceback" not in refused.output and scalar(platform, "SELECT count(*) FROM record") == 0
    assert submit(platform, *GEN).exit_code == 0
    withdrawn = platform.run("record", "withdraw", "1", "--reason", "重复\udcff", key="market")
    assert withdrawn.exit_code == 2 and "'--reason'" in withdrawn.stderr
    assert scalar(platform, "SELECT status FROM record") == "active"


def test_a_submitted_value_that_is_not_unicode_is_rejected_naming_its_field(records_platform) -> None:
    """The same from Python (the core, without the command line): the record is rejected (65) naming the field."""
    from contextlib import closing

    from lycredit.context import AppContext
    from lycredit.records import RecordRejected
    from lycredit.records import submit as submit_record

    values = {"事项编码": "DIS-001", "主体代码": COMPANY, "主体名称": COMPANY_NAME, "文书号": "凌市监查〔2026〕7号",
              "决定日期": "2026-11-20", "失信事由": "a\udcffb"}
    with closing(AppContext(db=records_platform.url, key_file=str(records_platform.keys["market"]),
                            command_name="test")) as ctx, pytest.raises(RecordRejected) as refused:
        with ctx.operation("record.submit") as uow:
            submit_record(uow, values, provider=MARKET, as_of=AS_OF)
    assert [(p.field, p.rule) for p in refused.value.problems] == [("失信事由", "not_text")]
    assert "a\\udcffb" in refused.value.message and refused.value.exit_code == 65
    assert scalar(records_platform, "SELECT count(*) FROM record") == 0


def test_a_reason_with_bytes_that_are_not_utf8_is_logged_with_them_escaped() -> None:
    """A log entry's reason is UTF-8 text: an import's reason names its file, whose name may be any bytes."""
    from lycredit.oplog.append import as_text

    assert as_text("处罚\udcff.csv, rows 2-5") == "处罚\\xff.csv, rows 2-5"
    assert as_text("\ud800") == "\\ud800" and as_text("凌源") == "凌源" and as_text(None) is None


@pytest.mark.parametrize("values", [
    ["a"], ["a", "b"], [""], ["", "a"], ["a", ""], ["b\x1fc"], ["a", "b\x1fc"], ["a\\", "'"], ["凌市监罚〔2026〕1号"],
    [f"v{i}" for i in range(4500)],
])
def test_rows_where_in_finds_exactly_the_values_given(db_url, values) -> None:
    """The bulk lookups' test of a column against many values: IN lists on SQLite, one array on PostgreSQL,
    sent as one text split by the server unless a value could not come back from it exactly."""
    from lycredit.database import make_engine
    from lycredit.records import _joined, rows_where_in

    stored = ["a", "b", "", "b\x1fc", "a\\", "'", "凌市监罚〔2026〕1号", "v7", "v4499", "x"]
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (v VARCHAR(64))")
            conn.connection.driver_connection.cursor().executemany(
                "INSERT INTO t VALUES (%s)" if conn.dialect.name == "postgresql" else "INSERT INTO t VALUES (?)",
                [(v,) for v in stored])
            found = sorted(v for (v,) in rows_where_in(conn, "SELECT v FROM t WHERE v {values}", (), values))
    finally:
        engine.dispose()
    assert found == sorted(v for v in stored if v in values)
    joined = _joined(values)
    assert joined is None or joined.split("\x1f") == values
    assert _joined([""]) is None and _joined(["b\x1fc"]) is None and _joined([1, 2]) is None
