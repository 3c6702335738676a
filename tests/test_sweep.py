"""``lycredit sweep expiry``: Art. 15 takes dishonesty information out of view when its period ends.

Records, catalog items and subjects are written straight through a
:class:`~lycredit.oplog.log.UnitOfWork` (:class:`Seeder`), with
``disclosure_until`` computed as intake does, so that these tests depend on
nothing but the sweep; ``audit verify`` keeps them honest.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit import sweep
from lycredit.errors import UsageError
from lycredit.keys import load_private_key
from lycredit.models import CatalogItem, CatalogVersion, Record, Subject
from lycredit.models.base import utcnow
from lycredit.operators import signer_for
from lycredit.oplog.log import UnitOfWork
from lycredit.periods import add_months, disclosure_expired, disclosure_until, shanghai_today
from lycredit.runlock import run_lock
from tests.conftest import PASSPHRASE, PROVIDER_UNIT, invoke, valid_uscc

OTHER_PROVIDER = valid_uscc("11211382MB7777777")
ITEMS = {
    # code: (provider, dishonesty, validity_months)
    "XZCF": (PROVIDER_UNIT, True, 60),      # 行政处罚: dishonesty, five years
    "SHORT": (PROVIDER_UNIT, True, 12),     # a catalog item with a shorter period
    "XZXK": (PROVIDER_UNIT, False, None),   # 行政许可: not dishonesty, no period
    "SWQF": (OTHER_PROVIDER, True, 36),     # another provider's item
    "XZQZ": (PROVIDER_UNIT, True, 36),      # 行政强制: not in the first catalog, added by a later version
}
FIRST_CATALOG = ("XZCF", "SHORT", "XZXK", "SWQF")
INTAKE = object()
"""``disclosure_until`` as intake computes it (the default of :meth:`Seeder.record`)."""


class Seeder:
    """Writes catalog items, a subject and records through the signed log, as the intake modules would."""

    def __init__(self, platform) -> None:  # noqa: ANN001
        self.platform = platform
        self.engine = platform.engine()
        self.key = load_private_key(platform.admin_key, PASSPHRASE)
        self.items: dict[str, dict] = {}
        self.subject_id = 0

    @contextlib.contextmanager
    def uow(self) -> Iterator[UnitOfWork]:
        with self.engine.begin() as conn:
            uow = UnitOfWork(conn, signer_for(conn, self.key), command="test seed", action="test.seed")
            yield uow
            uow.close()

    def catalog(self, version: str = "2018", effective_from: date = date(2018, 1, 1),
                codes: tuple[str, ...] = FIRST_CATALOG) -> None:
        with self.uow() as uow:
            v = uow.insert(CatalogVersion.__table__, {
                "version": version, "effective_from": effective_from, "source_name": f"catalog-{version}.csv",
                "source_sha256": "0" * 64, "imported_at": utcnow()})
            for code in codes:
                provider, dishonesty, months = ITEMS[code]
                self.items[code] = uow.insert(CatalogItem.__table__, {
                    "version_id": v["id"], "code": code, "name": f"事项 {code}", "provider_uscc": provider,
                    "provider_name": "市市场监督管理局" if provider == PROVIDER_UNIT else "市税务局",
                    "category": "administrative_penalty", "disclosure": "public", "validity_months": months,
                    "dishonesty": dishonesty, "severity": "normal" if dishonesty else "none"})
            if not self.subject_id:
                self.subject_id = uow.insert(Subject.__table__, {
                    "kind": "legal_person", "name": "凌源市某某有限公司", "uscc": valid_uscc("91211382MA0000001"),
                    "created_at": utcnow()})["id"]

    def record(self, code: str, *, act_ended_on: date | None, decision_date: date | None = None,
               publicity_until: date | None = None, disclosure_until: object = INTAKE, status: str = "active",
               submitted_at: datetime | None = None, late_days: int = 0, due_guessed: bool = False) -> int:
        item = self.items[code]
        decision = decision_date or act_ended_on
        if disclosure_until is INTAKE:
            disclosure_until = intake_disclosure_until(item, act_ended_on or decision, publicity_until)
        with self.uow() as uow:
            record_id = (uow.conn.execute(sa.select(sa.func.max(Record.id))).scalar() or 0) + 1
            uow.insert(Record.__table__, {
                "id": record_id, "provider_uscc": item["provider_uscc"], "item_code": code,
                "document_no": f"凌罚〔{decision.year}〕{record_id}号", "catalog_item_id": item["id"],
                "subject_id": self.subject_id, "decision_date": decision, "concluded_on": decision,
                "act_ended_on": act_ended_on, "publicity_until": publicity_until,
                "disclosure_until": disclosure_until, "fields": json.dumps({"处罚类别": "罚款"}, ensure_ascii=False),
                "status": status, "revision": 1, "due_date": decision + timedelta(days=9), "due_guessed": due_guessed,
                "late_days": late_days, "submitted_at": submitted_at or utcnow(), "submitted_by": "admin"})
        return record_id

    def row(self, record_id: int) -> dict:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(Record.__table__).where(Record.id == record_id)).mappings().one())

    def scalar(self, sql: str):  # noqa: ANN201
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()


def intake_disclosure_until(item: dict, act_end: date, publicity_until: date | None) -> date | None:
    """The earliest of the record's 公示截止期, the catalog validity and, for dishonesty, the Art. 15 cap."""
    ends = [publicity_until]
    if item["validity_months"]:
        ends.append(add_months(act_end, item["validity_months"]))
    if item["dishonesty"]:
        ends.append(disclosure_until(act_end))
    return min((e for e in ends if e is not None), default=None)


