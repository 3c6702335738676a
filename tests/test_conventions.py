"""CLI conventions: exit codes, dry runs, the run lock, output formats, --as-of."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa

from lycredit.errors import ExitCode
from tests.conftest import invoke


def _counts(platform) -> tuple[int, int]:
    with platform.engine().connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM operator")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM oplog_entry")).scalar())


def test_dry_run_leaves_no_trace(platform) -> None:
    before = _counts(platform)
    key = platform.dir / "d.key"
    public = invoke(["key", "generate", "--out", str(key)]).stdout.strip()
    from tests.conftest import PROVIDER_UNIT

    r = platform.run("operator", "add", "dry-1", "--role", "provider", "--unit-code", PROVIDER_UNIT,
                     "--unit-name", "某局", "--public-key", public, "--dry-run")
    assert r.exit_code == 0 and "Dry run" in r.stderr
    assert _counts(platform) == before


def test_two_processes_racing_for_the_run_lock_the_second_exits_75(platform) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from lycredit.database import make_engine
            from lycredit.runlock import run_lock
            with run_lock(make_engine({platform.url!r}), "db-upgrade"):
                print("held", flush=True)
                time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "lycredit", "--db", platform.url, "db", "upgrade"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 75, second.stderr
        assert "holds the lock" in second.stderr
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)
    third = subprocess.run([sys.executable, "-m", "lycredit", "--db", platform.url, "db", "upgrade"],
                           capture_output=True, text=True, timeout=60)
    assert third.returncode == 0, "a killed holder must not leave the lock behind: " + third.stderr


def test_every_exit_code_is_reachable_from_a_real_command(platform, tmp_path) -> None:
    seen = {ExitCode.OK: platform.run("operator", "list", key=None).exit_code,
            ExitCode.USAGE: platform.run("operator", "frobnicate", key=None).exit_code,
            ExitCode.DATA_ERROR: platform.run("operator", "revoke", "nobody", "--reason", "x").exit_code,
            ExitCode.NO_INPUT: platform.run("operator", "revoke", "x", "--reason", "x",
                                            key=str(tmp_path / "missing.key")).exit_code,
            ExitCode.UNAVAILABLE: invoke(["--db", "postgresql://nobody@127.0.0.1:1/none", "operator",
                                          "list"]).exit_code,
            ExitCode.CONFIG: invoke(["--db", f"sqlite:///{tmp_path / 'none.db'}", "operator", "list"]).exit_code}
    platform.add_operator("aud-1", "auditor")
    seen[ExitCode.PERMISSION_DENIED] = platform.run("operator", "revoke", "admin", "--reason", "x",
                                                    key="aud-1").exit_code
    for code, got in seen.items():
        assert got == code, f"expected {code.name}={int(code)}, got {got}"
    # 1 (findings) and 75 (lock) are exercised by the audit-verify and run-lock tests.


def test_output_formats_are_parseable(platform) -> None:
    assert json.loads(platform.run("--format", "json", "operator", "list", key=None).stdout)[0]["name"] == "admin"
    ndjson = platform.run("--format", "ndjson", "operator", "list", key=None).stdout.strip().splitlines()
    assert json.loads(ndjson[0])["role"] == "admin"
    csv_out = platform.run("--format", "csv", "--bom", "operator", "list", key=None).stdout
    assert csv_out.startswith("\ufeffname,role,unit")
    table = platform.run("operator", "list", key=None).stdout
    assert "admin" in table and "凌源市发展和改革局" in table


def test_messages_go_to_stderr_and_data_to_stdout(platform) -> None:
    r = platform.run("--format", "json", "operator", "list", key=None)
    json.loads(r.stdout)
    assert r.stderr == ""
    quiet = platform.add_operator("q-1", "operator")
    assert quiet.exists()


def test_a_malformed_as_of_is_a_usage_error(platform) -> None:
    r = invoke(["--as-of", "27/11/2026", "--db", platform.url, "db", "status"])
    assert r.exit_code == 2 and "27/11/2026" in r.stderr
    assert invoke(["--as-of", "2026-11-27", "--db", platform.url, "db", "status"]).exit_code == 0


def test_csv_for_excel_guards_texts_that_start_like_a_formula_but_not_numbers() -> None:
    """--bom CSV is for Excel: a text such as =1+2 or -1.5 gets an apostrophe (CSV injection); a number stays a
    number, and CSV without a BOM (for scripts) keeps every value as it is."""
    import csv
    import io

    from lycredit.output import render_rows

    rows = [{"number": -1.5, "count": -3, "text": "-1.5", "formula": "=HYPERLINK(\"x\")", "at": "@SUM(1)",
             "plain": "凌源市", "tab": "\tx"}]
    for bom, expected in ((True, ["-1.5", "-3", "'-1.5", "'=HYPERLINK(\"x\")", "'@SUM(1)", "凌源市", "'\tx"]),
                          (False, ["-1.5", "-3", "-1.5", "=HYPERLINK(\"x\")", "@SUM(1)", "凌源市", "\tx"])):
        out = io.StringIO()
        render_rows(rows, "csv", stream=out, bom=bom)
        header, values = list(csv.reader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
        assert header == list(rows[0]) and values == expected


def test_an_escape_sequence_from_an_input_file_reaches_the_terminal_only_as_text(platform, tmp_path) -> None:
    # On a terminal click does not strip escape sequences (color=True is what a terminal gets): a column
    # name quoted in an error must not recolour, clear or retitle the operator's terminal.
    from click.testing import CliRunner

    from lycredit.commands.main import cli

    path = tmp_path / "subjects.csv"
    path.write_text('名称,统一社会信用代码,"\x1b]0;owned\x07\x1b[2J备\r注"\n甲,91211382MA0Y8C1K08,x\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", platform.url, "--key", str(platform.admin_key), "subject", "import",
                                 str(path)], color=True, catch_exceptions=False)
    assert r.exit_code == 65
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "\r" not in r.stderr
    assert "column \\x1b]0;owned\\x07\\x1b[2J备\\x0d注: unknown column" in r.stderr


def test_output_whose_reader_stops_early_ends_the_command_with_141_and_no_message(platform) -> None:
    """``lycredit ... | head``: the reader of stdout goes away; the command ends as a program SIGPIPE ends does
    (128 + 13), not with 1, which means findings, and without a traceback or 'Exception ignored' on stderr."""
    import fcntl
    import os

    if platform.backend != "sqlite":
        import pytest

        pytest.skip("the output's plumbing is the same on both backends")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: a one-page pipe, which a year's calendar overflows
    child = subprocess.Popen([sys.executable, "-m", "lycredit", "--db", platform.url, "calendar", "show", "2026"],
                             stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read(200)  # what head -1 takes; then the pipe is closed
    code = child.wait(timeout=60)
    error = child.stderr.read()
    child.stderr.close()
    assert (code, error) == (ExitCode.OUTPUT_CLOSED, b""), error.decode(errors="replace")
