"""What an imported cell means: date-times with a time zone, Excel formulas without a saved value, Excel error values.

Real files in their real formats (csv, openpyxl's XLSX, pyarrow's Parquet) through the real command line.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lycredit.records import _Bad, parse_date
from tests import test_record_import
from tests.test_record_import import PENALTY_SAMPLE, counts, run_import, scalar, summary
from tests.test_records import write_test_catalog

platform_with_catalog = test_record_import.platform_with_catalog  # the fixture: a catalog and provider "market"


# --- date-times with a time zone: the day is the Asia/Shanghai day ------------------------------------------


@pytest.mark.parametrize("text, day", [
    ("2026-03-01T10:00:00+08:00", "2026-03-01"),
    ("2026-03-01T02:00:00Z", "2026-03-01"),
    ("2026-02-28T20:00:00Z", "2026-03-01"),  # 04:00 on 1 March in Shanghai
    ("2026-02-28T15:59:59.999999Z", "2026-02-28"),  # the last instant of 28 February there
    ("2026-02-28T16:00:00+00:00", "2026-03-01"),
    ("2026-03-01T10:00:00-05:00", "2026-03-01"),  # 23:00 in Shanghai
    ("2026-03-01T12:00:00-05:00", "2026-03-02"),
    ("2026-03-01 10:00+0800", "2026-03-01"),
    ("2026-03-01T10:00:00.123456789+08", "2026-03-01"),
    ("2026-03-01T23:30:00", "2026-03-01"),  # no time zone: a local time, its own day, as before
    ("2026-03-01 00:00:00", "2026-03-01"),
])
def test_a_date_time_with_a_time_zone_is_its_day_in_shanghai(text, day) -> None:
    assert parse_date(text).isoformat() == day


@pytest.mark.parametrize("text", ["2026-02-30T10:00:00Z", "2026-03-01T24:30:00+08:00", "2026-03-01T10:00:00+24:00",
                                  "2026-03-01T10:00:00+08:60", "9999-12-31T20:00:00Z"])
def test_an_impossible_date_time_with_a_time_zone_is_rejected_naming_it(text) -> None:
    with pytest.raises(_Bad) as caught:
        parse_date(text)
    assert caught.value.rule == "invalid_date" and text in caught.value.message


def _penalty(directory: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(PENALTY_SAMPLE.read_text(encoding="utf-8-sig").splitlines()))
    return rows[0], rows[1:4]


def _stored(platform) -> list[tuple[str, str, str]]:
    with platform.engine().connect() as conn:
        import sqlalchemy as sa

        found = conn.execute(sa.text("SELECT document_no, decision_date, publicity_until FROM record "
                                     "ORDER BY document_no")).all()
    return [(no, str(decided), str(until)) for no, decided, until in found]


def test_an_imported_csv_date_time_with_a_time_zone_is_stored_as_its_shanghai_day(platform_with_catalog,
                                                                                   tmp_path) -> None:
    header, rows = _penalty(tmp_path)
    decided, until = header.index("处罚决定日期"), header.index("公示截止期")
    rows[0][decided], rows[0][until] = "2026-11-17T20:00:00Z", "2027-11-17T16:00:00+00:00"
    rows[1][decided] = "2026-11-19T10:00:00+08:00"
    rows[2][decided] = "2026-11-19 23:30:00"  # no zone: as before
    path = tmp_path / "zoned.csv"
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")
    out = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (3, 3, 0, 0, 0), (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert _stored(platform_with_catalog) == [
        ("凌市监罚〔2026〕301号", "2026-11-18", "2027-11-18"),
        ("凌市监罚〔2026〕302号", "2026-11-19", "2027-11-19"),
        ("凌市监罚〔2026〕303号", "2026-11-19", "2027-11-19"),
    ]


def test_an_imported_parquet_utc_timestamp_is_stored_as_its_shanghai_day(platform_with_catalog, tmp_path) -> None:
    header, rows = _penalty(tmp_path)
    columns = {name: [row[i] or None for row in rows] for i, name in enumerate(header)}
    utc = [dt.datetime(2026, 11, 17, 20, 0), dt.datetime(2026, 11, 19, 15, 59, 59), dt.datetime(2026, 11, 19, 2)]
    columns["处罚决定日期"] = pa.array(utc, pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table(columns), tmp_path / "utc.parquet")
    out = summary(run_import(platform_with_catalog, tmp_path / "utc.parquet", "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (3, 3, 0, 0, 0), (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert [decided for _no, decided, _until in _stored(platform_with_catalog)] == [
        "2026-11-18", "2026-11-19", "2026-11-19"]
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record WHERE late_days > 0") == 0


# --- an Excel formula without a saved value refuses the file ------------------------------------------------


def _penalty_book(path: Path, fine: str | float) -> Path:
    header, rows = _penalty(path.parent)
    book = openpyxl.Workbook()
    book.active.title = "处罚"
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.active.cell(3, header.index("罚款金额（万元）") + 1, fine)  # row 3: 凌市监罚〔2026〕302号, a fine of 3
    book.save(path)
    return path


def _with_saved_value(source: Path, target: Path, cell: str, value: str) -> Path:
    """``source`` as Excel would have saved it: the formula in ``cell`` keeps its result beside it."""
    with zipfile.ZipFile(source) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet], count = re.subn(rb'(<c r="' + cell.encode() + rb'"[^>]*><f>[^<]*</f>)<v ?/>',
                                  rb"\1<v>" + value.encode() + rb"</v>", parts[sheet])
    assert count == 1
    with zipfile.ZipFile(target, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return target


def test_an_xlsx_formula_without_a_saved_value_refuses_the_import_naming_sheet_cell_and_column(
        platform_with_catalog, tmp_path) -> None:
    path = _penalty_book(tmp_path / "penalty.xlsx", "=1+2")  # as openpyxl and scripts write it: no value saved
    r = run_import(platform_with_catalog, path)
    assert r.exit_code == 65, r.output
    assert "penalty.xlsx, sheet 处罚, cell K3, column 罚款金额（万元）: the cell holds a formula with no saved value" \
        in r.stderr and "open the file in Excel and save it" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0


def test_an_xlsx_formula_with_a_saved_value_is_imported_as_that_value(platform_with_catalog, tmp_path) -> None:
    path = _with_saved_value(_penalty_book(tmp_path / "unsaved.xlsx", "=1+2"), tmp_path / "saved.xlsx", "K3", "3")
    out = summary(run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv")))
    assert counts(out)[:5] == (3, 3, 0, 0, 0), (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    fields = scalar(platform_with_catalog, "SELECT fields FROM record WHERE document_no = '凌市监罚〔2026〕302号'")
    assert json.loads(fields)["罚款金额（万元）"] == "3"


# --- an Excel error value (#DIV/0!, #N/A...) refuses the file ------------------------------------------------


def _with_error(path: Path, error: str) -> Path:
    """The penalty book with the fine of row 3 (凌市监罚〔2026〕302号) an error value, as openpyxl writes one."""
    book = openpyxl.load_workbook(_penalty_book(path, 3))
    cell = book.active["K3"]
    cell.value, cell.data_type = error, "e"
    book.save(path)
    return path


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
def test_an_xlsx_error_value_refuses_the_import_naming_sheet_cell_column_and_value(platform_with_catalog, tmp_path,
                                                                                  error) -> None:
    path = _with_error(tmp_path / "penalty.xlsx", error)
    r = run_import(platform_with_catalog, path, "--rejects", str(tmp_path / "r.csv"))
    assert r.exit_code == 65, r.output
    assert f"penalty.xlsx, sheet 处罚, cell K3, column 罚款金额（万元）: the cell holds the error value {error} " \
        in r.stderr and "correct the cell, or the formula or the data it uses, in the file" in r.stderr
    assert scalar(platform_with_catalog, "SELECT count(*) FROM record") == 0
    assert not (tmp_path / "r.csv").exists()


def test_an_xlsx_catalog_with_an_error_value_is_refused(platform, tmp_path) -> None:
    rows = list(csv.reader(write_test_catalog(tmp_path / "catalog.csv").read_text(encoding="utf-8").splitlines()))
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.active["B3"].value, book.active["B3"].data_type = "#N/A", "e"  # a VLOOKUP of the unit's name that failed
    book.save(tmp_path / "catalog.xlsx")
    r = platform.run("catalog", "import", str(tmp_path / "catalog.xlsx"), "--version", "2026", "--effective",
                     "2025-01-01")
    assert r.exit_code == 65, r.output
    assert f"catalog.xlsx, sheet Sheet, cell B3, column {rows[0][1]}: the cell holds the error value #N/A " in r.stderr
    assert scalar(platform, "SELECT count(*) FROM catalog_item") == 0
