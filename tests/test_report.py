"""The subject's own report (Art. 14, 30): every record and its state, its changes, who queried it and why.

The world is the one the disclosure tests query (see tests/test_disclosure.py):
each subject has one active record per disclosure method, and one archived,
repaired, withdrawn, past-its-end and past-the-cap record.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.test_disclosure import (
    AS_OF_TEXT,
    BANK,
    COMPANY,
    COMPANY_NAME,
    HIDDEN,
    METHODS,
    PERSON,
    PERSON_MASKED,
    PERSON_NAME,
    SAMPLES,
    SUBMITTED_AT,
    build_world,
    cli_query,
    record_row,
)

EXPECTED_STATES = {
    "public": "disclosed",
    "gov_share": "disclosed",
    "authorised": "disclosed",
    "archived": "archived",
    "repaired": "repaired",
    "withdrawn": "withdrawn",
    "past_end": "expired",
    "past_cap": "expired",
}


@pytest.fixture
def world(platform):
    return build_world(platform)


def run_report(world, code: str, *args: str, key: str = "admin", fmt: str = "json"):
    return world.platform.run("--format", fmt, "--as-of", AS_OF_TEXT, "report", code, *args, key=key)


def report_json(world, code: str) -> dict:
    r = run_report(world, code)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_the_report_lists_every_record_with_its_state_the_archive_included(world) -> None:
    for code in (COMPANY, PERSON):
        records = {r["record_id"]: r for r in report_json(world, code)["records"]}
        assert set(records) == world.record_ids(code, METHODS + HIDDEN)
        for label, state in EXPECTED_STATES.items():
            record = records[world.records[(code, label)]]
            assert record["state"] == state, label
        archived = records[world.records[(code, "archived")]]
        assert archived["status"] == "archived" and archived["archived_on"] == "2026-03-02"
        assert archived["state_zh"] == "已转档（期满）"


def test_each_record_names_its_source_item_disclosure_method_and_end(world) -> None:
    record = next(
        r
        for r in report_json(world, COMPANY)["records"]
        if r["record_id"] == world.records[(COMPANY, "gov_share")]
    )
    assert record["provider_name"] == "凌源市市场监督管理局" and record["item_name"] == "欠缴税款信息"
    assert record["disclosure"] == "gov_share" and record["disclosure_zh"] == "政务共享"
    assert record["disclosure_until"] == "2028-03-01"


def test_the_five_year_cap_is_the_end_the_report_shows_for_dishonesty_information(world) -> None:
    record = next(
        r
        for r in report_json(world, COMPANY)["records"]
        if r["record_id"] == world.records[(COMPANY, "past_cap")]
    )
    assert record["disclosure_until"] == "2026-05-31" and record["dishonesty"] is True


def test_the_objection_mark_is_present_and_empty_until_objections_are_recorded(world) -> None:
    assert {r["objection"] for r in report_json(world, COMPANY)["records"]} == {""}


def test_the_history_shows_every_change_with_its_reason_and_the_fields_it_changed(world) -> None:
    records = {r["record_id"]: r for r in report_json(world, PERSON)["records"]}
    history = records[world.records[(PERSON, "repaired")]]["history"]
    assert [(h["revision"], h["change"], h["reason"]) for h in history] == [
        (1, "submit", ""),
        (2, "repair", "repair 的理由"),
    ]
    assert history[1]["changed_fields"] == ["处罚内容"] and history[1]["change_zh"] == "信用修复"
    assert history[0]["before"] is None and history[1]["before"]["fields"]["处罚内容"].startswith(
        "罚款，经办人"
    )
    assert history[1]["before"]["fields"]["证件号码"] == PERSON_MASKED
    assert history[1]["changed_at"].startswith("2025-04-04T") and history[1]["changed_by"] == "admin"


def test_records_submitted_corrected_and_withdrawn_through_lycredit_show_in_query_and_report(
    platform,
) -> None:
    """End to end with the real intake: the 2026 catalog, the sample 双公示 penalties, a correction
    and a withdrawal."""
    samples = SAMPLES
    market = "11211382013786428K"  # 凌源市市场监督管理局, the provider of the catalog's penalty item
    company = "91211382MA0XQ3L524"
    r = platform.run(
        "catalog",
        "import",
        str(samples / "catalog" / "catalog-2026.csv"),
        "--version",
        "2026",
        "--effective",
        "2026-01-01",
    )
    assert r.exit_code == 0, r.output
    platform.add_operator("scjg-02", "provider", unit=market, unit_name="凌源市市场监督管理局")
    r = platform.run(
        "--as-of",
        "2026-11-27",
        "record",
        "import",
        str(samples / "records" / "penalty-2026.csv"),
        "--layout",
        "penalty",
        "--rejects",
        str(platform.dir / "rejects.csv"),
        key="scjg-02",
    )
    assert r.exit_code == 0, r.output
    listed = json.loads(
        platform.run("--format", "json", "record", "list", "--subject", company, key=None).stdout
    )
    first, second = sorted(row["id"] for row in listed)[:2]
    r = platform.run(
        "--as-of",
        "2026-11-27",
        "record",
        "correct",
        str(first),
        "--field",
        "处罚内容=警告（更正）",
        "--reason",
        "处罚内容录入错误",
        key="scjg-02",
    )
    assert r.exit_code == 0, r.output
    r = platform.run("record", "withdraw", str(second), "--reason", "重复报送", key="scjg-02")
    assert r.exit_code == 0, r.output

    public = json.loads(
        platform.run(
            "--format",
            "json",
            "--as-of",
            "2026-11-28",
            "query",
            company,
            "--purpose",
            "招标资格审查",
            key=None,
        ).stdout
    )
    shown = {rec["record_id"]: rec for rec in public["records"]}
    assert first in shown and second not in shown
    assert shown[first]["fields"]["处罚内容"] == "警告（更正）" and shown[first]["provider_uscc"] == market

    r = platform.run("--format", "json", "--as-of", "2026-11-28", "report", company)
    assert r.exit_code == 0, r.output
    records = {rec["record_id"]: rec for rec in json.loads(r.stdout)["records"]}
    corrected = records[first]["history"]
    assert [(h["change"], h["reason"]) for h in corrected] == [
        ("submit", ""),
        ("correct", "处罚内容录入错误"),
    ]
    assert corrected[1]["changed_fields"] == ["处罚内容"] and corrected[1]["changed_by"] == "scjg-02"
    assert records[second]["state"] == "withdrawn" and records[second]["history"][-1]["reason"] == "重复报送"


def test_the_report_lists_who_queried_the_subject_and_why_refusals_included(world) -> None:
    authorization = world.authorizations[PERSON]
    assert (
        cli_query(world, PERSON, "--authorization", str(authorization), purpose="个人住房贷款审批").exit_code
        == 0
    )
    assert cli_query(world, PERSON, "--gov-share", key="scjg-01", purpose="行政许可审查").exit_code == 0
    assert cli_query(world, PERSON, "--authorization", "9999", purpose="再次审查").exit_code == 77
    assert cli_query(world, COMPANY, "--self", key="admin", purpose="他人的查询").exit_code == 0
    queries = report_json(world, PERSON)["queries"]
    assert [
        (q["operator"], q["querier_unit"], q["mode"], q["authorization_id"], q["purpose"], q["outcome"])
        for q in queries
    ] == [
        ("bank-01", BANK, "authorised", authorization, "个人住房贷款审批", "disclosed"),
        ("scjg-01", queries[1]["querier_unit"], "gov_share", None, "行政许可审查", "disclosed"),
        ("bank-01", BANK, "authorised", 9999, "再次审查", "refused"),
    ]
    assert queries[0]["querier_unit_name"] == "凌源示例银行" and queries[2]["rule"] == "art14_unknown"


def test_the_report_shows_the_persons_name_but_never_the_number(world) -> None:
    for fmt in ("json", "table", "csv"):
        r = run_report(world, PERSON, fmt=fmt)
        assert r.exit_code == 0, r.output
        assert PERSON not in r.stdout and "211382198512120020" not in r.stdout
    subject = report_json(world, PERSON)["subject"]
    assert subject["name"] == PERSON_NAME and subject["code"] == PERSON_MASKED


def test_the_printable_html_is_self_contained_chinese_and_masked(world, tmp_path) -> None:
    page = tmp_path / "报告.html"
    r = run_report(world, PERSON, "--html", str(page), fmt="table")
    assert r.exit_code == 0, r.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert "@media print" in text and "@page" in text
    assert not re.search(r"(src|href)\s*=|@import|url\(", text), "no external resources"
    for label in (
        "信用主体",
        "信息提供单位",
        "披露方式",
        "披露截止日期",
        "已转档（期满）",
        "信息变动记录",
        "查询记录",
    ):
        assert label in text
    assert PERSON_NAME in text and PERSON not in text and PERSON_MASKED in text


def test_html_escapes_what_the_data_says(world, tmp_path) -> None:
    from lycredit.report import SubjectReport, render_html

    rep = SubjectReport(
        {
            "id": 1,
            "kind": "legal_person",
            "kind_zh": "法人",
            "code": COMPANY,
            "name": "<script>alert(1)</script>",
        },
        __import__("datetime").date(2026, 6, 1),
        [],
        [],
    )
    assert "<script>" not in render_html(rep) and "&lt;script&gt;" in render_html(rep)


def test_an_unwritable_html_file_fails_and_the_report_is_not_logged(world, tmp_path) -> None:
    before = report_count(world)
    r = run_report(world, COMPANY, "--html", str(tmp_path / "missing" / "r.html"))
    assert r.exit_code == 78 and "cannot be written (No such file or directory)" in r.stderr
    assert report_count(world) == before


def report_count(world) -> int:
    import sqlalchemy as sa

    with world.platform.engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM oplog_operation WHERE action = 'report'")).scalar()


def test_making_a_report_is_logged_and_only_staff_may(world) -> None:
    assert run_report(world, COMPANY).exit_code == 0
    assert report_count(world) == 1
    r = run_report(world, COMPANY, key="bank-01")
    assert r.exit_code == 77 and "may not run report" in r.stderr


def test_the_table_output_has_the_three_sections(world) -> None:
    r = run_report(world, COMPANY, fmt="table")
    assert r.exit_code == 0, r.output
    assert COMPANY_NAME in r.stdout
    for title in ("Credit information: 8", "Changes: 11", "Queries of non-public information: 0"):
        assert title in r.stdout


def test_an_unknown_or_malformed_subject_is_bad_input(world) -> None:
    r = run_report(world, "91211382MA0Y8C1K0")
    assert r.exit_code == 65 and "17 characters" in r.stderr
    r = run_report(world, "211382199912310012")
    assert r.exit_code == 65 and "No credit subject" in r.stderr and "211382199912310012" not in r.stderr


def test_audit_verify_exits_0_after_reports_and_queries(world) -> None:
    assert cli_query(world, PERSON, "--self", key="admin").exit_code == 0
    assert run_report(world, PERSON).exit_code == 0
    r = world.platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output


def test_a_resident_id_number_in_a_document_number_is_masked_in_the_report(world) -> None:
    """A document number may carry the person's number (凌公（211382...）罚字): the query masks it, so must the
    report, in every format."""
    import sqlalchemy as sa

    from tests.test_disclosure import _record, operation

    with world.platform.engine().connect() as conn:
        item = conn.execute(sa.text("SELECT id, code FROM catalog_item WHERE code = 'XZCF-001'")).mappings().one()
    with operation(world.platform, "record.submit") as uow:
        _record(
            uow,
            900,
            dict(item),
            world.subject_ids[PERSON],
            name=PERSON_NAME,
            number=PERSON,
            document_no=f"凌公（{PERSON}）罚字〔2025〕1号",
        )
    for fmt in ("json", "ndjson", "table", "csv"):
        r = run_report(world, PERSON, fmt=fmt)
        assert r.exit_code == 0, r.output
        assert PERSON not in r.stdout, fmt
    records = {r["record_id"]: r for r in report_json(world, PERSON)["records"]}
    assert records[900]["document_no"] == f"凌公（{PERSON_MASKED}）罚字〔2025〕1号"


def test_the_report_of_a_subject_with_more_records_than_a_statement_takes_parameters(world) -> None:
    """A large organisation may have tens of thousands of records (licences, inspections): more than
    PostgreSQL takes bound parameters in one statement (65,535). The report must still list them all with
    their histories, not exit 69 as if the database were unavailable."""
    import datetime as dt

    import sqlalchemy as sa

    from lycredit.models import Record, RecordHistory

    many = 66_000
    first = 10_000
    subject_id = world.subject_ids[COMPANY]
    day = dt.date(2025, 3, 1)
    with world.platform.engine().begin() as conn:
        item = conn.execute(sa.text("SELECT id, code FROM catalog_item WHERE code = 'XZCF-001'")).mappings().one()
        conn.execute(
            sa.insert(Record.__table__),
            [
                record_row(first + n, item, subject_id, day=day, until=dt.date(2028, 3, 1),
                           document_no=f"凌市监许〔2025〕{n}号")
                for n in range(many)
            ],
        )
        conn.execute(
            sa.insert(RecordHistory.__table__),
            [
                {
                    "id": first + n,
                    "record_id": first + n,
                    "revision": 1,
                    "change": "submit",
                    "fields": "{}",
                    "reason": None,
                    "changed_at": SUBMITTED_AT,
                    "changed_by": "admin",
                }
                for n in range(many)
            ],
        )
    records = report_json(world, COMPANY)["records"]
    assert len(records) == many + len(METHODS + HIDDEN)
    assert all(r["history"][0]["change"] == "submit" for r in records)
