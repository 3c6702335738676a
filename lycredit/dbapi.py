"""The database through the driver alone: sqlite3 or psycopg 3, without SQLAlchemy.

Short commands that run on every counter of the platform (``lycredit query``)
cannot afford to import SQLAlchemy, which alone takes several times as long as
``lycredit --help``. This module gives them, and the code they share with the
rest of lycredit, what they need of a database:

* :func:`open_database`: a connection on a resolved URL, set up as
  :mod:`lycredit.database` sets up the engine's (SQLite: foreign keys, WAL,
  ``synchronous = NORMAL``, the 30 s busy timeout, ``BEGIN IMMEDIATE`` for a
  writer and a plain ``BEGIN`` for a reader; PostgreSQL: psycopg 3, a 10 s
  connect timeout), with the same refusals: a SQLite file that does not exist
  (78, "run 'lycredit db init'"), a database that does not answer (69), a
  schema not at head (78, :func:`schema_problem`, the messages
  ``lycredit.schema.require_head`` gives too);
* :class:`DB`: ``rows``/``first``/``scalar``/``execute`` with ``:name``
  parameters on either driver, converting dates and UTC timestamps to and from
  the forms SQLAlchemy stores (:data:`DATE`, :data:`UTC`, :data:`BOOL`);
* :func:`wrap`: the same :class:`DB` over the driver connection underneath a
  SQLAlchemy connection, in its transaction, so that code written against
  :class:`DB` serves callers that hold a SQLAlchemy connection too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from lycredit.errors import ConfigError, DatabaseUnavailable, SchemaNotAtHead
from lycredit.i18n import _

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
SQLITE, POSTGRESQL = "sqlite", "postgresql"

MAX_ID = 2**31 - 1
"""The largest id a table's key holds on both databases (an ``INTEGER``: PostgreSQL's is 32 bits). A larger
number is no row's id, and PostgreSQL refuses even to compare with it ('integer out of range'), so a command
given one says the row does not exist, or refuses the number, before asking."""

#: Column conversions for :meth:`DB.rows`: a date (ISO text on SQLite), a UTC timestamp
#: (naive UTC text on SQLite, as ``lycredit.models.base.UTCDateTime`` stores it), a boolean
#: (0 or 1 on SQLite).
DATE, UTC, BOOL = "date", "utc", "bool"

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- URLs -------------------------------------------------------------------------------------


def backend_of(url: str) -> str:
    """``sqlite`` or ``postgresql`` for a URL lycredit accepts (``lycredit.config.normalize_url``)."""
    scheme = url.partition("://")[0].split("+")[0].lower()
    if scheme in (SQLITE, POSTGRESQL):
        return scheme
    raise ConfigError(_("Unsupported database {url}: lycredit runs on SQLite and PostgreSQL").format(url=url))


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for PostgreSQL and in-memory SQLite."""
    if url.partition("://")[0].split("+")[0].lower() != SQLITE:
        return None
    rest = url.partition("://")[2].partition("?")[0]
    database = rest[1:] if rest.startswith("/") else rest
    if not database or database == ":memory:":
        return None
    return Path(database)


def pg_connect_args(url: str) -> dict[str, Any]:
    """psycopg keyword arguments of a ``postgresql+psycopg://user:password@host:port/db?opt=v`` URL."""
    rest = url.partition("://")[2]
    rest, _sep, query = rest.partition("?")
    netloc, _sep, database = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    args: dict[str, Any] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            args["user"] = unquote(user)
        if colon:
            args["password"] = unquote(password)
    if hostport.startswith("["):
        host, _sep, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _sep, port = hostport.partition(":")
    if host:
        args["host"] = unquote(host)
    if port:
        args["port"] = int(port)
    if database:
        args["dbname"] = unquote(database)
    args.update(parse_qsl(query))
    return args


# --- the connection ---------------------------------------------------------------------------


