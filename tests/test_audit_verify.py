"""``audit verify`` and ``audit anchor`` catch tampering (oplog.md, "What it must guarantee" 2; Art. 28, 47).

Each test builds a real history through the CLI (operators added, a key
rotated, an operator revoked), checks that it verifies, then tampers with the
database by direct SQL, as an administrator who bypasses lycredit could, and
checks that ``audit verify`` exits 1 and names the entry, operation, table and
key concerned. The log tables refuse UPDATE and DELETE by trigger; tampering
drops the triggers (SQLite) or sets ``session_replication_role = replica``
(PostgreSQL, as superuser) first.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lycredit.appendonly import drop_trigger_ddl
from lycredit.models import LogEntry
from lycredit.oplog.canonical import canonical_json
from lycredit.oplog.log import row_hash
from tests.conftest import PASSPHRASE, PROVIDER_UNIT, invoke

T_ENTRY = LogEntry.__table__


# ---- building a history -----------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One operation as stored: its sequence number and the indexes of its leaves and header."""

    seq: int
    first: int
    header: int

    @property
    def leaves(self) -> range:
        return range(self.first, self.header)


def build_history(platform) -> None:
    """Three operators added, one key rotated, one operator revoked: six operations after ``db init``."""
    platform.add_operator("scjg-01", "provider")
    platform.add_operator("ops-1", "operator")
    platform.add_operator("aud-1", "auditor")
    new_key = platform.dir / "ops-1-new.key"
    public = invoke(["key", "generate", "--out", str(new_key)]).stdout.strip()
    assert platform.run("key", "rotate", "ops-1", "--public-key", public).exit_code == 0
    assert platform.run("operator", "revoke", "scjg-01", "--reason", "left the bureau").exit_code == 0


@contextlib.contextmanager
def reading(platform) -> Iterator[sa.Connection]:
    """A read-only connection (on SQLite it does not take the write lock)."""
    engine = platform.engine()
    try:
        with engine.connect().execution_options(lycredit_read_only=True) as conn:
            yield conn
    finally:
        engine.dispose()


@contextlib.contextmanager
def writing(platform) -> Iterator[sa.Connection]:
    """A transaction on the data tables, as anyone with the database password could open."""
    engine = platform.engine()
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def operation(platform, action: str, nth: int = 0) -> Op:
    with reading(platform) as conn:
        rows = conn.execute(sa.text("SELECT seq, first_idx, leaf_count FROM oplog_operation WHERE action = :a"
                                    " ORDER BY seq"), {"a": action}).all()
    seq, first, count = rows[nth]
    return Op(seq, first, first + count - 1)


def entries(platform) -> dict[int, bytes]:
    with reading(platform) as conn:
        return {idx: bytes(e) for idx, e in conn.execute(sa.text("SELECT idx, entry FROM oplog_entry ORDER BY idx"))}


def leaf(platform, idx: int) -> dict:
    return json.loads(entries(platform)[idx])


def change_of(platform, op: Op, table: str) -> int:
    """The index of the (first) change leaf of ``op`` that changes a row of ``table``."""
    data = entries(platform)
    return next(i for i in op.leaves if json.loads(data[i]).get("table") == table)


def log_size(platform) -> int:
    with reading(platform) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM oplog_entry")).scalar()


@contextlib.contextmanager
def tampering(platform) -> Iterator[sa.Connection]:
    """A transaction that may rewrite the append-only log tables, as a database superuser can."""
    with writing(platform) as conn:
        if platform.backend == "sqlite":
            for ddl in drop_trigger_ddl("sqlite"):
                conn.exec_driver_sql(ddl)
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def write_entry(conn: sa.Connection, idx: int, data: bytes) -> None:
    conn.execute(sa.update(T_ENTRY).where(T_ENTRY.c.idx == idx).values(entry=data))


def move_entries(conn: sa.Connection, start: int, by: int) -> None:
    """Renumber every entry from ``start`` on by ``by`` (in two steps, so no index collides)."""
    conn.execute(sa.text("UPDATE oplog_entry SET idx = -idx - 1 WHERE idx >= :s"), {"s": start})
    conn.execute(sa.text("UPDATE oplog_entry SET idx = -idx - 1 + :by WHERE idx < 0"), {"by": by})


