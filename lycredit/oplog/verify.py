"""``audit verify``: check the whole log and replay it against the tables (oplog.md, Art. 28, 47).

The steps, each a check that names what failed:

1. entries: contiguous indexes from 0, canonical JSON bytes, a known type;
2. operations: consecutive sequence numbers, the header's leaf count, leaves
   root and previous tree root match the leaves before it, times never go
   back, the signature verifies under a key that the log itself registered
   (by an administrator) and that was valid at that time;
3. changes: each change's *before* hash is the replayed state of that row;
4. the index tables: ``oplog_operation`` and ``oplog_checkpoint`` agree with
   the leaves; each checkpoint's root is the tree's root at its size and its
   signed note verifies;
5. data: every row of every logged table hashes to the replayed state, and
   no row is missing or extra;
6. anchors: each anchored checkpoint is still contained in the tree
   (consistency proof) and the tree is not smaller.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lycredit.i18n import _
from lycredit.models.base import hashed_columns, row_key, row_values
from lycredit.oplog.canonical import CanonicalJSONError, canonical_json
from lycredit.oplog.log import row_hash, signing_bytes
from lycredit.oplog.merkle import (
    Frontier,
    MerkleError,
    consistency_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
)
from lycredit.oplog.note import Checkpoint, NoteError, open_note

__all__ = ["Problem", "Report", "verify_database"]


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


def _ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


class Replayer:
    """Walks the leaves in order and builds the state they imply."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.frontier = Frontier()
        self.leaf_hashes: list[bytes] = []
        self.pending: list[tuple[int, dict[str, Any], bytes]] = []
        self.state: dict[str, dict[str, str | None]] = {}
        self.keys: dict[tuple[str, str], KeyWindow] = {}
        self.headers: dict[int, dict[str, Any]] = {}
        self.roots: dict[int, bytes] = {0: root_from_leaf_hashes([])}
        self.boundaries: dict[int, int] = {}
        self.next_seq = 1
        self.last_at = ""

    def feed(self, idx: int, data: bytes) -> None:
        expected = len(self.leaf_hashes)
        if idx != expected:
            self.report.add(_("entry {n}").format(n=expected),
                            _("missing: the next entry stored is {idx} (entries deleted or moved)").format(idx=idx))
            raise _Stop
        h = leaf_hash(data)
        self.leaf_hashes.append(h)
        try:
            obj = json.loads(data)
        except ValueError:
            self.report.add(_("entry {n}").format(n=idx), _("not valid JSON"))
            obj = {}
        if obj and not _canonical(obj, data):
            self.report.add(_("entry {n}").format(n=idx), _("bytes are not canonical JSON (RFC 8785)"))
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "operation":
            self._operation(idx, obj, h)
        elif kind in ("change", "event"):
            self.pending.append((idx, obj, h))
        else:
            self.report.add(_("entry {n}").format(n=idx), _("unknown entry type {t!r}").format(t=kind))
            self.pending.append((idx, {}, h))

    def _operation(self, idx: int, header: dict[str, Any], header_hash: bytes) -> None:
        where = _("operation {seq} (entry {n})").format(seq=header.get("seq"), n=idx)
        add = self.report.add
        prev_size = self.frontier.size
        if header.get("seq") != self.next_seq:
            add(where, _("sequence number {got}, expected {want} (operation deleted, inserted or moved)").format(
                got=header.get("seq"), want=self.next_seq))
        self.next_seq = (header.get("seq") or self.next_seq) + 1
        hashes = [h for _i, _o, h in self.pending]
        if header.get("prev_size") != prev_size:
            add(where, _("previous tree size {got}, but {want} leaves precede its own").format(
                got=header.get("prev_size"), want=prev_size))
        if header.get("prev_root") != self.frontier.root().hex():
            add(where, _("previous root does not match the tree before it"))
        if header.get("leaf_count") != len(hashes):
            add(where, _("claims {got} leaves but {want} precede it").format(got=header.get("leaf_count"),
                                                                          want=len(hashes)))
        if header.get("leaves_root") != root_from_leaf_hashes(hashes).hex():
            add(where, _("the root of its leaves does not match: a leaf was altered, added or removed"))
        at = header.get("at", "")
        if at < self.last_at:
            add(where, _("its time {at} is before the previous operation's {prev}").format(at=at, prev=self.last_at))
        self.last_at = max(self.last_at, at)
        # bootstrap: the very first operation registers the key that signs it
        if header.get("seq") == 1:
            self._apply_events(where, header)
        self._check_signature(where, header)
        if header.get("seq") != 1:
            self._apply_events(where, header)
        self._apply_changes(header)
        self.frontier.extend(hashes)
        self.frontier.append(header_hash)
        self.roots[self.frontier.size] = self.frontier.root()
        self.boundaries[self.frontier.size] = header.get("seq") or -1
        self.headers[header.get("seq") or -1] = {**header, "_first_idx": prev_size,
                                                 "_count": len(hashes) + 1}
        self.pending = []
        self.report.operations += 1

    def _check_signature(self, where: str, header: dict[str, Any]) -> None:
        key = self.keys.get((header.get("operator"), header.get("key_id")))
        if key is None:
            self.report.add(where, _("signed by key {key_id} of {operator}, which the log never registered").format(
                key_id=header.get("key_id"), operator=header.get("operator")))
            return
        try:
            key.public_key.verify(base64.b64decode(header.get("signature", "")), signing_bytes(header))
        except (InvalidSignature, ValueError):
            self.report.add(where, _("the operator's signature does not verify"))
        at = header.get("at", "")
        if at < key.valid_from or (key.valid_until is not None and at >= key.valid_until):
            self.report.add(where, _("key {key_id} of {operator} was not valid at {at} (valid {start} to {end})").format(
                key_id=key.key_id, operator=key.operator, at=at, start=key.valid_from, end=key.valid_until or "-"))

    def _apply_events(self, where: str, header: dict[str, Any]) -> None:
        for idx, leaf, _h in self.pending:
            if leaf.get("type") != "event" or not str(leaf.get("event", "")).startswith("key."):
                continue
            signer = self.keys.get((header.get("operator"), header.get("key_id")))
            bootstrap = header.get("seq") == 1
            if not bootstrap and (signer is None or signer.role != "admin"):
                self.report.add(_("entry {n}").format(n=idx),
                                _("key event {event} not signed by an administrator").format(event=leaf.get("event")))
                continue
            ident = (leaf.get("operator"), leaf.get("key_id"))
            if leaf["event"] == "key.register":
                try:
                    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(leaf["public_key"]))
                except (ValueError, KeyError):
                    self.report.add(_("entry {n}").format(n=idx), _("registers an invalid public key"))
                    continue
                self.keys[ident] = KeyWindow(leaf["operator"], leaf.get("role", ""), leaf["key_id"], public,
                                             leaf["valid_from"], leaf.get("valid_until"))
            elif ident in self.keys:
                self.keys[ident].valid_until = leaf.get("valid_until")
            else:
                self.report.add(_("entry {n}").format(n=idx), _("ends a key the log never registered"))

    def _apply_changes(self, header: dict[str, Any]) -> None:
        for idx, leaf, _h in self.pending:
            if leaf.get("type") != "change":
                continue
            table = self.state.setdefault(leaf.get("table"), {})
            current = table.get(leaf.get("key"))
            if leaf.get("before") != current:
                self.report.add(_("entry {n}").format(n=idx), _(
                    "change of {table} {key}: its before-hash does not follow from the log before it").format(
                    table=leaf.get("table"), key=leaf.get("key")))
            if leaf.get("after") is None:
                table.pop(leaf.get("key"), None)
            else:
                table[leaf.get("key")] = leaf.get("after")


