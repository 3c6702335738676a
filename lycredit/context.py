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

    from lycredit.oplog.log import Signer, UnitOfWork

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
            from lycredit.database import make_engine, sqlite_path

            path = sqlite_path(self.database_url.url)
            if path is not None and not path.exists() and not self.create_database:
                from lycredit.errors import SchemaNotAtHead

                raise SchemaNotAtHead(
                    _("Database file {path} does not exist: run 'lycredit db init'").format(path=path)
                )
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
        if passphrase is None and self.passphrase_prompt is not None and path.exists():
            passphrase = self.passphrase_prompt(path)
        return load_private_key(path, passphrase)

    def signer(self, conn: sa.Connection) -> Signer:
        from lycredit.operators import signer_for

        return signer_for(conn, self.private_key)

    @contextlib.contextmanager
    def operation(
        self,
        action: str,
        *,
        reason: str | None = None,
        subject: str | None = None,
        dry_run: bool = False,
    ) -> Iterator[UnitOfWork]:
        """Run one signed operation: check the role, yield the unit of work, then append and commit.

        With ``dry_run`` everything runs for real and is rolled back at the end.
        A refusal by the role table is itself logged before exit 77.
        """
        from lycredit import roles
        from lycredit.oplog.log import UnitOfWork

        engine = self.checked_engine
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                signer = self.signer(conn)
                try:
                    roles.require(signer.role, action, signer.name)
                except PermissionDenied as refusal:
                    trans.rollback()
                    self._log_refusal(conn, signer, action, refusal)
                    raise
                uow = UnitOfWork(conn, signer, command=self.command_name, action=action, reason=reason,
                                 subject=subject)
                yield uow
                uow.close()
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
            if dry_run:
                trans.rollback()
            else:
                trans.commit()

    def _log_refusal(self, conn: sa.Connection, signer: Signer, action: str, refusal: PermissionDenied) -> None:
        from lycredit.oplog.log import UnitOfWork

        with conn.begin():
            uow = UnitOfWork(conn, signer, command=self.command_name, action="refused", reason=refusal.message)
            uow.summary.update(refused_action=action)
            uow.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A read-only connection on the checked engine."""
        with self.checked_engine.connect().execution_options(lycredit_read_only=True) as conn:
            yield conn
