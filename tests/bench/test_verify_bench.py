"""``audit verify`` speed: at most 3 times reading every data row and SHA-256-hashing it (issue: signed log).

Run by hand, after the import benchmark's file generator (same data: a one-million-row 双公示
penalty file imported in bulk; try it small first):

    LYCREDIT_BENCH_ROWS=100000 python -m pytest -m bench tests/bench/test_verify_bench.py -s

Measured in one run on one database: (a) the baseline, a process that reads every row of every
table ``audit verify`` checks and SHA-256-hashes each row's text; (b) ``lycredit audit verify`` of
the whole database: every entry re-canonicalised and hashed, every operation's signature checked,
the tree rebuilt, the log replayed and compared with every row. (b) ≤ 3 × (a).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.bench.test_record_import_bench import ROWS, _import, _measure, _platform, penalty_file, workdir  # noqa: F401

pytestmark = pytest.mark.bench

BASELINE = textwrap.dedent("""
    import hashlib, sqlite3, sys
    conn = sqlite3.connect(sys.argv[1])
    rows = 0
    for name in sys.argv[2].split(","):
        for row in conn.execute(f"SELECT * FROM {name}"):
            hashlib.sha256(repr(row).encode()).digest()
            rows += 1
    print(rows)
""")


def test_audit_verify_is_within_3_times_reading_and_hashing_every_row(
        penalty_file: Path, workdir: Path) -> None:  # noqa: F811 (fixtures shared with the import benchmark)
    url = f"sqlite:///{workdir / 'verify.db'}"
    key = _platform(url, workdir)
    imported = _import(url, key, penalty_file, workdir / "rejects-verify.csv")
    from lycredit.models import LOGGED_TABLES

    baseline = _measure(sys.executable, "-c", BASELINE, str(workdir / "verify.db"), ",".join(sorted(LOGGED_TABLES)))
    verify = _measure(sys.executable, "-m", "lycredit", "--db", url, "--format", "json", "audit", "verify")
    a, b = baseline["seconds"], verify["seconds"]
    print(f"\n{ROWS} rows imported ({imported['summary']['accepted']} accepted), {baseline['stdout'].strip()} data rows:"
          f" baseline read+SHA-256 {a:.1f} s; audit verify {b:.1f} s ({b / a:.2f} x);"
          f" peak {verify['peak'] / 2**20:.0f} MB")
    assert b <= 3 * a
