"""Working days (Art. 10 seven working days, Art. 46 late providers) and holiday schedule files."""

from __future__ import annotations

import codecs
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lycredit.errors import DataError, ExitCode, InputMissing, UsageError
from lycredit.i18n import _
from lycredit.workdays import (
    CalendarYearMissing,
    DayEntry,
    Deadline,
    WorkCalendar,
    parse_schedule_csv,
)

SAMPLE_2027 = Path(__file__).resolve().parent.parent / "samples" / "calendar" / "2027.csv"

OFFICIAL = WorkCalendar()
GUESSING = WorkCalendar(assume_weekends=True)
WITH_2027 = WorkCalendar(parse_schedule_csv(SAMPLE_2027))

package_covers_2027 = pytest.mark.skipif(
    max(d.year for d in chinese_calendar.holidays) >= 2027,
    reason="chinesecalendar now ships a 2027 schedule; these tests need a year it does not cover",
)

official_dates = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 10, 31))
any_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
counts = st.integers(min_value=1, max_value=40)


# Art. 10: within 7 working days after the matter is concluded.


def test_deadline_across_national_day_2026_is_october_13():
    assert OFFICIAL.deadline(date(2026, 9, 28)) == Deadline(due=date(2026, 10, 13), guessed=False)


def test_national_day_2026_schedule_is_the_official_one():
    holidays = [date(2026, 10, day) for day in range(1, 8)]
    assert [OFFICIAL.is_workday(d) for d in holidays] == [False] * 7
    assert OFFICIAL.is_workday(date(2026, 9, 30))
    assert OFFICIAL.is_workday(date(2026, 10, 8))


def test_make_up_saturday_counts_as_a_working_day():
    assert date(2026, 10, 10).weekday() == 5
    assert OFFICIAL.is_workday(date(2026, 10, 10))
    assert not OFFICIAL.is_workday(date(2026, 10, 11))
    assert OFFICIAL.add_workdays(date(2026, 10, 9), 1) == date(2026, 10, 10)


def test_deadline_across_spring_festival_2026_lands_on_the_make_up_saturday():
    # chinesecalendar 2026: holidays Sun 02-15 to Mon 02-23; make-up working Saturdays 02-14 and 02-28.
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 14)) == (False, "Spring Festival")
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 23)) == (True, "Spring Festival")
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 28)) == (False, "Spring Festival")
    # Thu 02-12 concluded: 02-13, 02-14 (Sat), then 02-24, 02-25, 02-26, 02-27, 02-28 (Sat).
    assert OFFICIAL.deadline(date(2026, 2, 12)) == Deadline(due=date(2026, 2, 28), guessed=False)


def test_the_day_the_matter_is_concluded_never_counts():
    assert OFFICIAL.add_workdays(date(2026, 9, 29), 1) == date(2026, 9, 30)
    assert OFFICIAL.add_workdays(date(2026, 10, 3), 1) == date(2026, 10, 8)


def test_a_matter_concluded_on_a_holiday_counts_from_the_next_working_day():
    # 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13, 10-14, 10-15.
    assert OFFICIAL.deadline(date(2026, 10, 3)).due == date(2026, 10, 15)


def test_zero_working_days_is_the_day_itself():
    assert OFFICIAL.add_workdays(date(2026, 10, 3), 0) == date(2026, 10, 3)


@pytest.mark.parametrize("n", [-1, -7])
def test_a_negative_number_of_working_days_is_a_usage_error(n):
    with pytest.raises(UsageError, match=str(n)):
        OFFICIAL.add_workdays(date(2026, 9, 28), n)


def test_calendar_agrees_with_chinesecalendar_on_every_day_of_2026():
    days = OFFICIAL.year_days(2026)
    assert len(days) == 365
    assert [d.is_workday for d in days] == [chinese_calendar.is_workday(d.date) for d in days]


# Years without an official schedule: never guessed silently.


@package_covers_2027
def test_deadline_falling_in_2027_without_a_schedule_names_the_year_and_the_fix():
    with pytest.raises(CalendarYearMissing) as caught:
        OFFICIAL.deadline(date(2026, 12, 28))
    assert caught.value.year == 2027
    assert "2027" in caught.value.message
    assert "lycredit calendar import FILE" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG == 78