def cut_back(platform, size: int, keep_rows: dict[str, set[str]]) -> None:
    """Roll the log back to ``size`` entries and delete the rows added since: a rollback with no trace."""
    with tampering(platform) as conn:
        conn.execute(sa.text("DELETE FROM oplog_entry WHERE idx >= :s"), {"s": size})
        conn.execute(sa.text("DELETE FROM oplog_operation WHERE first_idx >= :s"), {"s": size})
        conn.execute(sa.text("DELETE FROM oplog_checkpoint WHERE size > :s"), {"s": size})
    added = {table: keys - keep_rows[table] for table, keys in all_row_keys(platform).items()}
    with writing(platform) as conn:
        for table, keys in added.items():
            for key in keys:
                conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": int(key)})


def row_keys(platform, table: str) -> set[str]:
    with reading(platform) as conn:
        return {str(k) for k in conn.execute(sa.text(f"SELECT id FROM {table}")).scalars()}


def all_row_keys(platform) -> dict[str, set[str]]:
    return {t: row_keys(platform, t) for t in ("operator_key", "operator", "unit")}


def operator_id(platform, name: str) -> int:
    with reading(platform) as conn:
        return conn.execute(sa.text("SELECT id FROM operator WHERE name = :n"), {"n": name}).scalar_one()


# ---- running verify ---------------------------------------------------------------------------

def verify(platform, *args: str) -> tuple[int, dict]:
    r = platform.run("--format", "json", "audit", "verify", *args, key=None)
    assert r.exit_code in (0, 1), r.output
    return r.exit_code, json.loads(r.stdout)


def assert_clean(platform, *args: str) -> dict:
    code, report = verify(platform, *args)
    assert (code, report["problems"]) == (0, []), report["problems"]
    assert report["ok"] is True
    return report


def problems_at(report: dict, where: str) -> list[str]:
    return [p["what"] for p in report["problems"] if p["where"] == where]


def assert_reported(report: dict, where: str, *words: str) -> str:
    """Some problem is reported exactly at ``where`` and says all of ``words``; returns its text."""
    for what in problems_at(report, where):
        if all(w in what for w in words):
            return what
    raise AssertionError(f"no problem at {where!r} saying {words}; got {json.dumps(report['problems'], indent=1)}")


@pytest.fixture
def history(platform):
    build_history(platform)
    report = assert_clean(platform)
    assert report["operations"] == 6 and report["entries"] == log_size(platform)
    return platform


# ---- a clean log ------------------------------------------------------------------------------

def test_a_history_made_through_lycredit_verifies_with_every_count(history) -> None:
    report = assert_clean(history)
    from lycredit.models import LOGGED_TABLES

    with reading(history) as conn:
        rows = sum(conn.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar()
                   for model in LOGGED_TABLES.values())
        checkpoints = conn.execute(sa.text("SELECT count(*) FROM oplog_checkpoint")).scalar()
    assert (report["rows"], report["checkpoints"], report["anchors"]) == (rows, checkpoints, 0)
    assert len(report["root"]) == 64


def test_problems_are_listed_as_a_table_with_exit_1(history) -> None:
    with writing(history) as conn:
        conn.execute(sa.text("UPDATE operator SET role = 'admin' WHERE name = 'aud-1'"))
    r = history.run("audit", "verify", key=None)
    assert r.exit_code == 1
    assert f"table operator key {operator_id(history, 'aud-1')}" in r.stdout
    assert "1 problems" in r.stderr


# ---- 1. an entry altered ----------------------------------------------------------------------

def test_an_altered_change_entry_is_reported_at_its_operation_and_at_the_row_it_claims(history) -> None:
    op = operation(history, "operator.add", 2)  # aud-1, never changed again
    idx = change_of(history, op, "operator")
    altered = leaf(history, idx)
    altered["after"] = altered["after"][:-1] + ("0" if altered["after"][-1] != "0" else "1")
    with tampering(history) as conn:
        write_entry(conn, idx, canonical_json(altered))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq} (entries {op.first} to {op.header - 1})", "root of its leaves")
    assert_reported(report, f"table operator key {altered['key']}", "differs", f"entry {idx}")
    assert report["operations"] == 6


