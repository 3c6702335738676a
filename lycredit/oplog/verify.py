"""``audit verify``: check the whole log and replay it against the tables (oplog.md, Art. 28, 47).

The steps, each a check that names what failed (an entry, an operation, a
checkpoint, a table and key, an anchor file):

1. entries: contiguous indexes from 0 (a gap is reported by number and the
   walk goes on), canonical JSON bytes, a known type and shape;
2. operations: consecutive sequence numbers, the header's leaf count and
   leaves root match the leaves stored before it, its previous tree size and
   root match the tree before it, times never go back, the signature verifies
   under a key that the log itself registered (by an administrator) and that
   was valid at that time;
3. changes: each change's *before* hash is the replayed state of that row;
4. the index tables: ``oplog_operation`` and ``oplog_checkpoint`` agree with
   the signed headers; every operation has its checkpoint, whose root is the
   tree's root at its size and whose signed note verifies;
5. data: every row of every logged table hashes to the replayed state, and
   no row is missing or extra;
6. anchors: each anchored checkpoint is of this log, signed by a key the log
   registered, not larger than the tree (cut back) and equal to the tree's
   root at its size (rewritten). The anchor directory and its files are
   checked before anything else: one that is missing, not a directory or
   cannot be read is an input that cannot be read (66), never a finding or
   an empty set of anchors.

One tampered entry is reported once: an operation whose leaves or header do
not match what was signed leaves the rebuilt tree unreliable, so the next
operation's previous root is not reported again but resumed from the stored
checkpoint whose root that operation signed. Everything is read in one
snapshot, so operations committed meanwhile do not count.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lycredit.i18n import _
from lycredit.models.base import hashed_columns, row_key, row_values
from lycredit.oplog.canonical import canonical_json
from lycredit.oplog.log import ENTRY_VERSION, log_origin, row_hash, signing_bytes, timestamp
from lycredit.oplog.merkle import EMPTY_ROOT, Frontier, MerkleError, leaf_hash, root_from_leaf_hashes
from lycredit.oplog.note import Checkpoint, NoteError, open_note

__all__ = ["Problem", "Replayer", "Report", "verify_database"]

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_TIMES = frozenset({"at", "valid_from", "valid_until"})
_ABSENT = object()
_TEXT = (str,)
_TEXT_OR_NONE = (str, type(None))
_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "change": {"table": _TEXT, "key": _TEXT, "before": _TEXT_OR_NONE, "after": _TEXT_OR_NONE},
    "event": {"event": _TEXT},
    "operation": {"seq": (int,), "at": _TEXT, "operator": _TEXT, "key_id": _TEXT, "prev_size": (int,),
                  "prev_root": _TEXT, "leaf_count": (int,), "leaves_root": _TEXT, "signature": _TEXT},
}
_KEY_EVENTS: dict[str, dict[str, tuple[type, ...]]] = {
    "key.register": {"operator": _TEXT, "key_id": _TEXT, "public_key": _TEXT, "valid_from": _TEXT,
                     "valid_until": _TEXT_OR_NONE},
    "key.revoke": {"operator": _TEXT, "key_id": _TEXT, "valid_until": _TEXT},
    "key.expire": {"operator": _TEXT, "key_id": _TEXT, "valid_until": _TEXT},
}
_INDEXED = ("first_idx", "leaf_count", "at", "operator", "key_id", "command", "action", "subject", "reason",
            "summary")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "what": self.what}


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    operations: int = 0
    rows: int = 0
    checkpoints: int = 0
    anchors: int = 0
    root: str = ""

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class KeyWindow:
    operator: str
    role: str
    key_id: str
    public_key: Ed25519PublicKey
    valid_from: str
    valid_until: str | None


@dataclass(frozen=True)
class End:
    """Where an operation ends in the signed tree: its sequence number and the root (None if unreliable)."""

    seq: int
    root: bytes | None


def _entry(n: int) -> str:
    return _("entry {n}").format(n=n)


def _entries(first: int, last: int) -> str:
    return _entry(first) if first == last else _("entries {first} to {last}").format(first=first, last=last)


def _misshapen(obj: dict[str, Any], shape: dict[str, tuple[type, ...]]) -> str | None:
    """The first field of ``obj`` that is missing, of the wrong JSON type, or not a log timestamp."""
    for name, types in shape.items():
        value = obj.get(name, _ABSENT)
        if type(value) not in types or (name in _TIMES and value is not None and not _TIME.fullmatch(value)):
            return name
    return None


class Replayer:
    """Walks the leaves in order, checks each operation, and builds the state the log implies.

    ``resume(size)`` gives the stored tree edge (``oplog_checkpoint.frontier``)
    at a size, to go on from after a reported divergence; only an edge whose
    root is the one the next header signs is used.
    """

    def __init__(self, report: Report, resume: Callable[[int], bytes | None] = lambda size: None) -> None:
        self.report = report
        self.resume = resume
        self.tree = Frontier()
        self.root = EMPTY_ROOT
        self.in_sync = True
        self.next_idx = 0
        self.pending: list[tuple[int, dict[str, Any], bytes]] = []
        self.state: dict[str, dict[str, tuple[str, int]]] = {}
        self.keys: dict[tuple[str, str], KeyWindow] = {}
        self.headers: dict[int, dict[str, Any]] = {}
        self.ends: dict[int, End] = {}
        self.next_seq = 1
        self.last_at = ""

    # ---- entries ----------------------------------------------------------------------------
    def feed(self, idx: int, data: bytes) -> None:
        if idx > self.next_idx:
            self.report.add(_entries(self.next_idx, idx - 1), _("missing from the log (deleted)"))
        elif idx < self.next_idx:
            self.report.add(_entry(idx), _("stored out of order, before entry {n} (inserted)").format(
                n=self.next_idx))
        self.next_idx = max(self.next_idx, idx + 1)
        h = leaf_hash(data)
        fast = _change_leaf(data)
        if fast is not None:  # the common case, already known canonical and well-formed
            self.pending.append((idx, fast, h))
            self.report.entries += 1
            return
        obj = self._parse(idx, data)
        kind = obj.get("type")
        shape = _SHAPES.get(kind) if isinstance(kind, str) else None
        if shape is None:
            self.report.add(_entry(idx), _("unknown entry type {t}").format(t=json.dumps(kind, ensure_ascii=False)))
            obj = {}
        else:
            if obj.get("v") != ENTRY_VERSION:
                self.report.add(_entry(idx), _("entry version {v} is not {want}").format(
                    v=json.dumps(obj.get("v")), want=ENTRY_VERSION))
            if (bad := _misshapen(obj, shape)) is not None:
                self.report.add(_entry(idx), _(
                    "malformed {type} entry: field {field} is missing or of the wrong type").format(
                    type=kind, field=bad))
                obj = {}
        if obj.get("type") == "operation":
            self._operation(idx, obj, h)
        else:
            self.pending.append((idx, obj, h))
        self.report.entries += 1

    def _parse(self, idx: int, data: bytes) -> dict[str, Any]:
        try:
            obj = _DECODER.decode(data.decode("utf-8"))
        except _FloatInEntry:
            obj, canonical = json.loads(data), False
        except (ValueError, RecursionError):
            self.report.add(_entry(idx), _("not valid JSON"))
            return {}
        else:
            # Fast path: no floats (rejected while parsing), so the C encoder with sorted keys is
            # RFC 8785 unless a key lies outside the BMP; anything else gets the full check.
            try:
                canonical = _ENCODER.encode(obj).encode("utf-8") == data or canonical_json(obj) == data
            except (TypeError, ValueError, RecursionError):
                canonical = False
        if not canonical:
            self.report.add(_entry(idx), _("bytes are not canonical JSON (RFC 8785)"))
        return obj if isinstance(obj, dict) else {}

    def finish(self) -> None:
        """Call after the last entry: leaves that no signed operation covers are reported."""
        if self.pending:
            self.report.add(_entries(self.pending[0][0], self.pending[-1][0]), _(
                "after the last signed operation: not covered by any signature (log cut or entries inserted)"))
        self.report.root = self.root.hex()

    # ---- operations ---------------------------------------------------------------------------
    def _operation(self, idx: int, header: dict[str, Any], header_hash: bytes) -> None:
        seq = header["seq"]
        where = _("operation {seq} (entry {n})").format(seq=seq, n=idx)
        leaves, self.pending = self.pending, []
        span = where if not leaves else _("operation {seq} ({entries})").format(
            seq=seq, entries=_entries(leaves[0][0], leaves[-1][0]))
        first_operation = self.report.operations == 0
        if seq != self.next_seq:
            self.report.add(where, _("sequence number {got}, expected {want} (operation deleted, inserted or moved)"
                                     ).format(got=seq, want=self.next_seq))
        self.next_seq = seq + 1
        in_sync = self._follows(where, header)
        tree_ok = self._leaves_match(span, header, [h for _i, _o, h in leaves])
        at = header["at"]
        if at < self.last_at:
            self.report.add(where, _("its time {at} is before the previous operation's {prev}").format(
                at=at, prev=self.last_at))
        self.last_at = max(self.last_at, at)
        if first_operation:  # bootstrap: the first operation registers the key that signs it
            self._apply_events(leaves, header, bootstrap=True)
        tree_ok = self._signature_ok(where, header) and tree_ok
        if not first_operation:
            self._apply_events(leaves, header, bootstrap=False)
        self._apply_changes(leaves)
        self.tree.extend(h for _i, _o, h in leaves)
        self.tree.append(header_hash)
        self.root = self.tree.root()
        self.in_sync = in_sync and tree_ok
        end = header["prev_size"] + header["leaf_count"] + 1
        self.ends[end] = End(seq, self.root if self.in_sync and end == self.tree.size else None)
        self.headers[seq] = {**{k: header.get(k) for k in _INDEXED}, "first_idx": header["prev_size"],
                             "leaf_count": header["leaf_count"] + 1}
        self.report.operations += 1

    def _follows(self, where: str, header: dict[str, Any]) -> bool:
        """Does the header's previous tree match the log before it? Reported once per divergence."""
        size, root = header["prev_size"], header["prev_root"]
        if size == self.tree.size and root == self.root.hex():
            return True
        if self.in_sync:
            self.report.add(where, (
                _("previous tree size {got}, but the log before it has {want} entries") if size != self.tree.size
                else _("previous root is not the root of the log before it: earlier entries were altered")
            ).format(got=size, want=self.tree.size))
        raw = self.resume(size)
        try:
            stored = Frontier.from_bytes(raw) if raw is not None else None
        except MerkleError:
            stored = None
        if stored is None or stored.size != size or stored.root().hex() != root:
            return False
        self.tree, self.root = stored, stored.root()
        return True

    def _leaves_match(self, span: str, header: dict[str, Any], hashes: list[bytes]) -> bool:
        if header["leaf_count"] != len(hashes):
            self.report.add(span, _("the header signs {want} leaves but {got} are stored before it").format(
                want=header["leaf_count"], got=len(hashes)))
            return False
        if header["leaves_root"] != root_from_leaf_hashes(hashes).hex():
            self.report.add(span, _("the root of its leaves is not the one its header signs: "
                                    "a leaf was altered, added, removed or moved"))
            return False
        return True

    def _signature_ok(self, where: str, header: dict[str, Any]) -> bool:
        """Report a bad signature (False: the header is not what was signed) or a key outside its window."""
        key = self.keys.get((header["operator"], header["key_id"]))
        if key is None:
            self.report.add(where, _("signed by key {key_id} of {operator}, which the log never registered").format(
                key_id=header["key_id"], operator=header["operator"]))
            return True
        try:
            key.public_key.verify(base64.b64decode(header["signature"], validate=True), signing_bytes(header))
        except (InvalidSignature, ValueError):
            self.report.add(where, _("the operator's signature does not verify"))
            return False
        at = header["at"]
        if at < key.valid_from or (key.valid_until is not None and at >= key.valid_until):
            self.report.add(where, _("key {key_id} of {operator} was not valid at {at} (valid {start} to {end})").format(
                key_id=key.key_id, operator=key.operator, at=at, start=key.valid_from, end=key.valid_until or "-"))
        return True

    def _apply_events(self, leaves: list[tuple[int, dict[str, Any], bytes]], header: dict[str, Any],
                      bootstrap: bool) -> None:
        for idx, leaf, _h in leaves:
            event = leaf.get("event")
            if leaf.get("type") != "event" or not event.startswith("key."):
                continue
            shape = _KEY_EVENTS.get(event)
            if shape is None or _misshapen(leaf, shape) is not None:
                self.report.add(_entry(idx), _("malformed key event {event}").format(event=event))
                continue
            signer = self.keys.get((header["operator"], header["key_id"]))
            if not bootstrap and (signer is None or signer.role != "admin"):
                self.report.add(_entry(idx), _("key event {event} not signed by an administrator").format(event=event))
                continue
            ident = (leaf["operator"], leaf["key_id"])
            if event == "key.register":
                self._register(idx, ident, leaf)
            elif ident in self.keys:
                self.keys[ident].valid_until = leaf["valid_until"]
            else:
                self.report.add(_entry(idx), _("ends a key the log never registered"))

    def _register(self, idx: int, ident: tuple[str, str], leaf: dict[str, Any]) -> None:
        if ident in self.keys:
            self.report.add(_entry(idx), _("registers key {key_id} of {operator} again").format(
                key_id=ident[1], operator=ident[0]))
            return
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(leaf["public_key"], validate=True))
        except ValueError:
            self.report.add(_entry(idx), _("registers an invalid public key"))
            return
        self.keys[ident] = KeyWindow(leaf["operator"], str(leaf.get("role", "")), leaf["key_id"], public,
                                     leaf["valid_from"], leaf["valid_until"])

    def _apply_changes(self, leaves: list[tuple[int, dict[str, Any], bytes]]) -> None:
        for idx, leaf, _h in leaves:
            if leaf.get("type") != "change":
                continue
            table, key, before = leaf["table"], leaf["key"], leaf["before"]
            rows = self.state.setdefault(table, {})
            current = rows.get(key)
            if current is None and before is not None:
                self.report.add(_entry(idx), _("change of {table} {key}: the log has no such row before it").format(
                    table=table, key=key))
            elif current is not None and before != current[0]:
                self.report.add(_entry(idx), _(
                    "change of {table} {key}: its before-hash is not the row as entry {prev} left it").format(
                    table=table, key=key, prev=current[1]))
            if leaf["after"] is None:
                rows.pop(key, None)
            else:
                rows[key] = (leaf["after"], idx)


