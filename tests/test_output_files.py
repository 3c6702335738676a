"""Every file lycredit writes (an output) fails the same way: a path that cannot be created or written (a directory
that does not exist on the way, a directory there, a full disk) exits 78 with a message naming it and the system's
reason, never click's usage error (2) or a traceback (1), and leaves nothing half-written.

The failures are real: a missing directory, a directory, ``/dev/full`` (every write fails with ENOSPC) and a
tmpfs filled to the last byte (mounted for the test; skipped where this process may not mount one).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import test_record_import
from tests.bench import gen_penalty
from tests.conftest import ADMIN_UNIT, invoke
from tests.test_record_import import rejects, run_import, summary
from tests.test_records import MARKET

FULL = "No space left on device"
platform_with_catalog = test_record_import.platform_with_catalog  # the fixture: a catalog and provider "market"


def _refused_as_output(result, path: Path, problem: str) -> None:
    assert result.exit_code == 78, result.output
    assert str(path) in result.stderr and problem in result.stderr, result.stderr
    assert "Usage:" not in result.stderr and "Traceback" not in result.output


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a file system with no byte left: files can be created, every write fails with ENOSPC."""
    with _tmpfs(tmp_path / "full", "64k") as where:
        with contextlib.suppress(OSError), (where / "filler").open("wb", buffering=0) as filler:
            while True:
                filler.write(b"\0" * 4096)
        yield where


def _left_on(full: Path) -> list[str]:
    return sorted(p.name for p in full.iterdir() if p.name != "filler")


# --- the commands that write one file --------------------------------------------------------------------------

def _subject(platform) -> None:
    r = platform.run("subject", "add", MARKET, "--name", "凌源市示例商贸有限公司")
    assert r.exit_code == 0, r.output


def _report_count(platform) -> int:
    with platform.engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM oplog_operation WHERE action = 'report'")).scalar()


def _import_done(platform) -> tuple[int, int]:
    with platform.engine().connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM record")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM import_run")).scalar())


#: name -> (suffix of the output, how to run the command writing to {path}, what must not have happened)
def _catalog_export(platform, path: Path):
    return platform.run("catalog", "export", "--version", "2026", "--out", str(path), key=None)


def _report_html(platform, path: Path):
    _subject(platform)
    return platform.run("--format", "json", "report", MARKET, "--html", str(path))


def _rejects(platform, path: Path):
    return run_import(platform, gen_penalty.write(platform.dir / "in.csv", 30, bad_percent=30), "--rejects", str(path))


def _key_out(platform, path: Path):
    return invoke(["key", "generate", "--out", str(path)])


def _key_pem(platform, path: Path):
    return invoke(["key", "generate", "--out", str(platform.dir / "new.key"), "--pem", str(path)])


COMMANDS = {
    "catalog export --out": (".csv", _catalog_export),
    "report --html": (".html", _report_html),
    "record import --rejects": (".csv", _rejects),
    "key generate --out": (".key", _key_out),
    "key generate --pem": (".pem", _key_pem),
}


def _nothing_done(platform, name: str) -> None:
    if name == "report --html":
        assert _report_count(platform) == 0, "a report that was not written is not logged as made"
    elif name == "record import --rejects":
        assert _import_done(platform) == (0, 0), "no batch committed"
    elif name == "key generate --pem":
        assert not (platform.dir / "new.key").exists(), "no private key left behind by a command that failed"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_output_file_in_a_directory_that_does_not_exist_exits_78_naming_it(platform_with_catalog, tmp_path,
                                                                                name) -> None:
    suffix, run = COMMANDS[name]
    path = tmp_path / "missing" / f"out{suffix}"
    _refused_as_output(run(platform_with_catalog, path), path, "cannot be written (No such file or directory)")
    assert not (tmp_path / "missing").exists()
    _nothing_done(platform_with_catalog, name)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_output_file_that_is_a_directory_exits_78_naming_it(platform_with_catalog, tmp_path, name) -> None:
    suffix, run = COMMANDS[name]
    path = tmp_path / f"out{suffix}"
    path.mkdir()
    problem = "already exists" if name == "key generate --out" else "cannot be written (Is a directory)"
    _refused_as_output(run(platform_with_catalog, path), path, problem)
    assert path.is_dir() and list(path.iterdir()) == []
    _nothing_done(platform_with_catalog, name)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_output_file_on_a_full_disk_exits_78_and_leaves_nothing_half_written(platform_with_catalog, full_disk,
                                                                                 name) -> None:
    suffix, run = COMMANDS[name]
    path = full_disk / f"out{suffix}"
    _refused_as_output(run(platform_with_catalog, path), path, f"cannot be written ({FULL})")
    assert _left_on(full_disk) == [], "no empty or partial file, no temporary file"
    _nothing_done(platform_with_catalog, name)


