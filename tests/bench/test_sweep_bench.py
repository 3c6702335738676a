"""Expiry sweep at scale (Art. 15): at most 3 × a plain SQL UPDATE of the same rows; an idle sweep under 2 s.

Run by hand: ``pytest -m bench tests/bench/test_sweep_bench.py -s`` (``LYCREDIT_BENCH_ROWS``, default
1 000 000, makes the database smaller; ``LYCREDIT_BENCH_RUNS``, default 3, sets the repetitions).

The database is built once on SQLite: an initialised platform, a catalog, 1 000 subjects, and synthetic
双公示 administrative-penalty records (the 21 national fields, about 1 KB a row) written with
``executemany`` in batches of 50 000, each batch one signed operation with its change leaves, as a bulk
import writes them. About 10 % of the records are due, scattered over the table as records of different
items and act dates are. Then, alternately on fresh copies of the file, the baseline
(one ``UPDATE record SET status = 'archived', archived_on = ...`` over the same rows, and its commit) and
the sweep (``sweep_expiry`` in a unit of work: reading, hashing, updating and logging, and its commit)
are timed; the best of the runs of each is compared. The idle sweep is a second sweep right after one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lycredit.database import make_engine
from lycredit.keys import load_private_key
from lycredit.models import CatalogItem, CatalogVersion, Record, Subject
from lycredit.models.base import row_values, utcnow
from lycredit.operators import signer_for
from lycredit.oplog.log import Signer, UnitOfWork, row_hash
from lycredit.periods import add_years
from lycredit.sweep import sweep_expiry
from tests.conftest import PASSPHRASE, PROVIDER_UNIT, TEST_ENV, _init_platform, valid_uscc

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("LYCREDIT_BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("LYCREDIT_BENCH_RUNS", "3"))
BATCH = 50_000
DUE_SHARE = 0.10
AS_OF = date(2026, 11, 28)
RATIO_LIMIT = 3.0
IDLE_LIMIT_S = 2.0
BASELINE_SQL = ("UPDATE record SET status = 'archived', archived_on = date(disclosure_until, '+1 day') "
                "WHERE status = 'active' AND disclosure_until < '{as_of}'")


@dataclass(frozen=True)
class Built:
    path: Path
    key: Path
    due: int


def _seed_catalog(uow: UnitOfWork) -> tuple[list[dict], list[int]]:
    version = uow.insert(CatalogVersion.__table__, {
        "version": "bench", "effective_from": date(2015, 1, 1), "source_name": "bench.csv",
        "source_sha256": "0" * 64, "imported_at": utcnow()})
    items = [uow.insert(CatalogItem.__table__, {
        "version_id": version["id"], "code": f"ITEM{i}", "name": f"事项 {i}", "provider_uscc": PROVIDER_UNIT,
        "provider_name": "市市场监督管理局", "category": "administrative_penalty", "disclosure": "public",
        "validity_months": 60 if i else 36, "dishonesty": i != 3, "severity": "normal"}) for i in range(4)]
    subjects = [uow.insert(Subject.__table__, {
        "kind": "legal_person", "name": f"凌源市某某{i}有限公司", "uscc": valid_uscc(f"91211382MA{i:07d}"),
        "created_at": utcnow()})["id"] for i in range(1000)]
    return items, subjects


def _fields(record_id: int, act: date) -> str:
    """A 双公示 administrative-penalty record's fields, as intake stores them (compact JSON, keys sorted)."""
    decided = act.isoformat()
    values = {
        "行政相对人名称": f"凌源市鑫源商贸有限公司（{record_id % 997}）", "行政相对人类别": "法人及非法人组织",
        "统一社会信用代码": "91211382MA0XYZ1234", "法定代表人": "王伟", "行政处罚决定书文号": f"凌市监罚〔{act.year}〕{record_id}号",
        "违法行为类型": "销售不符合食品安全标准的食品",
        "违法事实": f"经查，当事人于{act.month}月{act.day}日销售不符合食品安全标准的食品，涉及商品{record_id % 90 + 2}件，"
                    "事实清楚、证据确凿。",
        "处罚依据": "《中华人民共和国食品安全法》第一百二十四条第一款", "处罚类别": "罚款", "处罚内容": "罚款1.5万元",
        "罚款金额（万元）": "1.5", "没收违法所得、没收非法财物的金额（万元）": "", "暂扣或吊销证照名称及编号": "",
        "处罚决定日期": decided, "处罚有效期": decided, "公示截止期": "", "处罚机关": "凌源市市场监督管理局",
        "处罚机关统一社会信用代码": PROVIDER_UNIT, "数据来源单位": "凌源市市场监督管理局",
        "数据来源单位统一社会信用代码": PROVIDER_UNIT, "备注": "",
    }
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _records(start: int, stop: int, items: list[dict], subjects: list[int], rng: random.Random) -> Iterator[dict]:
    submitted_at = utcnow()
    for record_id in range(start, stop):
        due = rng.random() < DUE_SHARE
        until = AS_OF - timedelta(days=rng.randint(1, 400)) if due else AS_OF + timedelta(days=rng.randint(0, 1500))
        act = add_years(until, -5)
        item = items[record_id % len(items)]
        yield {"id": record_id, "provider_uscc": PROVIDER_UNIT, "item_code": item["code"],
               "document_no": f"凌市监罚〔{act.year}〕{record_id}号", "catalog_item_id": item["id"],
               "subject_id": subjects[record_id % len(subjects)], "decision_date": act, "concluded_on": act,
               "act_ended_on": act, "publicity_until": None, "disclosure_until": until,
               "fields": _fields(record_id, act), "status": "active", "revision": 1,
               "due_date": act + timedelta(days=9), "due_guessed": False, "late_days": 0,
               "submitted_at": submitted_at, "submitted_by": "admin", "import_run_id": None, "archived_on": None}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    directory = tmp_path_factory.mktemp("sweep-bench")
    path = directory / "lycredit.db"
    with pytest.MonkeyPatch.context() as env:  # the suite's environment; its autouse fixture is per test
        for name, value in TEST_ENV.items():
            if value:
                env.setenv(name, value)
            else:
                env.delenv(name, raising=False)
        key = _init_platform(f"sqlite:///{path}", directory)
    engine = make_engine(f"sqlite:///{path}")
    private_key = load_private_key(key, PASSPHRASE)
    table = Record.__table__
    rng = random.Random(15)
    started = time.perf_counter()
    with engine.begin() as conn:
        signer = signer_for(conn, private_key)
        uow = UnitOfWork(conn, signer, command="bench seed", action="bench.seed")
        items, subjects = _seed_catalog(uow)
        uow.close()
    for start in range(1, ROWS + 1, BATCH):
        rows = list(_records(start, min(start + BATCH, ROWS + 1), items, subjects, rng))
        with engine.begin() as conn:
            uow = UnitOfWork(conn, signer, command="bench seed", action="bench.seed")
            conn.execute(sa.insert(table), rows)
            uow.record_changes(table.name, ((str(r["id"]), None, row_hash(table.name, row_values(table, r)))
                                            for r in rows))
            uow.close()
    with engine.connect() as conn:
        due = conn.execute(sa.select(sa.func.count()).where(table.c.disclosure_until < AS_OF)).scalar()
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as db:  # fold the WAL into the file that is copied
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"\nbuilt {ROWS} records ({due} due) in {time.perf_counter() - started:.0f} s")
    return Built(path, key, due)


