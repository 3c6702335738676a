"""Cron runs many short commands: help and ``db status`` import only what they need."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pyarrow", "sqlmodel", "pydantic", "rich", "alembic", "cryptography", "tabulate")


def _imported(args: list[str], cwd) -> set[str]:
    code = (
        "import sys\nfrom lycredit.commands.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('MODULES:' + ','.join(m for m in {HEAVY + ('sqlalchemy',)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd)
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("MODULES:"), out.stdout[-500:]
    return set(filter(None, line.removeprefix("MODULES:").split(",")))


@pytest.mark.parametrize("args", [["--help"], ["db", "--help"], ["operator", "--help"], ["key", "--help"]])
def test_help_imports_no_database_or_heavy_module(args, tmp_path) -> None:
    assert _imported(args, tmp_path) == set()


def test_db_status_imports_no_orm_and_no_pyarrow(tmp_path) -> None:
    # it needs SQLAlchemy's core and tabulate for its table, nothing more
    assert _imported(["db", "status"], tmp_path) & (set(HEAVY) - {"tabulate"}) == set()