def iter_entries(conn: sa.Connection, batch: int = 20000) -> Iterable[tuple[int, bytes]]:
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        sa.text("SELECT idx, entry FROM oplog_entry ORDER BY idx"))
    for idx, data in result:
        yield idx, data.encode("utf-8") if isinstance(data, str) else bytes(data)


PARALLEL_FROM_ENTRIES = 50_000


def verify_database(conn: sa.Connection, anchor_dir: Path | None = None, *, parallel: bool | None = None) -> Report:
    """Run every check; the report lists each problem found (none means the log and data agree).

    On a large log (``parallel`` None: from 50,000 entries) the data rows are hashed in a second
    process while this one replays the log; a table whose rows there hash, in key order, to exactly
    what the replay implies is done, and any other table is checked row by row here, in this
    connection's snapshot, so the second process can only save time, never change a finding.
    """
    from lycredit.models import LOGGED_TABLES

    anchors = anchor_files(anchor_dir) if anchor_dir is not None else None
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    report = Report()
    names = sorted(LOGGED_TABLES)
    url = conn.engine.url.render_as_string(hide_password=False)
    if parallel is None:
        parallel = sqlite_or_server(url) and _entry_count(conn) >= PARALLEL_FROM_ENTRIES
    pending = _start_digests(url, _second_process_share(conn, names)) if parallel else None
    rep = Replayer(report, lambda size: _stored_frontier(conn, size))
    for idx, data in iter_entries(conn):
        rep.feed(idx, data)
    rep.finish()
    _readable(report, "oplog_operation", _check_operations, conn, rep, report)
    _readable(report, "oplog_checkpoint", _check_checkpoints, conn, rep, report)
    digests = _finish_digests(pending)
    for name in names:
        expected = rep.state.get(name, {})
        if name in digests and digests[name] == table_digest(expected.items()):
            report.rows += digests[name][0]
            continue
        _readable(report, name, _check_table, conn, LOGGED_TABLES[name].__table__, expected, report)
    if anchors is not None:
        _check_anchors(anchors, log_origin(conn), rep, report)
    return report


