"""Every command that reads a file refuses a directory or an unreadable file as it refuses a missing one: exit 66
(EX_NOINPUT) with a message naming the path, never click's usage error (exit 2) or a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ADMIN_UNIT, invoke
from tests.test_records import MARKET

#: name -> (suffix of the file, the command line with {path} for the file)
COMMANDS = {
    "record import": (".csv", ["record", "import", "{path}", "--layout", "penalty"]),
    "record import, no suffix": ("", ["record", "import", "{path}", "--layout", "penalty"]),
    "record submit --json": (".json", ["record", "submit", "--json", "{path}"]),
    "catalog import": (".xlsx", ["catalog", "import", "{path}", "--version", "2027", "--effective", "2027-01-01"]),
    "subject import": (".parquet", ["subject", "import", "{path}"]),
    "calendar import": (".csv", ["calendar", "import", "{path}"]),
    "authorization add --document": (".pdf", ["authorization", "add", MARKET, "--grantee", MARKET, "--scope", "query",
                                              "--from", "2026-01-01", "--until", "2026-12-31", "--document-ref",
                                              "SQ-1", "--document", "{path}"]),
    "--key": (".key", ["--key", "{path}", "subject", "add", MARKET, "--name", "凌源市示例商贸有限公司"]),
}


def _run(platform, name: str, path: Path):
    _suffix, args = COMMANDS[name]
    if name == "authorization add --document":
        assert platform.run("subject", "add", MARKET, "--name", "凌源市示例商贸有限公司").exit_code == 0
    key = None if name == "--key" else "admin"
    return platform.run(*(str(path) if arg == "{path}" else arg for arg in args), key=key)


def _content(path: Path) -> Path:
    """A real file of the command's kind (what it holds does not matter: it is refused before it is read)."""
    if path.suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        workbook.active.append(["事项编码"])
        workbook.save(path)
    elif path.suffix == ".parquet":
        pq.write_table(pa.table({"名称": ["x"]}), path)
    else:
        path.write_text("{}\n" if path.suffix == ".json" else "a\n1\n", encoding="utf-8")
    return path


def _unreadable(path: Path) -> Path:
    os.chmod(path, 0)
    try:
        path.open("rb").close()
    except PermissionError:
        return path
    pytest.skip("this process reads a file of mode 000 (root)")


def _refused_as_input(result, path: Path, problem: str) -> None:
    assert result.exit_code == 66, result.output
    assert str(path) in result.stderr and problem in result.stderr, result.stderr
    assert "Usage:" not in result.stderr and "Invalid value" not in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_directory_given_for_an_input_file_exits_66_naming_it(platform, tmp_path, name) -> None:
    path = tmp_path / f"input{COMMANDS[name][0]}"
    path.mkdir()
    _refused_as_input(_run(platform, name, path), path, "is a directory")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_unreadable_input_file_exits_66_naming_it(platform, tmp_path, name) -> None:
    path = _unreadable(_content(tmp_path / f"input{COMMANDS[name][0]}"))
    _refused_as_input(_run(platform, name, path), path, "Permission denied")



@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("name", [name for name in COMMANDS if name != "--key"])  # --key <(...) is a pipe on purpose
def test_a_fifo_or_device_given_for_an_input_file_exits_66_without_reading_it(platform, tmp_path, name, kind) -> None:
    # calendar import opened the path as it was: a FIFO nobody writes to hung it for ever (a cron job stuck), and
    # /dev/null was read as an empty schedule (65), where every other import refuses what is not a file (66).
    import contextlib
    import threading

    if kind == "device":
        _refused_as_input(_run(platform, name, Path("/dev/null")), Path("/dev/null"), "is not a file")
        return
    fifo = tmp_path / f"input{COMMANDS[name][0]}"
    os.mkfifo(fifo)

    def writer() -> None:  # only if the command opens the FIFO: then it reads a small file instead of hanging
        with contextlib.suppress(BrokenPipeError), fifo.open("w", encoding="utf-8") as out:
            out.write("a\n1\n")  # BrokenPipeError: released below, by a reader that reads nothing

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        _refused_as_input(_run(platform, name, fifo), fifo, "is not a file")
    finally:  # release the writer, which still waits for a reader
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(5)