def _canonical(obj: Any, data: bytes) -> bool:
    """Whether ``data`` re-canonicalises to itself (one parse, one encode; a float or a
    duplicate key can never round-trip)."""
    try:
        return canonical_json(obj) == data
    except CanonicalJSONError:
        return False


class _Stop(Exception):
    pass


def iter_entries(conn: sa.Connection, batch: int = 20000) -> Iterable[tuple[int, bytes]]:
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        sa.text("SELECT idx, entry FROM oplog_entry ORDER BY idx"))
    for idx, data in result:
        yield idx, bytes(data)


def verify_database(conn: sa.Connection, anchor_dir: Path | None = None) -> Report:
    """Run every check; the report lists each problem found (none means the log and data agree)."""
    from lycredit.models import LOGGED_TABLES

    report = Report()
    rep = Replayer(report)
    try:
        for idx, data in iter_entries(conn):
            rep.feed(idx, data)
            report.entries += 1
    except _Stop:
        pass
    if rep.pending:
        report.add(_("entry {n}").format(n=rep.pending[0][0]),
                   _("{n} entries after the last signed operation (log cut or entries inserted)").format(
                       n=len(rep.pending)))
    report.root = rep.frontier.root().hex()
    _check_operations(conn, rep, report)
    _check_checkpoints(conn, rep, report)
    for name, model in sorted(LOGGED_TABLES.items()):
        _check_table(conn, model.__table__, rep.state.get(name, {}), report)
    if anchor_dir is not None:
        _check_anchors(anchor_dir, rep, report)
    return report


