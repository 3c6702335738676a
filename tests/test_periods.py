"""Period counting (Civil Code Art. 200–204) and the Art. 15 five-year disclosure cap."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lycredit import periods
from lycredit.errors import ExitCode, UsageError
from lycredit.periods import (
    add_months,
    add_years,
    disclosure_expired,
    disclosure_until,
    parse_as_of,
    shanghai_today,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


# Art. 15 and Civil Code Art. 201-202: the start day is not counted, the period ends on the corresponding day.


def test_act_ended_2021_11_27_is_disclosed_through_2026_11_27():
    assert disclosure_until(date(2021, 11, 27)) == date(2026, 11, 27)


def test_information_is_still_public_on_the_day_before_and_on_the_last_day_of_five_years():
    act_ended = date(2021, 11, 27)
    assert not disclosure_expired(act_ended, date(2026, 11, 26))
    assert not disclosure_expired(act_ended, date(2026, 11, 27))


def test_information_leaves_public_view_the_day_after_five_years():
    assert disclosure_expired(date(2021, 11, 27), date(2026, 11, 28))


def test_act_ended_on_feb_29_is_disclosed_through_feb_28_five_years_later():
    assert disclosure_until(date(2020, 2, 29)) == date(2025, 2, 28)
    assert not disclosure_expired(date(2020, 2, 29), date(2025, 2, 28))
    assert disclosure_expired(date(2020, 2, 29), date(2025, 3, 1))


def test_feb_29_plus_a_period_ending_in_a_leap_year_keeps_feb_29():
    assert add_years(date(2020, 2, 29), 4) == date(2024, 2, 29)


def test_a_shorter_disclosure_period_of_the_catalog_item_is_counted_the_same_way():
    assert disclosure_until(date(2021, 11, 27), years=3) == date(2024, 11, 27)


@pytest.mark.parametrize("years", [0, -5])
def test_a_disclosure_period_below_one_year_is_refused(years):
    with pytest.raises(ValueError, match=str(years)):
        disclosure_until(date(2021, 11, 27), years=years)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
        (date(2026, 5, 10), 0, date(2026, 5, 10)),
    ],
)
def test_a_month_period_ends_on_the_corresponding_day_or_the_months_last_day(start, months, end):
    assert add_months(start, months) == end


@pytest.mark.parametrize(("start", "months"), [(date(9999, 12, 1), 1), (date(1, 1, 1), -1)])
def test_a_period_beyond_the_representable_dates_raises_overflow(start, months):
    with pytest.raises(OverflowError, match=start.isoformat()):
        add_months(start, months)


@given(dates, st.integers(min_value=-1200, max_value=1200))
def test_add_months_lands_in_the_right_month_on_the_same_or_the_last_day(d, months):
    result = add_months(d, months)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == months
    last_day = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(d.day, last_day)


@given(dates, st.integers(min_value=-100, max_value=100))
def test_a_year_is_twelve_months(d, years):
    assert add_years(d, years) == add_months(d, 12 * years)


@given(
    dates.filter(lambda d: d.day <= 28),
    st.integers(min_value=-600, max_value=600),
    st.integers(min_value=-600, max_value=600),
)
def test_month_periods_compose_when_every_month_has_the_day(d, first, second):
    assert add_months(add_months(d, first), second) == add_months(d, first + second)


@given(dates, st.integers(min_value=1, max_value=5))
def test_disclosure_expires_exactly_on_the_day_after_its_last_day(act_ended, years):
    until = disclosure_until(act_ended, years)
    assert until > act_ended
    assert not disclosure_expired(act_ended, until, years)
    assert disclosure_expired(act_ended, until + timedelta(days=1), years)


# The Asia/Shanghai day boundary, whatever the server's time zone.


def test_shanghai_day_starts_at_16_00_utc():
    assert shanghai_today(datetime(2026, 9, 27, 15, 59, tzinfo=UTC)) == date(2026, 9, 27)
    assert shanghai_today(datetime(2026, 9, 27, 16, 0, tzinfo=UTC)) == date(2026, 9, 28)


def test_shanghai_today_converts_from_any_time_zone():
    los_angeles_evening = datetime(2026, 9, 27, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert shanghai_today(los_angeles_evening) == date(2026, 9, 28)


# UTC+14 and UTC-12 are 26 hours apart: at any instant the Shanghai date differs from at least one of them.
@pytest.mark.parametrize("server_zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_shanghai_today_ignores_the_server_time_zone(monkeypatch, server_zone):
    monkeypatch.setenv("TZ", server_zone)
    time.tzset()
    try:
        before = datetime.now(SHANGHAI).date()
        today = shanghai_today()
        after = datetime.now(SHANGHAI).date()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert today in {before, after}


def test_shanghai_today_falls_back_to_utc_plus_8_without_a_time_zone_database(monkeypatch):
    def missing(key):
        raise ZoneInfoNotFoundError(key)

    monkeypatch.setattr(periods, "ZoneInfo", missing)
    assert shanghai_today(datetime(2026, 9, 27, 16, 0, tzinfo=UTC)) == date(2026, 9, 28)
    assert shanghai_today(datetime(2026, 9, 27, 15, 59, tzinfo=UTC)) == date(2026, 9, 27)


def test_shanghai_today_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        shanghai_today(datetime(2026, 9, 27, 16, 0))


# --as-of


def test_as_of_accepts_an_iso_date():
    assert parse_as_of("2026-09-28") == date(2026, 9, 28)


def test_as_of_ignores_surrounding_spaces():
    assert parse_as_of(" 2026-09-28\n") == date(2026, 9, 28)


def test_no_as_of_means_today_in_shanghai():
    before = datetime.now(SHANGHAI).date()
    today = parse_as_of(None)
    assert today in {before, datetime.now(SHANGHAI).date()}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026/09/28",
        "28-09-2026",
        "20260928",
        "2026-W40-1",
        "2026-9-28",
        "2026-09-28T00:00",
        "２０２６-０９-２８",
        "'; DROP TABLE record; --",
    ],
)
def test_as_of_rejects_anything_but_yyyy_mm_dd_naming_the_value_and_the_format(text):
    with pytest.raises(UsageError) as caught:
        parse_as_of(text)
    assert f'"{text.strip()}"' in caught.value.message
    assert "YYYY-MM-DD" in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("text", ["2026-02-29", "2026-13-01", "2026-00-10", "0000-01-01", "2026-04-31"])
def test_as_of_rejects_a_day_that_does_not_exist(text):
    with pytest.raises(UsageError, match=f'"{text}".*no such day'):
        parse_as_of(text)


def test_as_of_error_shortens_a_huge_value():
    with pytest.raises(UsageError) as caught:
        parse_as_of("9" * 100_000)
    assert len(caught.value.message) < 200
    assert "9" * 40 + "…" in caught.value.message