def test_an_entry_re_encoded_with_the_same_meaning_is_reported_as_not_canonical(history) -> None:
    op = operation(history, "operator.add", 1)
    idx = change_of(history, op, "operator")
    re_encoded = json.dumps(leaf(history, idx), indent=1).encode()
    with tampering(history) as conn:
        write_entry(conn, idx, re_encoded)
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"entry {idx}", "not canonical")


# ---- 2. an entry deleted ----------------------------------------------------------------------

def test_an_entry_deleted_from_the_middle_is_reported_by_number_and_the_rest_is_still_checked(history) -> None:
    op = operation(history, "operator.add", 1)  # ops-1
    idx = change_of(history, op, "operator_key")
    key = leaf(history, idx)["key"]
    with tampering(history) as conn:
        conn.execute(sa.text("DELETE FROM oplog_entry WHERE idx = :i"), {"i": idx})
    with writing(history) as conn:  # a second, independent change, further on
        conn.execute(sa.text("UPDATE operator SET role = 'admin' WHERE name = 'aud-1'"))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"entry {idx}", "missing", "deleted")
    assert_reported(report, f"operation {op.seq} (entries {op.first} to {op.header - 1})", "3 leaves", "2")
    assert_reported(report, f"table operator key {operator_id(history, 'aud-1')}", "differs")
    assert any(f"operator_key {key}" in p["what"] or p["where"] == f"table operator_key key {key}"
               for p in report["problems"]), "the key row whose insertion was deleted is named"
    assert report["operations"] == 6
    later = [p for p in report["problems"] if p["where"].startswith(("operation", "checkpoint"))
             and f"operation {op.seq} " not in p["where"] + " "]
    assert later == [], "one deleted entry must not make every later operation fail"


def test_a_whole_operation_deleted_from_the_middle_is_reported_by_its_entries_and_sequence(history) -> None:
    op, following = operation(history, "operator.add", 2), operation(history, "key.rotate")  # aud-1, then ops-1
    with tampering(history) as conn:
        conn.execute(sa.text("DELETE FROM oplog_entry WHERE op_seq = :s"), {"s": op.seq})
        conn.execute(sa.text("DELETE FROM oplog_operation WHERE seq = :s"), {"s": op.seq})
        conn.execute(sa.text("DELETE FROM oplog_checkpoint WHERE op_seq = :s"), {"s": op.seq})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"entries {op.first} to {op.header}", "missing", "deleted")
    assert_reported(report, f"operation {following.seq} (entry {following.header})",
                    f"sequence number {following.seq}, expected {op.seq}")
    assert_reported(report, f"table operator key {operator_id(history, 'aud-1')}", "not in the log")


# ---- 3. an entry inserted ---------------------------------------------------------------------

def test_a_forged_entry_appended_after_the_last_operation_is_reported(history) -> None:
    size = log_size(history)
    forged = {"type": "change", "v": 1, "table": "operator", "key": str(operator_id(history, "aud-1")),
              "before": None, "after": "0" * 64}
    with tampering(history) as conn:
        conn.execute(sa.insert(T_ENTRY).values(idx=size, op_seq=6, entry=canonical_json(forged)))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"entry {size}", "after the last signed operation")


def test_a_forged_entry_inserted_in_the_middle_is_reported_at_its_operation(history) -> None:
    op = operation(history, "operator.add", 2)  # aud-1
    target = operator_id(history, "aud-1")
    from lycredit.models import Operator
    from lycredit.models.base import row_values

    table = Operator.__table__
    with writing(history) as conn:
        before = conn.execute(sa.select(table).where(table.c.id == target)).one()
        conn.execute(sa.update(table).where(table.c.id == target).values(role="admin"))
        after = conn.execute(sa.select(table).where(table.c.id == target)).one()
    forged = {"type": "change", "v": 1, "table": "operator", "key": str(target),
              "before": row_hash("operator", row_values(table, before)),
              "after": row_hash("operator", row_values(table, after))}
    with tampering(history) as conn:
        move_entries(conn, op.header, 1)
        conn.execute(sa.insert(T_ENTRY).values(idx=op.header, op_seq=op.seq, entry=canonical_json(forged)))
    code, report = verify(history)
    assert code == 1
    assert report["problems"] == [{"where": f"operation {op.seq} (entries {op.first} to {op.header})",
                                   "what": "the header signs 3 leaves but 4 are stored before it"}], (
        "the forged change explains the changed row; only the signed leaf count betrays it")