@pytest.mark.parametrize("name", ["report --html", "record import --rejects", "key generate --pem",
                                  "catalog export --out"])
def test_an_output_to_dev_full_exits_78_naming_it(platform_with_catalog, tmp_path, name) -> None:
    """/dev/full takes any file name; catalog export chooses its format by the suffix, so it writes through a link."""
    suffix, run = COMMANDS[name]
    path = Path("/dev/full")
    if name == "catalog export --out":
        path = tmp_path / f"out{suffix}"
        path.symlink_to("/dev/full")
    _refused_as_output(run(platform_with_catalog, path), path, f"cannot be written ({FULL})")
    assert Path("/dev/full").is_char_device()
    _nothing_done(platform_with_catalog, name)


def test_an_existing_output_file_is_kept_when_its_replacement_cannot_be_written(platform_with_catalog,
                                                                                 full_disk) -> None:
    """catalog export --out replaces a file: on a full disk the old one stays as it was, whole."""
    path = full_disk / "catalog.json"
    os.rename(full_disk / "filler", path)  # the old export is what fills the disk
    size = path.stat().st_size
    _refused_as_output(_catalog_export(platform_with_catalog, path), path, FULL)
    assert path.stat().st_size == size and sorted(p.name for p in full_disk.iterdir()) == ["catalog.json"]


def test_a_key_file_that_cannot_be_written_whole_is_not_left_for_db_init(tmp_path, full_disk) -> None:
    key = full_disk / "admin.key"
    r = invoke(["--db", f"sqlite:///{tmp_path / 'new.db'}", "db", "init", "--admin", "admin", "--admin-key",
                str(key), "--unit-code", ADMIN_UNIT, "--unit-name", "凌源市发展和改革局"])
    _refused_as_output(r, key, FULL)
    assert _left_on(full_disk) == [] and not (tmp_path / "new.db").exists()


# --- output directories: audit anchor and audit export ---------------------------------------------------------

@pytest.mark.parametrize("command", ["anchor", "export"])
def test_an_output_directory_on_a_full_disk_exits_78_and_leaves_nothing_half_written(platform, full_disk,
                                                                                      command) -> None:
    out = full_disk / "out"
    r = platform.run("audit", command, "--out", str(out), key=None)
    assert r.exit_code == 78, r.output
    assert str(out) in r.stderr and FULL in r.stderr and "Traceback" not in r.output, r.stderr
    assert r.stdout == ""
    assert _left_on(full_disk) == [], "no partial bundle or anchor, and no directory the export created"


def test_an_export_into_an_existing_empty_directory_on_a_full_disk_leaves_it_empty(platform, full_disk) -> None:
    out = full_disk / "out"
    out.mkdir()
    r = platform.run("audit", "export", "--out", str(out), key=None)
    assert r.exit_code == 78 and FULL in r.stderr, r.output
    assert out.is_dir() and list(out.iterdir()) == []


# --- a rejects file that fills up part-way through an import ---------------------------------------------------

