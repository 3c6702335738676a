"""Anchoring: copy the latest signed checkpoint out of the database's reach (oplog.md, "Anchoring").

One file per checkpoint, ``checkpoint-<size>.txt``, never overwritten: the
note is written and synced to a hidden temporary file first, then linked to
its name, which fails if the name exists; so a write cut short leaves no
half file that would later look like a rewritten log. ``audit verify
--anchor DIR`` then proves the log still contains every anchored checkpoint
and has not shrunk.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import sqlalchemy as sa

from lycredit.errors import ConfigError, DataError
from lycredit.i18n import _
from lycredit.inputs import unreadable
from lycredit.oplog.log import latest_checkpoint
from lycredit.outputs import cannot_write, fsync_path, output_dir


def anchor_name(size: int) -> str:
    return f"checkpoint-{size:012d}.txt"


def write_anchor(conn: sa.Connection, out_dir: Path) -> tuple[Path, bool]:
    """Write the latest checkpoint; returns (path, created). An identical file already there is fine."""
    head = latest_checkpoint(conn)
    if head is None:
        raise ConfigError(_("The log is empty: nothing to anchor"))
    created = output_dir(out_dir)
    path = out_dir / anchor_name(head.size)
    data = head.note.encode("utf-8")
    if path.exists():
        return _same(path, data), False
    tmp = out_dir / f".{path.name}.{os.getpid()}.tmp"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another anchor run got there first
            return _same(path, data), False
        fsync_path(out_dir)
    except OSError as exc:  # a directory this process may not write in, a full disk, an I/O error
        with contextlib.suppress(OSError):
            tmp.unlink()
        if created:  # nothing of this run is left, not even the directory it made (also when tmp never was)
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise cannot_write(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path, True


def _same(path: Path, data: bytes) -> Path:
    try:
        stored = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    if stored != data:
        raise DataError(
            _("{path} already holds a different checkpoint of the same size: the log was rewritten").format(path=path)
        )
    return path