# ---- 4. entries moved -------------------------------------------------------------------------

def test_two_entries_swapped_within_an_operation_are_reported_at_that_operation(history) -> None:
    op = operation(history, "operator.add", 1)
    a, b = op.leaves[0], op.leaves[1]
    data = entries(history)
    with tampering(history) as conn:
        write_entry(conn, a, data[b])
        write_entry(conn, b, data[a])
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq} (entries {op.first} to {op.header - 1})", "moved")


def test_two_operations_swapped_are_reported_by_sequence_number(history) -> None:
    first, second = operation(history, "operator.add", 1), operation(history, "operator.add", 2)
    data = entries(history)
    with tampering(history) as conn:
        write_entry(conn, first.header, data[second.header])
        write_entry(conn, second.header, data[first.header])
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {second.seq} (entry {first.header})",
                    f"sequence number {second.seq}, expected {first.seq}")


# ---- 5. signatures ----------------------------------------------------------------------------

def test_a_header_whose_signature_was_altered_is_reported(history) -> None:
    op = operation(history, "operator.revoke")
    header = leaf(history, op.header)
    sig = bytearray(base64.b64decode(header["signature"]))
    sig[10] ^= 0x01
    header["signature"] = base64.b64encode(bytes(sig)).decode()
    with tampering(history) as conn:
        write_entry(conn, op.header, canonical_json(header))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq} (entry {op.header})", "signature does not verify")


def test_a_header_whose_reason_was_rewritten_without_re_signing_is_reported(history) -> None:
    op = operation(history, "operator.revoke")
    header = leaf(history, op.header)
    assert header["reason"] == "left the bureau"
    header["reason"] = "requested by the operator"
    with tampering(history) as conn:
        write_entry(conn, op.header, canonical_json(header))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq} (entry {op.header})", "signature does not verify")


# ---- 6. a key used after revocation ----------------------------------------------------------

def forge_operation(platform, key_file: Path, name: str, action: str, work: Callable) -> None:
    """Sign and append an operation with ``key_file`` through the real unit of work, skipping every
    check that lycredit makes before signing (registration, revocation, role)."""
    from unittest import mock

    from lycredit.keys import load_private_key
    from lycredit.operators import key_id_hex
    from lycredit.oplog import log
    from lycredit.oplog.log import Signer, UnitOfWork

    private = load_private_key(key_file, PASSPHRASE)
    op_id = operator_id(platform, name)
    # an attacker runs a modified lycredit: the key-window check at signing time is gone too
    with writing(platform) as conn, mock.patch.object(log, "_require_key_valid_at", lambda *a: None):
        role = conn.execute(sa.text("SELECT role FROM operator WHERE id = :i"), {"i": op_id}).scalar_one()
        signer = Signer(op_id, name, role, key_id_hex(name, private.public_key()), private)
        uow = UnitOfWork(conn, signer, command="forged", action=action, reason="forged")
        work(uow)
        uow.close()


def test_an_operation_signed_with_a_revoked_key_is_reported(history) -> None:
    from lycredit.models import Unit
    from lycredit.models.base import utcnow

    def submit(uow) -> None:
        uow.insert(Unit.__table__, {"uscc": PROVIDER_UNIT[:-4] + "0000", "name": "forged", "created_at": utcnow()})

    assert history.run("operator", "revoke", "nobody", "--reason", "x", key="scjg-01").exit_code == 77
    forge_operation(history, history.keys["scjg-01"], "scjg-01", "catalog.submit", submit)
    code, report = verify(history)
    assert code == 1
    assert [p["where"] for p in report["problems"]] == [f"operation 7 (entry {log_size(history) - 1})"]
    what = report["problems"][0]["what"]
    assert "of scjg-01 was not valid at" in what and "valid " in what