@package_covers_2027
def test_deadline_in_2027_with_the_sample_schedule_imported_is_exact():
    # Sample: National Day 10-01 to 10-07, make-up Saturday 10-09.
    assert WITH_2027.deadline(date(2027, 9, 28)) == Deadline(due=date(2027, 10, 13), guessed=False)


@package_covers_2027
def test_deadline_across_new_year_2027_with_the_sample_imported():
    # 12-29, 12-30, 12-31, then 01-01 to 01-03 off, 01-04 .. 01-07.
    assert WITH_2027.deadline(date(2026, 12, 28)) == Deadline(due=date(2027, 1, 7), guessed=False)


@package_covers_2027
def test_deadline_in_2027_assuming_weekends_is_marked_guessed():
    # Weekly rule: 01-01 (Friday) counts as a working day, which the official schedule will not allow.
    assert GUESSING.deadline(date(2026, 12, 28)) == Deadline(due=date(2027, 1, 6), guessed=True)
    assert GUESSING.deadline(date(2027, 9, 28)) == Deadline(due=date(2027, 10, 7), guessed=True)


def test_deadline_counted_partly_in_a_guessed_year_is_guessed():
    # 2003-12-30 and 12-31 by the weekly rule, then 2004 from chinesecalendar (01-01 is New Year's Day).
    assert GUESSING.deadline(date(2003, 12, 29)) == Deadline(due=date(2004, 1, 8), guessed=True)


def test_deadline_in_a_covered_year_is_not_guessed_even_when_guessing_is_allowed():
    assert GUESSING.deadline(date(2026, 9, 28)) == Deadline(due=date(2026, 10, 13), guessed=False)


def test_year_before_the_package_is_missing_too():
    with pytest.raises(CalendarYearMissing, match="2003"):
        OFFICIAL.is_workday(date(2003, 6, 2))


def test_counting_from_31_december_needs_no_schedule_for_that_year():
    assert OFFICIAL.add_workdays(date(2003, 12, 31), 1) == date(2004, 1, 2)
    assert OFFICIAL.workdays_between(date(2003, 12, 31), date(2004, 1, 2)) == 1


def test_a_huge_count_stops_at_the_first_year_without_a_schedule():
    with pytest.raises(CalendarYearMissing, match="2027"):
        OFFICIAL.add_workdays(date(2026, 1, 1), 1_000_000)


def test_a_count_beyond_year_9999_is_a_usage_error_naming_the_date():
    with pytest.raises(UsageError, match="9990-01-01.*9999-12-31"):
        GUESSING.add_workdays(date(9990, 1, 1), 10_000)


# Imported schedules.


@package_covers_2027
def test_imported_year_days_not_listed_follow_the_weekly_rule():
    assert not WITH_2027.is_workday(date(2027, 3, 6))
    assert WITH_2027.is_workday(date(2027, 3, 8))
    assert WITH_2027.is_workday(date(2027, 1, 31))
    assert not WITH_2027.is_workday(date(2027, 6, 9))


def test_an_imported_year_replaces_the_package_for_that_whole_year():
    corrected = WorkCalendar({date(2026, 3, 2): DayEntry(is_workday=False, note="correction")})
    assert not corrected.is_workday(date(2026, 3, 2))
    assert corrected.is_workday(date(2026, 10, 1))
    assert not corrected.is_workday(date(2026, 10, 10))
    assert not corrected.is_workday(date(2025, 10, 1))


def test_covered_years_are_the_package_years_plus_imported_ones():
    assert OFFICIAL.covered_years() == list(range(2004, max(d.year for d in chinese_calendar.holidays) + 1))
    imported = WorkCalendar({date(2030, 5, 1): DayEntry(is_workday=False)})
    assert imported.covered_years() == sorted({*OFFICIAL.covered_years(), 2030})
    assert imported.covers(2030)
    assert not imported.covers(2031)
    assert not GUESSING.covers(2031)


# year_days for `lycredit calendar show`.


def test_year_days_show_package_holidays_and_make_up_days_with_notes():
    days = {d.date: d for d in OFFICIAL.year_days(2026)}
    assert days[date(2026, 10, 1)] == (date(2026, 10, 1), False, _("National Day"))
    assert days[date(2026, 10, 10)].is_workday
    assert _("National Day") in days[date(2026, 10, 10)].note
    assert days[date(2026, 10, 10)].note != days[date(2026, 10, 1)].note
    assert days[date(2026, 10, 12)].note == ""