class DB:
    """A driver connection with ``:name`` parameters and lycredit's column types on both databases.

    Made by :func:`open_database` (it owns the connection and its transaction) or by
    :func:`wrap` (the transaction is the SQLAlchemy connection's).
    """

    def __init__(self, raw: Any, dialect: str, *, owned: bool = False) -> None:
        self.raw = raw
        self.dialect = dialect
        self.owned = owned
        self.in_transaction = False

    # ---- statements ------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        if self.dialect == SQLITE:
            return sql
        return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))

    def _params(self, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        if not params or self.dialect != SQLITE:
            return params or {}
        return {k: _to_sqlite(v) for k, v in params.items()}

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> Any:
        cursor = self.raw.cursor()
        cursor.execute(self._sql(sql), self._params(params))
        return cursor

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement; the number of rows it changed."""
        cursor = self._run(sql, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(self._sql(sql), [self._params(r) for r in rows])
        finally:
            cursor.close()

    def rows(
        self, sql: str, params: Mapping[str, Any] | None = None, types: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every row as a dict, the columns named in ``types`` converted (:data:`DATE`, :data:`UTC`, :data:`BOOL`)."""
        cursor = self._run(sql, params)
        try:
            names = [d[0] for d in cursor.description]
            found = cursor.fetchall()
        finally:
            cursor.close()
        out = [dict(zip(names, row, strict=True)) for row in found]
        if types:
            convert = [(name, _FROM[kind]) for name, kind in types.items() if name in names]
            for row in out:
                for name, to in convert:
                    value = row[name]
                    if value is not None:
                        row[name] = to(value)
        return out

    def first(
        self, sql: str, params: Mapping[str, Any] | None = None, types: Mapping[str, str] | None = None
    ) -> dict[str, Any] | None:
        found = self.rows(sql, params, types)
        return found[0] if found else None

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cursor = self._run(sql, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else row[0]

    # ---- transactions (only on a connection of our own) --------------------------------------
    def begin(self, *, read_only: bool = False) -> None:
        """Start a transaction: on SQLite ``BEGIN IMMEDIATE`` for a writer (it queues on the busy timeout)."""
        self._own()
        if self.dialect == SQLITE:
            self.raw.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
        self.in_transaction = True

    def commit(self) -> None:
        self._own()
        if self.dialect == SQLITE:
            if self.raw.in_transaction:
                self.raw.execute("COMMIT")
        else:
            self.raw.commit()
        self.in_transaction = False

    def rollback(self) -> None:
        self._own()
        if self.dialect == SQLITE:
            if self.raw.in_transaction:
                self.raw.execute("ROLLBACK")
        else:
            self.raw.rollback()
        self.in_transaction = False

    def close(self) -> None:
        self._own()
        try:
            if self.in_transaction:
                self.rollback()
        finally:
            self.raw.close()

    def _own(self) -> None:
        if not self.owned:
            raise RuntimeError("the transaction belongs to the SQLAlchemy connection this DB wraps")


def wrap(conn: Any) -> DB:
    """A :class:`DB` for ``conn``: itself if it is one, else the driver connection under a SQLAlchemy connection."""
    if isinstance(conn, DB):
        return conn
    return DB(conn.connection.driver_connection, conn.dialect.name)


def open_database(url: str, *, write: bool = False, check_head: bool = True) -> DB:
    """Connect to ``url``, check that it answers (69) and is at schema head (78), and begin a transaction.

    ``write`` takes SQLite's write lock at once (``BEGIN IMMEDIATE``); a reader does not
    block writers. The caller commits or rolls back and closes.
    """
    backend = backend_of(url)
    if backend == SQLITE:
        db = _open_sqlite(url)
    else:
        db = _open_postgresql(url)
    try:
        if check_head:
            problem = schema_problem(current_revision(db))
            if problem is not None:
                raise SchemaNotAtHead(problem)
        db.begin(read_only=not write)
    except BaseException:
        db.raw.close()
        raise
    return db


def require_file(url: str) -> None:
    """A SQLite database file is made only by ``db init``: refuse (78) one that does not exist."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise SchemaNotAtHead(_("Database file {path} does not exist: run 'lycredit db init'").format(path=path))


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DatabaseUnavailable(_("Database unavailable: {error}").format(error=detail))


def _open_sqlite(url: str) -> DB:
    import sqlite3

    require_file(url)
    path = sqlite_path(url)
    try:
        raw = sqlite3.connect(
            ":memory:" if path is None else str(path),
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN ourselves
        )
    except sqlite3.OperationalError as exc:
        raise _unavailable(exc) from exc
    try:
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.OperationalError as exc:
        raw.close()
        raise _unavailable(exc) from exc
    return DB(raw, SQLITE, owned=True)


def _open_postgresql(url: str) -> DB:
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(_("PostgreSQL needs psycopg 3: pip install 'lycredit[postgres]'")) from exc
    try:
        raw = psycopg.connect(connect_timeout=PG_CONNECT_TIMEOUT_S, **pg_connect_args(url))
    except psycopg.OperationalError as exc:
        raise _unavailable(exc) from exc
    return DB(raw, POSTGRESQL, owned=True)


# --- the schema head --------------------------------------------------------------------------


def current_revision(db: DB) -> str | None:
    """The schema revision recorded in ``alembic_version``, or None if the database was never initialised."""
    if db.dialect == SQLITE:
        exists = db.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
    else:
        exists = db.scalar("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return None
    return db.scalar("SELECT version_num FROM alembic_version")


def known_revisions() -> set[str]:
    """The revisions this lycredit ships (the migration files' prefixes)."""
    from lycredit import migrations

    versions = Path(migrations.__file__).parent / "versions"
    return {p.name.split("_", 1)[0] for p in versions.glob("*.py")}


def schema_problem(revision: str | None) -> str | None:
    """Why a database at ``revision`` may not be used by this lycredit (and what fixes it), or None at head."""
    from lycredit.migrations import HEAD

    if revision == HEAD:
        return None
    if revision is None:
        return _("The database has no lycredit schema: run 'lycredit db init' first")
    if revision in known_revisions():
        return _(
            "The database schema is at revision {rev}, this lycredit needs {head}: run 'lycredit db upgrade'"
        ).format(rev=revision, head=HEAD)
    return _(
        "The database schema revision {rev} is unknown to this lycredit (head {head}): upgrade lycredit"
    ).format(rev=revision, head=HEAD)


# --- values -----------------------------------------------------------------------------------


def sqlite_timestamp(value: dt.datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite DateTime stores it (naive UTC, microseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given for a UTC timestamp column")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return sqlite_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def sqlite_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple]:
    """Rows as positional SQLite values (what :meth:`DB.executemany` binds), each time converted once
    however many rows share it (a bulk insert's rows share the operation's)."""
    times: dict[Any, Any] = {}

    def value(item: Any) -> Any:
        if isinstance(item, dt.date):
            found = times.get(item)
            if found is None:
                found = times[item] = _to_sqlite(item)
            return found
        return _to_sqlite(item)

    return [tuple([value(row[name]) for name in columns]) for row in rows]


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _utc(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


_FROM = {DATE: _date, UTC: _utc, BOOL: bool}


def in_list(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``(":name_0, :name_1, ...", params)`` for an ``IN (...)`` of ``values``."""
    params = {f"{name}_{i}": v for i, v in enumerate(values)}
    return ", ".join(":" + key for key in params), params
