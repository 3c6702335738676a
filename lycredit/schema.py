"""Schema lifecycle: create at head, upgrade in place, check, and the DDL for ``sql/``.

Plain functions over an engine, in the manner of ``alembic.command``, so that
the CLI, tests and scripts call the same thing. Run as a module to maintain
the migrations and the DDL files::

    python -m lycredit.schema ddl --write        # regenerate sql/schema-*.sql
    python -m lycredit.schema revision -m "..."  # autogenerate a migration
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from lycredit import migrations
from lycredit.dbapi import schema_problem
from lycredit.errors import ConfigError, SchemaNotAtHead
from lycredit.i18n import _

MIGRATIONS_DIR = Path(migrations.__file__).parent
DDL_DIALECTS = ("sqlite", "postgresql")


def current_revision(engine: sa.Engine) -> str | None:
    """The revision recorded in the database, or None if it was never initialised."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def require_head(engine: sa.Engine) -> None:
    """Refuse (exit 78) a database that is not at this lycredit's schema head."""
    problem = schema_problem(current_revision(engine))
    if problem is not None:
        raise SchemaNotAtHead(problem)


def _alembic_config(conn: sa.Connection):  # -> alembic.config.Config
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema in place; returns (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    return before, current_revision(engine)


def init(engine: sa.Engine) -> None:
    """Create a fresh database at head; refuse one that already has tables."""
    with engine.begin() as conn:
        create(conn)


def require_new(conn: sa.Connection) -> None:
    """Refuse (78) a database that already has tables: ``db init`` only creates a new one."""
    existing = sa.inspect(conn).get_table_names()
    if existing:
        raise ConfigError(
            _("The database already has tables ({tables}); 'db init' only creates a new database").format(
                tables=", ".join(sorted(existing)[:5])
            )
        )


def create(conn: sa.Connection) -> None:
    """Create the schema at head in ``conn``'s transaction (refusing a database that already has tables): on both
    SQLite and PostgreSQL the tables are created in that transaction, so a rollback leaves the database empty."""
    from alembic import command

    require_new(conn)
    command.upgrade(_alembic_config(conn), "head")


def ddl(dialect_name: str) -> str:
    """The CREATE statements for every table, as the models define them, plus the append-only triggers."""
    from sqlalchemy.schema import CreateIndex, CreateTable
    from sqlmodel import SQLModel

    import lycredit.models  # noqa: F401
    from lycredit.appendonly import trigger_ddl

    if dialect_name == "sqlite":
        from sqlalchemy.dialects import sqlite as mod
    elif dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql as mod
    else:
        raise ValueError(dialect_name)
    dialect = mod.dialect()
    parts = [f"-- lycredit schema for {dialect_name}, revision {migrations.HEAD}.",
             "-- Generated from the models by 'python -m lycredit.schema ddl --write'; do not edit.", ""]
    for table in SQLModel.metadata.sorted_tables:
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";\n")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            parts.append(str(CreateIndex(index).compile(dialect=dialect)).strip() + ";\n")
    for statement in trigger_ddl(dialect_name):
        parts.append(statement + ";\n")
    return "\n".join(parts)


def ddl_path(dialect_name: str, root: Path | None = None) -> Path:
    root = root or Path(__file__).resolve().parents[1]
    return root / "sql" / f"schema-{dialect_name}.sql"


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lycredit.schema")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_ddl = sub.add_parser("ddl")
    p_ddl.add_argument("--write", action="store_true")
    p_rev = sub.add_parser("revision")
    p_rev.add_argument("-m", "--message", required=True)
    p_rev.add_argument("--rev-id", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "ddl":
        for name in DDL_DIALECTS:
            text = ddl(name)
            if args.write:
                ddl_path(name).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        return 0
    import tempfile

    from alembic import command

    from lycredit.database import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/rev.db")
        upgrade(engine)
        with engine.begin() as conn:
            command.revision(_alembic_config(conn), message=args.message, autogenerate=True, rev_id=args.rev_id)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