@pytest.mark.parametrize("kind", ["directory", "unreadable"])
def test_db_init_refuses_an_admin_key_path_it_cannot_read_before_asking_anything(tmp_path, kind) -> None:
    key = tmp_path / "admin.key"
    if kind == "directory":
        key.mkdir()
    else:
        _unreadable(_content(key))
    r = invoke(["--db", f"sqlite:///{tmp_path / 'new.db'}", "db", "init", "--admin", "admin", "--admin-key",
                str(key), "--unit-code", ADMIN_UNIT, "--unit-name", "凌源市发展和改革局"])
    _refused_as_input(r, key, "is a directory" if kind == "directory" else "Permission denied")
    assert not (tmp_path / "new.db").exists()


def test_a_config_file_that_is_a_directory_is_named_as_one(tmp_path) -> None:
    (tmp_path / "lycredit.toml").mkdir()
    r = invoke(["--config", str(tmp_path / "lycredit.toml"), "db", "status"])
    assert r.exit_code == 78 and f"Config file {tmp_path / 'lycredit.toml'} is a directory" in r.stderr


def test_a_key_path_that_cannot_be_read_is_refused_without_asking_for_the_passphrase(platform, tmp_path) -> None:
    (tmp_path / "dir.key").mkdir()
    r = platform.run("--key", str(tmp_path / "dir.key"), "subject", "add", MARKET, "--name", "凌源市示例商贸有限公司",
                     key=None, env={"LYCREDIT_KEY_PASSPHRASE": None})
    _refused_as_input(r, tmp_path / "dir.key", "is a directory")


# --- an input directory: audit verify --anchor DIR -------------------------------------------------------------


def _verify_anchors(platform, path: Path):
    return platform.run("audit", "verify", "--anchor", str(path), key=None)


def _anchor_dir(platform, tmp_path: Path) -> tuple[Path, Path]:
    """A directory holding the latest checkpoint, and that anchor file."""
    r = platform.run("audit", "anchor", "--out", str(tmp_path / "anchors"), key=None)
    assert r.exit_code == 0, r.output
    return tmp_path / "anchors", Path(r.stdout.strip())


@pytest.mark.parametrize("kind, problem", [("missing", "no such directory"), ("a file", "is a file, not a directory"),
                                           ("below a file", "no such directory")])
def test_an_anchor_directory_that_is_missing_or_a_file_exits_66_naming_it(platform, tmp_path, kind, problem) -> None:
    path = tmp_path / "anchors"
    if kind == "a file":
        path.write_text("checkpoint\n", encoding="utf-8")
    elif kind == "below a file":
        (tmp_path / "file").write_text("x\n", encoding="utf-8")
        path = tmp_path / "file" / "anchors"
    r = _verify_anchors(platform, path)
    _refused_as_input(r, path, problem)
    assert r.stdout == "" and "anchors checked" not in r.stderr  # refused before anything is verified


def test_an_anchor_that_is_a_directory_exits_66_naming_it(platform, tmp_path) -> None:
    anchors, _anchor = _anchor_dir(platform, tmp_path)
    (anchors / "checkpoint-000000000099.txt").mkdir()
    _refused_as_input(_verify_anchors(platform, anchors), anchors / "checkpoint-000000000099.txt", "is a directory")


def test_an_anchor_directory_or_anchor_that_cannot_be_read_exits_66_naming_it(platform, tmp_path) -> None:
    anchors, anchor = _anchor_dir(platform, tmp_path)
    assert _verify_anchors(platform, anchors).exit_code == 0
    _unreadable(anchor)  # the anchor file (skips as root)
    _refused_as_input(_verify_anchors(platform, anchors), anchor, "Permission denied")
    # audit anchor compares the checkpoint with the file of its name: one it cannot read is an input it cannot read
    _refused_as_input(platform.run("audit", "anchor", "--out", str(anchors), key=None), anchor, "Permission denied")
    os.chmod(anchors, 0o300)  # a directory that cannot be listed: glob would quietly find no anchor in it
    try:
        _refused_as_input(_verify_anchors(platform, anchors), anchors, "Permission denied")
    finally:
        os.chmod(anchors, 0o700)
