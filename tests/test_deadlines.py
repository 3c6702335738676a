"""``lycredit deadline check``: late providers (Art. 10, 46) and catalog items nobody submits (Art. 9, 46)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lycredit import deadlines
from lycredit.config import Config, load_config
from lycredit.errors import ConfigError, UsageError
from tests.conftest import PROVIDER_UNIT
from tests.test_sweep import FIRST_CATALOG, OTHER_PROVIDER, Seeder, seeded_catalog

AS_OF = "2025-06-30"


@pytest.fixture
def seeder(platform) -> Iterator[Seeder]:  # noqa: ANN001
    with seeded_catalog(platform) as s:
        yield s


def submitted(day: str, hour_utc: int = 2) -> datetime:
    """A submission time on an Asia/Shanghai day (02:00 UTC is 10:00 in Shanghai)."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour_utc)


def check(seeder: Seeder, *args: str, as_of: str = AS_OF, fmt: str = "json", config: Path | None = None):  # noqa: ANN201
    options = ["--config", str(config)] if config else []
    return seeder.platform.run(*options, "--as-of", as_of, "--format", fmt, "deadline", "check", *args, key=None)


def findings(result) -> list[dict]:  # noqa: ANN001
    return json.loads(result.stdout)


def keep_items_busy(seeder: Seeder, day: str = "2025-06-20") -> None:
    """One timely record for every item, so that silent_items has nothing to say."""
    for code in FIRST_CATALOG:
        seeder.record(code, act_ended_on=date(2025, 6, 1), submitted_at=submitted(day))


# --- late submissions ---------------------------------------------------------------------------------


def test_late_providers_are_reported_with_their_working_days_late_and_exit_1(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, submitted_at=submitted("2025-03-20"))
    seeder.record("SHORT", act_ended_on=date(2025, 4, 1), late_days=5, submitted_at=submitted("2025-04-25"))
    seeder.record("SWQF", act_ended_on=date(2025, 4, 1), late_days=1, submitted_at=submitted("2025-04-14"))
    r = check(seeder)
    assert r.exit_code == 1, r.stderr
    late = [f for f in findings(r) if f["rule"] == "late_submissions"]
    assert [(f["provider_uscc"], f["data"]["records"], f["data"]["working_days_late_total"],
             f["data"]["working_days_late_max"]) for f in late] == [(PROVIDER_UNIT, 2, 8, 5), (OTHER_PROVIDER, 1, 1, 1)]
    assert late[0]["article"] == "Art. 10, 46" and late[0]["provider_name"] == "市市场监督管理局"
    assert late[0]["summary"] == "2 records submitted late, 8 working days late in all, at most 5"
    assert late[0]["data"]["last_submitted_on"] == "2025-04-25"
    assert "2 findings as of 2025-06-30" in r.stderr


def test_nothing_overdue_exits_0_with_an_empty_result(seeder) -> None:
    keep_items_busy(seeder)
    r = check(seeder)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert findings(r) == []
    assert "Nothing overdue as of 2025-06-30" in r.stderr


def test_the_table_for_people_names_the_provider_and_the_finding(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=2, submitted_at=submitted("2025-03-20"))
    r = check(seeder, fmt="table")
    assert r.exit_code == 1
    header, _rule, row = r.stdout.splitlines()[:3]
    assert "provider's credit code" in header and "finding" in header
    assert PROVIDER_UNIT in row and "市市场监督管理局" in row and "1 records submitted late" in row


def test_since_limits_late_submissions_to_shanghai_days_on_or_after_it(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 1, 2), late_days=4, submitted_at=submitted("2025-01-20"))
    # 2025-01-31 16:30 UTC is already 2025-02-01 00:30 in Shanghai
    seeder.record("XZCF", act_ended_on=date(2025, 1, 3), late_days=2,
                  submitted_at=datetime(2025, 1, 31, 16, 30, tzinfo=UTC))
    r = check(seeder, "--since", "2025-02-01")
    (late,) = findings(r)
    assert (late["data"]["records"], late["data"]["working_days_late_total"], late["data"]["since"]) == (
        1, 2, "2025-02-01")