@package_covers_2027
def test_year_days_of_an_imported_year_carry_the_files_notes():
    days = WITH_2027.year_days(2027)
    assert len(days) == 365
    assert days[0] == (date(2027, 1, 1), False, "元旦（示例数据，非国务院正式安排）")
    assert days[4] == (date(2027, 1, 5), True, "")


def test_year_days_of_a_leap_year_have_366_days():
    assert len(OFFICIAL.year_days(2024)) == 366


def test_year_days_of_a_guessed_year_say_they_are_assumed():
    days = GUESSING.year_days(2200)
    assert all(d.note == days[0].note != "" for d in days)
    assert [d.is_workday for d in days] == [d.date.weekday() < 5 for d in days]


def test_year_days_of_a_missing_year_raise():
    with pytest.raises(CalendarYearMissing, match="2200"):
        OFFICIAL.year_days(2200)


# Counting between dates and lateness (Art. 46).


def test_workdays_between_counts_after_start_through_end():
    assert OFFICIAL.workdays_between(date(2026, 9, 28), date(2026, 10, 13)) == 7
    assert OFFICIAL.workdays_between(date(2026, 9, 28), date(2026, 9, 28)) == 0
    assert OFFICIAL.workdays_between(date(2026, 10, 13), date(2026, 9, 28)) == 0


def test_workdays_between_spans_years():
    # 12-31, then New Year 01-01 to 01-03 off, the make-up Sunday 01-04 and Monday 01-05.
    assert OFFICIAL.workdays_between(date(2025, 12, 30), date(2026, 1, 5)) == 3
    assert OFFICIAL.workdays_between(date(2024, 1, 1), date(2026, 1, 1)) == sum(
        chinese_calendar.is_workday(date(2024, 1, 1) + timedelta(days=i)) for i in range(1, 732)
    )


def test_submission_on_the_due_day_or_earlier_is_not_late():
    assert OFFICIAL.working_days_late(date(2026, 10, 13), date(2026, 10, 13)) == 0
    assert OFFICIAL.working_days_late(date(2026, 10, 13), date(2026, 9, 30)) == 0


def test_submission_the_next_working_day_is_one_day_late():
    assert OFFICIAL.working_days_late(date(2026, 10, 13), date(2026, 10, 14)) == 1


def test_submission_after_a_holiday_counts_only_working_days():
    assert OFFICIAL.working_days_late(date(2026, 9, 30), date(2026, 10, 8)) == 1


def test_submission_on_a_rest_day_after_the_due_day_is_late():
    assert OFFICIAL.working_days_late(date(2026, 10, 16), date(2026, 10, 17)) == 1
    assert OFFICIAL.working_days_late(date(2026, 10, 9), date(2026, 10, 11)) == 2


# Properties.


@given(official_dates, counts)
def test_the_n_th_working_day_after_a_day_is_a_working_day(d, n):
    assert OFFICIAL.is_workday(OFFICIAL.add_workdays(d, n))


@given(official_dates, counts)
def test_counting_back_the_working_days_gives_n(d, n):
    assert OFFICIAL.workdays_between(d, OFFICIAL.add_workdays(d, n)) == n


@given(official_dates, official_dates, counts)
def test_a_later_conclusion_never_has_an_earlier_deadline(d1, d2, n):
    early, late = sorted((d1, d2))
    assert OFFICIAL.add_workdays(early, n) <= OFFICIAL.add_workdays(late, n)


@given(official_dates, counts, counts)
def test_more_working_days_is_a_strictly_later_date(d, n1, n2):
    if n1 < n2:
        assert OFFICIAL.add_workdays(d, n1) < OFFICIAL.add_workdays(d, n2)


@given(official_dates)
def test_no_working_day_lies_between_a_day_and_the_next_working_day(d):
    following = OFFICIAL.add_workdays(d, 1)
    between = [d + timedelta(days=i) for i in range(1, (following - d).days)]
    assert not any(OFFICIAL.is_workday(day) for day in between)


@given(official_dates, official_dates, official_dates)
def test_working_day_counts_add_up(a, b, c):
    a, b, c = sorted((a, b, c))
    assert OFFICIAL.workdays_between(a, b) + OFFICIAL.workdays_between(b, c) == OFFICIAL.workdays_between(
        a, c
    )


@given(official_dates, official_dates)
def test_late_exactly_when_submitted_after_the_due_day(due, submitted):
    assert (OFFICIAL.working_days_late(due, submitted) > 0) == (submitted > due)


