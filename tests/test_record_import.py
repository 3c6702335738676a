"""Specification of the bulk record import: layouts, formats, rejects, idempotence, resume, limits, the log."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit.catalog import parse_catalog
from lycredit.identity import SubjectKind
from lycredit.record_import import FastRows, RowParts
from lycredit.records import Checked, Entry, Rejection
from tests.bench import gen_penalty
from tests.conftest import invoke
from tests.test_records import APPROVAL, HRSS, MARKET, write_test_catalog

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "records"
PENALTY_SAMPLE = SAMPLES / "penalty-2026.csv"
AS_OF = ("--as-of", "2026-11-27")


@pytest.fixture
def platform_with_catalog(platform, tmp_path):
    path = write_test_catalog(tmp_path / "catalog.csv")
    r = platform.run("catalog", "import", str(path), "--version", "2026", "--effective", "2025-01-01")
    assert r.exit_code == 0, r.output
    platform.add_operator("market", "provider", unit=MARKET, unit_name="凌源市市场监督管理局")
    return platform


def run_import(platform, path: Path, *args: str, key: str = "market", layout: str = "penalty"):
    return platform.run(*AS_OF, "--format", "json", "record", "import", str(path), "--layout", layout, *args, key=key)


def summary(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def counts(out: dict) -> tuple[int, ...]:
    return tuple(out[k] for k in ("read", "accepted", "corrected", "unchanged", "rejected", "late"))


def scalar(platform, sql: str):
    with platform.engine().connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def change_leaves(platform, table: str) -> int:
    with platform.engine().connect() as conn:
        entries = conn.execute(sa.text("SELECT entry FROM oplog_entry")).scalars()
        return sum(1 for e in entries if (leaf := json.loads(bytes(e))).get("type") == "change"
                   and leaf.get("table") == table)


def rejects(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "the rejects file starts with a UTF-8 BOM for Excel"
    reader = csv.DictReader(data.decode("utf-8-sig").splitlines())
    assert reader.fieldnames == ["file", "row", "field", "rule", "message", "raw"]
    return list(reader)


def verify(platform) -> None:
    r = platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output


# --- the samples ---------------------------------------------------------------------------------------

def test_the_penalty_sample_is_imported_with_its_late_row_flagged_and_its_bad_rows_rejected(
        platform_with_catalog, tmp_path) -> None:
    out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--rejects", str(tmp_path / "r.csv")))
    assert counts(out) == (20, 18, 0, 0, 2, 1)
    found = rejects(tmp_path / "r.csv")
    assert [(r["row"], r["field"], r["rule"]) for r in found] == [
        ("8", "统一社会信用代码", "subject_code_invalid"), ("13", "罚款金额（万元）", "fine_required")]
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    assert found[0]["raw"] == lines[7] and found[0]["file"] == str(PENALTY_SAMPLE)
    late = json.loads(platform_with_catalog.run("--format", "json", "record", "list", "--late", key=None).stdout)
    assert [(r["decision_date"], r["due_date"], r["late_days"]) for r in late] == [("2026-10-20", "2026-10-29", 21)]
    verify(platform_with_catalog)


def test_the_license_and_honour_samples_import_in_their_layouts(platform_with_catalog, tmp_path) -> None:
    out = summary(run_import(platform_with_catalog, SAMPLES / "license-2026.csv", "--provider", APPROVAL,
                             "--rejects", str(tmp_path / "l.csv"), key="admin", layout="license"))
    assert counts(out)[:5] == (8, 8, 0, 0, 0)
    out = summary(run_import(platform_with_catalog, SAMPLES / "generic-honour.json", "--provider", HRSS,
                             "--rejects", str(tmp_path / "h.csv"), key="admin", layout="generic"))
    assert counts(out) == (3, 3, 0, 0, 0, 0)
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record WHERE item_code = 'BZ-001'") == 3
    verify(platform_with_catalog)


def test_values_that_start_like_a_formula_reach_excel_as_text(platform_with_catalog, tmp_path) -> None:
    """CSV injection: a provider's value such as =1+2 or @SUM(...) must not run as a formula when an operator
    opens the rejects file or a --bom CSV export in Excel; it gets an apostrophe there, and stays as sent
    everywhere else."""
    header, rows = _penalty_rows()
    name, facts, decided = header.index("行政相对人名称"), header.index("违法事实"), header.index("处罚决定日期")
    rejected, accepted = list(rows[0]), list(rows[1])
    rejected[name], rejected[decided] = "=1+2", "-2026-11-18"
    accepted[facts] = "@SUM(1,2) 违法事实"
    path = tmp_path / "hostile.csv"
    path.write_text("\r\n".join(",".join(f'"{c}"' if "," in c else c for c in row)
                                 for row in [header, rejected, accepted]) + "\r\n", encoding="utf-8")
    out = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (2, 1, 0, 0, 1)
    found = rejects(tmp_path / "r.csv")
    assert [r["field"] for r in found] == ["处罚决定日期"]
    assert found[0]["raw"].startswith("'=1+2,") and found[0]["raw"][1:] == path.read_text().splitlines()[1]
    assert found[0]["message"].startswith("'-2026-11-18 ")
    record = scalar(platform_with_catalog, "SELECT id FROM record")
    fields = json.loads(scalar(platform_with_catalog, "SELECT fields FROM record"))
    assert fields["违法事实"] == "@SUM(1,2) 违法事实"  # stored as sent
    for bom, shown in ((True, "'@SUM(1,2) 违法事实"), (False, "@SUM(1,2) 违法事实")):
        r = platform_with_catalog.run("--format", "csv", *(["--bom"] if bom else []), "record", "show", str(record),
                                      key=None)
        assert r.exit_code == 0, r.output
        cells = [c for row in csv.reader(r.stdout.replace("\ufeff", "").splitlines()) for c in row]
        assert shown in cells


# --- formats and encodings --------------------------------------------------------------------------------

def _penalty_rows() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()))
    return rows[0], rows[1:4]


def _write_all_formats(directory: Path) -> list[Path]:
    header, rows = _penalty_rows()
    text = "\r\n".join(",".join(row) for row in [header, *rows]) + "\r\n"
    files = []
    for name, encoding in (("utf8.csv", "utf-8"), ("bom.csv", "utf-8-sig"), ("gbk.csv", "gb18030")):
        path = directory / name
        path.write_bytes(text.encode(encoding))
        files.append(path)
    decided, fine = header.index("处罚决定日期"), header.index("罚款金额（万元）")
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        cells: list = list(row)
        cells[decided] = dt.datetime.fromisoformat(row[decided])  # a real Excel date cell
        cells[fine] = float(row[fine]) if row[fine] else None  # a number cell
        book.active.append(cells)
    book.save(directory / "book.xlsx")
    objects = [dict(zip(header, row, strict=True)) for row in rows]
    (directory / "rows.json").write_text(json.dumps(objects, ensure_ascii=False, indent=1), encoding="utf-8")
    (directory / "rows.ndjson").write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects),
                                           encoding="utf-8")
    columns = {name: [row[i] or None for row in rows] for i, name in enumerate(header)}
    columns["处罚决定日期"] = [dt.date.fromisoformat(row[decided]) for row in rows]
    pq.write_table(pa.table(columns), directory / "rows.parquet")
    return [*files, directory / "book.xlsx", directory / "rows.json", directory / "rows.ndjson",
            directory / "rows.parquet"]


def test_every_format_and_encoding_gives_the_same_records(platform_with_catalog, tmp_path) -> None:
    first, *others = _write_all_formats(tmp_path)
    assert counts(summary(run_import(platform_with_catalog, first)))[:5] == (3, 3, 0, 0, 0)
    for path in others:
        out = summary(run_import(platform_with_catalog, path))
        assert counts(out)[:5] == (3, 0, 0, 3, 0), f"{path.name}: {out}"
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 3
    verify(platform_with_catalog)


# --- idempotence and corrections ------------------------------------------------------------------------

def test_reimporting_the_same_file_changes_nothing_and_logs_no_record_change(platform_with_catalog) -> None:
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE))
    before = (change_leaves(platform_with_catalog, "record"), change_leaves(platform_with_catalog, "record_history"))
    out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE))
    assert counts(out) == (20, 0, 0, 18, 2, 0)
    assert (change_leaves(platform_with_catalog, "record"),
            change_leaves(platform_with_catalog, "record_history")) == before


def test_a_changed_row_on_reimport_is_a_correction_that_keeps_the_old_revision(platform_with_catalog, tmp_path) -> None:
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE))
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    lines[2] = lines[2].replace("罚款人民币3万元", "罚款人民币叁万元")
    changed = tmp_path / "changed.csv"
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    out = summary(run_import(platform_with_catalog, changed))
    assert (out["corrected"], out["unchanged"]) == (1, 17)
    with platform_with_catalog.engine().connect() as conn:
        history = conn.execute(sa.text(
            "SELECT h.revision, h.change, h.reason FROM record_history h JOIN record r ON r.id = h.record_id "
            "WHERE r.revision = 2 ORDER BY h.record_id, h.revision")).all()
    assert [(h.revision, h.change) for h in history] == [(2, "correct")]  # the submission is the record's own
    assert history[0].reason == "changed.csv, row 3"
    r = platform_with_catalog.run(*AS_OF, "--format", "json", "record", "correct", "XZCF-001:凌市监罚〔2026〕301号",
                                  "--field", "处罚决定日期=2026-11-17", "--reason", "日期录入错误", key="market")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["revision"] == 2
    shown = json.loads(platform_with_catalog.run("--format", "json", "record", "show", str(json.loads(r.stdout)["id"]),
                                                 key=None).stdout)
    assert shown["decision_date"] == "2026-11-17" and shown["fields"]["处罚决定日期"] == "2026-11-17"
    assert shown["late_days"] == 0, "a correction keeps the submission's lateness (Art. 46)"
    verify(platform_with_catalog)


def test_a_document_number_twice_in_one_file_is_rejected_the_second_time(platform_with_catalog, tmp_path) -> None:
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([*lines[:3], lines[1]]) + "\n", encoding="utf-8")
    # a dry run and a validation pass (before the writing pass) store nothing for the natural-key check to find
    for extra in (["--dry-run"], ["--max-rejects", "5"]):
        out = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv"), "--batch-size",
                                 "2", *extra))
        assert counts(out)[:5] == (3, 2, 0, 0, 1), extra
        assert [(r["row"], r["field"], r["rule"]) for r in rejects(tmp_path / "r.csv")] == [
            ("4", "行政处罚决定书文号", "duplicate_in_file")]


def test_a_document_number_repeated_in_a_later_batch_of_a_reimport_is_a_duplicate_not_a_correction(
        platform_with_catalog, tmp_path) -> None:
    """A re-import of a file whose batch 2 repeated batch 1's document number with other content corrected the
    record to the repeat (batch 1's row came out unchanged, so no record of this run held the number), and the
    next re-import corrected it back: the same file flip-flopped the record, where the first import and a dry run
    reject the repeat as duplicate_in_file."""
    platform = platform_with_catalog
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    repeat = lines[1].replace("警告,警告,", "警告,警告一次,")
    assert repeat != lines[1]
    path = tmp_path / "repeat.csv"
    path.write_text("\n".join([*lines[:3], repeat]) + "\n", encoding="utf-8")
    first = summary(run_import(platform, path, "--batch-size", "2", "--rejects", str(tmp_path / "r.csv")))
    assert counts(first) == (3, 2, 0, 0, 1, 0)
    records = (change_leaves(platform, "record"), change_leaves(platform, "record_history"))
    for extra in ([], ["--dry-run"], [], ["--max-rejects", "5"]):
        again = summary(run_import(platform, path, "--batch-size", "2", "--rejects", str(tmp_path / "r.csv"), *extra))
        assert counts(again) == (3, 0, 0, 2, 1, 0), extra
        assert [(r["row"], r["rule"]) for r in rejects(tmp_path / "r.csv")] == [("4", "duplicate_in_file")], extra
    assert (change_leaves(platform, "record"), change_leaves(platform, "record_history")) == records
    assert scalar(platform, "SELECT max(revision) FROM record") == 1
    verify(platform)


def _consented_person(platform, tmp_path, person: str, start: str, until: str) -> str:
    """Register ``person`` and record their consent:income given to MARKET; the authorisation's id."""
    assert platform.run("subject", "add", person, "--name", "李四").exit_code == 0
    document = tmp_path / "consent.pdf"
    document.write_bytes(b"%PDF signed consent")
    r = platform.run("authorization", "add", person, "--grantee", MARKET, "--scope", "consent:income", "--from", start,
                     "--until", until, "--document-ref", "授权书-1", "--document", str(document))
    assert r.exit_code == 0, r.output
    return r.stdout.strip()


def test_a_reimport_after_the_consent_was_revoked_leaves_unchanged_rows_unchanged(platform_with_catalog, tmp_path) -> None:
    """After a person's consent:income was revoked (on the records' own decision day), re-importing the file that
    stored their income reported every unchanged row rejected as consent_missing, while the records stayed active
    and disclosed: the summary and the rejects file said the platform lacked what it held. A row equal to its stored
    record collects nothing; it is unchanged. A row that would store something (a correction, a new record) still
    needs the consent, the same in a dry run, a --max-rejects check and the import."""
    from lycredit.periods import shanghai_today

    platform, today = platform_with_catalog, shanghai_today()
    person = "11010119850615102X"  # given with a lower-case x in the file
    authorization = _consented_person(platform, tmp_path, person, str(today - dt.timedelta(days=10)),
                                      str(today + dt.timedelta(days=10)))
    header = "事项编码,主体代码,主体名称,文书号,决定日期,检查结果,检查日期,月收入"
    rows = [f"GEN-001,{person.lower()},李四,凌市监查〔2026〕{n}号,{today},合格,{today},0.{n}" for n in (1, 2)]
    path = tmp_path / "income.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    def run(file: Path, *extra: str):
        return platform.run("--as-of", str(today), "--format", "json", "record", "import", str(file), "--layout",
                            "generic", "--assume-weekends", "--rejects", str(tmp_path / "r.csv"), *extra, key="market")

    assert counts(summary(run(path)))[:5] == (2, 2, 0, 0, 0)
    r = platform.run("authorization", "revoke", authorization, "--reason", "本人书面撤回")
    assert r.exit_code == 0, r.output
    for extra in ([], ["--dry-run"], ["--max-rejects", "0"]):
        out = summary(run(path, *extra))
        assert counts(out)[:5] == (2, 0, 0, 2, 0), extra
        assert rejects(tmp_path / "r.csv") == [], extra
    changed = tmp_path / "changed.csv"
    changed.write_text("\n".join([header, rows[0].replace(",0.1", ",0.3"), rows[1],
                                   rows[1].replace("2号", "3号")]) + "\n", encoding="utf-8")
    for extra in (["--dry-run"], []):
        out = summary(run(changed, *extra))
        assert counts(out)[:5] == (3, 0, 0, 1, 2), extra
        assert [(r["row"], r["field"], r["rule"]) for r in rejects(tmp_path / "r.csv")] == [
            ("2", "月收入", "consent_missing"), ("4", "月收入", "consent_missing")], extra
    assert scalar(platform, "SELECT count(*) FROM record WHERE status = 'active' AND revision = 1") == 2
    verify(platform)


def test_a_missing_market_consent_names_the_column_the_persons_number_is_in(platform_with_catalog, tmp_path) -> None:
    """A person's market credit information (Art. 11) without consent was rejected naming the file's first code
    column, 统一社会信用代码, which is empty in that row, instead of 公民身份号码, where the person's number is."""
    from tests.test_records import ASSOC

    platform = platform_with_catalog
    platform.add_operator("assoc", "provider", unit=ASSOC, unit_name="凌源市建筑业协会")
    path = tmp_path / "market.csv"
    path.write_text("事项编码,统一社会信用代码,公民身份号码,主体名称,文书号,决定日期,违约事由\n"
                    "MKT-001,,11010119850615102x,李四,凌建协〔2026〕3号,2026-11-20,拖欠会费\n", encoding="utf-8")
    for extra in (["--dry-run"], []):
        out = summary(run_import(platform, path, "--rejects", str(tmp_path / "r.csv"), *extra, key="assoc",
                                 layout="generic"))
        assert counts(out)[:5] == (1, 0, 0, 0, 1), extra
        assert [(r["field"], r["rule"]) for r in rejects(tmp_path / "r.csv")] == [("公民身份号码", "consent_missing")]


def test_the_keys_seen_spill_to_a_temporary_file_beyond_their_limit() -> None:
    from lycredit.seen import Seen

    seen = Seen(limit=3)
    for key in range(-5, 5):
        assert key not in seen and seen.get(key) is None
        seen.add(key, key + 100)
    for text in ("91211382MA7XENLQ7E", "甲", ""):
        assert text not in seen
        seen.add(text, 7)
    assert all(seen.get(key) == key + 100 for key in range(-5, 5)) and 5 not in seen and 2**62 not in seen
    assert all(seen.get(text) == 7 for text in ("91211382MA7XENLQ7E", "甲", "")) and "乙" not in seen
    assert "0" not in seen and 0 in seen  # a text is not the number it spells
    assert seen._spilled is not None and len(seen._memory) < 3
    stored = [key for (key,) in seen._spilled.execute("SELECT key FROM seen")]
    assert len(stored) >= 10 and all(isinstance(key, bytes) and len(key) == 16 for key in stored)
    assert not any(b"91211382MA7XENLQ7E" in key or "甲".encode() in key for key in stored)  # no key as given on disk
    seen.clear()
    assert 0 not in seen and "甲" not in seen and seen._spilled is None


# --- whole-file rejections and limits ----------------------------------------------------------------------

@pytest.mark.parametrize("column", ["血型", "指紋"])  # traditional characters too (指紋 is 指纹)
def test_a_forbidden_column_rejects_the_whole_file_naming_it(platform_with_catalog, tmp_path, column) -> None:
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "blood.csv"
    path.write_text("\n".join([lines[0] + "," + column] + [line + ",A" for line in lines[1:]]) + "\n",
                    encoding="utf-8")
    r = run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 65 and column in r.stderr and "Art. 12" in r.stderr
    assert [(x["field"], x["rule"]) for x in rejects(tmp_path / "r.csv")] == [(column, "forbidden_field")]
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_a_file_refused_at_its_header_leaves_no_rejects_file_open(platform_with_catalog, tmp_path) -> None:
    """A file the row checker refuses at its header (here a missing required column) closes the rejects file
    before the error goes on, rather than leaving it to the collector (an unclosed file, for a library user)."""
    import gc
    import warnings

    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    cut = lines[0].split(",").index("行政处罚决定书文号")
    path = tmp_path / "no-number.csv"
    path.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != cut) for line in lines[:3]),
                    encoding="utf-8")
    report = tmp_path / "r.csv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        r = run_import(platform_with_catalog, path, "--rejects", str(report))
        del r.exc_info
        gc.collect()
    assert r.exit_code == 65 and "行政处罚决定书文号" in r.stderr
    assert not [w for w in caught if issubclass(w.category, ResourceWarning) and str(report) in str(w.message)]


