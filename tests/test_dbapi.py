"""The driver-only database layer (lycredit.dbapi) and the SQLAlchemy-free query path (issue #5)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit import dbapi, disclosure
from lycredit.errors import DatabaseUnavailable, SchemaNotAtHead
from tests.test_disclosure import AS_OF, AS_OF_TEXT, COMPANY, PERSON, World, build_world, core_query

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pyarrow", "rich", "tabulate", "lycredit.models", "stdnum")


@pytest.fixture
def world(platform) -> World:
    return build_world(platform)


def _imported(world: World, args: list[str]) -> tuple[dict, set[str]]:
    """Run the real CLI in a fresh interpreter; its JSON output and which heavy modules it loaded."""
    script = (
        "import sys\nfrom lycredit.commands.main import cli\n"
        f"cli.main(['--db', {world.platform.url!r}, '--as-of', {AS_OF_TEXT!r}, '--format', 'json', *{args!r}], "
        "standalone_mode=False)\n"
        f"print('MODULES:' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("MODULES:"), done.stderr[-500:]
    return json.loads(done.stdout), set(filter(None, line.removeprefix("MODULES:").split(",")))


def test_a_public_query_imports_no_sqlalchemy_orm_or_alembic(world) -> None:
    result, heavy = _imported(world, ["query", COMPANY, "--purpose", "核查"])
    assert result["subject"]["code"] == COMPANY and result["records"]
    assert heavy == set()


@pytest.mark.parametrize(
    ("code", "args", "key"),
    [
        (PERSON, ["--self"], "admin"),
        (PERSON, ["--gov-share"], "scjg-01"),
        (COMPANY, ["--authorization", "{company_authorisation}"], "bank-01"),
    ],
)
def test_a_logged_query_imports_no_sqlalchemy_orm_or_alembic(world, code, args, key) -> None:
    args = [a.format(company_authorisation=world.authorizations[COMPANY]) for a in args]
    before = _operation_count(world)
    result, heavy = _imported(
        world, ["--key", str(world.platform.keys[key]), "query", code, "--purpose", "核查", *args]
    )
    assert result["records"]
    assert heavy == set()
    assert _operation_count(world) == before + 1
    r = world.platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output


def _operation_count(world: World) -> int:
    with world.platform.engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM oplog_operation")).scalar()


def test_the_driver_layer_reads_what_sqlalchemy_reads(world) -> None:
    subject_id = world.subject_ids[COMPANY]
    with world.platform.engine().connect() as conn:
        through_sqlalchemy = disclosure.subject_records(conn, subject_id)
        expected = [
            dict(row)
            for row in conn.execute(
                sa.text("SELECT id, decision_date, disclosure_until, archived_on FROM record "
                        "WHERE subject_id = :s ORDER BY decision_date, id").columns(
                    decision_date=sa.Date, disclosure_until=sa.Date, archived_on=sa.Date),
                {"s": subject_id},
            ).mappings()
        ]
        authorisation = dict(conn.execute(
            sa.select(sa.table("authorization", sa.column("id"), sa.column("valid_from", sa.Date)))
            .where(sa.column("id") == world.authorizations[COMPANY])).mappings().one())
    db = dbapi.open_database(world.platform.url)
    try:
        direct = disclosure.subject_records(db, subject_id)
        from lycredit.authorization_check import AUTHORIZATION_TYPES

        row = db.first('SELECT * FROM "authorization" WHERE id = :id', {"id": world.authorizations[COMPANY]},
                       AUTHORIZATION_TYPES)
    finally:
        db.close()
    assert direct == through_sqlalchemy
    assert [{k: r[k] for k in ("id", "decision_date", "disclosure_until", "archived_on")} for r in direct] == expected
    assert all(isinstance(r["decision_date"], dt.date) and isinstance(r["dishonesty"], bool) for r in direct)
    assert row["valid_from"] == authorisation["valid_from"]
    assert row["created_at"].tzinfo is not None and row["revoked_at"] is None


def test_a_query_on_the_driver_connection_equals_one_on_sqlalchemys(world) -> None:
    through_sqlalchemy = core_query(world, COMPANY, disclosure.PUBLIC)
    db = dbapi.open_database(world.platform.url)
    try:
        direct = disclosure.query(db, COMPANY, disclosure.PUBLIC, "贷款审查", as_of=AS_OF)
    finally:
        db.close()
    assert direct == through_sqlalchemy


def test_utc_timestamps_are_stored_as_sqlalchemy_stores_them(platform) -> None:
    at = dt.datetime(2026, 6, 1, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    db = dbapi.open_database(platform.url, write=True)
    try:
        db.execute("CREATE TEMPORARY TABLE t (at TIMESTAMP WITH TIME ZONE, day DATE)")
        db.execute("INSERT INTO t (at, day) VALUES (:at, :day)", {"at": at, "day": dt.date(2026, 6, 1)})
        row = db.first("SELECT at, day FROM t", types={"at": dbapi.UTC, "day": dbapi.DATE})
        raw = db.scalar("SELECT at FROM t")
    finally:
        db.close()
    assert row == {"at": at.astimezone(dt.UTC), "day": dt.date(2026, 6, 1)}
    if platform.backend == "sqlite":
        assert raw == "2026-05-31 20:05:06.000007"  # SQLAlchemy's DateTime form, naive UTC


def test_a_missing_sqlite_file_is_refused_as_before(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(SchemaNotAtHead, match="does not exist: run 'lycredit db init'"):
        dbapi.open_database(url)
    assert not (tmp_path / "none.db").exists()
    from tests.conftest import invoke

    r = invoke(["--db", url, "query", COMPANY, "--purpose", "核查"])
    assert r.exit_code == 78 and "run 'lycredit db init'" in r.stderr


def test_an_unreachable_server_exits_69() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    with pytest.raises(DatabaseUnavailable, match="Database unavailable"):
        dbapi.open_database(url)
    from tests.conftest import invoke

    r = invoke(["--db", url, "query", COMPANY, "--purpose", "核查"])
    assert r.exit_code == 69 and "Database unavailable" in r.stderr


@pytest.mark.parametrize(
    ("revision", "complaint"),
    [("0002", "run 'lycredit db upgrade'"), ("9999", "unknown to this lycredit"), (None, "run 'lycredit db init'")],
)
def test_a_schema_not_at_head_is_refused_with_the_messages_of_require_head(platform, revision, complaint) -> None:
    from lycredit.schema import require_head

    engine = platform.engine()
    with engine.begin() as conn:
        if revision is None:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        else:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    with pytest.raises(SchemaNotAtHead) as by_engine:
        require_head(engine)
    engine.dispose()
    with pytest.raises(SchemaNotAtHead) as by_driver:
        dbapi.open_database(platform.url)
    assert by_driver.value.message == by_engine.value.message and complaint in by_driver.value.message
    r = platform.run("query", COMPANY, "--purpose", "核查", key=None)
    assert r.exit_code == 78 and complaint in r.stderr


def test_urls_are_read_as_sqlalchemy_reads_them() -> None:
    for url in ("sqlite:///lycredit.db", "sqlite:////tmp/x/y.db", "sqlite://", "sqlite:///:memory:"):
        u = sa.engine.make_url(url)
        expected = None if u.database in (None, "", ":memory:") else u.database
        assert (str(dbapi.sqlite_path(url)) if dbapi.sqlite_path(url) else None) == expected
    url = "postgresql+psycopg://us%40r:p%3Aw@db.example:5433/credit?sslmode=require"
    args = sa.engine.make_url(url).translate_connect_args(username="user", database="dbname")
    assert dbapi.pg_connect_args(url) == {**args, "sslmode": "require"}


def test_parameters_are_translated_for_psycopg_without_touching_casts() -> None:
    db = dbapi.DB(None, dbapi.POSTGRESQL)
    assert db._sql("SELECT :a::text, '5%' WHERE x = :b_2") == "SELECT %(a)s::text, '5%%' WHERE x = %(b_2)s"


def test_the_shortcuts_into_cryptography_are_its_public_functions() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from lycredit.identity import _aesgcm
    from lycredit.keys import _pem_private_key_loader

    assert _pem_private_key_loader() is load_pem_private_key
    assert _aesgcm() is AESGCM


_LEAF_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_LEAF_VALUE = st.recursive(st.one_of(_LEAF_TEXT, st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1)),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_LEAF_TEXT, inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.dictionaries(_LEAF_TEXT, _LEAF_VALUE), min_size=1, max_size=150),
       mode=st.sampled_from(["objects", "strings"]))
def test_entries_are_stored_byte_for_byte_whichever_way_sqlite_takes_them(tmp_path_factory, leaves, mode) -> None:
    """A bulk operation's entries go in as one JSON array (json_each) of the objects themselves or of JSON
    strings, a small one's row by row: the same bytes."""
    import sqlite3

    from lycredit.oplog import append
    from lycredit.oplog.canonical import canonical_json

    if mode == append.OBJECTS and append._json_each_mode() != append.OBJECTS:
        return  # this SQLite does not give the objects back as they were given: they go in as strings
    made = [canonical_json({**leaf, "type": "event", "v": 1}) for leaf in leaves]
    raw = sqlite3.connect(tmp_path_factory.mktemp("entries") / "log.db", isolation_level=None)
    raw.execute("CREATE TABLE oplog_entry (idx INTEGER PRIMARY KEY, op_seq INTEGER NOT NULL, entry BLOB NOT NULL)")
    probed, append._json_each = append._json_each_mode(), mode
    try:
        for first, entries in ((7, made[:append._JSON_EACH_MIN - 1]), (1000, (made * append._JSON_EACH_MIN)[:200])):
            append.insert_entries(dbapi.DB(raw, "sqlite"), first, 3, entries)
            stored = raw.execute("SELECT idx, op_seq, entry FROM oplog_entry WHERE idx >= ? ORDER BY idx LIMIT ?",
                                 (first, len(entries))).fetchall()
            assert stored == [(first + i, 3, entry) for i, entry in enumerate(entries)]
            assert all(type(entry) is bytes for _idx, _seq, entry in stored)
    finally:
        append._json_each = probed


def test_this_sqlite_takes_the_entries_as_the_objects_they_are() -> None:
    """The probe's entries hold what could come back changed (escapes, raw UTF-8, nesting); this SQLite
    gives them back byte for byte, so a bulk operation's entries skip a second JSON encoding."""
    from lycredit.oplog import append
    from lycredit.oplog.canonical import is_canonical

    assert all(is_canonical(entry) for entry in append._JSON_EACH_PROBE)
    assert append._json_each_mode() == append.OBJECTS
