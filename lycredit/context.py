"""The application context: builds the expensive things only when a command needs them.

In the manner of Flask's ``ScriptInfo``: the CLI fills an :class:`AppContext`
from its options and puts it on ``ctx.obj``; commands ask it for the engine
(connected and checked to be at schema head), the signing operator, the
``--as-of`` day, and :meth:`AppContext.operation`, the one way to run a
state change (role check, unit of work, signed log, commit or dry-run
rollback). Tests build their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lycredit.config import Config, ResolvedURL, find_config_file, load_config, resolve_database_url
from lycredit.errors import ConfigError, PermissionDenied
from lycredit.i18n import _

if TYPE_CHECKING:
    import sqlalchemy as sa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lycredit.dbapi import DB
    from lycredit.oplog.append import LogAppender, Signer
    from lycredit.oplog.log import UnitOfWork

KEY_FILE_ENV = "LYCREDIT_KEY_FILE"


@dataclass
class AppContext:
    db: str | None = None
    config_file: str | None = None
    key_file: str | None = None
    fmt: str = "table"
    quiet: bool = False
    verbose: bool = False
    progress: bool = True
    as_of_text: str | None = None
    bom: bool = False
    passphrase_prompt: Callable[[Path], str] | None = None
    command_name: str = ""
    create_database: bool = False
    _engine: sa.Engine | None = field(default=None, repr=False)

    @cached_property
    def config(self) -> Config:
        return load_config(find_config_file(self.config_file))

    @cached_property
    def database_url(self) -> ResolvedURL:
        return resolve_database_url(self.db, self.config)

    @cached_property
    def as_of(self) -> dt.date:
        """The day a time-dependent command acts as of (Asia/Shanghai), from ``--as-of`` or today."""
        from lycredit.periods import parse_as_of

        return parse_as_of(self.as_of_text)

    @property
    def engine(self) -> sa.Engine:
        """An engine on the resolved URL, not yet checked (``db`` commands use this).

        A SQLite file that does not exist is never created here (only ``db init`` creates one).
        """
        if self._engine is None:
            from lycredit.database import make_engine
            from lycredit.dbapi import require_file

            if not self.create_database:
                require_file(self.database_url.url)
            self._engine = make_engine(self.database_url.url)
        return self._engine

    @cached_property
    def checked_engine(self) -> sa.Engine:
        """The engine, after checking that the database answers (69) and is at head (78)."""
        from lycredit.database import check_connection
        from lycredit.schema import require_head

        check_connection(self.engine)
        require_head(self.engine)
        return self.engine

    def close(self) -> None:
        """Release the engine's connections (the CLI calls this when a command ends)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self.__dict__.pop("checked_engine", None)

    # ---- the operator ---------------------------------------------------------
    @cached_property
    def private_key(self) -> Ed25519PrivateKey:
        from lycredit.keys import PASSPHRASE_ENV, load_private_key

        name = self.key_file or os.environ.get(KEY_FILE_ENV)
        if not name:
            raise ConfigError(
                _("This command changes data and must run as an operator: give --key FILE or set {env}").format(
                    env=KEY_FILE_ENV
                )
            )
        path = Path(name)
        passphrase = os.environ.get(PASSPHRASE_ENV)
        # ask only for a key that can be read: a missing, unreadable or directory path is refused unasked (66)
        if passphrase is None and self.passphrase_prompt is not None and path.is_file() \
                and os.access(path, os.R_OK):
            passphrase = self.passphrase_prompt(path)
        return load_private_key(path, passphrase)

    def signer(self, conn: sa.Connection | DB) -> Signer:
        """The operator whose key this is (:func:`lycredit.oplog.append.find_signer`), on either connection."""
        from lycredit.dbapi import wrap
        from lycredit.oplog.append import find_signer

        return find_signer(wrap(conn), self.private_key)

    def require_role(self, action: str) -> None:
        """Refuse now (77, the refusal logged as every role refusal is) an operator whose role may not run
        ``action``: for a command that takes a run lock or reads a file before its operation begins, so that
        a refused role learns so first, not that another run holds the lock (75)."""
        from lycredit import roles

        with self.reading() as conn:
            role = self.signer(conn).role
        if not roles.may(role, action):
            with self.operation(action):  # the role table refuses, and the refusal is logged
                pass

    @contextlib.contextmanager
    def operation(
        self,
        action: str,
        *,
        reason: str | None = None,
        subject: str | None = None,
        dry_run: bool = False,
        foreign_keys: bool = True,
    ) -> Iterator[UnitOfWork]:
        """Run one signed operation: check the role, yield the unit of work, then append and commit.

        With ``dry_run`` everything runs for real and is rolled back at the end.
        A refusal by the role table is itself logged before exit 77.
        ``foreign_keys=False`` is for a bulk writer whose every referenced id it has just read or
        written itself in the same transaction: SQLite then skips its per-row foreign key checks
        for this operation only (:func:`lycredit.database.make_engine`); PostgreSQL checks as ever.
        """
        from lycredit.oplog.log import UnitOfWork

        engine = self.checked_engine
        with engine.connect() as conn:
            if not foreign_keys:
                conn.execution_options(lycredit_foreign_keys=False)

            def unit(signer: Signer, **fields: str | None) -> UnitOfWork:
                return UnitOfWork(conn, signer, command=self.command_name, **fields)

            with self._operate(_EngineTransaction(conn), unit, action, reason, subject, dry_run) as uow:
                yield uow

    @contextlib.contextmanager
    def appending(
        self, action: str, *, reason: str | None = None, subject: str | None = None, dry_run: bool = False
    ) -> Iterator[LogAppender]:
        """:meth:`operation` on the driver connection, for work that only reads and appends to the log.

        The same role check, refusal logging, signing and commit, through
        :class:`lycredit.oplog.append.LogAppender` on a :class:`lycredit.dbapi.DB` (its
        ``db``), without loading SQLAlchemy: what ``lycredit query`` runs in.
        """
        from lycredit.oplog.append import LogAppender

        db = self.open_db(write=True)
        try:

            def unit(signer: Signer, **fields: str | None) -> LogAppender:
                return LogAppender(db, signer, command=self.command_name, **fields)

            with self._operate(_DriverTransaction(db), unit, action, reason, subject, dry_run) as appender:
                yield appender
        finally:
            db.close()

    @contextlib.contextmanager
    def _operate(
        self,
        tx: _EngineTransaction | _DriverTransaction,
        unit: Callable[..., LogAppender],
        action: str,
        reason: str | None,
        subject: str | None,
        dry_run: bool,
    ) -> Iterator[LogAppender]:
        """The protocol of an operation, whichever connection it runs on."""
        from lycredit import roles

        tx.begin()
        try:
            signer = self.signer(tx.db)
            try:
                roles.require(signer.role, action, signer.name)
            except PermissionDenied as refusal:
                tx.rollback()
                tx.begin()
                refused = unit(signer, action="refused", reason=refusal.message)
                refused.summary.update(refused_action=action)
                refused.close()
                tx.commit()
                raise
            work = unit(signer, action=action, reason=reason, subject=subject)
            yield work
            work.close()
        except BaseException:
            if tx.active:
                tx.rollback()
            raise
        if dry_run:
            tx.rollback()
        else:
            tx.commit()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A read-only connection on the checked engine."""
        with self.checked_engine.connect().execution_options(lycredit_read_only=True) as conn:
            yield conn

    # ---- the driver connection (no SQLAlchemy) --------------------------------------
    def open_db(self, *, write: bool = False) -> DB:
        """A driver connection on the resolved URL, checked like :attr:`checked_engine`, in a transaction."""
        from lycredit.dbapi import open_database

        return open_database(self.database_url.url, write=write)

    @contextlib.contextmanager
    def reading_db(self) -> Iterator[DB]:
        """A read-only driver connection (:mod:`lycredit.dbapi`), rolled back and closed at the end."""
        db = self.open_db(write=False)
        try:
            yield db
        finally:
            db.close()


class _EngineTransaction:
    """The transaction of an operation on a SQLAlchemy connection."""

    def __init__(self, conn: sa.Connection) -> None:
        from lycredit.dbapi import wrap

        self.conn = conn
        self.db = wrap(conn)
        self._trans: sa.RootTransaction | None = None

    @property
    def active(self) -> bool:
        return self._trans is not None and self._trans.is_active

    def begin(self) -> None:
        self._trans = self.conn.begin()

    def commit(self) -> None:
        self._trans.commit()

    def rollback(self) -> None:
        self._trans.rollback()


class _DriverTransaction:
    """The transaction of an operation on a driver connection (already begun by ``open_db``)."""

    def __init__(self, db: DB) -> None:
        self.db = db

    @property
    def active(self) -> bool:
        return self.db.in_transaction

    def begin(self) -> None:
        if not self.db.in_transaction:
            self.db.begin()

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()