@pytest.mark.parametrize("spelling", ["same", "link", "dotted"])
def test_a_rejects_file_that_is_the_file_being_imported_is_refused_and_the_file_is_kept(
        platform_with_catalog, tmp_path, spelling) -> None:
    """``--rejects`` naming the input itself (a slip of tab completion), by its path, a link or another
    spelling: writing the rejects file emptied the input before it was read, 'Read 0 rows' and exit 0, and
    the provider's file was lost. It is a usage error (2) now, and the file stays as it was."""
    path = tmp_path / "penalty.csv"
    path.write_bytes(PENALTY_SAMPLE.read_bytes())
    target = {"same": path, "link": tmp_path / "link.csv", "dotted": tmp_path / "." / "penalty.csv"}[spelling]
    if spelling == "link":
        target.symlink_to(path)
    for extra in ((), ("--dry-run",), ("--max-rejects", "5")):
        r = run_import(platform_with_catalog, path, "--rejects", str(target), *extra)
        assert r.exit_code == 2, r.output
        assert str(target) in r.stderr and "--rejects" in r.stderr
        assert path.read_bytes() == PENALTY_SAMPLE.read_bytes()
    assert scalar(platform_with_catalog, "SELECT count(*) FROM import_run") == 0
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_a_rejects_file_that_is_the_database_or_the_key_in_use_is_refused_and_both_are_kept(
        platform_with_catalog, tmp_path) -> None:
    """--rejects lycredit.db (a slip of tab completion in the directory of the default database) cut the SQLite
    database to the rejects header: the whole platform gone, and a traceback. --rejects market.key replaced
    the operator's key. Both are usage errors (2) now, before anything is written; the import then runs."""
    platform = platform_with_catalog
    kept = [(platform.keys["market"], "the operator's key file")]
    if platform.backend == "sqlite":
        database = Path(platform.url.removeprefix("sqlite:///"))
        kept.append((database, "the SQLite database"))
    before = {path: path.read_bytes() for path, _what in kept}
    for path, what in kept:
        r = run_import(platform, PENALTY_SAMPLE, "--rejects", str(path))
        assert r.exit_code == 2 and f"{path} is {what}" in r.stderr, r.output
    assert {path: path.read_bytes() for path in before} == before
    assert counts(summary(run_import(platform, PENALTY_SAMPLE, "--rejects", str(tmp_path / "r.csv"))))[:2] == (20, 18)
    verify(platform)


