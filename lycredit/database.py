"""Engines and connections for SQLite (the embedded default) and PostgreSQL.

SQLite: foreign keys on, WAL journal, a busy timeout, and every transaction
started with ``BEGIN IMMEDIATE`` so that writers queue on the busy timeout
instead of failing half-way. PostgreSQL: psycopg 3.

This module imports SQLAlchemy's core only; the ORM models are imported by
the commands that use them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from lycredit.dbapi import SQLITE_BUSY_TIMEOUT_MS, sqlite_path
from lycredit.errors import ConfigError, DatabaseUnavailable
from lycredit.i18n import _

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "check_connection", "make_engine", "sqlite_path"]


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None and not path.parent.exists():
            raise ConfigError(_("Directory {path} for the SQLite database does not exist").format(path=path.parent))
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if u.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                _("PostgreSQL needs psycopg 3: pip install 'lycredit[postgres]'")
            ) from exc
        return sa.create_engine(url, connect_args={"connect_timeout": 10}, **kwargs)
    raise ConfigError(_("Unsupported database {url}: lycredit runs on SQLite and PostgreSQL").format(url=url))


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        # Foreign keys are checked unless the operation says its ids are its own (a bulk import: a
        # quarter of its record INSERTs' time); the pragma is a no-op inside a transaction, so it is
        # set here, before BEGIN, and set back on the pooled connection's next transaction.
        foreign_keys = options.get("lycredit_foreign_keys", True)
        info = conn.connection.info
        if info.get(_FOREIGN_KEYS, True) != foreign_keys:
            conn.exec_driver_sql(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            info[_FOREIGN_KEYS] = foreign_keys
        # Writers take the write lock up front; read-only connections do not block them.
        read_only = options.get("lycredit_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_FOREIGN_KEYS = "lycredit_foreign_keys"
"""Whether the pooled SQLite connection checks foreign keys now (its pool record's info; on when it connects)."""


def check_connection(engine: sa.Engine) -> None:
    """Connect once, turning a failure into exit 69 with the reason."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            _("Database unavailable: {error}").format(error=str(exc.orig).strip().splitlines()[0])
        ) from exc