def _copy(built: Built, name: str) -> Path:
    target = built.path.with_name(name)
    for stale in target.parent.glob(name + "*"):
        stale.unlink()
    shutil.copyfile(built.path, target)
    return target


def _baseline(built: Built) -> float:
    engine = make_engine(f"sqlite:///{_copy(built, 'baseline.db')}")
    started = time.perf_counter()
    with engine.begin() as conn:
        archived = conn.exec_driver_sql(BASELINE_SQL.format(as_of=AS_OF.isoformat())).rowcount
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert archived == built.due
    return elapsed


def _sweep(engine: sa.Engine, signer: Signer) -> tuple[float, int]:
    started = time.perf_counter()
    with engine.begin() as conn:
        uow = UnitOfWork(conn, signer, command="sweep expiry", action="sweep.expiry")
        result = sweep_expiry(uow, AS_OF)
        uow.close()
    return time.perf_counter() - started, result.archived


def _sweeps(built: Built) -> tuple[float, float]:
    engine = make_engine(f"sqlite:///{_copy(built, 'sweep.db')}")
    with engine.connect() as conn:
        signer = signer_for(conn, load_private_key(built.key, PASSPHRASE))
    first, archived = _sweep(engine, signer)
    idle, again = _sweep(engine, signer)
    engine.dispose()
    assert (archived, again) == (built.due, 0)
    return first, idle


def test_sweep_costs_at_most_three_plain_updates_and_an_idle_sweep_under_two_seconds(built: Built) -> None:
    baselines, sweeps, idles = [], [], []
    for _ in range(RUNS):
        baselines.append(_baseline(built))
        first, idle = _sweeps(built)
        sweeps.append(first)
        idles.append(idle)
    baseline, swept, idle = min(baselines), min(sweeps), min(idles)
    print(f"\n{ROWS} records, {built.due} due: plain UPDATE {baseline:.2f} s, sweep {swept:.2f} s "
          f"(ratio {swept / baseline:.2f}), idle sweep {idle:.2f} s; "
          f"runs: UPDATE {[round(b, 2) for b in baselines]}, sweep {[round(s, 2) for s in sweeps]}, "
          f"idle {[round(i, 2) for i in idles]}")
    with contextlib.closing(sqlite3.connect(built.path.with_name("sweep.db"))) as db:
        assert db.execute("SELECT count(*) FROM record WHERE status = 'archived'").fetchone()[0] == built.due
    assert swept <= RATIO_LIMIT * baseline
    assert idle < IDLE_LIMIT_S