@contextlib.contextmanager
def seeded_catalog(platform, codes: tuple[str, ...] = FIRST_CATALOG) -> Iterator[Seeder]:  # noqa: ANN001
    """A :class:`Seeder` on ``platform`` with a catalog of ``codes`` (in force from 2018) and one subject."""
    s = Seeder(platform)
    s.catalog(codes=codes)
    try:
        yield s
    finally:
        s.engine.dispose()


@pytest.fixture
def seeder(platform) -> Iterator[Seeder]:  # noqa: ANN001
    with seeded_catalog(platform) as s:
        yield s


def sweep_as_of(seeder: Seeder, day: str, *args: str, key: str = "admin"):  # noqa: ANN201
    return seeder.platform.run("--as-of", day, "sweep", "expiry", *args, key=key)


# --- the five-year cap and the shorter periods ------------------------------------------------------


def test_dishonesty_is_shown_through_the_fifth_anniversary_and_swept_the_day_after(seeder) -> None:
    rid = seeder.record("XZCF", act_ended_on=date(2020, 11, 27))
    assert seeder.row(rid)["disclosure_until"] == date(2025, 11, 27)
    on_the_day = sweep_as_of(seeder, "2025-11-27")
    assert on_the_day.exit_code == 0, on_the_day.stderr
    assert "Nothing to archive as of 2025-11-27" in on_the_day.stderr
    assert seeder.row(rid)["status"] == "active"
    day_after = sweep_as_of(seeder, "2025-11-28")
    assert day_after.exit_code == 0, day_after.stderr
    row = seeder.row(rid)
    assert (row["status"], row["archived_on"]) == ("archived", date(2025, 11, 28))
    assert "Archived 1 records" in day_after.stderr


def test_a_shorter_catalog_period_ends_disclosure_earlier(seeder) -> None:
    rid = seeder.record("SHORT", act_ended_on=date(2023, 3, 15))
    sweep_as_of(seeder, "2024-03-15")
    assert seeder.row(rid)["status"] == "active"
    sweep_as_of(seeder, "2024-03-16")
    assert seeder.row(rid)["archived_on"] == date(2024, 3, 16)


def test_the_records_own_publicity_end_wins_when_it_is_earliest(seeder) -> None:
    rid = seeder.record("XZCF", act_ended_on=date(2021, 5, 10), publicity_until=date(2022, 6, 30))
    sweep_as_of(seeder, "2022-06-30")
    assert seeder.row(rid)["status"] == "active"
    sweep_as_of(seeder, "2022-07-01")
    assert seeder.row(rid)["archived_on"] == date(2022, 7, 1)


def test_an_act_ended_on_february_29_is_disclosed_through_february_28_five_years_on(seeder) -> None:
    rid = seeder.record("XZCF", act_ended_on=date(2020, 2, 29))
    sweep_as_of(seeder, "2025-02-28")
    assert seeder.row(rid)["status"] == "active"
    sweep_as_of(seeder, "2025-03-01")
    assert seeder.row(rid)["archived_on"] == date(2025, 3, 1)


