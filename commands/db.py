"""``lycredit db``: create, upgrade and inspect the database."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import INPUT_FILE, app, command, group, option, say

cli = group("db", N_("Create, upgrade and inspect the database."))


def _new_passphrase(path: Path) -> str:
    from lycredit.errors import ConfigError
    from lycredit.keys import PASSPHRASE_ENV

    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise ConfigError(_("Set {env} or run on a terminal to choose a passphrase for {path}").format(
            env=PASSPHRASE_ENV, path=path))
    return click.prompt(_("New passphrase for {path}").format(path=path), hide_input=True,
                        confirmation_prompt=True, err=True)


@command(cli, "init", N_(
    "Create a new database at the schema head and register the first administrator. "
    "If --admin-key does not exist, a new encrypted key is written there."))
@option("--admin", "admin_name", required=True, metavar="NAME", help=N_("Login name of the first administrator."))
@option("--admin-key", required=True, type=INPUT_FILE,
        help=N_("The administrator's private key file (created if missing)."))
@option("--unit-code", required=True, metavar="USCC",
        help=N_("Unified social credit code of the administrator's unit (the NDRC office)."))
@option("--unit-name", required=True, help=N_("Name of the administrator's unit."))
@option("--origin", help=N_("Log origin line for checkpoints (default: lycredit.local/<random>)."))
def init(admin_name: str, admin_key: Path, unit_code: str, unit_name: str, origin: str | None) -> None:
    from lycredit import keys
    from lycredit.database import check_connection, sqlite_path
    from lycredit.inputs import check_input_file
    from lycredit.operators import bootstrap, check_bootstrap
    from lycredit.outputs import cannot_write
    from lycredit.schema import create, require_new

    obj = app()
    # Everything that can be checked is checked before anything is written: the arguments (65), the key path
    # (66, 78), the database (69, 78: an existing one must answer and be empty), then the passphrase (77, 78).
    check_bootstrap(admin_name=admin_name, unit_uscc=unit_code, unit_name=unit_name, origin=origin)
    new_key = not admin_key.exists()
    if new_key:
        if not admin_key.parent.is_dir():
            raise cannot_write(admin_key, errno.ENOTDIR if admin_key.parent.exists() else errno.ENOENT)
    else:
        check_input_file(admin_key)  # a directory or an unreadable file: exit 66 before a passphrase is asked
    obj.create_database = True
    database_file = sqlite_path(obj.database_url.url)
    new_file = database_file is not None and not database_file.exists()
    engine = obj.engine
    if not new_file:  # a new SQLite file has nothing to check, and is not created before the key is written
        check_connection(engine)
        with engine.connect() as conn:
            require_new(conn)
    if new_key:
        passphrase = _new_passphrase(admin_key)
        keys.check_new_passphrase(passphrase)
        private_key = keys.generate()
    else:
        private_key = keys.load_private_key(admin_key, os.environ.get(keys.PASSPHRASE_ENV)
                                            or obj.passphrase_prompt(admin_key))
    # Then the key file, then the schema and the administrator in one transaction: whatever fails now (a key file
    # that cannot be written, the database) leaves no key file, no tables and no new database file behind.
    wrote_key = False
    try:
        if new_key:
            keys.write_private_key(admin_key, private_key, passphrase)
            wrote_key = True
        with engine.begin() as conn:
            create(conn)
            signer = bootstrap(conn, admin_name=admin_name, unit_uscc=unit_code, unit_name=unit_name,
                               private_key=private_key, origin=origin)
    except BaseException:
        if wrote_key:
            admin_key.unlink(missing_ok=True)
        if new_file:
            obj.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{database_file}{suffix}").unlink(missing_ok=True)
        raise
    if new_key:
        say(_("Wrote a new encrypted key to {path}").format(path=admin_key))
    say(_("Created the database at {url} and registered administrator {name}").format(
        url=_hidden(obj.database_url.url), name=signer.name))
    click.echo(keys.public_b64(private_key))


def _hidden(url: str) -> str:
    from lycredit.config import hide_password

    return hide_password(url)


@command(cli, "upgrade", N_("Upgrade an existing database in place to this lycredit's schema head."))
def upgrade() -> None:
    from lycredit.database import check_connection
    from lycredit.runlock import run_lock
    from lycredit.schema import current_revision
    from lycredit.schema import upgrade as schema_upgrade

    obj = app()
    engine = obj.engine
    check_connection(engine)
    if current_revision(engine) is None:
        from lycredit.errors import ConfigError

        raise ConfigError(_("The database has no lycredit schema: run 'lycredit db init' first"))
    with run_lock(engine, "db-upgrade"):
        before, after = schema_upgrade(engine)
    if before == after:
        say(_("Already at revision {rev}").format(rev=after))
    else:
        say(_("Upgraded from revision {before} to {after}").format(before=before, after=after))
    from lycredit.errors import Locked
    from lycredit.record_import import LOCK_NAME, rebuild_indexes

    try:
        with run_lock(engine, LOCK_NAME):  # an import that runs may take them down; it rebuilds them itself
            rebuilt = rebuild_indexes(engine)
    except Locked:
        rebuilt = []
    if rebuilt:
        say(_("Rebuilt the record indexes or foreign keys an interrupted import left out: {names}").format(
            names=", ".join(rebuilt)))


@command(cli, "status", N_("Show the database URL in use, where it came from, and the schema revision."))
def status() -> None:
    from lycredit import migrations
    from lycredit.config import hide_password
    from lycredit.database import check_connection, sqlite_path
    from lycredit.output import render_object
    from lycredit.schema import current_revision

    obj = app()
    resolved = obj.database_url
    path = sqlite_path(resolved.url)
    revision = None
    if path is not None and not path.exists():
        state = _("database file does not exist: run 'lycredit db init'")
    else:
        check_connection(obj.engine)
        revision = current_revision(obj.engine)
        if revision is None:
            state = _("not initialised: run 'lycredit db init'")
        elif revision == migrations.HEAD:
            state = _("at head")
            from lycredit.record_import import missing_indexes

            if missing := missing_indexes(obj.engine):
                state = _("at head; the record indexes or foreign keys {names} are missing (an import builds them at "
                          "its end; one that was killed left them out): the next import or 'lycredit db upgrade' "
                          "rebuilds them").format(names=", ".join(missing))
        else:
            state = _("needs 'lycredit db upgrade'")
    render_object({"url": hide_password(resolved.url), "source": resolved.source, "revision": revision,
                   "head": migrations.HEAD, "state": state}, obj.fmt, bom=obj.bom)