def test_an_import_whose_rejects_file_fills_up_stops_with_78_and_resumes_with_nothing_lost(platform_with_catalog,
                                                                                            tmp_path) -> None:
    """The batch whose rejects could not be written does not commit; the rejects file is cut back to the committed
    batches (the length the run recorded), so --resume, once there is room, ends with every row once."""
    source = gen_penalty.write(tmp_path / "in.csv", 600, bad_percent=40)
    with _tmpfs(tmp_path / f"small-{uuid.uuid4().hex[:6]}", "16k") as small:
        out = small / "r.csv"
        r = run_import(platform_with_catalog, source, "--rejects", str(out), "--batch-size", "20")
        _refused_as_output(r, out, FULL)
        with platform_with_catalog.engine().connect() as conn:
            run = conn.execute(sa.text("SELECT status, rows_done, counts FROM import_run")).one()
            stored = conn.execute(sa.text("SELECT count(*) FROM record")).scalar()
        counts = json.loads(run.counts)
        assert run.status == "running" and 0 < run.rows_done < 601, "some batches committed, not all"
        assert stored == counts["accepted"]
        assert out.stat().st_size == counts["rejects_offset"], "the rejects file holds the committed batches' only"
        assert len({x["row"] for x in rejects(out)}) == counts["rejected"]
        assert [p.name for p in small.iterdir()] == ["r.csv"]
        subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True)
        done = summary(run_import(platform_with_catalog, source, "--resume"))
        assert done["read"] == 600 and done["accepted"] + done["rejected"] == 600
        lines = rejects(out)
        assert len({x["row"] for x in lines}) == done["rejected"]
        assert len({(x["row"], x["field"], x["rule"]) for x in lines}) == len(lines), "no reject written twice"
    with platform_with_catalog.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM record")).scalar() == done["accepted"]
    assert platform_with_catalog.run("audit", "verify", key=None).exit_code == 0


def test_an_input_that_cannot_be_read_is_still_66_not_an_output_error(platform_with_catalog, tmp_path) -> None:
    """Only the OSErrors of writes become 78: the import's own file, missing, stays 66."""
    r = run_import(platform_with_catalog, tmp_path / "nope.csv", "--rejects", "/dev/full")
    assert r.exit_code == 66 and "nope.csv" in r.stderr, r.output


def test_the_messages_are_translated(platform_with_catalog, tmp_path) -> None:
    r = platform_with_catalog.run("--lang", "zh", "catalog", "export", "--version", "2026", "--out",
                                  str(tmp_path / "missing" / "x.csv"), key=None)
    assert r.exit_code == 78 and "无法写入" in r.stderr, r.stderr



def test_an_anchor_whose_file_cannot_be_created_leaves_no_directory_it_made(platform, tmp_path) -> None:
    """A file system with no inode left after the anchor directory (mkdir takes the last one): the anchor file
    cannot be created (ENOSPC), and the directory the command made for it is removed too."""
    with _tmpfs(tmp_path / "few-inodes", "1m") as small:
        subprocess.run(["mount", "-o", "remount,nr_inodes=2", str(small)], check=True)
        out = small / "anchors"
        r = platform.run("audit", "anchor", "--out", str(out), key=None)
        assert r.exit_code == 78, r.output
        assert FULL in r.stderr and "Traceback" not in r.output, r.stderr
        assert list(small.iterdir()) == [], "no directory the anchor run created"


def test_a_replaced_output_keeps_its_permissions_and_a_link_to_it_is_written_through(platform_with_catalog,
                                                                                    tmp_path) -> None:
    """An output written again (a cron job's daily export) keeps the permissions the operator gave it, and a
    symbolic link at the output path (latest.json pointing at the dated file) stays a link to the new file."""
    exports = tmp_path / "exports"
    exports.mkdir()
    dated = exports / "catalog-2026.json"
    dated.write_text("old", encoding="utf-8")
    dated.chmod(0o640)
    latest = exports / "latest.json"
    latest.symlink_to(dated.name)
    r = _catalog_export(platform_with_catalog, latest)
    assert r.exit_code == 0, r.output
    assert latest.is_symlink() and os.readlink(latest) == dated.name
    assert json.loads(dated.read_text(encoding="utf-8"))  # the export, through the link
    assert dated.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in exports.iterdir()) == ["catalog-2026.json", "latest.json"]