def _check_operations(conn: sa.Connection, rep: Replayer, report: Report) -> None:
    stored = {r.seq: r for r in conn.execute(sa.text(
        "SELECT seq, first_idx, leaf_count, operator, key_id, action, subject FROM oplog_operation"))}
    for seq, header in rep.headers.items():
        row = stored.pop(seq, None)
        where = _("operation {seq}").format(seq=seq)
        if row is None:
            report.add(where, _("missing from oplog_operation"))
            continue
        if (row.first_idx, row.leaf_count, row.operator, row.key_id, row.action, row.subject) != (
                header["_first_idx"], header["_count"], header.get("operator"), header.get("key_id"),
                header.get("action"), header.get("subject")):
            report.add(where, _("oplog_operation row differs from the signed header"))
    for seq in sorted(stored):
        report.add(_("operation {seq}").format(seq=seq), _("in oplog_operation but not in the log"))


def _check_checkpoints(conn: sa.Connection, rep: Replayer, report: Report) -> None:
    verifiers = _verifiers(rep)
    for row in conn.execute(sa.text("SELECT size, op_seq, root, note FROM oplog_checkpoint ORDER BY size")):
        report.checkpoints += 1
        where = _("checkpoint {size}").format(size=row.size)
        expected = rep.roots.get(row.size)
        if expected is None:
            report.add(where, _("its size is not the end of any operation in the log"))
            continue
        if bytes(row.root) != expected:
            report.add(where, _("its root is not the tree's root at that size"))
        try:
            text, _names = open_note(row.note, verifiers)
            cp = Checkpoint.parse(text)
        except (NoteError, ValueError) as exc:
            report.add(where, _("signed note does not verify: {error}").format(error=exc))
            continue
        if cp.size != row.size or cp.root != expected:
            report.add(where, _("signed note does not match the tree at that size"))


def _verifiers(rep: Replayer) -> dict:
    from lycredit.keys import public_raw
    from lycredit.oplog.note import verifier_key

    return {verifier_key(k.operator, public_raw(k.public_key)): k for k in rep.keys.values()}


def _check_table(conn: sa.Connection, table: sa.Table, expected: dict[str, str | None], report: Report) -> None:
    remaining = dict(expected)
    cols = hashed_columns(table)
    result = conn.execution_options(stream_results=True, yield_per=20000).execute(
        sa.select(*(table.c[c] for c in cols)))
    name = table.name
    for row in result:
        values = row_values(table, dict(zip(cols, row, strict=True)))
        key = row_key(table, values)
        report.rows += 1
        want = remaining.pop(key, None)
        if want is None:
            report.add(_("table {table} key {key}").format(table=name, key=key),
                       _("row is not in the log (added outside lycredit)"))
        elif row_hash(name, values) != want:
            report.add(_("table {table} key {key}").format(table=name, key=key),
                       _("row differs from the state the log implies (changed outside lycredit)"))
    for key in sorted(remaining):
        report.add(_("table {table} key {key}").format(table=name, key=key),
                   _("row the log says exists is missing (deleted outside lycredit)"))


def _check_anchors(anchor_dir: Path, rep: Replayer, report: Report) -> None:
    verifiers = _verifiers(rep)
    size = rep.frontier.size
    for path in sorted(anchor_dir.glob("checkpoint-*.txt")):
        report.anchors += 1
        where = _("anchor {file}").format(file=path.name)
        try:
            text, _names = open_note(path.read_text(encoding="utf-8"), verifiers)
            cp = Checkpoint.parse(text)
        except (NoteError, ValueError, OSError) as exc:
            report.add(where, _("not a checkpoint signed by a known key: {error}").format(error=exc))
            continue
        if cp.size > size:
            report.add(where, _("the log has {size} entries, fewer than the anchored {anchored}: it was cut back").format(
                size=size, anchored=cp.size))
            continue
        try:
            proof = consistency_proof(rep.leaf_hashes, cp.size, size)
            verify_consistency(cp.size, size, cp.root, rep.frontier.root(), proof)
        except MerkleError as exc:
            report.add(where, _("the log is not consistent with this anchored checkpoint (rewritten): {error}").format(
                error=exc))

