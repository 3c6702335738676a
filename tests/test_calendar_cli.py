"""``lycredit calendar``: official holiday schedules in the database, and the Art. 10 seven-working-day count."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit.calendar_store import add_workdays, count_workdays
from lycredit.workdays import WorkCalendar

SAMPLE_2027 = Path(__file__).resolve().parent.parent / "samples" / "calendar" / "2027.csv"

needs_uncovered_2027 = pytest.mark.skipif(
    max(d.year for d in chinese_calendar.holidays) >= 2027,
    reason="chinesecalendar now ships a 2027 schedule; these tests need years it does not cover",
)


def _sample_counts() -> dict[str, int]:
    with SAMPLE_2027.open(encoding="utf-8-sig", newline="") as stream:
        types = [row["类型"] for row in csv.DictReader(stream)]
    workdays = types.count("调休上班")
    return {"days": len(types), "workdays": workdays, "holidays": len(types) - workdays}


def _import(platform, path: Path, *args: str, key: str = "admin"):
    return platform.run("--format", "json", "calendar", "import", str(path), *args, key=key)


def _scalar(platform, sql: str):
    with platform.engine().connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def _import_operations(platform) -> list:
    with platform.engine().connect() as conn:
        return conn.execute(sa.text(
            "SELECT seq, leaf_count, reason, summary FROM oplog_operation WHERE action = 'calendar.import' "
            "ORDER BY seq")).all()


def _workdays(platform, *args: str):
    return platform.run("calendar", "workdays", *args, key=None)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# Import, and counting with the imported schedule.


@needs_uncovered_2027
def test_imported_2027_schedule_counts_working_days_across_the_spring_festival(platform) -> None:
    r = _import(platform, SAMPLE_2027, "--reason", "2027 schedule")
    assert r.exit_code == 0, r.output
    counts = json.loads(r.stdout)
    assert counts == {**_sample_counts(), "year": 2027, "replaced": 0, "year_working_days": 249, "dry_run": False,
                      "added": _sample_counts()["days"], "changed": 0, "removed": 0, "guessed_records": 0}
    assert "Imported the 2027 schedule" in r.stderr
    # Thu 02-04 → Mon 02-15: 02-05..02-12 off, make-up Saturday 02-13, Sunday 02-14 off, Monday 02-15.
    r = _workdays(platform, "2027-02-04", "2027-02-15")
    assert (r.exit_code, r.stdout) == (0, "2\n")
    assert _workdays(platform, "2027-02-04", "--add", "7").stdout == "2027-02-22\n"
    assert _scalar(platform, "SELECT count(*) FROM calendar_day WHERE year = 2027") == counts["days"]


def test_deadline_across_national_day_2026_is_october_13(platform) -> None:
    r = _workdays(platform, "2026-09-28", "--add", "7")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "2026-10-13\n", "")


def test_the_make_up_saturday_after_national_day_2026_is_a_working_day(platform) -> None:
    assert _workdays(platform, "2026-10-09", "2026-10-10").stdout == "1\n"
    assert _workdays(platform, "2026-10-10", "2026-10-11").stdout == "0\n"
    shown = json.loads(platform.run("--format", "json", "calendar", "show", "2026", "--changes-only",
                                    key=None).stdout)
    by_date = {row["date"]: row for row in shown}
    assert by_date["2026-10-10"]["is_workday"] is True and by_date["2026-10-10"]["weekday"] == "Sat"
    assert by_date["2026-10-01"]["is_workday"] is False
    assert "2026-10-03" not in by_date, "a Saturday off is the weekly rule, not a change"
    assert all(row["is_workday"] != (date.fromisoformat(row["date"]).weekday() < 5) for row in shown)


def test_show_lists_every_day_of_the_year_with_the_package_notes(platform) -> None:
    r = platform.run("--format", "json", "calendar", "show", "2024", key=None)
    days = json.loads(r.stdout)
    assert len(days) == 366 and days[0] == {"date": "2024-01-01", "weekday": "Mon", "is_workday": False,
                                             "note": "New Year's Day"}
    assert "chinesecalendar" in r.stderr


# A year with no schedule: never guessed silently.


@needs_uncovered_2027
def test_a_deadline_in_a_year_with_no_schedule_exits_78_naming_the_year_and_the_fix(platform) -> None:
    assert _import(platform, SAMPLE_2027).exit_code == 0
    for r in (_workdays(platform, "2027-12-20", "--add", "10"), _workdays(platform, "2027-12-01", "2028-01-10"),
              platform.run("calendar", "show", "2028", key=None)):
        assert r.exit_code == 78 and r.stdout == ""
        assert "2028" in r.stderr and "lycredit calendar import FILE" in r.stderr


@needs_uncovered_2027
def test_without_an_import_the_2026_year_end_deadline_needs_the_2027_schedule(platform) -> None:
    r = _workdays(platform, "2026-12-28", "--add", "7")
    assert r.exit_code == 78 and "2027" in r.stderr


@needs_uncovered_2027
def test_assume_weekends_gives_a_result_flagged_as_a_guess_on_stderr(platform) -> None:
    r = platform.run("--quiet", "calendar", "workdays", "2028-01-07", "--add", "5", "--assume-weekends", key=None)
    assert (r.exit_code, r.stdout) == (0, "2028-01-14\n")
    assert "GUESSED" in r.stderr and "2028" in r.stderr, "the guess flag survives --quiet"
    r = platform.run("--format", "json", "calendar", "show", "2028", "--assume-weekends", key=None)
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 366 and "GUESSED" in r.stderr
    covered = _workdays(platform, "2026-09-28", "--add", "7", "--assume-weekends")
    assert (covered.stdout, covered.stderr) == ("2026-10-13\n", ""), "a covered year is never a guess"


@needs_uncovered_2027
def test_the_guess_flag_is_translated(platform) -> None:
    r = platform.run("--lang", "zh", "calendar", "workdays", "2028-01-07", "2028-01-14", "--assume-weekends",
                     key=None)
    assert r.stdout == "5\n" and "推定" in r.stderr and "2028" in r.stderr


# Re-import, dry run, roles, the log.


@needs_uncovered_2027
def test_reimport_of_the_same_schedule_is_idempotent_and_writes_only_the_operation(platform) -> None:
    first = json.loads(_import(platform, SAMPLE_2027).stdout)
    second = json.loads(_import(platform, SAMPLE_2027, "--reason", "again").stdout)
    assert {**first, "added": 0} == second
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == first["days"]
    ops = _import_operations(platform)
    assert [json.loads(op.summary)["replaced"] for op in ops] == [0, 0]
    assert [op.leaf_count for op in ops] == [first["days"] + 1, 1]
    assert ops[1].reason == "again"


@needs_uncovered_2027
def test_reimport_replaces_the_whole_year_not_only_the_listed_days(platform, tmp_path) -> None:
    assert _import(platform, SAMPLE_2027).exit_code == 0
    only_new_year = _write(tmp_path / "2027-short.csv", "date,type,note\n2027-01-01,holiday,New Year\n")
    r = _import(platform, only_new_year)
    assert r.exit_code == 0 and json.loads(r.stdout)["replaced"] == _sample_counts()["days"]
    assert _workdays(platform, "2027-02-04", "2027-02-15").stdout == "7\n", "the Spring Festival rows are gone"


@needs_uncovered_2027
def test_dry_run_leaves_no_rows_and_no_log_entries(platform) -> None:
    before = _scalar(platform, "SELECT count(*) FROM oplog_entry")
    r = _import(platform, SAMPLE_2027, "--dry-run")
    assert r.exit_code == 0 and json.loads(r.stdout)["dry_run"] is True and "Dry run" in r.stderr
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == 0
    assert _scalar(platform, "SELECT count(*) FROM oplog_entry") == before


@needs_uncovered_2027
def test_a_provider_may_not_import_a_schedule_exit_77_and_the_refusal_is_logged(platform) -> None:
    platform.add_operator("scjg-01", "provider")
    r = _import(platform, SAMPLE_2027, key="scjg-01")
    assert r.exit_code == 77 and "calendar.import" in r.stderr and "provider" in r.stderr
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == 0
    with platform.engine().connect() as conn:
        last = conn.execute(sa.text("SELECT action, summary FROM oplog_operation ORDER BY seq DESC")).first()
    assert last.action == "refused" and json.loads(last.summary)["refused_action"] == "calendar.import"


@needs_uncovered_2027
def test_an_operator_may_import_and_audit_verify_then_passes(platform) -> None:
    platform.add_operator("ndrc-01", "operator")
    assert _import(platform, SAMPLE_2027, key="ndrc-01").exit_code == 0
    assert _import(platform, SAMPLE_2027, key="ndrc-01").exit_code == 0
    r = platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.stderr
    assert "0 problems" in r.stderr


# Official package years.


def _full_2026_with_extra_holiday(path: Path, extra: date) -> Path:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    lines = ["date,type,note"]
    for d in days:
        official = chinese_calendar.is_workday(d)
        if d == extra:
            official = False
        if official != (d.weekday() < 5):
            lines.append(f"{d.isoformat()},{'workday' if official else 'holiday'},")
    return _write(path, "\n".join(lines) + "\n")


def test_a_year_the_package_covers_is_refused_without_replace_package_year(platform, tmp_path) -> None:
    path = _full_2026_with_extra_holiday(tmp_path / "2026.csv", date(2026, 10, 8))
    r = _import(platform, path)
    assert r.exit_code == 2 and r.stdout == ""
    assert "2026" in r.stderr and "chinesecalendar" in r.stderr and "--replace-package-year" in r.stderr
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == 0
    r = _import(platform, path, "--replace-package-year", "--reason", "State Council amended notice")
    assert r.exit_code == 0, r.output
    assert _workdays(platform, "2026-09-28", "--add", "7").stdout == "2026-10-14\n"
    assert "imported into the database" in platform.run("calendar", "show", "2026", key=None).stderr


# Bad input.


def test_a_missing_file_exits_66_naming_it(platform, tmp_path) -> None:
    r = _import(platform, tmp_path / "nope.csv")
    assert r.exit_code == 66 and "nope.csv" in r.stderr and "no such file" in r.stderr


def test_a_bad_file_exits_65_naming_file_row_and_field_and_imports_nothing(platform, tmp_path) -> None:
    path = _write(tmp_path / "bad.csv", "日期,类型,说明\n2027-02-30,节假日,x\n2027-03-01,放假,y\n")
    r = _import(platform, path)
    assert r.exit_code == 65 and r.stdout == ""
    assert 'bad.csv, row 2, field "日期"' in r.stderr and "2027-02-30" in r.stderr
    assert 'bad.csv, row 3, field "类型"' in r.stderr and "放假" in r.stderr
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == 0


def test_a_row_is_named_by_the_line_it_starts_on_when_a_note_spans_lines(platform, tmp_path) -> None:
    # A note typed with Alt+Enter in Excel spans lines in the CSV: every problem of such a row was named by the
    # line the row ends on (row 4 here), not the one it starts on, as the other imports name a CSV row.
    path = _write(tmp_path / "bad.csv", '日期,类型,说明\n2027-10-01,放假,"国庆节\n（示例）\n"\n2027-10-01,节假日,x\n'
                  '2027-10-01,节假日,y\n')
    r = _import(platform, path)
    assert r.exit_code == 65 and r.stdout == ""
    assert 'bad.csv, row 2, field "类型": "放假" is not a day type' in r.stderr
    assert 'bad.csv, row 6, field "日期": 2027-10-01 is already listed on row 5' in r.stderr
    assert _scalar(platform, "SELECT count(*) FROM calendar_day") == 0

def test_an_empty_file_exits_65(platform, tmp_path) -> None:
    r = _import(platform, _write(tmp_path / "empty.csv", ""))
    assert r.exit_code == 65 and "empty.csv" in r.stderr and "empty" in r.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["2026-02-30", "2026-03-01"], "2026-02-30"),
        (["28/09/2026", "--add", "7"], "28/09/2026"),
        (["2026-10-13", "2026-09-28"], "before"),
        (["2026-09-28", "2026-10-13", "--add", "7"], "either TO or --add"),
        (["2026-09-28"], "either TO or --add"),
        (["2026-09-28", "--add", "-1"], "-1"),
    ],
)
def test_malformed_workdays_arguments_are_usage_errors(platform, args, shown) -> None:
    r = _workdays(platform, *args)
    assert r.exit_code == 2 and shown in r.stderr and r.stdout == ""


# The algebra of counting (no database).

OFFICIAL = WorkCalendar()


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 9, 30)), st.integers(min_value=0, max_value=40))
def test_counting_the_days_up_to_the_nth_working_day_gives_n(start: date, n: int) -> None:
    due = add_workdays(OFFICIAL, start, n)
    assert count_workdays(OFFICIAL, start, due.value).value == n
    assert due.guessed_years == ()
    if n:
        assert OFFICIAL.is_workday(due.value)
        assert count_workdays(OFFICIAL, start, due.value - timedelta(days=1)).value == n - 1


@needs_uncovered_2027
def test_the_guess_flag_names_a_run_of_guessed_years_as_a_range(platform, tmp_path) -> None:
    # A count up to 9999 listed all 7 973 guessed years, one by one, in a 48 kB warning.
    r = _workdays(platform, "2026-12-01", "9999-12-31", "--assume-weekends")
    assert r.exit_code == 0 and "No official working-day schedule for 2027–9999:" in r.stderr
    assert len(r.stderr) < 400
    assert _import(platform, _write(tmp_path / "2029.csv", "date,type\n2029-01-01,holiday\n")).exit_code == 0
    r = _workdays(platform, "2026-12-01", "2031-01-10", "--assume-weekends")
    assert r.exit_code == 0 and "No official working-day schedule for 2027–2028, 2030–2031:" in r.stderr
    r = _workdays(platform, "2026-12-01", "2027-01-10", "--assume-weekends")
    assert "No official working-day schedule for 2027:" in r.stderr