def test_an_operation_backdated_to_before_its_key_was_registered_is_reported(history, monkeypatch) -> None:
    import datetime as dt

    from lycredit.oplog import log

    monkeypatch.setattr(log, "utcnow", lambda: dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    forge_operation(history, history.keys["aud-1"], "aud-1", "audit.query", lambda uow: uow.event("query"))
    code, report = verify(history)
    assert code == 1
    where = f"operation 7 (entry {log_size(history) - 1})"
    assert_reported(report, where, "key", "of aud-1 was not valid at 2020-01-01T00:00:00.000000Z")
    assert_reported(report, where, "its time 2020-01-01T00:00:00.000000Z is before the previous operation's")


def test_an_operation_signed_by_an_unregistered_key_is_reported(history, tmp_path) -> None:
    stray = tmp_path / "stray.key"
    assert invoke(["key", "generate", "--out", str(stray)]).exit_code == 0
    forge_operation(history, stray, "aud-1", "audit.query", lambda uow: uow.event("query", subject="x"))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation 7 (entry {log_size(history) - 1})", "never registered")


# ---- 7-9. data rows changed outside lycredit -------------------------------------------------

def test_a_data_row_changed_by_direct_sql_is_reported_by_table_and_key(history) -> None:
    with writing(history) as conn:
        conn.execute(sa.text("UPDATE operator SET role = 'admin' WHERE name = 'aud-1'"))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"table operator key {operator_id(history, 'aud-1')}", "changed outside lycredit")
    assert len(report["problems"]) == 1


def test_a_data_row_deleted_by_direct_sql_is_reported_by_table_and_key(history) -> None:
    with reading(history) as conn:
        key_id = conn.execute(sa.text("SELECT max(id) FROM operator_key")).scalar()
    with writing(history) as conn:
        conn.execute(sa.text("DELETE FROM operator_key WHERE id = :i"), {"i": key_id})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"table operator_key key {key_id}", "missing", "deleted outside lycredit")
    assert len(report["problems"]) == 1


def test_a_data_row_added_by_direct_sql_is_reported_by_table_and_key(history) -> None:
    with writing(history) as conn:
        conn.execute(sa.text("INSERT INTO unit (id, uscc, name, created_at) VALUES (990, :c, 'x', :t)"),
                     {"c": PROVIDER_UNIT[:-4] + "0001", "t": "2026-01-05 00:00:00"})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, "table unit key 990", "not in the log", "added outside lycredit")
    assert len(report["problems"]) == 1


def test_a_value_its_column_cannot_hold_is_reported_not_a_crash(history) -> None:
    change = sa.text("UPDATE operator SET created_at = 'not a time' WHERE name = 'aud-1'")
    if history.backend == "postgresql":
        with pytest.raises(sa.exc.DataError), writing(history) as conn:
            conn.execute(change)
        return
    with writing(history) as conn:  # SQLite columns hold anything
        conn.execute(change)
        conn.execute(sa.text("UPDATE unit SET name = 'renamed' WHERE id = 1"))
    code, report = verify(history)
    assert code == 1
    assert_reported(report, "table operator", "cannot be read", "not a time")
    assert_reported(report, "table unit key 1", "changed outside lycredit")


# ---- 10. anchors ------------------------------------------------------------------------------

def anchor(platform, directory: Path):
    return platform.run("audit", "anchor", "--out", str(directory), key=None)


def test_a_log_cut_back_below_an_anchored_checkpoint_is_reported(history, tmp_path) -> None:
    anchors = tmp_path / "anchors"
    assert anchor(history, anchors).exit_code == 0
    kept_size, kept_rows = log_size(history), all_row_keys(history)
    history.add_operator("late-1", "operator")
    assert anchor(history, anchors).exit_code == 0
    assert_clean(history, "--anchor", str(anchors))
    cut_back(history, kept_size, kept_rows)
    assert_clean(history)  # without the anchor, a clean rollback is invisible
    code, report = verify(history, "--anchor", str(anchors))
    assert code == 1 and report["anchors"] == 2
    [problem] = report["problems"]
    assert problem["where"].startswith("anchor checkpoint-") and "cut back" in problem["what"]


