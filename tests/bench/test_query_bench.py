"""Query speed: ``lycredit query`` of one subject against ``lycredit --help``, measured in the same run.

Run by hand: ``pytest -m bench tests/bench/test_query_bench.py -s``. Four
programs are timed alternately (best of N wall times each), so that the noise
of a shared machine hits them alike, on the embedded SQLite database of the
disclosure tests' world:

* ``lycredit --help``: the baseline (Python, click and the command table);
* ``python -c "import sqlalchemy"``: what any command that opens the database
  pays before it reads a row;
* a public query of an organisation: no operator, not logged; SQLAlchemy core
  only, no ORM models, two indexed reads;
* a real-name (``--self``) query: also loads the ORM models, decrypts the
  operator's key, signs and appends the operation to the log.

The ratios to ``--help`` are printed against the target :data:`HELP_TARGET`,
which a query through SQLAlchemy cannot meet: importing SQLAlchemy alone takes
several times as long as ``--help``. The bench first asserts that a query
costs little beyond opening the database (a public query at most
:data:`PUBLIC_LIMIT` and a logged query at most :data:`LOGGED_LIMIT` times
``--help`` + ``import sqlalchemy``), then the target itself, which fails
until queries get a data path without SQLAlchemy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_disclosure import AS_OF_TEXT, COMPANY, PERSON, build_world

pytestmark = pytest.mark.bench
RUNS = 9
HELP_TARGET = 1.5
"""The issue's target for a query, as a multiple of ``lycredit --help`` (asserted last; not met yet)."""
PUBLIC_LIMIT = 1.5
"""A public query, as a multiple of ``--help`` plus the import of SQLAlchemy."""
LOGGED_LIMIT = 3.0
"""A logged query, as a multiple of ``--help`` plus the import of SQLAlchemy."""


def _lycredit() -> str:
    found = shutil.which("lycredit") or str(Path(sys.executable).parent / "lycredit")
    if not Path(found).exists():
        pytest.fail("lycredit is not installed (pip install -e '.[test]')")
    return found


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def test_query_of_one_subject_against_help(platform) -> None:
    if platform.backend != "sqlite":
        pytest.skip("measured on the embedded default database")
    world = build_world(platform)
    exe = _lycredit()
    base = [exe, "--db", platform.url, "--as-of", AS_OF_TEXT, "--format", "json", "query"]
    commands = {
        "help": [exe, "--help"],
        "sqlalchemy": [sys.executable, "-c", "import sqlalchemy"],
        "public": [*base, COMPANY, "--purpose", "基准测试"],
        "self": [
            exe,
            "--key",
            str(world.platform.keys["scjg-01"]),
            *base[1:],
            PERSON,
            "--purpose",
            "基准测试",
            "--self",
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
    best = {name: min(values) for name, values in times.items()}
    opened = best["help"] + best["sqlalchemy"]
    ms = {name: f"{value * 1000:.0f} ms" for name, value in best.items()}
    print(
        f"\nlycredit --help {ms['help']}, import sqlalchemy {ms['sqlalchemy']}; "
        f"public query {ms['public']} ({best['public'] / best['help']:.2f}x --help, "
        f"{best['public'] / opened:.2f}x --help+sqlalchemy); logged --self query {ms['self']} "
        f"({best['self'] / best['help']:.2f}x --help, {best['self'] / opened:.2f}x --help+sqlalchemy); "
        f"target {HELP_TARGET}x --help"
    )
    assert best["public"] <= PUBLIC_LIMIT * opened, "a public query costs more than opening the database"
    assert best["self"] <= LOGGED_LIMIT * opened, (
        "a logged query costs more than opening the database and signing"
    )
    # The issue's own target. Not met yet (see the README): it needs a data path without SQLAlchemy.
    assert best["public"] <= HELP_TARGET * best["help"], "public query over 1.5 x lycredit --help"
    assert best["self"] <= HELP_TARGET * best["help"], "logged query over 1.5 x lycredit --help"
