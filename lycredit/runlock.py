"""The run lock: jobs that must not overlap exit 75 when another run holds it.

On PostgreSQL a session-level advisory lock (released when the connection
closes, so a killed job never leaves it behind); on SQLite an ``flock`` on a
lock file beside the database file (also released by the kernel when the
process dies). cron retries on 75.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from lycredit.database import sqlite_path
from lycredit.errors import Locked
from lycredit.i18n import _

_HELD_FDS: set[int] = set()
"""The descriptors that hold run locks in this process (a lock file, or the socket of the lock's session)."""


def _forget_in_child() -> None:
    """A forked child closes its copies of the lock descriptors at once.

    The lock belongs to the parent: were the parent killed, a child still holding a copy
    of the lock file's descriptor (or of the lock session's socket) would keep the lock
    until it died too, and a retry at once would find it taken (75).
    """
    for fd in list(_HELD_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_FDS.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(b"lycredit/runlock/" + name.encode()).digest()[:8], "big", signed=True)


def lock_file_path(db_path: Path, name: str) -> Path:
    return db_path.with_name(f"{db_path.name}.{name}.lock")


@contextlib.contextmanager
def run_lock(engine: sa.Engine, name: str) -> Iterator[None]:
    """Hold the run lock ``name`` for the duration, or raise :class:`Locked` (exit 75) at once."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_lock_key(name)})").scalar()
            conn.commit()
            if not got:
                raise Locked(_("Another run of {name} holds the lock; try again later").format(name=name))
            socket = conn.connection.driver_connection.fileno()
            _HELD_FDS.add(socket)
            try:
                yield
            finally:
                _HELD_FDS.discard(socket)
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_lock_key(name)})")
                conn.commit()
        return
    path = sqlite_path(str(engine.url))
    if path is None:  # in-memory database: one process only
        yield
        return
    lock_path = lock_file_path(path, name)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(
                _("Another run of {name} holds the lock ({path}); try again later").format(name=name, path=lock_path)
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _HELD_FDS.add(fd)
        yield
    finally:
        _HELD_FDS.discard(fd)
        os.close(fd)