def test_a_batch_size_or_a_list_limit_beyond_64_bits_is_a_usage_error_not_a_traceback(
        platform_with_catalog, tmp_path) -> None:
    """--batch-size 99999999999999999999 reached itertools.islice (ValueError) and record list --limit the
    SQLite driver (OverflowError): tracebacks with exit 1. Both are usage errors (2) naming the option; the
    largest value still works."""
    r = run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "99999999999999999999",
                   "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 2 and "--batch-size" in r.stderr, r.output
    assert scalar(platform_with_catalog, "SELECT count(*) FROM import_run") == 0
    r = platform_with_catalog.run("record", "list", "--limit", "99999999999999999999", key=None)
    assert r.exit_code == 2 and "--limit" in r.stderr, r.output
    out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", str(2**63 - 1),
                             "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (20, 18, 0, 0, 2)
    r = platform_with_catalog.run("--format", "json", "record", "list", "--limit", str(2**63 - 1), key=None)
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 18, r.output


def test_a_decision_date_with_a_time_that_is_no_time_of_day_is_rejected_not_read_as_its_date(
        platform_with_catalog, tmp_path) -> None:
    """处罚决定日期 '2026-11-18 25:00' was stored as 2026-11-18, silently; the row is rejected (invalid_date) now,
    through the import and through record correct, while '2026-11-18 10:30' still stands for its day."""
    header, rows = _penalty_rows()
    decided = header.index("处罚决定日期")
    rows = [list(row) for row in rows]
    rows[0][decided], rows[1][decided] = rows[0][decided] + " 25:00", rows[1][decided] + " 10:30"
    path = tmp_path / "times.csv"
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")
    out = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (3, 2, 0, 0, 1)
    assert [(r["row"], r["field"], r["rule"]) for r in rejects(tmp_path / "r.csv")] == [
        ("2", "处罚决定日期", "invalid_date")]
    number = rows[1][header.index("行政处罚决定书文号")]
    r = platform_with_catalog.run(*AS_OF, "record", "correct", f"XZCF-001:{number}", "--field",
                                  f"处罚决定日期={rows[1][decided][:10]}T24:00:00", "--reason", "x", key="market")
    assert r.exit_code == 65 and "invalid_date" in r.stderr and "处罚决定日期" in r.stderr, r.output
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record_history") == 0


