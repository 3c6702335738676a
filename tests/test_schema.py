"""The schema: created at head, upgraded in place, refused when stale, DDL in sql/ kept current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from lycredit import migrations, schema
from lycredit.database import make_engine
from tests.conftest import ADMIN_UNIT, invoke


def test_fresh_init_creates_the_database_at_head(db_url: str, tmp_path) -> None:
    r = invoke(["--db", db_url, "db", "init", "--admin", "admin", "--admin-key", str(tmp_path / "a.key"),
                "--unit-code", ADMIN_UNIT, "--unit-name", "发改局"])
    assert r.exit_code == 0, r.output
    assert schema.current_revision(make_engine(db_url)) == migrations.HEAD
    status = json.loads(invoke(["--db", db_url, "--format", "json", "db", "status"]).stdout)
    assert status["revision"] == status["head"] == migrations.HEAD


def test_init_refuses_an_existing_database(platform) -> None:
    r = platform.run("db", "init", "--admin", "x1", "--admin-key", str(platform.dir / "x.key"),
                     "--unit-code", ADMIN_UNIT, "--unit-name", "x", key=None)
    assert r.exit_code == 78
    assert "already has tables" in r.stderr


def test_upgrade_in_place_from_the_first_revision(db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine, migrations.FIRST)
    assert schema.current_revision(engine) == migrations.FIRST
    r = invoke(["--db", db_url, "db", "upgrade"])
    assert r.exit_code == 0, r.output
    assert schema.current_revision(engine) == migrations.HEAD
    again = invoke(["--db", db_url, "db", "upgrade"])
    assert again.exit_code == 0 and "Already at revision" in again.stderr


def test_a_database_not_at_head_is_refused_with_exit_78(platform) -> None:
    engine = platform.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    r = platform.run("operator", "list", key=None)
    assert r.exit_code == 78
    assert "upgrade lycredit" in r.stderr or "db upgrade" in r.stderr
    if migrations.FIRST != migrations.HEAD:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{migrations.FIRST}'")
        r = platform.run("operator", "list", key=None)
        assert r.exit_code == 78 and "lycredit db upgrade" in r.stderr


def test_an_uninitialised_database_is_refused_with_exit_78(db_url: str) -> None:
    make_engine(db_url).connect().close()
    r = invoke(["--db", db_url, "operator", "list"])
    assert r.exit_code == 78
    assert "lycredit db init" in r.stderr


def test_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(schema.MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == migrations.HEAD
    assert script.get_base() == migrations.FIRST


def test_migrations_at_head_match_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import lycredit.models  # noqa: F401

    engine = make_engine(db_url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_generated_ddl_in_sql_is_current() -> None:
    for dialect in schema.DDL_DIALECTS:
        path = schema.ddl_path(dialect)
        assert path.read_text(encoding="utf-8") == schema.ddl(dialect), (
            f"{path} is stale: run python -m lycredit.schema ddl --write"
        )


def test_sqlite_connections_enforce_foreign_keys_wal_and_busy_timeout(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_an_operation_may_leave_out_sqlite_foreign_key_checks_for_itself_only(tmp_path) -> None:
    """A bulk import's batches skip SQLite's per-row foreign key checks; the pooled connection checks
    them again in its next transaction, whoever takes it."""
    import sqlalchemy as sa

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))")
        first = conn.connection.dbapi_connection
    with engine.connect() as conn:
        conn.execution_options(lycredit_foreign_keys=False)
        with conn.begin():
            assert conn.connection.dbapi_connection is first, "the pool hands the same connection back"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
            conn.exec_driver_sql("INSERT INTO child VALUES (1, 99)")  # not checked
            conn.exec_driver_sql("DELETE FROM child")
    for _ in range(2):
        with engine.connect() as conn, conn.begin():
            assert conn.connection.dbapi_connection is first
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
                conn.exec_driver_sql("INSERT INTO child VALUES (2, 99)")
    engine.dispose()


def test_log_tables_refuse_update_and_delete_by_trigger(platform) -> None:
    engine = platform.engine()
    for statement in ("UPDATE oplog_entry SET op_seq = 99", "DELETE FROM oplog_checkpoint",
                      "DELETE FROM oplog_operation"):
        with engine.connect() as conn:
            try:
                conn.exec_driver_sql(statement)
                conn.commit()
            except sa.exc.DatabaseError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{statement} was allowed")


# --- db init writes nothing unless it succeeds ----------------------------------------------------------------


def _init(db_url: str, key: Path, **changes: str):
    args = {"--admin": "admin", "--admin-key": str(key), "--unit-code": ADMIN_UNIT, "--unit-name": "凌源市发展和改革局",
            **changes}
    return invoke(["--db", db_url, "db", "init", *[part for pair in args.items() for part in pair]])


def _left_behind(db_url: str, tmp_path: Path) -> list[str]:
    """What a refused ``db init`` left: files in ``tmp_path`` (a key, a SQLite database) and tables."""
    files = sorted(p.name for p in tmp_path.iterdir())
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
        if db_url.startswith("sqlite") and "lycredit.db" not in files:
            for leftover in tmp_path.glob("lycredit.db*"):  # the inspection's own connection made the file
                leftover.unlink()
    return files + tables


@pytest.mark.parametrize("option, value, problem", [
    ("--admin", "Admin", "Operator name 'Admin' is not valid"),
    ("--unit-code", ADMIN_UNIT[:-1] + ("1" if ADMIN_UNIT[-1] != "1" else "2"), "does not match the GB 32100 checksum"),
    ("--unit-code", "12345", "has 5 characters; GB 32100 requires 18"),
    ("--unit-name", "", "give its name with --unit-name"),
    ("--origin", "lycredit.test/log\nsecond line", "is not valid: it must be one line of text"),
    ("--origin", "  ", "is not valid: it must be one line of text"),
    ("--origin", "", "is not valid: it must be one line of text"),
    ("--origin", " lycredit.test/log", "is not valid: it must be one line of text"),
])
def test_init_with_an_invalid_argument_writes_no_key_and_creates_nothing(db_url: str, tmp_path: Path, option: str,
                                                                          value: str, problem: str) -> None:
    r = _init(db_url, tmp_path / "admin.key", **{option: value})
    assert r.exit_code == 65, r.output
    assert problem in r.stderr and "Traceback" not in r.output
    assert _left_behind(db_url, tmp_path) == []


def test_init_of_an_existing_database_writes_no_key(platform, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    r = _init(platform.url, tmp_path / "keys" / "second.key")
    assert r.exit_code == 78 and "already has tables" in r.stderr
    assert list((tmp_path / "keys").iterdir()) == []


def test_init_that_fails_after_writing_the_key_removes_it_and_every_table(db_url: str, tmp_path: Path,
                                                                           monkeypatch) -> None:
    from lycredit import operators

    def broken(conn, **kwargs):
        real_bootstrap(conn, **kwargs)  # the tables and the administrator's rows are there: then the failure
        raise RuntimeError("connection lost")

    real_bootstrap = operators.bootstrap
    monkeypatch.setattr(operators, "bootstrap", broken)
    with pytest.raises(RuntimeError, match="connection lost"):
        _init(db_url, tmp_path / "admin.key")
    assert _left_behind(db_url, tmp_path) == []
    monkeypatch.setattr(operators, "bootstrap", real_bootstrap)
    r = _init(db_url, tmp_path / "admin.key")  # and it can simply be run again
    assert r.exit_code == 0, r.output