def test_a_log_rewritten_below_an_anchored_checkpoint_is_reported(history, tmp_path) -> None:
    anchors = tmp_path / "anchors"
    kept_size, kept_rows = log_size(history), all_row_keys(history)
    history.add_operator("late-1", "operator")
    assert anchor(history, anchors).exit_code == 0
    anchored = log_size(history)
    cut_back(history, kept_size, kept_rows)
    history.add_operator("late-2", "operator")  # another history of the same size, signed by real keys
    assert log_size(history) == anchored
    assert_clean(history)
    code, report = verify(history, "--anchor", str(anchors))
    assert code == 1
    [problem] = report["problems"]
    assert problem["where"] == f"anchor checkpoint-{anchored:012d}.txt"
    assert "not consistent" in problem["what"]
    refused = anchor(history, anchors)
    assert refused.exit_code == 65 and "different checkpoint of the same size" in refused.stderr


def test_an_anchor_of_another_log_forged_or_signed_by_no_known_key_is_reported(history, tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lycredit.keys import load_private_key
    from lycredit.oplog.note import Checkpoint, sign_note

    anchors = tmp_path / "anchors"
    path = Path(anchor(history, anchors).stdout.strip())
    text = path.read_text(encoding="utf-8").partition("\n\n")[0] + "\n"
    cp = Checkpoint.parse(text)
    admin = load_private_key(history.admin_key, PASSPHRASE)
    fakes = {
        "checkpoint-000000000003.txt": sign_note(Checkpoint("elsewhere.example/log", cp.size, cp.root).text(),
                                                 [("admin", admin)]),
        "checkpoint-000000000004.txt": text + "\n",
        "checkpoint-000000000005.txt": sign_note(text, [("admin", Ed25519PrivateKey.generate())]),
        "checkpoint-000000000006.txt": path.read_text(encoding="utf-8").replace(
            "lycredit.test/log", "lycredit.test/lag", 1),
    }
    for name, note in fakes.items():
        (anchors / name).write_text(note, encoding="utf-8")
    code, report = verify(history, "--anchor", str(anchors))
    assert code == 1 and report["anchors"] == 5
    assert_reported(report, "anchor checkpoint-000000000003.txt", "elsewhere.example/log", "lycredit.test/log")
    assert_reported(report, "anchor checkpoint-000000000004.txt", "not a checkpoint signed by a known key")
    assert_reported(report, "anchor checkpoint-000000000005.txt", "not a checkpoint signed by a known key")
    assert_reported(report, "anchor checkpoint-000000000006.txt", "does not verify")
    assert problems_at(report, f"anchor {path.name}") == []


def test_an_anchor_whose_name_is_not_its_size_is_reported(history, tmp_path) -> None:
    """An anchored checkpoint copied over another's name (the later one removed, say, to hide a cut-back log) is
    tampering with the anchors: audit verify names it, as the bundle's verify.py does."""
    anchors = tmp_path / "anchors"
    first = Path(anchor(history, anchors).stdout.strip())
    history.add_operator("late-1", "operator")
    later = Path(anchor(history, anchors).stdout.strip())
    assert_clean(history, "--anchor", str(anchors))
    later.write_bytes(first.read_bytes())
    code, report = verify(history, "--anchor", str(anchors))
    assert code == 1 and report["anchors"] == 2
    [problem] = report["problems"]
    assert problem["where"] == f"anchor {later.name}" and "not the one its name says" in problem["what"]


def test_anchor_writes_one_file_per_checkpoint_and_never_overwrites(history, tmp_path) -> None:
    anchors = tmp_path / "anchors"
    first = anchor(history, anchors)
    assert first.exit_code == 0 and "Anchored" in first.stderr
    path = Path(first.stdout.strip())
    assert path.name == f"checkpoint-{log_size(history):012d}.txt"
    with reading(history) as conn:
        note = conn.execute(sa.text("SELECT note FROM oplog_checkpoint ORDER BY size DESC")).scalars().first()
    assert path.read_text(encoding="utf-8") == note
    assert path.stat().st_mode & 0o222 == 0, "an anchor file is read-only"
    again = anchor(history, anchors)
    assert again.exit_code == 0 and "Already anchored" in again.stderr
    history.add_operator("late-1", "operator")
    assert anchor(history, anchors).exit_code == 0
    assert sorted(p.name for p in anchors.iterdir()) == [path.name, f"checkpoint-{log_size(history):012d}.txt"]
    assert path.read_text(encoding="utf-8") == note


def test_anchor_refuses_a_different_checkpoint_of_the_same_size(history, tmp_path) -> None:
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    fake = anchors / f"checkpoint-{log_size(history):012d}.txt"
    fake.write_text("lycredit.test/log\n99\nAAAA\n\n— admin AAAA\n")
    r = anchor(history, anchors)
    assert r.exit_code == 65
    assert fake.name in r.stderr and "different checkpoint of the same size" in r.stderr
    assert fake.read_text() == "lycredit.test/log\n99\nAAAA\n\n— admin AAAA\n"
    assert sorted(p.name for p in anchors.iterdir()) == [fake.name]


def test_an_anchor_write_that_fails_half_way_leaves_no_file_behind(history, tmp_path, monkeypatch) -> None:
    import errno

    from lycredit.errors import ConfigError
    from lycredit.oplog import anchor as anchor_module

    anchors = tmp_path / "anchors"
    real_fdopen = os.fdopen

    def disk_full(fd: int, *args, **kwargs):
        with real_fdopen(fd, *args, **kwargs) as fh:
            fh.write(b"lycredit.test/lo")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(anchor_module.os, "fdopen", disk_full)
    with reading(history) as conn, pytest.raises(ConfigError, match="cannot be written \\(No space left on device\\)"):
        anchor_module.write_anchor(conn, anchors)  # an output that cannot be written: 78, naming it
    monkeypatch.undo()
    assert not anchors.exists(), "no half file, and not the directory this run created"
    retry = anchor(history, anchors)
    assert retry.exit_code == 0 and "Anchored" in retry.stderr, retry.output
    assert_clean(history, "--anchor", str(anchors))


# ---- 11-12. the index tables ------------------------------------------------------------------

def test_an_operation_index_row_with_another_operator_is_reported(history) -> None:
    op = operation(history, "operator.revoke")
    with tampering(history) as conn:
        conn.execute(sa.text("UPDATE oplog_operation SET operator = 'aud-1' WHERE seq = :s"), {"s": op.seq})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq}", "differs from the signed header", "operator")
    assert len(report["problems"]) == 1