def test_a_file_from_excel_for_mac_with_carriage_returns_alone_is_refused_saying_how_to_save_it(
        platform_with_catalog, tmp_path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(PENALTY_SAMPLE.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    r = run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 65 and "carriage return alone" in r.stderr and "CSV UTF-8" in r.stderr, r.output
    assert "universal-newline" not in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_more_rejects_than_the_limit_leave_nothing_of_the_file_behind(platform_with_catalog, tmp_path) -> None:
    entries = scalar(platform_with_catalog, "SELECT count(*) FROM oplog_entry")
    r = run_import(platform_with_catalog, PENALTY_SAMPLE, "--max-rejects", "1", "--rejects", str(tmp_path / "r.csv"),
                   "--batch-size", "5")
    assert r.exit_code == 65 and "--max-rejects 1" in r.stderr and "nothing" in r.stderr
    assert [x["row"] for x in rejects(tmp_path / "r.csv")] == ["8", "13"]
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0
    assert scalar(platform_with_catalog, "SELECT count(*) FROM import_run") == 0
    assert scalar(platform_with_catalog, "SELECT count(*) FROM oplog_entry") == entries
    out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--max-rejects", "2",
                             "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (20, 18, 0, 0, 2)
    assert len(rejects(tmp_path / "r.csv")) == 2


def test_a_dry_run_reports_what_it_would_do_and_leaves_no_trace(platform_with_catalog, tmp_path) -> None:
    entries = scalar(platform_with_catalog, "SELECT count(*) FROM oplog_entry")
    r = run_import(platform_with_catalog, PENALTY_SAMPLE, "--dry-run", "--rejects", str(tmp_path / "r.csv"),
                   "--batch-size", "7")
    assert counts(summary(r)) == (20, 18, 0, 0, 2, 1) and "Dry run" in r.stderr
    for table in ("record", "record_history", "import_run", "subject"):
        assert scalar(platform_with_catalog, f"SELECT count(*) FROM {table}") == 0
    assert scalar(platform_with_catalog, "SELECT count(*) FROM oplog_entry") == entries
    assert len(rejects(tmp_path / "r.csv")) == 2


def test_a_provider_imports_only_for_its_own_unit_and_an_auditor_not_at_all(platform_with_catalog) -> None:
    r = run_import(platform_with_catalog, PENALTY_SAMPLE, "--provider", APPROVAL)
    assert r.exit_code == 77 and APPROVAL in r.stderr
    platform_with_catalog.add_operator("audit", "auditor")
    r = run_import(platform_with_catalog, PENALTY_SAMPLE, key="audit")
    assert r.exit_code == 77 and "record.import" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM oplog_operation WHERE action = 'refused'") == 1


def test_a_missing_file_exits_66_and_a_malformed_one_65_naming_the_line(platform_with_catalog, tmp_path) -> None:
    assert run_import(platform_with_catalog, tmp_path / "none.csv").exit_code == 66
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:3], '"unterminated,' + lines[3]]) + "\n", encoding="utf-8")
    r = run_import(platform_with_catalog, bad, "--max-rejects", "0")
    assert r.exit_code == 65 and "line 4" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_a_second_import_while_one_runs_exits_75(platform_with_catalog) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from lycredit.database import make_engine
        from lycredit.runlock import run_lock
        with run_lock(make_engine({platform_with_catalog.url!r}), "record-import"):
            print("held", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_import(platform_with_catalog, PENALTY_SAMPLE)
        assert r.exit_code == 75 and "record-import" in r.stderr
    finally:
        holder.kill()
        holder.wait()


# --- the forked reader (two cores) ---------------------------------------------------------------------------

def _cli(platform, *args: str, pipeline: str) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own (the pipeline forks only a process without other threads)."""
    env = {**os.environ, "LYCREDIT_PIPELINE": pipeline, "LYCREDIT_IMPORT_PHASES": "1"}
    return subprocess.run([sys.executable, "-m", "lycredit", "--db", platform.url, "--key",
                           str(platform.keys["market"]), *AS_OF, "--format", "json", *args],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("cell", "says"), [
    ("XFD1048576", "spans 1,048,576 rows by 16,384 columns"),  # 17 billion cells: hundreds of GB
    ("CZ1048576", "spans 1,048,576 rows by 104 columns"),  # too large by a little: still refused
    ("A99999999", "beyond row 1,048,576"),  # no Excel writes it
])
def test_a_workbook_with_a_value_far_out_is_refused_naming_the_cell_not_aborted(
        platform_with_catalog, tmp_path, cell, says) -> None:
    """calamine holds the rectangle from a sheet's first to its last value: one stray value in the last cell of
    a sheet made a 10 kB workbook ask for gigabytes, and the import died with Rust's 'memory allocation ...
    failed' and SIGABRT (exit 134), no message from lycredit. It is refused now (65) naming the sheet and the
    cell, before calamine reads the sheet; in a process of its own, since the abort would end the test run."""
    header, rows = _penalty_rows()
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.active[cell if cell != "A99999999" else "A1048576"] = "x"  # openpyxl writes no row past Excel's last
    book.save(tmp_path / "far.xlsx")
    if cell == "A99999999":
        with zipfile.ZipFile(tmp_path / "far.xlsx") as package:
            parts = {name: package.read(name) for name in package.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        parts[sheet] = parts[sheet].replace(b'r="1048576"', b'r="99999999"').replace(b'r="A1048576"',
                                                                                     b'r="A99999999"')
        with zipfile.ZipFile(tmp_path / "far.xlsx", "w") as package:
            for name, data in parts.items():
                package.writestr(name, data)
    done = _cli(platform_with_catalog, "record", "import", str(tmp_path / "far.xlsx"), "--layout", "penalty",
                "--rejects", str(tmp_path / "r.csv"), pipeline="0")
    assert done.returncode == 65, done.stderr[-2000:]
    assert f"far.xlsx, sheet Sheet, cell {cell}: " in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_a_workbook_whose_far_cells_hold_no_value_or_fit_is_imported(platform_with_catalog, tmp_path) -> None:
    """What calamine leaves out or holds easily is not refused: a far cell with a format only (Excel writes one
    for a cell formatted and emptied), and a sheet of 1,048,576 rows whose values stay within 64 columns."""
    from openpyxl.styles import Font

    header, rows = _penalty_rows()
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.active["XFD1048576"].font = Font(bold=True)
    book.active["BL5"] = ""  # openpyxl writes no value: an empty cell
    book.save(tmp_path / "formatted.xlsx")
    done = _cli(platform_with_catalog, "record", "import", str(tmp_path / "formatted.xlsx"), "--layout", "penalty",
                "--rejects", str(tmp_path / "r.csv"), pipeline="0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["accepted"] == 3


def test_a_workbook_that_inflates_like_a_zip_bomb_is_refused_before_it_is_read(platform_with_catalog, tmp_path) -> None:
    """A 300 kB workbook whose sheet inflates to 300 MiB of blanks: calamine holds a part whole in memory, so a
    few megabytes asked for gigabytes and, where memory is limited, the import was aborted (exit 134). A part
    inflating more than 100 times to more than 256 MiB is refused now (65) naming it, before calamine opens
    the file; the sample's own workbook (about 10 times) is read as ever."""
    header, rows = _penalty_rows()
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.save(tmp_path / "plain.xlsx")
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as source, \
            zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, data)
                continue
            part = zipfile.ZipInfo(info.filename)
            part.compress_type = zipfile.ZIP_DEFLATED
            cut = data.index(b"<sheetData>") + len(b"<sheetData>")
            with target.open(part, "w", force_zip64=True) as out:
                out.write(data[:cut])
                for _ in range(300):
                    out.write(b" " * (1 << 20))
                out.write(data[cut:])
    assert (tmp_path / "bomb.xlsx").stat().st_size < 1_000_000
    r = run_import(platform_with_catalog, tmp_path / "bomb.xlsx", "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 65, r.output
    assert "bomb.xlsx: its part xl/worksheets/sheet1.xml inflates from " in r.stderr and "zip bomb" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0
    out = summary(run_import(platform_with_catalog, tmp_path / "plain.xlsx", "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:2] == (3, 3)


def _phases(done: subprocess.CompletedProcess) -> dict[str, float]:
    return json.loads(next(line for line in done.stderr.splitlines() if line.startswith('{"phases"')))["phases"]


def test_the_forked_reader_checks_exactly_as_the_in_process_one(platform_with_catalog, tmp_path) -> None:
    path = gen_penalty.write(tmp_path / "big.csv", 1200, bad_percent=5)
    common = ("record", "import", str(path), "--layout", "penalty", "--batch-size", "100")
    forked = _cli(platform_with_catalog, *common, "--dry-run", "--rejects", str(tmp_path / "forked.csv"),
                  pipeline="1")
    assert forked.returncode == 0, forked.stderr
    serial = _cli(platform_with_catalog, *common, "--rejects", str(tmp_path / "serial.csv"), pipeline="0")
    assert serial.returncode == 0, serial.stderr
    keys = ("read", "accepted", "corrected", "unchanged", "rejected", "late")
    assert [json.loads(forked.stdout)[k] for k in keys] == [json.loads(serial.stdout)[k] for k in keys]
    assert json.loads(serial.stdout)["rejected"] > 0
    assert rejects(tmp_path / "forked.csv") == rejects(tmp_path / "serial.csv")
    assert (_phases(forked)["forked_reader"], _phases(serial)["forked_reader"]) == (1.0, 0.0)
    again = _cli(platform_with_catalog, *common, "--rejects", str(tmp_path / "again.csv"), pipeline="1")
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert (out["accepted"], out["corrected"], out["unchanged"]) == (0, 0, json.loads(serial.stdout)["accepted"])
    verify(platform_with_catalog)


def test_a_re_import_of_a_batch_of_stored_records_reads_them_all_and_finds_its_corrections(
        platform_with_catalog, tmp_path) -> None:
    """More stored records in one batch than one IN list holds (500, SQLite) or in one array (PostgreSQL):
    each is found, the unchanged ones left alone and the two changed ones corrected."""
    path = gen_penalty.write(tmp_path / "big.csv", 1200, bad_percent=0)
    first = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r1.csv")))
    assert first["accepted"] == 1200
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    column = rows[0].index("违法事实")
    for number in (600, 1100):
        rows[number][column] += "（更正）"
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)
    again = summary(run_import(platform_with_catalog, changed, "--rejects", str(tmp_path / "r2.csv")))
    assert (again["accepted"], again["corrected"], again["unchanged"], again["rejected"]) == (0, 2, 1198, 0)
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record WHERE revision = 2") == 2
    verify(platform_with_catalog)


def test_records_the_forked_reader_helped_to_hash_verify(platform_with_catalog, tmp_path) -> None:
    """A writing import through the pipeline: whichever process wrote each row's text, the log verifies."""
    path = gen_penalty.write(tmp_path / "big.csv", 3000, bad_percent=1)
    done = _cli(platform_with_catalog, "record", "import", str(path), "--layout", "penalty", "--batch-size", "200",
                "--rejects", str(tmp_path / "r.csv"), pipeline="1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] > 2900 and _phases(done)["forked_reader"] == 1.0
    verify(platform_with_catalog)


def test_a_malformed_row_read_by_the_forked_reader_fails_the_import_naming_its_line(
        platform_with_catalog, tmp_path) -> None:
    path = gen_penalty.write(tmp_path / "big.csv", 300, bad_percent=0)
    with path.open("ab") as stream:
        stream.write(b'"unterminated,\xff\xfe\n')
    r = _cli(platform_with_catalog, "record", "import", str(path), "--layout", "penalty", "--batch-size", "50",
             "--max-rejects", "0", pipeline="1")
    assert r.returncode == 65 and "302" in r.stderr, r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_a_checked_row_crosses_the_pipe_whole(tmp_path) -> None:
    import dataclasses
    import pickle

    item = parse_catalog(write_test_catalog(tmp_path / "catalog.csv"))[2]
    values = {f.name: f"<{f.name}>" for f in dataclasses.fields(Checked)}
    values.update(entry=Entry(4, item), kind=SubjectKind.natural_person, consent=(("收入", "income"),),
                  row=7, late=3, guessed=True)
    row = Checked(**values)
    back = pickle.loads(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
    assert {f.name: getattr(back, f.name) for f in dataclasses.fields(Checked)} == {
        f.name: getattr(row, f.name) for f in dataclasses.fields(Checked)}


# --- the record indexes a large import takes down and rebuilds ----------------------------------------------

def _missing_indexes(platform) -> list[str]:
    from lycredit.record_import import missing_indexes

    engine = platform.engine()
    try:
        return missing_indexes(engine)
    finally:
        engine.dispose()


def _take_down(platform) -> tuple[str, ...]:
    """Drop what a large import takes down (the secondary indexes; on PostgreSQL the foreign keys too)."""
    from lycredit.record_import import DEFERRED_FOREIGN_KEYS, deferred

    names = deferred(platform.backend)
    engine = platform.engine()
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"ALTER TABLE record DROP CONSTRAINT {name}" if name in DEFERRED_FOREIGN_KEYS
                                 else f"DROP INDEX {name}")
    engine.dispose()
    return names


def test_the_foreign_keys_a_large_import_takes_down_are_the_record_tables(platform) -> None:
    """On PostgreSQL the names it drops and adds back are those of the record table's keys in a new database."""
    import sqlalchemy as sa

    from lycredit.record_import import DEFERRED_FOREIGN_KEYS, T_RECORD, _foreign_key, deferred

    assert {_foreign_key(name).referred_table.name for name in DEFERRED_FOREIGN_KEYS} == {"subject", "catalog_item"}
    assert len(T_RECORD.foreign_key_constraints) == len(DEFERRED_FOREIGN_KEYS)
    engine = platform.engine()
    try:
        inspector = sa.inspect(engine)
        present = {index["name"] for index in inspector.get_indexes("record")}
        if platform.backend == "postgresql":
            present.update(key["name"] for key in inspector.get_foreign_keys("record"))
        assert set(deferred(platform.backend)) <= present
    finally:
        engine.dispose()
    assert _missing_indexes(platform) == []


def _schema_differences(platform) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = platform.engine()
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    finally:
        engine.dispose()


@pytest.fixture
def watched_batches(monkeypatch):
    """The record indexes missing as each batch of an in-process import starts."""
    from lycredit import record_import

    monkeypatch.setenv("LYCREDIT_PIPELINE", "0")
    seen: list[tuple[str, ...]] = []
    real = record_import._batch

    def watched(run, batch, digest):
        seen.append(tuple(record_import.missing_indexes(run.ctx.checked_engine)))
        return real(run, batch, digest)

    monkeypatch.setattr(record_import, "_batch", watched)
    return seen


def test_a_large_import_writes_without_the_record_indexes_and_rebuilds_them_as_declared(
        platform_with_catalog, tmp_path, monkeypatch, watched_batches) -> None:
    from lycredit.record_import import DEFER_ENV, DEFERRED_FOREIGN_KEYS, DEFERRED_INDEXES, deferred

    monkeypatch.setenv(DEFER_ENV, "1")  # as if the file were large
    out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5",
                             "--rejects", str(tmp_path / "r.csv")))
    assert counts(out) == (20, 18, 0, 0, 2, 1)
    taken = deferred(platform_with_catalog.backend)
    assert taken == DEFERRED_INDEXES + (DEFERRED_FOREIGN_KEYS if platform_with_catalog.backend == "postgresql" else ())
    assert watched_batches == [(), taken, taken, taken], \
        "the first batch is written with the indexes (it tells the file's size); the rest without"
    assert _missing_indexes(platform_with_catalog) == [] and _schema_differences(platform_with_catalog) == []
    late = json.loads(platform_with_catalog.run("--format", "json", "record", "list", "--late", key=None).stdout)
    assert [r["late_days"] for r in late] == [21]
    verify(platform_with_catalog)


def test_a_small_import_or_a_dry_run_keeps_the_record_indexes(platform_with_catalog, tmp_path, monkeypatch,
                                                              watched_batches) -> None:
    from lycredit.record_import import DEFER_ENV

    monkeypatch.delenv(DEFER_ENV, raising=False)
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5", "--dry-run"))
    monkeypatch.setenv(DEFER_ENV, "1")
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5", "--dry-run"))
    monkeypatch.delenv(DEFER_ENV)
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5"))
    assert watched_batches == [()] * 12


def test_the_indexes_are_taken_down_only_for_more_rows_to_come_than_the_table_holds() -> None:
    from lycredit.record_import import DEFER_MIN_ROWS, rows_to_come

    # 10 000 rows and the header in the first megabyte of a 50 MB file: about 490 000 more to come
    assert 489_000 < rows_to_come(10_001, 1_000_000, 50_000_000) < 491_000
    assert rows_to_come(10_001, 1_000_000, 1_000_000) == 0 and rows_to_come(1, 0, 10) == 0
    assert rows_to_come(10_001, 1_000_000, 5_000_000) < DEFER_MIN_ROWS


def _disk_gone_after(monkeypatch, row: int):
    """Make the import's assessment fail ('disk gone') for the batches after ``row``; the real assess, to put back."""
    from lycredit import record_import

    real_assess = record_import.assess

    def failing_assess(conn, checked, **kwargs):
        if checked[0].row > row:
            raise OSError("disk gone")
        return real_assess(conn, checked, **kwargs)

    monkeypatch.setattr(record_import, "assess", failing_assess)
    return real_assess


def test_a_failing_import_rebuilds_the_indexes_before_its_error_goes_on(
        platform_with_catalog, tmp_path, monkeypatch, watched_batches) -> None:
    from lycredit import record_import

    monkeypatch.setenv(record_import.DEFER_ENV, "1")
    _disk_gone_after(monkeypatch, 10)
    with pytest.raises(OSError, match="disk gone"):
        run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5")
    assert len(watched_batches) == 3 and watched_batches[-1] == record_import.deferred(platform_with_catalog.backend)
    assert _missing_indexes(platform_with_catalog) == []
    assert scalar(platform_with_catalog, "SELECT rows_done FROM import_run") == 11


def test_an_import_that_fails_and_cannot_rebuild_reports_its_own_error(
        platform_with_catalog, monkeypatch, watched_batches) -> None:
    from lycredit import record_import

    monkeypatch.setenv(record_import.DEFER_ENV, "1")

    def failing_rebuild(engine):
        raise RuntimeError("database gone too")

    _disk_gone_after(monkeypatch, 6)
    monkeypatch.setattr(record_import, "rebuild_indexes", failing_rebuild)
    with pytest.raises(OSError, match="disk gone"):
        run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5")
    assert _missing_indexes(platform_with_catalog) == list(record_import.deferred(platform_with_catalog.backend))
    status = json.loads(platform_with_catalog.run("--format", "json", "db", "status", key=None).stdout)
    assert "ix_record_status_disclosure_until" in status["state"]


def test_on_postgresql_a_role_that_does_not_own_the_record_table_imports_with_its_indexes(
        platform_with_catalog, monkeypatch, watched_batches) -> None:
    """Under sql/postgresql-roles.sql a provider's login role may write records but not drop or build
    the table's indexes: a large import keeps them (it crashed with 'must be owner of index'), and one
    that meets them missing leaves them to the owner's ``db upgrade`` instead of failing at its end."""
    if platform_with_catalog.backend != "postgresql":
        pytest.skip("PostgreSQL roles and grants only")
    from lycredit.record_import import DEFER_ENV, deferred

    roles = Path(__file__).resolve().parents[1] / "sql" / "postgresql-roles.sql"
    engine = platform_with_catalog.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(424242)")  # roles are cluster-wide: workers take turns
        conn.connection.driver_connection.execute(roles.read_text())
    engine.dispose()
    as_provider = platform_with_catalog.url + "?options=-c%20role%3Dlycredit_provider"
    monkeypatch.setenv(DEFER_ENV, "1")

    def provider_import(path: Path) -> dict:
        r = invoke(["--db", as_provider, "--key", str(platform_with_catalog.keys["market"]), *AS_OF,
                    "--format", "json", "record", "import", str(path), "--layout", "penalty", "--batch-size", "5"])
        return summary(r)

    assert counts(provider_import(PENALTY_SAMPLE)) == (20, 18, 0, 0, 2, 1)
    assert watched_batches == [()] * 4 and _missing_indexes(platform_with_catalog) == []
    _take_down(platform_with_catalog)  # what an owner's killed import leaves
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    one = platform_with_catalog.dir / "one.csv"
    one.write_text("\n".join([lines[0], lines[1].replace("1号", "901号")]) + "\n", encoding="utf-8")
    assert provider_import(one)["accepted"] == 1
    assert _missing_indexes(platform_with_catalog) == list(deferred("postgresql"))
    status = json.loads(platform_with_catalog.run("--format", "json", "db", "status", key=None).stdout)
    assert "ix_record_subject_id" in status["state"] and "db upgrade" in status["state"]
    assert platform_with_catalog.run("db", "upgrade", key=None).exit_code == 0
    assert _missing_indexes(platform_with_catalog) == [] and _schema_differences(platform_with_catalog) == []
    verify(platform_with_catalog)


def test_on_postgresql_an_import_keeps_the_indexes_while_another_session_reads_the_table(
        platform_with_catalog, monkeypatch, watched_batches) -> None:
    if platform_with_catalog.backend != "postgresql":
        pytest.skip("SQLite readers (WAL) never block dropping an index")
    from lycredit.record_import import DEFER_ENV

    monkeypatch.setenv(DEFER_ENV, "1")
    engine = platform_with_catalog.engine()
    try:
        with engine.connect() as reader:
            reader.exec_driver_sql("SELECT count(*) FROM record").scalar()  # its transaction holds the table
            started = time.monotonic()
            out = summary(run_import(platform_with_catalog, PENALTY_SAMPLE, "--batch-size", "5"))
            assert 2 <= time.monotonic() - started < 30, "it waited two seconds for the lock, then went on"
            reader.rollback()
    finally:
        engine.dispose()
    assert out["accepted"] == 18 and watched_batches == [()] * 4
    assert _missing_indexes(platform_with_catalog) == []


def test_indexes_a_killed_import_left_out_are_reported_and_rebuilt(
        platform_with_catalog, tmp_path, monkeypatch, watched_batches) -> None:
    from lycredit.record_import import DEFER_ENV, DEFERRED_INDEXES

    summary(run_import(platform_with_catalog, PENALTY_SAMPLE))
    names = _take_down(platform_with_catalog)  # what a killed import leaves: dropped, never rebuilt
    status = json.loads(platform_with_catalog.run("--format", "json", "db", "status", key=None).stdout)
    assert all(name in status["state"] for name in names) and "db upgrade" in status["state"]
    # a query still answers, from the table itself
    assert json.loads(platform_with_catalog.run("--format", "json", "record", "list", "--late", key=None).stdout)
    r = platform_with_catalog.run("db", "upgrade", key=None)
    assert r.exit_code == 0 and "ix_record_subject_id" in r.stderr
    assert _missing_indexes(platform_with_catalog) == [] and _schema_differences(platform_with_catalog) == []
    status = json.loads(platform_with_catalog.run("--format", "json", "db", "status", key=None).stdout)
    assert status["state"] == "at head"
    # the next import rebuilds them too, at its end, even a small one that would not take them down
    engine = platform_with_catalog.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {DEFERRED_INDEXES[0]}")
    engine.dispose()
    monkeypatch.setenv(DEFER_ENV, "0")
    lines = PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "one.csv").write_text("\n".join([lines[0], lines[1].replace("1号", "901号")]) + "\n", encoding="utf-8")
    assert summary(run_import(platform_with_catalog, tmp_path / "one.csv"))["accepted"] == 1
    assert watched_batches[-1] == (DEFERRED_INDEXES[0],)
    assert _missing_indexes(platform_with_catalog) == [] and _schema_differences(platform_with_catalog) == []
    verify(platform_with_catalog)


