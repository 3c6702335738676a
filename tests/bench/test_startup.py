"""Start-up speed: ``lycredit --help`` must take at most 1.0 times ``sqlite-utils --help``.

Run by hand: ``pytest -m bench tests/bench/test_startup.py -s``. Both programs
are timed alternately in the same run (best of N wall times each) so that the
noise of a shared machine hits both alike; the ratio is printed and asserted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench
RUNS = 15


def _best(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def _bin(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


def _measure(ours: list[str], theirs: list[str]) -> tuple[float, float]:
    a, b = [], []
    for _ in range(RUNS):
        a.append(_best(ours))
        b.append(_best(theirs))
    return min(a), min(b)


def test_help_starts_no_slower_than_sqlite_utils() -> None:
    ours, theirs = _measure([_bin("lycredit"), "--help"], [_bin("sqlite-utils"), "--help"])
    print(f"\nlycredit --help {ours*1000:.0f} ms, sqlite-utils --help {theirs*1000:.0f} ms, ratio {ours/theirs:.2f}")
    assert ours <= 1.0 * theirs