def test_an_operation_index_row_with_another_reason_is_reported(history) -> None:
    op = operation(history, "operator.revoke")
    with tampering(history) as conn:
        conn.execute(sa.text("UPDATE oplog_operation SET reason = 'routine' WHERE seq = :s"), {"s": op.seq})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq}", "differs from the signed header", "reason")


def test_a_deleted_operation_index_row_is_reported(history) -> None:
    op = operation(history, "key.rotate")
    with tampering(history) as conn:
        conn.execute(sa.text("DELETE FROM oplog_operation WHERE seq = :s"), {"s": op.seq})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"operation {op.seq}", "missing from oplog_operation")


def test_a_checkpoint_whose_root_was_altered_is_reported(history) -> None:
    op = operation(history, "key.rotate")
    size = op.header + 1
    with tampering(history) as conn:
        conn.execute(sa.text("UPDATE oplog_checkpoint SET root = :r WHERE size = :s"),
                     {"r": b"\x01" * 32, "s": size})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"checkpoint {size}", "root")
    assert len(report["problems"]) == 1


def test_a_stored_checkpoint_of_another_log_is_reported(history) -> None:
    """A checkpoint note re-signed by a registered key under another log's name, same size and root: the tree
    matches, but it is no checkpoint of this log (the bundle's verify.py checks the origin too)."""
    from lycredit.keys import load_private_key
    from lycredit.oplog.note import Checkpoint, sign_note

    op = operation(history, "key.rotate")
    size = op.header + 1
    with history.engine().connect() as conn:
        note = conn.execute(sa.text("SELECT note FROM oplog_checkpoint WHERE size = :s"), {"s": size}).scalar()
    text = note.partition("\n\n")[0] + "\n"
    cp = Checkpoint.parse(text)
    admin = load_private_key(history.admin_key, PASSPHRASE)
    forged = sign_note(Checkpoint("elsewhere.example/log", cp.size, cp.root).text(), [("admin", admin)])
    with tampering(history) as conn:
        conn.execute(sa.text("UPDATE oplog_checkpoint SET note = :n WHERE size = :s"), {"n": forged, "s": size})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"checkpoint {size}", "elsewhere.example/log", "lycredit.test/log")
    assert len(report["problems"]) == 1, report["problems"]