def test_a_foreign_key_the_stored_records_break_is_named_and_stays_missing(platform_with_catalog) -> None:
    """Only a write outside lycredit, while an import had the keys down, can leave a record naming no subject:
    adding the key back then fails, naming it, after the indexes are rebuilt; once the record is put right,
    db upgrade adds it."""
    if platform_with_catalog.backend != "postgresql":
        pytest.skip("SQLite cannot drop a foreign key; its imports leave the checks out instead")
    summary(run_import(platform_with_catalog, PENALTY_SAMPLE))
    _take_down(platform_with_catalog)
    engine = platform_with_catalog.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE record SET subject_id = 999999 WHERE id = (SELECT min(id) FROM record)")
    r = platform_with_catalog.run("db", "upgrade", key=None)
    assert r.exit_code == 65 and "record_subject_id_fkey" in r.stderr and "999999" in r.stderr, r.output
    assert "record_catalog_item_id_fkey" not in r.stderr
    assert _missing_indexes(platform_with_catalog) == ["record_subject_id_fkey"]
    status = json.loads(platform_with_catalog.run("--format", "json", "db", "status", key=None).stdout)
    assert "record_subject_id_fkey" in status["state"]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE record SET subject_id = (SELECT min(id) FROM subject) WHERE subject_id = 999999")
    engine.dispose()
    assert platform_with_catalog.run("db", "upgrade", key=None).exit_code == 0
    assert _missing_indexes(platform_with_catalog) == [] and _schema_differences(platform_with_catalog) == []