@given(official_dates)
def test_the_calendar_is_chinesecalendar_in_the_years_it_covers(d):
    assert OFFICIAL.is_workday(d) == chinese_calendar.is_workday(d)


@given(any_dates, st.integers(min_value=0, max_value=400))
def test_guessing_never_fails_from_1900_to_2200(d, n):
    deadline = GUESSING.deadline(d, n)
    assert deadline.due >= d
    assert GUESSING.workdays_between(d, deadline.due) == n
    assert deadline.guessed == any(not GUESSING.covers(year) for year in years_counted(d, n, deadline.due))


def years_counted(start: date, n: int, due: date) -> range:
    """The years whose days are looked at: none for n == 0, and not the start's year from 31 December."""
    if n == 0:
        return range(0)
    first = start.year + 1 if (start.month, start.day) == (12, 31) else start.year
    return range(first, due.year + 1)


@given(any_dates, st.integers(min_value=0, max_value=400))
def test_the_official_calendar_either_answers_or_names_the_missing_year(d, n):
    try:
        due = OFFICIAL.add_workdays(d, n)
    except CalendarYearMissing as missing:
        assert not OFFICIAL.covers(missing.year)
        assert str(missing.year) in missing.message
    else:
        assert OFFICIAL.workdays_between(d, due) == n


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2003, 12, 31)) | st.dates(min_value=date(2027, 1, 1))
)
def test_guessed_years_follow_monday_to_friday(d):
    if not GUESSING.covers(d.year):
        assert GUESSING.is_workday(d) == (d.weekday() < 5)


# Schedule CSV files for `lycredit calendar import`.


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "schedule.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rejected(path: Path) -> str:
    with pytest.raises(DataError) as caught:
        parse_schedule_csv(path)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert str(path) in caught.value.message
    return caught.value.message


def test_sample_2027_schedule_parses():
    entries = parse_schedule_csv(SAMPLE_2027)
    assert {d.year for d in entries} == {2027}
    assert entries[date(2027, 10, 1)] == DayEntry(
        is_workday=False, note="国庆节（示例数据，非国务院正式安排）"
    )
    make_up = sorted(d for d, entry in entries.items() if entry.is_workday)
    assert make_up == [date(2027, 1, 31), date(2027, 2, 13), date(2027, 4, 25), date(2027, 5, 8),
                       date(2027, 9, 26), date(2027, 10, 9)]  # fmt: skip
    assert all(d.weekday() >= 5 for d in make_up)
    assert all("示例" in entry.note for entry in entries.values())


def test_english_header_and_types_case_insensitive(tmp_path):
    path = write(tmp_path, "Date,Type,Note\n2027-10-01,Holiday,National Day\n2027-10-09,WORKDAY,make-up\n")
    assert parse_schedule_csv(path) == {
        date(2027, 10, 1): DayEntry(False, "National Day"),
        date(2027, 10, 9): DayEntry(True, "make-up"),
    }


@pytest.mark.parametrize(
    ("kind", "is_workday"), [("工作日", True), ("调休上班", True), ("休息日", False), ("节假日", False)]
)
def test_chinese_types(tmp_path, kind, is_workday):
    path = write(tmp_path, f"日期,类型,说明\n2027-10-09,{kind},\n")
    assert parse_schedule_csv(path) == {date(2027, 10, 9): DayEntry(is_workday, "")}


def test_note_column_is_optional_and_columns_may_be_in_any_order(tmp_path):
    path = write(tmp_path, "类型,日期\n节假日,2027-10-01\n")
    assert parse_schedule_csv(path) == {date(2027, 10, 1): DayEntry(False, "")}


def test_a_row_without_its_trailing_note_is_accepted(tmp_path):
    path = write(tmp_path, "date,type,note\n2027-10-01,holiday\n")
    assert parse_schedule_csv(path) == {date(2027, 10, 1): DayEntry(False, "")}


def test_utf8_with_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "日期,类型,说明\n2027-10-01,节假日,国庆节\n".encode())
    assert parse_schedule_csv(path) == {date(2027, 10, 1): DayEntry(False, "国庆节")}


def test_gb18030_from_excel_on_chinese_windows(tmp_path):
    path = write(tmp_path, "日期,类型,说明\r\n2027-10-01,节假日,国庆节\r\n", encoding="gb18030")
    assert parse_schedule_csv(path) == {date(2027, 10, 1): DayEntry(False, "国庆节")}


