"""``audit log``: who did what, when, to what, filtered by operator, subject, action and Asia/Shanghai days."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lycredit.keys import load_private_key
from lycredit.operators import signer_for
from lycredit.oplog import log as oplog
from lycredit.oplog.log import UnitOfWork
from tests.conftest import PASSPHRASE, Platform, invoke


def operate(platform: Platform, action: str, *, subject: str | None = None, at: dt.datetime | None = None,
            times: int = 1) -> None:
    """Append signed operations as the administrator, optionally at a given instant."""
    private_key = load_private_key(platform.admin_key, PASSPHRASE)
    engine = platform.engine()
    with pytest.MonkeyPatch.context() as mp:
        if at is not None:  # a clock set back in a test: skip the key-window check it would fail
            mp.setattr(oplog, "utcnow", lambda: at)
            mp.setattr(oplog, "_require_key_valid_at", lambda *args: None)
        for _ in range(times):
            with engine.begin() as conn:
                uow = UnitOfWork(conn, signer_for(conn, private_key), command="test", action=action,
                                 subject=subject)
                uow.event("query", subject=subject)
                uow.close()


def shown(platform: Platform, *args: str) -> list[dict]:
    r = platform.run("--format", "json", "audit", "log", *args, key=None)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def seqs(platform: Platform, *args: str) -> list[int]:
    return [row["seq"] for row in shown(platform, *args)]


@pytest.fixture
def busy(platform: Platform) -> Platform:
    """seq 1 db.init, 2-3 operator.add, 4 refused (by scjg-01), 5 key.rotate, 6 operator.revoke."""
    platform.add_operator("scjg-01", "provider")
    platform.add_operator("ops-1", "operator")
    assert platform.run("operator", "revoke", "admin", "--reason", "try", key="scjg-01").exit_code == 77
    public = invoke(["key", "generate", "--out", str(platform.dir / "new.key")]).stdout.strip()
    assert platform.run("key", "rotate", "ops-1", "--public-key", public).exit_code == 0
    assert platform.run("operator", "revoke", "scjg-01", "--reason", "left the bureau").exit_code == 0
    return platform


def test_the_log_lists_operations_newest_first_with_who_what_and_why(busy: Platform) -> None:
    rows = shown(busy)
    assert [r["seq"] for r in rows] == [6, 5, 4, 3, 2, 1]
    newest = rows[0]
    assert (newest["operator"], newest["action"], newest["reason"], newest["command"]) == (
        "admin", "operator.revoke", "left the bureau", "operator revoke")
    assert newest["summary"] == {"operator": "scjg-01"} and len(newest["key_id"]) == 8
    assert newest["at"].endswith("Z")


def test_limit_keeps_the_newest(busy: Platform) -> None:
    assert seqs(busy, "--limit", "2") == [6, 5]
    cut = busy.run("--format", "json", "audit", "log", "--limit", "2", key=None)
    assert "Only the first 2 are shown; there are more" in cut.stderr, cut.output  # the list does not end silently
    assert "there are more" not in busy.run("audit", "log", "--limit", "6", key=None).stderr
    assert seqs(busy, "--limit", str(2**63)) == [6, 5, 4, 3, 2, 1]  # a limit past 64 bits is no limit, no crash


def test_the_default_limit_is_100(platform: Platform) -> None:
    operate(platform, "query", times=101)
    rows = seqs(platform)
    assert len(rows) == 100 and rows[0] == 102 and rows[-1] == 3


def test_operator_filter_shows_only_what_that_operator_signed(busy: Platform) -> None:
    rows = shown(busy, "--operator", "scjg-01")
    assert [(r["seq"], r["action"]) for r in rows] == [(4, "refused")]
    assert rows[0]["summary"] == {"refused_action": "operator.revoke"}
    assert seqs(busy, "--operator", "nobody") == []


def test_action_filter_is_a_prefix(busy: Platform) -> None:
    assert seqs(busy, "--action", "operator.") == [6, 3, 2]
    assert seqs(busy, "--action", "key.rotate") == [5]
    assert seqs(busy, "--action", "operator.add") == [3, 2]


def test_action_prefix_is_literal_and_case_sensitive(busy: Platform) -> None:
    assert seqs(busy, "--action", "_") == []
    assert seqs(busy, "--action", "%") == []
    assert seqs(busy, "--action", "OPERATOR.") == []


def test_subject_filter_matches_the_subject_exactly(platform: Platform) -> None:
    operate(platform, "query", subject="91210000MA0TEST01X")
    operate(platform, "query", subject="91210000MA0TEST02X")
    rows = shown(platform, "--subject", "91210000MA0TEST01X")
    assert [(r["seq"], r["subject"]) for r in rows] == [(2, "91210000MA0TEST01X")]
    assert seqs(platform, "--subject", "91210000MA0TEST0") == []


def test_filters_combine(busy: Platform) -> None:
    assert seqs(busy, "--operator", "admin", "--action", "operator.", "--limit", "1") == [6]


@pytest.fixture
def around_midnight(platform: Platform) -> Platform:
    """seq 2 at 23:59:59 and seq 3 at 00:00:00 Asia/Shanghai, either side of 2021-03-02 starting."""
    operate(platform, "query", at=dt.datetime(2021, 3, 1, 15, 59, 59, tzinfo=dt.UTC))
    operate(platform, "query", at=dt.datetime(2021, 3, 1, 16, 0, 0, tzinfo=dt.UTC))
    return platform


def test_since_and_until_are_asia_shanghai_days_both_inclusive(around_midnight: Platform) -> None:
    p = around_midnight
    assert seqs(p, "--since", "2021-03-02", "--until", "2021-03-02") == [3]
    assert seqs(p, "--since", "2021-03-01", "--until", "2021-03-01") == [2]
    assert seqs(p, "--until", "2021-03-02") == [3, 2]
    assert seqs(p, "--since", "2021-03-02", "--action", "query") == [3]
    assert seqs(p, "--since", "2021-03-03", "--until", "2021-12-31") == []


def test_the_first_and_last_days_of_the_calendar_bound_nothing_rather_than_crash(around_midnight: Platform) -> None:
    """0001-01-01 begins, and 9999-12-31 ends, at an instant outside the calendar in UTC: no bound, not a traceback."""
    p = around_midnight
    assert seqs(p, "--since", "0001-01-01") == [3, 2, 1]
    assert seqs(p, "--until", "9999-12-31") == [3, 2, 1]
    assert seqs(p, "--since", "0001-01-01", "--until", "0001-01-01") == []
    assert seqs(p, "--since", "9999-12-31", "--until", "9999-12-31") == []
    assert seqs(p, "--since", "0001-01-02", "--until", "2021-03-01") == [2]


def test_the_table_shows_times_in_asia_shanghai(around_midnight: Platform) -> None:
    r = around_midnight.run("audit", "log", "--until", "2021-03-02", key=None)
    assert r.exit_code == 0, r.output
    assert "2021-03-02 00:00:00" in r.stdout and "2021-03-01 23:59:59" in r.stdout
    assert "2 operations shown" in r.stderr


def test_csv_output_has_every_column(busy: Platform) -> None:
    r = busy.run("--format", "csv", "audit", "log", "--limit", "1", key=None)
    header, row = r.stdout.splitlines()
    assert header == "seq,at,operator,key_id,command,action,subject,reason,summary"
    assert row.startswith("6,") and '"{""operator"": ""scjg-01""}"' in row


@pytest.mark.parametrize(("args", "needle"), [
    (["--since", "2021-02-30"], "--since"),
    (["--until", "yesterday"], "--until"),
    (["--limit", "0"], "--limit"),
    (["--limit", "many"], "--limit"),
])
def test_malformed_options_are_usage_errors_naming_the_option(platform: Platform, args, needle) -> None:
    r = platform.run("audit", "log", *args, key=None)
    assert r.exit_code == 2 and needle in r.stderr


def test_since_after_until_is_a_usage_error(platform: Platform) -> None:
    r = platform.run("audit", "log", "--since", "2021-03-02", "--until", "2021-03-01", key=None)
    assert r.exit_code == 2
    assert "--since 2021-03-02 is after --until 2021-03-01" in r.stderr


def test_the_log_is_read_without_a_key(platform: Platform) -> None:
    r = platform.run("audit", "log", key=None)
    assert r.exit_code == 0 and "db.init" in r.stdout