# --- resume -----------------------------------------------------------------------------------------------

def test_resume_with_nothing_to_resume_says_so_and_names_an_interrupted_run_of_other_content(
        platform_with_catalog, tmp_path, monkeypatch) -> None:
    """--resume in a script that always gives it imports from the first row when there is nothing to resume,
    saying so; if a file of the same name was interrupted and has changed since, it names that run."""
    from lycredit import record_import

    text = PENALTY_SAMPLE.read_text(encoding="utf-8-sig")
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    r = run_import(platform_with_catalog, path, "--resume")
    assert r.exit_code == 0 and "Nothing to resume" in r.stderr and "Run " not in r.stderr, r.output
    again = tmp_path / "q.csv"
    again.write_text(text.replace("1号", "701号"), encoding="utf-8")
    real_assess = _disk_gone_after(monkeypatch, 6)
    with pytest.raises(OSError, match="disk gone"):
        run_import(platform_with_catalog, again, "--batch-size", "5")
    monkeypatch.setattr(record_import, "assess", real_assess)
    interrupted = scalar(platform_with_catalog, "SELECT id FROM import_run WHERE status = 'running'")
    again.write_text(text.replace("1号", "702号"), encoding="utf-8")  # the file changes before it is resumed
    r = run_import(platform_with_catalog, again, "--batch-size", "5", "--resume")
    assert r.exit_code == 0 and "Nothing to resume" in r.stderr, r.output
    assert f"Run {interrupted} of a file of this name was interrupted after row 6" in r.stderr
    assert scalar(platform_with_catalog, f"SELECT status FROM import_run WHERE id = {interrupted}") == "running"
    verify(platform_with_catalog)


def _interrupted_run(platform, path: Path, monkeypatch, after_row: int = 6) -> int:
    """An import of ``path`` in batches of 5 that fails after ``after_row``: its run stays ``running``; its id."""
    from lycredit import record_import

    real_assess = _disk_gone_after(monkeypatch, after_row)
    with pytest.raises(OSError, match="disk gone"):
        run_import(platform, path, "--batch-size", "5")
    monkeypatch.setattr(record_import, "assess", real_assess)
    return scalar(platform, "SELECT id FROM import_run WHERE status = 'running'")


def runs(platform, *args: str, key: str | None = "admin") -> list[dict]:
    r = platform.run("--format", "json", "record", "runs", *args, key=key)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_an_interrupted_import_is_listed_and_abandoned_and_its_file_then_imports_afresh(
        platform_with_catalog, tmp_path, monkeypatch) -> None:
    """Without --resume an interrupted file cannot be imported again (2); abandoning the run (logged, with its
    reason) lets it start afresh, the batches it committed found unchanged, nothing stored twice."""
    path = tmp_path / "p.csv"
    path.write_text(PENALTY_SAMPLE.read_text(encoding="utf-8-sig"), encoding="utf-8")
    run_id = _interrupted_run(platform_with_catalog, path, monkeypatch)
    [listed] = runs(platform_with_catalog)
    assert (listed["id"], listed["status"], listed["rows_done"], listed["provider"], listed["file_name"]) == (
        run_id, "running", 6, MARKET, str(path))
    assert listed["read"] == 5 and listed["finished_at"] is None
    assert runs(platform_with_catalog, "--status", "done") == []
    assert runs(platform_with_catalog, "--provider", APPROVAL) == []
    assert [r["id"] for r in runs(platform_with_catalog, "--provider", MARKET.lower())] == [run_id]
    refused = run_import(platform_with_catalog, path)
    assert refused.exit_code == 2 and f"lycredit record abandon {run_id}" in refused.stderr, refused.output

    abandon = ("record", "abandon", str(run_id))
    assert platform_with_catalog.run(*abandon, key="market").exit_code == 2  # --reason is required
    dry = platform_with_catalog.run(*abandon, "--reason", "文件已更正，重新导入", "--dry-run", key="market")
    assert dry.exit_code == 0 and "Dry run" in dry.stderr, dry.output
    assert scalar(platform_with_catalog, f"SELECT status FROM import_run WHERE id = {run_id}") == "running"
    done = platform_with_catalog.run("--format", "json", *abandon, "--reason", "文件已更正，重新导入", key="market")
    assert done.exit_code == 0, done.output
    view = json.loads(done.stdout)
    assert (view["status"], view["rows_done"]) == ("abandoned", 6) and view["finished_at"] is not None
    with platform_with_catalog.engine().connect() as conn:
        op = conn.execute(sa.text("SELECT action, reason, summary FROM oplog_operation ORDER BY seq DESC")).first()
    assert (op.action, op.reason) == ("record.abandon", "文件已更正，重新导入")
    assert json.loads(op.summary)["run"] == run_id

    again = summary(run_import(platform_with_catalog, path, "--batch-size", "5"))
    assert again["run"] != run_id and again["unchanged"] > 0
    assert again["accepted"] + again["unchanged"] + again["rejected"] == again["read"]
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == again["accepted"] + again["unchanged"]
    assert [(r["id"], r["status"]) for r in runs(platform_with_catalog)] == [
        (again["run"], "done"), (run_id, "abandoned")]
    assert [r["id"] for r in runs(platform_with_catalog, "--limit", "1")] == [again["run"]]
    cut = platform_with_catalog.run("record", "runs", "--limit", "1", key=None)
    assert "Only the first 1 are shown; there are more" in cut.stderr, cut.output
    assert "there are more" not in platform_with_catalog.run("record", "runs", "--limit", "2", key=None).stderr
    assert [r["id"] for r in runs(platform_with_catalog, "--limit", "1", "--provider", MARKET)] == [again["run"]]
    assert [r["id"] for r in runs(platform_with_catalog, "--status", "abandoned", "--limit", str(2**63 - 1))] == [
        run_id]
    twice = platform_with_catalog.run(*abandon, "--reason", "again", key="market")
    assert twice.exit_code == 65 and "abandoned" in twice.stderr, twice.output
    finished = platform_with_catalog.run(*abandon[:2], str(again["run"]), "--reason", "x", key="market")
    assert finished.exit_code == 65 and "is done" in finished.stderr, finished.output
    verify(platform_with_catalog)


def test_abandon_refuses_another_units_run_a_run_importing_now_and_no_such_run(
        platform_with_catalog, tmp_path, monkeypatch) -> None:
    from lycredit.record_import import LOCK_NAME
    from lycredit.runlock import run_lock

    path = tmp_path / "p.csv"
    path.write_text(PENALTY_SAMPLE.read_text(encoding="utf-8-sig"), encoding="utf-8")
    run_id = _interrupted_run(platform_with_catalog, path, monkeypatch)
    platform_with_catalog.add_operator("hrss", "provider", unit=HRSS, unit_name="凌源市人力资源和社会保障局")
    other = platform_with_catalog.run("record", "abandon", str(run_id), "--reason", "x", key="hrss")
    assert other.exit_code == 77 and MARKET in other.stderr, other.output
    auditor = platform_with_catalog.add_operator("aud", "auditor")
    assert platform_with_catalog.run("record", "abandon", str(run_id), "--reason", "x", key=str(auditor)).exit_code == 77
    assert [r["id"] for r in runs(platform_with_catalog, key="aud")] == [run_id]  # reading needs no role
    engine = platform_with_catalog.engine()
    with run_lock(engine, LOCK_NAME):  # an import of it running now, in another process
        busy = platform_with_catalog.run("record", "abandon", str(run_id), "--reason", "x")
        refused = platform_with_catalog.run("record", "abandon", str(run_id), "--reason", "x", key=str(auditor))
        importer = run_import(platform_with_catalog, path, key=str(auditor))
    engine.dispose()
    assert busy.exit_code == 75, busy.output
    assert refused.exit_code == 77 and importer.exit_code == 77, (refused.output, importer.output)  # role first
    for missing, code in (("999", 65), (str(2**31), 2), ("0", 2), ("x", 2)):
        r = platform_with_catalog.run("record", "abandon", missing, "--reason", "x")
        assert r.exit_code == code, (missing, r.output)
    assert scalar(platform_with_catalog, f"SELECT status FROM import_run WHERE id = {run_id}") == "running"
    assert platform_with_catalog.run("record", "abandon", str(run_id), "--reason", "人工终止").exit_code == 0  # staff
    verify(platform_with_catalog)


def _killed_import(platform, path: Path, report: Path, pipeline: str, after_rows: int = 1) -> int:
    """Start an import of ``path`` in a process of its own and kill it once its committed batches cover
    ``after_rows`` rows; the rows done."""
    env = {**os.environ, "LYCREDIT_KEY_PASSPHRASE": os.environ["LYCREDIT_KEY_PASSPHRASE"], "LYCREDIT_PIPELINE": pipeline}
    command = [sys.executable, "-m", "lycredit", "--db", platform.url, "--key",
               str(platform.keys["market"]), *AS_OF, "record", "import", str(path), "--layout", "penalty",
               "--batch-size", "5", "--rejects", str(report)]  # 800 signed batches: killed long before the end
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = 0
    engine = platform.engine()  # one read-only connection: polling neither slows nor blocks the import
    with engine.connect().execution_options(lycredit_read_only=True) as conn:
        while time.monotonic() < deadline and child.poll() is None:
            done = conn.execute(sa.text("SELECT coalesce(max(rows_done), 0) FROM import_run")).scalar()
            conn.rollback()
            if done >= after_rows:
                break
            time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with engine.connect().execution_options(lycredit_read_only=True) as conn:  # a batch may commit before the kill
        done = conn.execute(sa.text("SELECT coalesce(max(rows_done), 0) FROM import_run")).scalar()
    engine.dispose()
    assert 0 < done < 4001, "the import was killed after its first committed batch and before its end"
    return done