def test_submissions_after_the_as_of_day_are_not_counted(seeder) -> None:
    keep_items_busy(seeder, "2025-01-20")
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, submitted_at=submitted("2025-03-20"))
    r = check(seeder, as_of="2025-03-19")
    assert r.exit_code == 0, r.stdout
    assert check(seeder, as_of="2025-03-20").exit_code == 1


def test_the_first_and_last_days_of_the_calendar_are_checked_not_a_crash(seeder) -> None:
    """Their day boundaries fall outside the years 1 to 9999 in UTC: a traceback would exit 1, read as findings."""
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, submitted_at=submitted("2025-03-20"))
    everything = check(seeder, "--rule", "late_submissions", "--since", "0001-01-01")
    assert everything.exit_code == 1, everything.output
    assert findings(everything)[0]["data"]["records"] == 1
    last = check(seeder, as_of="9999-12-31")
    assert last.exit_code == 1, last.output
    assert {f["rule"] for f in findings(last)} == {"late_submissions", "silent_items"}
    for day in ("0001-01-01", "0001-01-02"):
        first = check(seeder, "--since", "0001-01-01", as_of=day)
        assert (first.exit_code, findings(first)) == (0, []), first.output


def test_a_lateness_counted_on_a_guessed_calendar_says_so(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, due_guessed=True,
                  submitted_at=submitted("2025-03-20"))
    (late,) = findings(check(seeder))
    assert late["data"]["guessed_deadlines"] == 1
    assert late["summary"].endswith("(1 of them against a guessed deadline)")


def test_withdrawing_a_late_record_does_not_undo_its_lateness(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, status="withdrawn",
                  submitted_at=submitted("2025-03-20"))
    (late,) = findings(check(seeder))
    assert late["data"]["records"] == 1


# --- silent items --------------------------------------------------------------------------------------


def test_items_with_nothing_submitted_within_90_days_are_reported(seeder) -> None:
    seeder.record("XZCF", act_ended_on=date(2025, 6, 1), submitted_at=submitted("2025-06-20"))
    seeder.record("SHORT", act_ended_on=date(2025, 2, 1), submitted_at=submitted("2025-04-01"))  # day 91
    seeder.record("SWQF", act_ended_on=date(2025, 3, 1), submitted_at=submitted("2025-04-02"))   # day 90
    r = check(seeder, "--rule", "silent_items")
    assert r.exit_code == 1
    silent = {f["item_code"]: f for f in findings(r)}
    assert sorted(silent) == ["SHORT", "XZXK"]
    assert silent["SHORT"]["summary"] == (
        "Nothing submitted for SHORT (事项 SHORT) in the 90 days to 2025-06-30; last record 2025-04-01")
    assert silent["XZXK"]["data"]["last_submitted_on"] is None
    assert silent["XZXK"]["summary"].endswith("never submitted")
    assert silent["SHORT"]["data"]["window_start"] == "2025-04-02"


def test_the_window_comes_from_the_policy_in_the_config_file(seeder, tmp_path: Path) -> None:
    seeder.record("XZCF", act_ended_on=date(2025, 6, 1), submitted_at=submitted("2025-06-20"))
    seeder.record("SHORT", act_ended_on=date(2025, 2, 1), submitted_at=submitted("2025-04-01"))
    seeder.record("SWQF", act_ended_on=date(2025, 3, 1), submitted_at=submitted("2025-04-02"))
    config = tmp_path / "lycredit.toml"
    config.write_text("[policy.deadline]\nsilent_item_days = 120\n", encoding="utf-8")
    r = check(seeder, "--rule", "silent_items", config=config)
    assert [f["item_code"] for f in findings(r)] == ["XZXK"]
    assert findings(r)[0]["data"]["window_days"] == 120


def test_an_item_new_in_the_catalog_is_not_silent_before_a_whole_window_has_passed(seeder) -> None:
    seeder.catalog(version="2025", effective_from=date(2025, 5, 1), codes=(*FIRST_CATALOG, "XZQZ"))
    for code in FIRST_CATALOG:
        seeder.record(code, act_ended_on=date(2025, 7, 1), submitted_at=submitted("2025-07-10"))
    # the 90 days to 2025-07-28 start on 2025-04-30, before the item existed; those to 2025-07-29 on its first day
    assert check(seeder, "--rule", "silent_items", as_of="2025-07-28").exit_code == 0
    r = check(seeder, "--rule", "silent_items", as_of="2025-07-29")
    assert [(f["item_code"], f["data"]["in_force_since"]) for f in findings(r)] == [("XZQZ", "2025-05-01")]