def test_a_deleted_checkpoint_is_reported(history) -> None:
    op = operation(history, "key.rotate")
    with tampering(history) as conn:
        conn.execute(sa.text("DELETE FROM oplog_checkpoint WHERE size = :s"), {"s": op.header + 1})
    code, report = verify(history)
    assert code == 1
    assert_reported(report, f"checkpoint {op.header + 1}", "missing")


# ---- robustness: any change to any entry is found, and verify never crashes -------------------

def test_any_change_to_any_entry_is_reported_without_crashing(history) -> None:
    from lycredit.oplog.verify import Replayer, Report

    stored = entries(history)
    clean = Replayer(Report())
    for idx, data in stored.items():
        clean.feed(idx, data)
    assert clean.report.ok and clean.pending == []
    replacements = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**53 - 1), st.text(st.characters(exclude_categories=["Cs"]), max_size=3),
                             st.lists(st.integers(0, 3), max_size=2), st.just({}))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(stored)), st.data())
    def mutate(idx: int, data: st.DataObject) -> None:
        obj = json.loads(stored[idx])
        field = data.draw(st.sampled_from(sorted(obj)))
        value = data.draw(replacements.filter(lambda v: v != obj[field]))
        obj[field] = value
        rep = Replayer(Report())
        for i, e in stored.items():
            rep.feed(i, canonical_json(obj) if i == idx else e)
        rep.finish()
        assert not rep.report.ok, f"entry {idx}: {field} = {value!r} went unnoticed"

    mutate()


# ---- a crash in the middle of an operation ----------------------------------------------------

CRASHING_OPERATION = textwrap.dedent("""
    import sys, time
    from lycredit.context import AppContext
    from lycredit.keys import parse_public_key
    from lycredit.operators import add_operator

    url, key_file, public = sys.argv[1:4]
    app = AppContext(db=url, key_file=key_file, command_name="operator add")
    with app.operation("operator.add") as uow:
        add_operator(uow, "late-1", "operator", {unit!r}, None, parse_public_key(public))
        print("rows inserted, not yet signed", flush=True)
        time.sleep(120)
""")


def test_a_process_killed_in_the_middle_of_an_operation_leaves_no_trace(history) -> None:
    key = history.dir / "late-1.key"
    public = invoke(["key", "generate", "--out", str(key)]).stdout.strip()
    before = (log_size(history), all_row_keys(history))
    child = subprocess.Popen([sys.executable, "-c", CRASHING_OPERATION.format(unit=PROVIDER_UNIT),
                              history.url, str(history.admin_key), public],
                             stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert child.stdout.readline().strip() == "rows inserted, not yet signed"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert (log_size(history), all_row_keys(history)) == before
    assert_clean(history)
    again = history.run("operator", "add", "late-1", "--role", "operator", "--unit-code", PROVIDER_UNIT,
                        "--public-key", public)
    assert again.exit_code == 0, again.output
    assert assert_clean(history)["operations"] == 7


# ---- verification reads one snapshot ----------------------------------------------------------

def test_an_operation_committed_while_verify_runs_does_not_make_it_fail(history, monkeypatch) -> None:
    from lycredit.oplog import verify as verify_module

    key = history.dir / "late-1.key"
    public = invoke(["key", "generate", "--out", str(key)]).stdout.strip()
    real = verify_module.iter_entries

    def entries_then_a_concurrent_write(conn, *args, **kwargs):
        yield from real(conn, *args, **kwargs)
        r = history.run("operator", "add", "late-1", "--role", "operator", "--unit-code", PROVIDER_UNIT,
                        "--public-key", public)
        assert r.exit_code == 0, r.output

    monkeypatch.setattr(verify_module, "iter_entries", entries_then_a_concurrent_write)
    report = assert_clean(history)
    assert report["operations"] == 6
    monkeypatch.setattr(verify_module, "iter_entries", real)
    assert assert_clean(history)["operations"] == 7