@pytest.mark.parametrize("pipeline", ["0", "1"], ids=["in-process", "forked-reader"])
def test_a_killed_import_resumes_after_its_last_committed_batch_without_duplicates(
        platform_with_catalog, tmp_path, pipeline, monkeypatch) -> None:
    monkeypatch.setenv("LYCREDIT_PIPELINE", pipeline)
    path = gen_penalty.write(tmp_path / "big.csv", 4000, bad_percent=2)
    report = tmp_path / "r.csv"
    _killed_import(platform_with_catalog, path, report, pipeline)
    assert run_import(platform_with_catalog, path).exit_code == 2
    out = summary(run_import(platform_with_catalog, path, "--resume", "--batch-size", "500"))
    assert out["read"] == 4000 and out["accepted"] + out["rejected"] == 4000
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == out["accepted"]
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record_history") == 0
    assert scalar(platform_with_catalog, "SELECT status FROM import_run") == "done"
    lines = rejects(report)
    assert len({x["row"] for x in lines}) == out["rejected"]
    assert len({(x["row"], x["field"], x["rule"]) for x in lines}) == len(lines), "no reject written twice"
    verify(platform_with_catalog)


def test_a_resumed_import_refuses_a_rejects_file_shorter_than_its_committed_batches_left_it(
        platform_with_catalog, tmp_path) -> None:
    """A rejects file cut or replaced after the import was killed (a power loss before the file reached the disk,
    an operator) would lose the committed batches' rejected rows without a word: --resume refuses it (78), and
    goes on into another file given with --rejects."""
    path = gen_penalty.write(tmp_path / "big.csv", 4000, bad_percent=10)
    report = tmp_path / "r.csv"
    done = _killed_import(platform_with_catalog, path, report, "0", after_rows=100)
    committed = json.loads(scalar(platform_with_catalog, "SELECT counts FROM import_run"))["rejects_offset"]
    assert report.stat().st_size >= committed > len(b"\xef\xbb\xbf" + b"file,row,field,rule,message,raw\r\n")
    with report.open("r+b") as cut:
        cut.truncate(committed - 1)
    refused = run_import(platform_with_catalog, path, "--resume")
    assert refused.exit_code == 78, refused.output
    assert str(report) in refused.stderr and f"fewer than the {committed}" in refused.stderr
    assert report.stat().st_size == committed - 1  # left as it was
    assert scalar(platform_with_catalog, "SELECT rows_done FROM import_run") == done
    report.unlink()
    assert run_import(platform_with_catalog, path, "--resume").exit_code == 78  # removed: the same
    report.mkdir()
    a_directory = run_import(platform_with_catalog, path, "--resume")
    assert a_directory.exit_code == 78 and "Is a directory" in a_directory.stderr
    report.rmdir()
    elsewhere = tmp_path / "rest.csv"
    out = summary(run_import(platform_with_catalog, path, "--resume", "--rejects", str(elsewhere), "--batch-size",
                             "500"))
    assert out["read"] == 4000 and scalar(platform_with_catalog, "SELECT status FROM import_run") == "done"
    assert all(int(line["row"]) > done for line in rejects(elsewhere)), "the rows after the committed ones"


def test_a_batch_rejects_reach_the_disk_before_it_commits(platform_with_catalog, tmp_path, monkeypatch) -> None:
    """The offset of the rejects file a batch commits must not point past what is on the disk after a power
    loss: at each commit, the file has been synced at least that far."""
    report = tmp_path / "r.csv"
    synced = [0]
    checked: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}") == str(report.resolve()):
            synced[0] = os.fstat(fd).st_size

    def committing(conn) -> None:  # inside the transaction about to commit: the offset it commits
        counts = conn.exec_driver_sql("SELECT counts FROM import_run ORDER BY id DESC").scalar()
        if counts is not None:
            checked.append((json.loads(counts)["rejects_offset"], synced[0]))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setenv("LYCREDIT_PIPELINE", "0")
    path = gen_penalty.write(tmp_path / "small.csv", 60, bad_percent=20)
    sa.event.listen(sa.engine.Engine, "commit", committing)
    try:
        out = summary(run_import(platform_with_catalog, path, "--batch-size", "10", "--rejects", str(report)))
    finally:
        sa.event.remove(sa.engine.Engine, "commit", committing)
    assert out["rejected"] > 0 and checked
    assert max(offset for offset, _ in checked) == report.stat().st_size
    assert all(offset <= on_disk for offset, on_disk in checked), checked


# --- the bulk rows hash exactly as the log reads them back -------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)


@pytest.fixture(scope="module")
def penalty_item(tmp_path_factory):
    return parse_catalog(write_test_catalog(tmp_path_factory.mktemp("c") / "c.csv"))[2]


@settings(max_examples=60, deadline=None)
@given(document=_TEXT, value=_TEXT, guessed=st.booleans(), late=st.integers(0, 400),
       publicity=st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2040, 1, 1))),
       operator=st.sampled_from(["market", "o'p\"%d%s\\", "nul\x00name"]), run_id=st.none() | st.integers(1, 10**9))
def test_a_bulk_row_hashes_like_the_generic_row_hash_of_the_row_stored(penalty_item, document, value, guessed, late,
                                                                         publicity, operator, run_id) -> None:
    """The hash the log records for a bulk row is the generic row hash, both when the writer builds the row's
    parts and when the reading process did, and it is the hash of the row as stored and read back (the
    batch's values written into the statement as literals, or bound where a literal cannot hold them)."""
    from lycredit.models.base import row_values
    from lycredit.oplog.log import row_hash
    from lycredit.records import T_RECORD

    item = penalty_item
    fields = json.dumps({"说明": value, "quote\"\\": "\n\t\x01"}, ensure_ascii=False).encode()
    decided = dt.date(2026, 11, 18)
    row = Checked(2, "", Entry(4, item), "91211382MA0Y7K2R12", SubjectKind.legal_person, "某公司", document, decided,
                  decided, None, publicity, publicity, decided, guessed, late, fields, "统一社会信用代码",
                  "行政处罚决定书文号")
    written = FastRows("sqlite", MARKET, operator, run_id, dt.datetime.now(dt.UTC))
    written.add(row, 10, 7)
    written.self_check()
    row.document_no += "·"  # another record (the natural key is unique)
    row.parts = RowParts(MARKET, "sqlite").reader_part(row)  # the reading process's parts this time
    sent = FastRows("sqlite", MARKET, operator, run_id, dt.datetime.now(dt.UTC))
    sent.add(row, 10**12, 1)
    sent.self_check()
    assert sent.records[0][:2] == (10**12, 1)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        T_RECORD.create(conn)
        written.write(conn)
        sent.write(conn)
        stored = {str(r.id): row_hash("record", row_values(T_RECORD, r)) for r in conn.execute(sa.select(T_RECORD))}
        # the fields, bound as UTF-8 bytes, are stored as the text they are, as a single submission stores them
        kept = conn.exec_driver_sql("SELECT DISTINCT typeof(fields), fields FROM record").all()
    assert stored == dict(written.record_hashes + sent.record_hashes)
    assert kept == [("text", fields.decode())]


def test_the_reading_process_takes_a_share_of_the_row_parts_as_the_two_processes_times_say(penalty_item) -> None:
    from lycredit.record_import import SHARE_GAIN

    decided = dt.date(2026, 11, 18)
    rows = [Checked(n, "", Entry(4, penalty_item), "91211382MA0Y7K2R12", SubjectKind.legal_person, "某公司", f"D{n}",
                    decided, decided, None, None, None, decided, False, 0, b"{}", "统一社会信用代码", "行政处罚决定书文号")
            for n in range(130)]
    parts = RowParts(MARKET, "sqlite")
    parts.share(rows[:10], (0.0, 0.0))  # the times are not known yet: no share
    assert [row.parts for row in rows[:10]] == [None] * 10
    parts.share(rows[10:50], (0.1, 1.0))  # the writer worked far longer than the reader: the reader does them all
    assert all(row.parts == parts.reader_part(row) for row in rows[10:50])
    cost = parts._seconds_per_row
    # the reader worked longer, by 58 rows' worth: it moves a quarter of the way, 14.5 rows
    parts.share(rows[50:90], (1.0 + 2 * 58 * cost, 1.0))
    assert SHARE_GAIN == 0.25
    assert [row.parts is not None for row in rows[50:90]] == [True] * 25 + [False] * 15
    parts.share(rows[90:95], (1.0, 1.0))  # a batch of few rows (the rest rejected) leaves the share as it is
    assert [row.parts is not None for row in rows[90:95]] == [True] * 5
    parts.share(rows[95:125], (1.0, 1.0))
    assert [row.parts is not None for row in rows[95:125]] == [True] * 25 + [False] * 5
    parts.share(rows[125:], (1.0, 0.5))  # the reader worked half a second longer: it does none
    assert [row.parts for row in rows[125:]] == [None] * 5


