"""Anchoring: copy the latest signed checkpoint out of the database's reach (oplog.md, "Anchoring").

One file per checkpoint, ``checkpoint-<size>.txt``, created exclusively and
never overwritten. ``audit verify --anchor DIR`` then proves the log still
contains every anchored checkpoint and has not shrunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from lycredit.errors import ConfigError, DataError
from lycredit.i18n import _
from lycredit.oplog.log import latest_checkpoint


def anchor_name(size: int) -> str:
    return f"checkpoint-{size:012d}.txt"


def write_anchor(conn: sa.Connection, out_dir: Path) -> tuple[Path, bool]:
    """Write the latest checkpoint; returns (path, created). An identical file already there is fine."""
    head = latest_checkpoint(conn)
    if head is None:
        raise ConfigError(_("The log is empty: nothing to anchor"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / anchor_name(head.size)
    data = head.note.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        if path.read_bytes() != data:
            raise DataError(
                _("{path} already holds a different checkpoint of the same size: the log was rewritten").format(
                    path=path)
            ) from None
        return path, False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path, True