def anchor_files(anchor_dir: Path) -> list[Path]:
    """The anchored checkpoints (``checkpoint-*.txt``) in ``anchor_dir``, in order of name; InputMissing (66)
    naming the directory or the file when the directory is missing, not a directory or cannot be listed, or a
    checkpoint is not a file that can be read (a directory's glob would quietly find no anchor at all)."""
    import fnmatch

    from lycredit.inputs import check_input_dir, check_input_file, unreadable

    check_input_dir(anchor_dir)
    try:
        names = sorted(name for name in os.listdir(anchor_dir) if fnmatch.fnmatchcase(name, "checkpoint-*.txt"))
    except OSError as exc:
        raise unreadable(anchor_dir, exc) from None
    return [check_input_file(anchor_dir / name) for name in names]


def sqlite_or_server(url: str) -> bool:
    """A database another process can open too (not in-memory SQLite)."""
    return not (url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/")))


def _entry_count(conn: sa.Connection) -> int:
    return conn.execute(sa.text("SELECT count(*) FROM oplog_entry")).scalar() or 0


def table_digest(pairs: Iterable[tuple[str, Any]]) -> tuple[int, str]:
    """Row count and SHA-256 over ``key NUL row-hash LF`` in key order: equal only for the same rows."""
    h = hashlib.sha256()
    n = 0
    for key, value in sorted(pairs):
        row = value[0] if isinstance(value, tuple) else value
        h.update(f"{key}\0{row}\n".encode())
        n += 1
    return n, h.hexdigest()


def _table_digests(url: str, names: list[str]) -> dict[str, tuple[int, str]]:
    """In a second process: each logged table's digest over its rows as they are stored."""
    from lycredit.database import make_engine
    from lycredit.models import LOGGED_TABLES

    engine = make_engine(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with engine.connect().execution_options(lycredit_read_only=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for name in names:
                table = LOGGED_TABLES[name].__table__
                cols = hashed_columns(table)
                try:
                    out[name] = table_digest(
                        (row_key(table, values), row_hash(name, values)) for values in _row_texts(conn, table, cols))
                except (ValueError, TypeError, OverflowError):
                    continue  # unreadable: the row-by-row check reports it
    finally:
        engine.dispose()
    return out


def _second_process_share(conn: sa.Connection, names: list[str]) -> list[str]:
    """The largest tables, about 60 % of the rows: this process also replays the log meanwhile."""
    counts = {n: conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar() or 0 for n in names}
    total, share, taken = sum(counts.values()), [], 0
    for name in sorted(names, key=counts.__getitem__, reverse=True):
        if taken >= 0.6 * total:
            break
        share.append(name)
        taken += counts[name]
    return share


def _start_digests(url: str, names: list[str]) -> Any:
    import concurrent.futures
    import multiprocessing

    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return pool, pool.submit(_table_digests, url, names)


def _finish_digests(pending: Any) -> dict[str, tuple[int, str]]:
    if pending is None:
        return {}
    pool, future = pending
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the row-by-row check does the work instead
        return {}
    finally:
        pool.shutdown()


def _readable(report: Report, table: str, check: Callable[..., None], *args: Any) -> None:
    """Run one table's check; a value that does not read as its column's type (SQLite columns hold
    anything) is reported, not a crash, and the rest of that table is left unchecked."""
    try:
        check(*args)
    except (ValueError, TypeError, OverflowError) as exc:
        report.add(_("table {table}").format(table=table), _(
            "cannot be read, a value is not of its column's type ({error}): changed outside lycredit; "
            "its rows after that one are not checked").format(error=exc))


def _stored_frontier(conn: sa.Connection, size: int) -> bytes | None:
    raw = conn.execute(sa.text("SELECT frontier FROM oplog_checkpoint WHERE size = :size"), {"size": size}).scalar()
    return bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else None


def _check_operations(conn: sa.Connection, rep: Replayer, report: Report) -> None:
    from lycredit.models import LogOperation

    table = LogOperation.__table__
    seen: set[int] = set()
    for row in conn.execute(sa.select(table).order_by(table.c.seq)).mappings():
        seen.add(row["seq"])
        where = _("operation {seq}").format(seq=row["seq"])
        header = rep.headers.get(row["seq"])
        if header is None:
            report.add(where, _("in oplog_operation but not in the log"))
            continue
        stored = {**row, "at": timestamp(row["at"]), "summary": _loads(row["summary"])}
        command = header["command"]
        signed = {**header, "command": command[:100] if isinstance(command, str) else command}
        differ = [name for name in _INDEXED if stored[name] != signed[name]]
        if differ:
            report.add(where, _("oplog_operation row differs from the signed header in {fields}").format(
                fields=", ".join(differ)))
    for seq in sorted(rep.headers.keys() - seen):
        report.add(_("operation {seq}").format(seq=seq), _("missing from oplog_operation"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _check_checkpoints(conn: sa.Connection, rep: Replayer, report: Report) -> None:
    verifiers = _verifiers(rep)
    origin = log_origin(conn)
    seen: set[int] = set()
    latest: sa.Row | None = None
    for row in conn.execute(sa.text("SELECT size, op_seq, root, note, frontier FROM oplog_checkpoint ORDER BY size")):
        report.checkpoints += 1
        seen.add(row.size)
        latest = row
        where = _("checkpoint {size}").format(size=row.size)
        end = rep.ends.get(row.size)
        if end is None:
            report.add(where, _("its size is not the end of any operation in the log"))
            continue
        if row.op_seq != end.seq:
            report.add(where, _("says operation {got} ends there, but the log says operation {want}").format(
                got=row.op_seq, want=end.seq))
        if end.root is not None and bytes(row.root) != end.root:
            report.add(where, _("its root is not the tree's root at that size"))
        try:
            cp = Checkpoint.parse(open_note(str(row.note), verifiers)[0])
        except (NoteError, ValueError) as exc:
            report.add(where, _("signed note does not verify: {error}").format(error=exc))
            continue
        if cp.size != row.size or (end.root is not None and cp.root != end.root):
            report.add(where, _("signed note does not match the tree at that size"))
        if cp.origin != origin:  # a note of the same tree under another log's name is no checkpoint of this one
            report.add(where, _("a checkpoint of log {other}, not of this log {origin}").format(
                other=cp.origin, origin=origin))
    for size in sorted(rep.ends.keys() - seen):
        report.add(_("checkpoint {size}").format(size=size),
                   _("missing: operation {seq} ends there").format(seq=rep.ends[size].seq))
    if latest is not None and rep.in_sync and latest.size == rep.tree.size and (
            bytes(latest.frontier) != rep.tree.to_bytes()):
        report.add(_("checkpoint {size}").format(size=latest.size),
                   _("its stored tree edge is not the log's: the next operation would fork the log"))


def _verifiers(rep: Replayer) -> dict:
    from lycredit.keys import public_raw
    from lycredit.oplog.note import verifier_key

    return {verifier_key(k.operator, public_raw(k.public_key)): k for k in rep.keys.values()}


# A change leaf exactly as lycredit writes it. A match is canonical JSON by construction: fields in
# sorted order, hashes as lower-case hex, and the key a JSON string escaped as RFC 8785 escapes
# (only '"', '\\', and control characters, those with short forms in short form).
_CHANGE_LEAF = re.compile(
    rb'\{"after":(null|"[0-9a-f]{64}"),"before":(null|"[0-9a-f]{64}"),'
    rb'"key":"((?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f]))*)",'
    rb'"table":"([a-z_]{1,64})","type":"change","v":1\}'
)


def _change_leaf(data: bytes) -> dict[str, Any] | None:
    """Parse a change leaf on the fast path; None sends it down the general path."""
    m = _CHANGE_LEAF.fullmatch(data)
    if m is None:
        return None
    after, before, key, table = m.groups()
    try:
        key_text = key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\\" in key_text:
        key_text = json.loads('"' + key_text + '"')
    return {"after": None if after == b"null" else after[1:-1].decode(),
            "before": None if before == b"null" else before[1:-1].decode(),
            "key": key_text, "table": table.decode(), "type": "change", "v": ENTRY_VERSION}


class _FloatInEntry(ValueError):
    pass


def _no_float(text: str) -> float:
    raise _FloatInEntry(text)


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _row_texts(conn: sa.Connection, table: sa.Table, cols: tuple[str, ...]) -> Iterable[dict[str, str | None]]:
    """Every row of ``table`` in the row-hash text form (``row_values``).

    On SQLite the stored values are read raw and turned into that text form directly, which is
    several times faster than SQLAlchemy's typed rows; a row whose raw date, time, number or
    blob is not in the form SQLAlchemy writes falls back to the typed path.
    """
    if conn.dialect.name == "sqlite":
        # Text columns are taken as stored (lycredit only ever writes text there, so anything else
        # hashes differently and is reported as changed); the others are converted.
        converted = [(i, c, _raw_sqlite_text(table.c[c].type)) for i, c in enumerate(cols)
                     if not isinstance(getattr(table.c[c].type, "impl", table.c[c].type), sa.String)]
        select = "SELECT " + ", ".join(f'"{c}"' for c in cols) + f' FROM "{table.name}"'
        typed = None
        cursor = conn.connection.driver_connection.execute(select)
        while batch := cursor.fetchmany(20000):
            for raw in batch:
                values = dict(zip(cols, raw, strict=True))
                try:
                    for i, c, f in converted:
                        values[c] = f(raw[i])
                except _NotRaw:
                    typed = typed or _typed_lookup(conn, table, cols)
                    values = typed(raw)
                yield values
        return
    with conn.execution_options(stream_results=True, yield_per=20000).execute(
            sa.select(*(table.c[c] for c in cols))) as result:
        for row in result:
            yield row_values(table, dict(zip(cols, row, strict=True)))


class _NotRaw(ValueError):
    pass


def _typed_lookup(conn: sa.Connection, table: sa.Table, cols: tuple[str, ...]) -> Callable:
    """The slow, exact path for one row: read it back through SQLAlchemy's types by primary key."""
    pk = [c.name for c in table.primary_key.columns]

    def lookup(raw: tuple) -> dict[str, str | None]:
        where = sa.and_(*(table.c[k] == raw[cols.index(k)] for k in pk))
        row = conn.execute(sa.select(*(table.c[c] for c in cols)).where(where)).one()
        return row_values(table, dict(zip(cols, row, strict=True)))

    return lookup


def _raw_sqlite_text(column_type: sa.types.TypeEngine) -> Callable[[Any], str | None]:
    """A converter from what SQLite stores for ``column_type`` to ``row_values``'s text.

    Raises _NotRaw for a value of an unexpected type (then the typed path decides). A stored value
    that is merely in an unusual form converts to a text that does not hash as logged, so it is
    reported as changed, as it should be.
    """
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, sa.DateTime):
        def datetime_text(v: Any) -> str | None:
            if type(v) is str and len(v) == 26:
                return f"{v[:10]}T{v[11:]}Z"
            if v is None:
                return None
            raise _NotRaw
        return datetime_text
    if isinstance(impl, sa.Date):
        def date_text(v: Any) -> str | None:
            if type(v) is str or v is None:
                return v
            raise _NotRaw
        return date_text
    if isinstance(impl, sa.Boolean):
        booleans = {0: "false", 1: "true", None: None}

        def bool_text(v: Any) -> str | None:
            try:
                return booleans[v]
            except (KeyError, TypeError):
                raise _NotRaw from None
        return bool_text
    if isinstance(impl, sa.Integer):
        def int_text(v: Any) -> str | None:
            if type(v) is int:
                return str(v)
            if v is None:
                return None
            raise _NotRaw
        return int_text
    if isinstance(impl, sa.LargeBinary):
        def bytes_text(v: Any) -> str | None:
            if type(v) is bytes:
                return base64.b64encode(v).decode("ascii")
            if v is None:
                return None
            raise _NotRaw
        return bytes_text

    def unknown(v: Any) -> str | None:
        raise _NotRaw

    return unknown


def _check_table(conn: sa.Connection, table: sa.Table, expected: dict[str, tuple[str, int]], report: Report) -> None:
    remaining = dict(expected)
    cols = hashed_columns(table)
    name = table.name
    for values in _row_texts(conn, table, cols):
        key = row_key(table, values)
        report.rows += 1
        want = remaining.pop(key, None)
        if want is None:
            report.add(_("table {table} key {key}").format(table=name, key=key),
                       _("row is not in the log (added outside lycredit)"))
        elif row_hash(name, values) != want[0]:
            report.add(_("table {table} key {key}").format(table=name, key=key),
                       _("row differs from the state entry {n} left it in (changed outside lycredit)").format(
                           n=want[1]))
    for key in sorted(remaining):
        report.add(_("table {table} key {key}").format(table=name, key=key),
                   _("row that entry {n} left is missing (deleted outside lycredit)").format(n=remaining[key][1]))


def _check_anchors(anchors: list[Path], origin: str, rep: Replayer, report: Report) -> None:
    verifiers = _verifiers(rep)
    size = rep.tree.size
    for path in anchors:
        report.anchors += 1
        where = _("anchor {file}").format(file=path.name)
        try:
            cp = Checkpoint.parse(open_note(path.read_text(encoding="utf-8"), verifiers)[0])
        except (NoteError, ValueError, OSError) as exc:
            report.add(where, _("not a checkpoint signed by a known key: {error}").format(error=exc))
            continue
        named = re.fullmatch(r"checkpoint-([0-9]+)\.txt", path.name)
        if named is None or int(named.group(1)) != cp.size:  # the anchor directory was tampered with
            report.add(where, _("holds a checkpoint of size {size}, not the one its name says").format(size=cp.size))
        end = rep.ends.get(cp.size)
        if cp.origin != origin:
            report.add(where, _("a checkpoint of log {other}, not of this log {origin}").format(
                other=cp.origin, origin=origin))
        elif cp.size > size:
            report.add(where, _("the log has {size} entries, fewer than the anchored {anchored}: it was cut back"
                                ).format(size=size, anchored=cp.size))
        elif end is None or (end.root is not None and end.root != cp.root):
            report.add(where, _("the log is not consistent with this anchored checkpoint: "
                                "it was rewritten below entry {size}").format(size=cp.size))