def test_a_dishonesty_record_with_a_wrong_or_missing_end_is_still_capped_at_five_years(seeder) -> None:
    too_late = seeder.record("XZCF", act_ended_on=date(2019, 5, 1), disclosure_until=date(2099, 1, 1))
    missing = seeder.record("XZCF", act_ended_on=None, decision_date=date(2019, 6, 1), disclosure_until=None)
    not_yet = seeder.record("XZCF", act_ended_on=date(2019, 6, 2), disclosure_until=None)
    r = seeder.platform.run("--as-of", "2024-06-02", "--format", "json", "sweep", "expiry")
    assert r.exit_code == 0, r.stderr
    assert seeder.row(too_late)["archived_on"] == date(2024, 5, 2)
    assert seeder.row(missing)["archived_on"] == date(2024, 6, 2)  # the decision date stands in for the act end
    assert seeder.row(not_yet)["status"] == "active"
    summary = json.loads(r.stdout)
    assert (summary["archived"], summary["capped"]) == (2, 2)
    assert "2 of them are dishonesty records" in r.stderr


def test_information_that_is_not_dishonesty_and_has_no_period_is_never_swept(seeder) -> None:
    rid = seeder.record("XZXK", act_ended_on=date(2010, 1, 1))
    assert seeder.row(rid)["disclosure_until"] is None
    sweep_as_of(seeder, "2026-01-01")
    assert seeder.row(rid)["status"] == "active"


def test_withdrawn_and_repaired_records_keep_their_status(seeder) -> None:
    withdrawn = seeder.record("XZCF", act_ended_on=date(2015, 1, 1), status="withdrawn")
    repaired = seeder.record("XZCF", act_ended_on=date(2015, 1, 1), status="repaired")
    sweep_as_of(seeder, "2025-01-01")
    assert [seeder.row(r)["status"] for r in (withdrawn, repaired)] == ["withdrawn", "repaired"]
    assert seeder.row(repaired)["archived_on"] is None


# --- idempotence and catching up ----------------------------------------------------------------------


def test_sweeping_twice_changes_nothing_the_second_time_but_logs_the_run(seeder) -> None:
    seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    first = json.loads(seeder.platform.run("--as-of", "2025-01-01", "--format", "json", "sweep", "expiry").stdout)
    rows_after_first = seeder.scalar("SELECT count(*) FROM record WHERE status = 'archived'")
    entries = seeder.scalar("SELECT count(*) FROM oplog_entry")
    second = seeder.platform.run("--as-of", "2025-01-01", "--format", "json", "sweep", "expiry")
    assert second.exit_code == 0, second.stderr
    assert (first["archived"], json.loads(second.stdout)["archived"]) == (1, 0)
    assert seeder.scalar("SELECT count(*) FROM record WHERE status = 'archived'") == rows_after_first == 1
    assert seeder.scalar("SELECT count(*) FROM oplog_entry") == entries + 1  # only the operation leaf
    assert json.loads(seeder.scalar("SELECT summary FROM oplog_operation ORDER BY seq DESC LIMIT 1"))["archived"] == 0


def test_a_sweep_as_of_a_past_day_archives_only_what_was_due_then_and_a_later_one_catches_up_once(seeder) -> None:
    early = seeder.record("SHORT", act_ended_on=date(2021, 1, 9))      # through 2022-01-09
    later = seeder.record("SHORT", act_ended_on=date(2023, 6, 30))     # through 2024-06-30
    past = json.loads(seeder.platform.run("--as-of", "2023-01-01", "--format", "json", "sweep", "expiry").stdout)
    assert past["expired_record_ids"] == [early]
    early_row = seeder.row(early)
    assert early_row["archived_on"] == date(2022, 1, 10) and seeder.row(later)["status"] == "active"
    now = json.loads(seeder.platform.run("--format", "json", "sweep", "expiry").stdout)
    assert now["expired_record_ids"] == [later]
    assert seeder.row(later)["archived_on"] == date(2024, 7, 1)  # the day after its end, not the sweep day
    assert seeder.row(early) == early_row


def test_a_sweep_in_batches_archives_every_due_record(seeder) -> None:
    ids = [seeder.record("XZCF", act_ended_on=date(2019, 1, d)) for d in range(1, 6)]
    with seeder.uow() as uow:
        result = sweep.sweep_expiry(uow, date(2025, 1, 1), batch_size=2)
    assert result.expired_record_ids == tuple(ids)
    assert (result.first_archived_on, result.last_archived_on) == (date(2024, 1, 2), date(2024, 1, 6))
    assert seeder.platform.run("audit", "verify", key=None).exit_code == 0


# --- dry run, future days, lock, roles, the log ------------------------------------------------------


