"""The README's first quick-start command: the end-to-end walkthrough runs clean on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WALKTHROUGH = Path(__file__).resolve().parents[1] / "samples" / "walkthrough.sh"


def test_walkthrough_runs_end_to_end_on_the_sqlite_default(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("LYCREDIT_DATABASE_URL", None)
    r = subprocess.run(["sh", str(WALKTHROUGH)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "walkthrough-out" / "lycredit.db").exists()
    assert "0 problems" in r.stderr