def test_an_item_keeps_its_first_day_in_force_across_catalog_versions(seeder) -> None:
    seeder.catalog(version="2025", effective_from=date(2025, 6, 1), codes=("XZCF",))
    r = check(seeder, "--rule", "silent_items")
    assert [(f["item_code"], f["data"]["in_force_since"]) for f in findings(r)] == [("XZCF", "2018-01-01")]


def test_before_any_catalog_is_in_force_no_item_is_silent(seeder) -> None:
    r = check(seeder, "--rule", "silent_items", as_of="2017-12-31")
    assert r.exit_code == 0 and findings(r) == []


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", '"ninety"', "true", "1e3", "100000000000"])
def test_a_bad_window_in_the_policy_is_a_configuration_error_naming_key_and_file(seeder, tmp_path, value) -> None:
    config = tmp_path / "lycredit.toml"
    config.write_text(f'[policy]\n"deadline.silent_item_days" = {value}\n', encoding="utf-8")
    r = seeder.platform.run("--config", str(config), "--as-of", AS_OF, "deadline", "check", key=None)
    assert r.exit_code == 78
    assert str(config) in r.stderr and "deadline.silent_item_days" in r.stderr
    assert "not a number of days from 1 to 3660" in r.stderr


def test_a_misspelt_policy_key_is_an_error_not_silently_ignored(seeder, tmp_path) -> None:
    config = tmp_path / "lycredit.toml"
    config.write_text("[policy.deadline]\nsilent_items_days = 30\n", encoding="utf-8")
    r = seeder.platform.run("--config", str(config), "deadline", "check", key=None)
    assert r.exit_code == 78
    assert "unknown deadline policy deadline.silent_items_days" in r.stderr
    assert "deadline.silent_item_days" in r.stderr


def test_an_unknown_rule_or_a_since_after_the_as_of_day_is_a_usage_error(seeder) -> None:
    unknown = check(seeder, "--rule", "objections_overdue")
    assert unknown.exit_code == 2 and "objections_overdue" in unknown.stderr
    backwards = check(seeder, "--since", "2025-07-01")
    assert backwards.exit_code == 2
    assert "--since 2025-07-01 is after the as-of day 2025-06-30" in backwards.stderr
    malformed = check(seeder, "--since", "2025-13-01")
    assert malformed.exit_code == 2 and "2025-13-01" in malformed.stderr


def test_the_core_refuses_unknown_rules_by_name() -> None:
    with pytest.raises(UsageError, match="Unknown deadline rule nope .known: late_submissions, silent_items"):
        deadlines.check(None, date(2025, 1, 1), deadlines.Policy(), rules=["nope"])


def test_a_rule_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        deadlines.register(deadlines.LateSubmissions())


def test_both_ways_of_writing_a_policy_key_in_toml_mean_the_same(tmp_path: Path) -> None:
    dotted, nested = tmp_path / "a.toml", tmp_path / "b.toml"
    dotted.write_text('[policy]\n"deadline.silent_item_days" = 45\n', encoding="utf-8")
    nested.write_text("[policy]\ndeadline.silent_item_days = 45\n", encoding="utf-8")
    for path in (dotted, nested):
        policy = deadlines.Policy.from_config(load_config(path))
        assert policy.days("deadline.silent_item_days", 90) == 45
        assert policy.source == str(path)
    assert deadlines.Policy.from_config(Config()).days("deadline.silent_item_days", 90) == 90
    with pytest.raises(ConfigError, match=r"\[policy\] must be a table"):
        deadlines.Policy.from_config(Config(Path("x.toml"), {"policy": 5}))


def test_findings_are_worded_in_chinese_when_asked(seeder) -> None:
    keep_items_busy(seeder)
    seeder.record("XZCF", act_ended_on=date(2025, 3, 3), late_days=3, submitted_at=submitted("2025-03-20"))
    r = seeder.platform.run("--lang", "zh", "--as-of", AS_OF, "deadline", "check", key=None)
    assert r.exit_code == 1
    assert "数据来源单位" in r.stdout and "逾期报送 1 条记录，共逾期 3 个工作日" in r.stdout