def test_an_item_valid_for_thousands_of_years_limits_nothing_and_crashes_nothing(penalty_item) -> None:
    """A catalog may say 9999年: counted from 2026 it ends past the calendar's last year, so only the
    record's other limits (its 公示截止期, Art. 15 for dishonesty information) apply."""
    import dataclasses

    from lycredit.records import disclosure_until

    ages = dataclasses.replace(penalty_item, validity_months=9999 * 12, dishonesty=False)
    decided = dt.date(2026, 11, 18)
    assert disclosure_until(ages, decided, None, None) is None
    assert disclosure_until(ages, decided, None, dt.date(2027, 5, 18)) == dt.date(2027, 5, 18)
    assert disclosure_until(dataclasses.replace(ages, dishonesty=True), decided, None, None) == dt.date(2031, 11, 18)


def test_a_batch_hands_its_checked_rows_to_the_writer_by_column_and_gets_them_back_equal(penalty_item) -> None:
    import dataclasses
    import pickle

    from lycredit.record_import import _Batch

    decided = dt.date(2026, 11, 18)
    rows = [Checked(n, f"raw {n}", Entry(4, penalty_item), "91211382MA0Y7K2R12", SubjectKind.legal_person, "某公司",
                    f"D{n}", decided, decided, None if n % 2 else decided, None, decided, decided, n == 3, n,
                    '{"说明":"x"}'.encode(), "统一社会信用代码", "行政处罚决定书文号", (("收入", "income"),) if n == 2 else ())
            for n in range(2, 6)]
    rows[1].parts = RowParts(MARKET, "sqlite").reader_part(rows[1])
    rejected = [(7, "raw 7", Rejection("处罚决定日期", "required", "empty"))]
    batch = _Batch(2, 7, 6, 1234, rows, rejected, 0.5, 0.25)
    assert batch.__reduce__()[0].__name__ == "_batch_again"  # by column
    # every attribute crosses, in the constructor's order (a field added to Checked must be added there too)
    assert rows[1]._arguments() == tuple(getattr(rows[1], f.name) for f in dataclasses.fields(Checked))
    again = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == batch and again.checked[1].parts == rows[1].parts and again.checked[0].parts is None
    empty = _Batch(8, 9, 2, 1300, [], rejected, 0.0, 0.0)
    assert pickle.loads(pickle.dumps(empty)) == empty


def _unit_of_work():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lycredit.oplog.log import Signer, UnitOfWork

    conn = sa.create_engine("sqlite://").connect()
    return UnitOfWork(conn, Signer(1, "bulk", "provider", "00000000", Ed25519PrivateKey.generate()),
                      command="record import", action="record.import")


@given(keys=st.lists(st.one_of(st.integers(1, 10**12).map(str), _TEXT), min_size=1, max_size=5, unique=True),
       digest=st.binary(min_size=32, max_size=32).map(bytes.hex))
def test_bulk_insert_leaves_are_byte_for_byte_the_leaves_of_single_changes(keys, digest) -> None:
    from lycredit.oplog.canonical import is_canonical

    one, bulk = _unit_of_work(), _unit_of_work()
    for key in keys:
        one.record_change("record", key, None, digest)
    bulk.record_inserts("record", [(key, digest) for key in keys])
    assert bulk._entry_bytes == one._entry_bytes
    assert all(is_canonical(entry) for entry in bulk._entry_bytes)


@pytest.mark.parametrize("digest", ["ABCD" * 16, "0" * 63 + "F", "0" * 63, "0" * 63 + '"', "", "0" * 62 + " 0", "0" * 62 + "  ",
                                    "0" * 62 + "\n0", "0" * 63 + "é", "0" * 63 + "\uff10", "0" * 63 + "g"])
def test_a_malformed_row_hash_is_refused_by_the_bulk_leaf_path(digest) -> None:
    with pytest.raises(ValueError, match="64 lower-case hex"):
        _unit_of_work().record_inserts("record", [("1", "0" * 64), ("2", digest)])


def test_a_forked_child_closes_its_copy_of_the_run_lock(platform) -> None:
    from lycredit.runlock import _HELD_FDS, run_lock

    with run_lock(platform.engine(), "record-import"):
        held = set(_HELD_FDS)
        assert held, "the run lock's descriptor is registered while held"
        pid = os.fork()
        if pid == 0:  # the child: every copy of a lock descriptor is closed
            closed = 0
            for fd in held:
                try:
                    os.fstat(fd)
                except OSError:
                    closed += 1
            os._exit(0 if closed == len(held) and not _HELD_FDS else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        for fd in held:
            os.fstat(fd)  # the parent's own copy is still open
    assert not _HELD_FDS


def test_the_progress_bar_starts_no_thread_so_a_terminal_import_still_forks_its_reader() -> None:
    script = textwrap.dedent("""
        from lycredit import forked
        from lycredit.commands.record import _ProgressBar
        with _ProgressBar(True) as update:
            update(10, 100, {"read": 3})
            print(forked._threads())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "1"


# --- hostile input files ------------------------------------------------------------------------------------

def test_a_json_value_with_a_lone_surrogate_refuses_the_file_without_a_traceback(platform_with_catalog, tmp_path) -> None:
    header, rows = _penalty_rows()
    objects = [dict(zip(header, row, strict=True)) for row in rows]
    text = json.dumps(objects, ensure_ascii=False).replace('"备注": ""', '"备注": "\\ud800"', 2)
    path = tmp_path / "half.json"
    path.write_text(text, encoding="utf-8")
    r = run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 65 and "row 1, column 备注" in r.stderr and "surrogate" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def _submit_json(platform, path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    return platform.run(*AS_OF, "--format", "json", "record", "submit", "--json", str(path), key="market")


def test_submit_json_reads_its_object_by_the_rules_of_an_imported_json_row(platform_with_catalog, tmp_path) -> None:
    record = {"事项编码": "GEN-001", "主体代码": "91211382MA0Y7K2R12", "主体名称": "凌源市鑫源商贸有限公司",
              "文书号": "凌市监查〔2026〕7号", "决定日期": "2026-11-20", "检查结果": "合格", "检查日期": "2026-11-19"}
    text = json.dumps(record, ensure_ascii=False)
    deep = _submit_json(platform_with_catalog, tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    assert deep.exit_code == 65 and "nested too deeply" in deep.stderr
    twice = _submit_json(platform_with_catalog, tmp_path / "twice.json", text[:-1] + ', "检查结果": "不合格"}')
    assert twice.exit_code == 65 and "检查结果 appears twice" in twice.stderr
    nan = _submit_json(platform_with_catalog, tmp_path / "nan.json", text[:-1] + ', "检查项目数": NaN}')
    assert nan.exit_code == 65 and "NaN is not valid JSON" in nan.stderr
    half = _submit_json(platform_with_catalog, tmp_path / "half.json", text.replace("鑫源", "\\ud800"))
    assert half.exit_code == 65 and "主体名称 holds half of a surrogate pair" in half.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0
    done = _submit_json(platform_with_catalog, tmp_path / "ok.json", text[:-1] + ', "抽检金额（万元）": 1.5e1}')
    assert done.exit_code == 0, done.output
    assert json.loads(scalar(platform_with_catalog, "SELECT fields FROM record"))["抽检金额（万元）"] == "15"


def test_a_file_whose_name_is_not_utf8_is_imported_with_its_name_escaped_where_it_is_kept(
        platform_with_catalog, tmp_path) -> None:
    """A file's name may be any bytes (here 处罚 in GBK): the import, a correction and the run keep it with
    those bytes escaped (as ``ls`` shows them), since neither the database nor the log can hold them raw.
    Before, the import crashed on storing its run."""
    platform = platform_with_catalog
    path = gen_penalty.write(tmp_path / os.fsdecode(b"\xb4\xa6\xb7\xa3.csv"), 40, bad_percent=10)
    shown = "\\xb4\\xa6\\xb7\\xa3.csv"
    first = summary(run_import(platform, path))
    assert first["accepted"] > 0 and first["rejected"] > 0 and first["file"].endswith(shown)
    assert {line["file"] for line in rejects(Path(os.fsdecode(os.fsencode(path) + b".rejects.csv")))} == {
        first["file"]}
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    document = lines[1].split(",")[4]
    lines[1] = lines[1].replace("事实清楚", "事实已查清", 1)
    path.write_text("".join(lines), encoding="utf-8-sig")
    again = summary(run_import(platform, path))
    assert again["corrected"] == 1
    assert scalar(platform, "SELECT file_name FROM import_run ORDER BY id DESC").endswith(shown)
    assert scalar(platform, "SELECT h.reason FROM record_history h JOIN record r ON r.id = h.record_id "
                            f"WHERE r.document_no = '{document}'") == f"{shown}, row 2"
    verify(platform)


def test_the_binary_copy_types_are_the_schemas() -> None:
    """COPY in binary needs each column's exact PostgreSQL type: the record's and the subject's are read from their
    models, and the log's entries', written out in lycredit.oplog.append (which loads no SQLAlchemy), must equal
    its model's."""
    from lycredit.models.base import copy_types
    from lycredit.models.oplog import LogEntry
    from lycredit.oplog.append import ENTRY_COPY_TYPES
    from lycredit.records import T_RECORD
    from lycredit.subjects import T_SUBJECT

    assert copy_types(LogEntry.__table__, ("idx", "op_seq", "entry")) == ENTRY_COPY_TYPES
    assert copy_types(T_RECORD, ("id", "fields", "decision_date", "due_guessed", "submitted_at", "provider_uscc")) == (
        "int4", "text", "date", "bool", "timestamptz", "varchar")
    assert copy_types(T_SUBJECT, tuple(c.name for c in T_SUBJECT.columns)) == (
        "int4", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "bool", "timestamptz")
    with pytest.raises(KeyError):  # a type it does not know is not guessed
        copy_types(sa.Table("t", sa.MetaData(), sa.Column("x", sa.Numeric(10, 2))), ("x",))
