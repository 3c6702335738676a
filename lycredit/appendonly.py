"""Append-only enforcement for the operation-log tables (Art. 28: no tampering).

The database itself refuses UPDATE and DELETE on the log tables, by trigger on
both dialects, and on PostgreSQL also by grants (``sql/postgresql-roles.sql``).
A superuser can still get around triggers; that is what ``audit verify`` and
anchored checkpoints are for.
"""

LOG_TABLES = ("oplog_entry", "oplog_operation", "oplog_checkpoint")


def trigger_ddl(dialect: str) -> list[str]:
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION lycredit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "  RAISE EXCEPTION 'lycredit: % on % refused: the operation log is append-only', TG_OP, TG_TABLE_NAME;\n"
            "END;\n"
            "$$"
        )
        for table in LOG_TABLES:
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION lycredit_append_only()"
            )
            statements.append(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lycredit_append_only()"
            )
    elif dialect == "sqlite":
        for table in LOG_TABLES:
            for event in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'lycredit: {event} on {table} refused: "
                    "the operation log is append-only'); END"
                )
    return statements


def drop_trigger_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        out = []
        for table in LOG_TABLES:
            out.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            out.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        out.append("DROP FUNCTION IF EXISTS lycredit_append_only()")
        return out
    return [f"DROP TRIGGER IF EXISTS {t}_no_{e}" for t in LOG_TABLES for e in ("update", "delete")]