def test_excel_style_dates_and_blank_lines(tmp_path):
    path = write(tmp_path, "\n日期,类型,说明\n2027/1/1,节假日,元旦\n\n,,\n2027/10/9,调休上班,\n")
    assert parse_schedule_csv(path) == {
        date(2027, 1, 1): DayEntry(False, "元旦"),
        date(2027, 10, 9): DayEntry(True, ""),
    }


def test_redundant_entries_are_allowed(tmp_path):
    path = write(tmp_path, "date,type\n2027-03-08,workday\n2027-03-06,holiday\n")
    calendar = WorkCalendar(parse_schedule_csv(path))
    assert calendar.is_workday(date(2027, 3, 8))
    assert not calendar.is_workday(date(2027, 3, 6))


def test_a_parsed_schedule_drives_the_calendar(tmp_path):
    path = write(tmp_path, "date,type\n2030-10-01,holiday\n")
    assert WorkCalendar(parse_schedule_csv(path)).add_workdays(date(2030, 9, 30), 1) == date(2030, 10, 2)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("2027-13-01", '"2027-13-01" is not a real day'),
        ("2027-02-29", '"2027-02-29" is not a real day'),
        ("01/10/2027", '"01/10/2027" is not a date; expected YYYY-MM-DD'),
        ("2027.10.01", '"2027.10.01" is not a date'),
        ("2027-10/01", '"2027-10/01" is not a date'),
        ("2027-10-01 00:00:00", '"2027-10-01 00:00:00" is not a date'),
        ("", '"" is not a date'),
    ],
)
def test_bad_date_is_rejected_naming_row_field_and_rule(tmp_path, value, rule):
    message = rejected(write(tmp_path, f"date,type,note\n2027-10-02,holiday,\n{value},holiday,x\n"))
    assert 'row 3, field "date"' in message
    assert rule in message


@pytest.mark.parametrize("kind", ["rest", "", "上班", "holidays"])
def test_unknown_type_is_rejected_listing_the_allowed_ones(tmp_path, kind):
    message = rejected(write(tmp_path, f"日期,类型,说明\n2027-10-01,{kind},\n"))
    assert 'row 2, field "类型"' in message
    assert f'"{kind}" is not a day type' in message
    assert "workday, 工作日, 调休上班, holiday, 休息日, 节假日" in message


def test_duplicate_date_is_rejected_naming_both_rows(tmp_path):
    message = rejected(
        write(tmp_path, "date,type\n2027-10-01,holiday\n2027-10-02,holiday\n2027/10/1,workday\n")
    )
    assert 'row 4, field "date": 2027-10-01 is already listed on row 2' in message


def test_dates_from_two_years_are_rejected(tmp_path):
    message = rejected(write(tmp_path, "date,type\n2027-10-01,holiday\n2026-12-31,workday\n"))
    assert (
        'row 3, field "date": 2026-12-31 is in 2026, but this file is the schedule for 2027 (row 2)'
        in message
    )


@pytest.mark.parametrize("text", ["", "   \n\n", codecs.BOM_UTF8.decode("utf-8")])
def test_empty_file_is_rejected(tmp_path, text):
    assert "the file is empty" in rejected(write(tmp_path, text))


def test_header_without_rows_is_rejected(tmp_path):
    assert "has a header but no rows" in rejected(write(tmp_path, "date,type,note\n\n"))


def test_unknown_column_is_rejected(tmp_path):
    message = rejected(write(tmp_path, "date,type,notes\n2027-10-01,holiday,x\n"))
    assert 'row 1: unknown column "notes" (column 3)' in message


def test_unnamed_column_is_rejected(tmp_path):
    assert 'unknown column "" (column 4)' in rejected(
        write(tmp_path, "date,type,note,\n2027-10-01,holiday,x,\n")
    )


def test_repeated_column_is_rejected(tmp_path):
    assert 'column "日期" appears twice' in rejected(
        write(tmp_path, "date,type,日期\n2027-10-01,holiday,2027-10-02\n")
    )


@pytest.mark.parametrize(("header", "missing"), [("date,note", "type"), ("类型,说明", "date")])
def test_missing_required_column_is_rejected(tmp_path, header, missing):
    message = rejected(write(tmp_path, f"{header}\nx,y\n"))
    assert f'the required column "{missing}" is missing' in message


