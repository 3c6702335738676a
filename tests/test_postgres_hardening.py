"""The PostgreSQL role script: one role per lycredit role, and the log append-only for all of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

ROLES_SQL = Path(__file__).resolve().parents[1] / "sql" / "postgresql-roles.sql"
DB_ROLES = ["lycredit_admin", "lycredit_operator", "lycredit_provider", "lycredit_agency", "lycredit_auditor"]


@pytest.fixture
def hardened(platform):
    if platform.backend != "postgresql":
        pytest.skip("PostgreSQL roles and grants only")
    engine = platform.engine()
    for _ in range(2):  # idempotent: a second run changes nothing and does not fail
        with engine.begin() as conn:
            # roles are cluster-wide: parallel test workers take turns creating them
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(424242)")
            # the script as psql would send it: no client-side placeholder processing
            conn.connection.driver_connection.execute(ROLES_SQL.read_text())
    return engine


@pytest.mark.parametrize("role", DB_ROLES)
@pytest.mark.parametrize("statement", ["UPDATE oplog_entry SET op_seq = op_seq", "DELETE FROM oplog_operation",
                                       "TRUNCATE oplog_checkpoint"])
def test_every_lycredit_role_is_refused_update_and_delete_on_the_log(hardened, role, statement) -> None:
    with hardened.connect() as conn:
        conn.exec_driver_sql(f"SET ROLE {role}")
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.exec_driver_sql(statement)


@pytest.mark.parametrize("role", DB_ROLES)
def test_every_lycredit_role_can_read_the_log(hardened, role) -> None:
    with hardened.connect() as conn:
        conn.exec_driver_sql(f"SET ROLE {role}")
        assert conn.exec_driver_sql("SELECT count(*) FROM oplog_entry").scalar() > 0


def test_only_the_administrator_may_write_operators(hardened) -> None:
    with hardened.connect() as conn:
        conn.exec_driver_sql("SET ROLE lycredit_operator")
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.exec_driver_sql("UPDATE operator SET role = 'admin'")
    with hardened.connect() as conn:
        conn.exec_driver_sql("SET ROLE lycredit_admin")
        conn.exec_driver_sql("UPDATE operator SET status = status")
        conn.rollback()


def test_even_the_owner_is_refused_by_the_trigger(hardened) -> None:
    with hardened.connect() as conn:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            conn.exec_driver_sql("DELETE FROM oplog_entry")