def test_a_dry_run_reports_and_leaves_nothing(seeder) -> None:
    rid = seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    entries = seeder.scalar("SELECT count(*) FROM oplog_entry")
    r = seeder.platform.run("--as-of", "2025-01-01", "--format", "json", "sweep", "expiry", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "Dry run: would archive 1 records" in r.stderr
    assert json.loads(r.stdout)["expired_record_ids"] == [rid] and json.loads(r.stdout)["operation"] is None
    assert seeder.row(rid)["status"] == "active"
    assert seeder.scalar("SELECT count(*) FROM oplog_entry") == entries


def test_a_future_day_may_be_previewed_but_not_swept(seeder) -> None:
    rid = seeder.record("XZCF", act_ended_on=shanghai_today() - timedelta(days=30))
    future = (shanghai_today() + timedelta(days=6 * 366)).isoformat()
    refused = sweep_as_of(seeder, future)
    assert refused.exit_code == 2
    assert f"Cannot sweep as of {future}, after today" in refused.stderr
    preview = sweep_as_of(seeder, future, "--dry-run")
    assert preview.exit_code == 0 and "would archive 1 records" in preview.stderr
    assert seeder.row(rid)["status"] == "active"
    with seeder.uow() as uow, pytest.raises(UsageError, match="after today"):
        sweep.sweep_expiry(uow, date(2030, 1, 2), today=date(2030, 1, 1))


def test_a_malformed_as_of_day_is_a_usage_error_naming_it(seeder) -> None:
    r = sweep_as_of(seeder, "2025-02-30")
    assert r.exit_code == 2
    assert '"2025-02-30"' in r.stderr and "no such day" in r.stderr


def test_a_second_sweep_while_one_runs_exits_75(seeder) -> None:
    seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    with run_lock(seeder.engine, "sweep-expiry"):
        r = sweep_as_of(seeder, "2025-01-01")
    assert r.exit_code == 75
    assert "holds the lock" in r.stderr
    assert sweep_as_of(seeder, "2025-01-01").exit_code == 0


def test_a_provider_may_not_run_the_sweep(seeder) -> None:
    seeder.platform.add_operator("prov-1", "provider")
    r = sweep_as_of(seeder, "2025-01-01", key="prov-1")
    assert r.exit_code == 77
    assert "may not run sweep.expiry" in r.stderr
    with run_lock(seeder.engine, "sweep-expiry"):  # while a sweep runs: still refused as a role (77), not 75
        r = sweep_as_of(seeder, "2025-01-01", key="prov-1")
    assert r.exit_code == 77 and "may not run sweep.expiry" in r.stderr, r.output


def test_audit_verify_passes_after_a_sweep(seeder) -> None:
    for day in (1, 2, 3):
        seeder.record("XZCF", act_ended_on=date(2019, 3, day))
    seeder.record("XZCF", act_ended_on=date(2019, 5, 1), disclosure_until=date(2099, 1, 1))
    seeder.record("SWQF", act_ended_on=date(2020, 1, 1))
    r = sweep_as_of(seeder, "2025-01-01")
    assert "Archived 5 records" in r.stderr
    verify = seeder.platform.run("audit", "verify", key=None)
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_the_operation_summary_holds_the_counts(seeder) -> None:
    seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    sweep_as_of(seeder, "2025-01-01")
    summary = json.loads(seeder.scalar("SELECT summary FROM oplog_operation ORDER BY seq DESC LIMIT 1"))
    assert summary == {"as_of": "2025-01-01", "archived": 1, "capped": 0, "first_archived_on": "2024-01-02",
                       "last_archived_on": "2024-01-02", "follow_ups": {}}
    assert seeder.scalar("SELECT action FROM oplog_operation ORDER BY seq DESC LIMIT 1") == "sweep.expiry"


def test_followers_get_the_archived_ids_and_their_counts_go_into_the_summary(seeder, monkeypatch) -> None:
    rid = seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    seen: list[tuple[date, tuple[int, ...]]] = []

    def lists_follower(uow, as_of, ids):  # noqa: ANN001, ANN202
        seen.append((as_of, tuple(ids)))
        return {"entries_flagged": len(ids)}

    monkeypatch.setattr(sweep, "FOLLOWERS", {})
    sweep.register_follower("lists", lists_follower)
    with pytest.raises(ValueError, match="already registered"):
        sweep.register_follower("lists", lists_follower)
    r = seeder.platform.run("--as-of", "2025-01-01", "--format", "json", "sweep", "expiry")
    assert seen == [(date(2025, 1, 1), (rid,))]
    assert json.loads(r.stdout)["follow_ups"] == {"lists": {"entries_flagged": 1}}
    assert "lists: entries_flagged 1" in r.stderr


# --- the arithmetic ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(act=st.dates(date(1990, 1, 1), date(2040, 12, 31)), as_of=st.dates(date(1995, 1, 1), date(2046, 12, 31)))
def test_acts_ended_before_the_threshold_are_exactly_those_past_the_five_year_cap(act: date, as_of: date) -> None:
    assert (act < sweep.first_act_end_within_cap(as_of)) == disclosure_expired(act, as_of)


@given(until=st.none() | st.dates(date(2000, 1, 1), date(2100, 1, 1)), act=st.dates(date(2000, 1, 1), date(2040, 1, 1)))
def test_the_effective_end_of_dishonesty_never_passes_the_cap_and_never_extends_a_period(until, act) -> None:  # noqa: ANN001
    end = sweep.effective_end(until, True, act, act + timedelta(days=3))
    assert end <= disclosure_until(act)
    assert until is None or end <= until
    assert sweep.effective_end(until, False, act, act) == until


def test_the_threshold_of_a_day_near_the_start_of_the_calendar_is_the_first_day() -> None:
    assert sweep.first_act_end_within_cap(date(3, 1, 1)) == date.min
    assert sweep.first_act_end_within_cap(date(6, 1, 1)) == date.min


# --- the cron samples ----------------------------------------------------------------------------------

CRON_DIR = Path(__file__).resolve().parent.parent / "samples" / "cron"


def _cron_jobs() -> list[list[str]]:
    jobs = []
    for line in (CRON_DIR / "crontab").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "=" in line.split()[0]:
            continue
        command = line.split()[5:]
        jobs.append(command[:command.index(">>")] if ">>" in command else command)
    return jobs


def test_the_sample_crontab_runs_the_nightly_jobs_through_the_wrapper_and_they_exist() -> None:
    jobs = _cron_jobs()
    assert [job[:2] for job in jobs] == [["lycredit-cron", "--quiet"]] * 4
    assert [tuple(job[2:4]) for job in jobs] == [
        ("sweep", "expiry"), ("audit", "verify"), ("audit", "anchor"), ("deadline", "check")]
    for job in jobs:
        r = invoke([*job[1:], "--help"])
        assert r.exit_code == 0, f"{' '.join(job)}: {r.output}"


def test_the_cron_wrapper_retries_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    fake = tmp_path / "lycredit"
    fake.write_text('#!/bin/sh\nn=$(($(cat "$COUNT" 2>/dev/null || echo 0) + 1)); echo $n > "$COUNT"\n'
                    'echo "$LYCREDIT_KEY_PASSPHRASE $*"\n[ "$n" -ge 3 ] && exit 0\nexit 75\n', encoding="utf-8")
    fake.chmod(0o755)
    secret = tmp_path / "pass"
    secret.write_text("s3cret\n", encoding="utf-8")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "COUNT": str(tmp_path / "count"),
           "LYCREDIT_CRON_WAIT": "0", "LYCREDIT_KEY_PASSPHRASE_FILE": str(secret)}
    done = subprocess.run([str(CRON_DIR / "lycredit-cron"), "sweep", "expiry"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["s3cret sweep expiry"] * 3
    (tmp_path / "count").unlink()
    gave_up = subprocess.run([str(CRON_DIR / "lycredit-cron"), "sweep", "expiry"], env={
        **env, "LYCREDIT_CRON_TRIES": "2"}, capture_output=True, text=True, timeout=30)
    assert gave_up.returncode == 75 and len(gave_up.stdout.splitlines()) == 2


def test_without_dishonesty_items_only_the_stored_end_counts_and_no_table_pass_is_made(platform) -> None:
    with seeded_catalog(platform, ("XZXK",)) as s:
        rid = s.record("XZXK", act_ended_on=date(2018, 5, 1), disclosure_until=date(2020, 1, 1))
        with s.engine.connect() as conn:
            query = str(sweep.due_for_expiry(conn, date(2025, 1, 1)))
        assert "coalesce" not in query
        sweep_as_of(s, "2025-01-01")
        assert s.row(rid)["archived_on"] == date(2020, 1, 2)


def test_the_sweep_speaks_chinese_when_asked(seeder) -> None:
    seeder.record("XZCF", act_ended_on=date(2019, 1, 1))
    r = seeder.platform.run("--lang", "zh", "--as-of", "2025-01-01", "sweep", "expiry")
    assert "已转档 1 条在 2025-01-01 前披露期限已届满的记录" in r.stderr