def test_header_row_number_counts_leading_blank_lines(tmp_path):
    assert 'row 3: unknown column "when"' in rejected(write(tmp_path, "\n\nwhen,type\n"))


def test_row_with_too_many_fields_is_rejected(tmp_path):
    message = rejected(write(tmp_path, "date,type,note\n2027-10-01,holiday,National Day,extra\n"))
    assert "row 2: 4 fields, but the header has 3" in message


def test_note_of_200_characters_is_accepted_201_rejected(tmp_path):
    ok = write(tmp_path, "date,type,note\n2027-10-01,holiday," + "节" * 200 + "\n", name="ok.csv")
    assert parse_schedule_csv(ok)[date(2027, 10, 1)].note == "节" * 200
    message = rejected(write(tmp_path, "date,type,note\n2027-10-01,holiday," + "节" * 201 + "\n"))
    assert 'row 2, field "note": 201 characters long; at most 200 are allowed' in message


def test_a_huge_field_is_rejected_as_invalid_csv(tmp_path):
    message = rejected(write(tmp_path, "date,type,note\n2027-10-01,holiday," + "x" * 200_000 + "\n"))
    assert "row 2: not valid CSV" in message


def test_a_file_over_one_mebibyte_is_rejected_before_parsing(tmp_path):
    message = rejected(write(tmp_path, "date,type,note\n" + "2027-10-01,holiday,x\n" * 60_000))
    assert "larger than 1048576 bytes" in message


def test_utf16_file_is_rejected_with_a_hint(tmp_path):
    message = rejected(write(tmp_path, "\ufeffdate,type\n2027-10-01,holiday\n", encoding="utf-16-le"))
    assert "UTF-8" in message


def test_ascii_utf16_without_bom_is_rejected_as_containing_nul(tmp_path):
    message = rejected(write(tmp_path, "date,type\n2027-10-01,holiday\n", encoding="utf-16-le"))
    assert "NUL characters" in message


def test_bom_followed_by_invalid_utf8_is_rejected(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(codecs.BOM_UTF8 + "日期,类型\n".encode("gb18030"))
    assert "not UTF-8 or GB18030" in rejected(path)


def test_every_bad_row_is_reported_at_once(tmp_path):
    message = rejected(
        write(tmp_path, "date,type\n2027-10-01,nap\n2027-10-32,holiday\nsoon,rest\n2027-10-05,holiday\n")
    )
    assert "4 problems, nothing imported" in message
    assert 'row 2, field "type"' in message
    assert 'row 3, field "date"' in message
    assert 'row 4, field "date"' in message and 'row 4, field "type"' in message


def test_a_long_list_of_problems_is_cut_short(tmp_path):
    message = rejected(write(tmp_path, "date,type\n" + "bad,holiday\n" * 25))
    assert "25 problems" in message
    assert "row 21," in message and "row 22," not in message
    assert "and 5 more" in message


def test_missing_file_is_input_missing(tmp_path):
    path = tmp_path / "2027.csv"
    with pytest.raises(InputMissing, match="no such file") as caught:
        parse_schedule_csv(path)
    assert str(path) in caught.value.message
    assert caught.value.exit_code == ExitCode.NO_INPUT


def test_directory_is_input_missing(tmp_path):
    with pytest.raises(InputMissing, match="is a directory"):
        parse_schedule_csv(tmp_path)


def test_an_unclosed_quote_is_rejected_at_its_row_instead_of_swallowing_the_rows_after_it(tmp_path):
    # Non-strict CSV read the two holidays below as part of row 2's note and imported one day.
    message = rejected(write(tmp_path, 'date,type,note\n2027-01-01,holiday,"New Year\n'
                                       "2027-02-01,holiday,x\n2027-02-02,holiday,y\n"))
    assert "row 2: not valid CSV" in message


def test_text_after_a_closing_quote_is_rejected_as_invalid_csv(tmp_path):
    message = rejected(write(tmp_path, 'date,type,note\n2027-10-01,holiday,x\n2027-10-02,holiday,"National" Day\n'))
    assert "row 3: not valid CSV" in message


def test_a_quoted_note_over_several_lines_is_still_accepted(tmp_path):
    parsed = parse_schedule_csv(write(tmp_path, 'date,type,note\n2027-10-01,holiday,"National\nDay"\n'))
    assert parsed == {date(2027, 10, 1): DayEntry(is_workday=False, note="National\nDay")}
