"""Appending to the signed log through the database driver alone: the one place entries are made.

:class:`LogAppender` collects the leaves of one operation (row changes and
events) and :meth:`LogAppender.close` signs the operation and appends its
leaves, the signed header and a signed checkpoint, in the caller's
transaction, with plain SQL on a :class:`lycredit.dbapi.DB`. It imports
neither SQLAlchemy nor the ORM models, so that a logged query stays quick;
:class:`lycredit.oplog.log.UnitOfWork`, which every other state change goes
through, is built on it, so both write the same bytes.

Domain separation (oplog.md): an operator signs ``b"lycredit/operation/v1\\n"``
followed by the canonical header; a row is hashed as ``b"lycredit/row/v1\\n"``
followed by canonical ``{"table", "row"}``; a leaf is canonical JSON whose
``"type"`` is ``change``, ``event`` or ``operation``, hashed with RFC 6962's
0x00 prefix. Entries carry hashes and internal ids, never personal data.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from lycredit import digest
from lycredit.dbapi import DB, POSTGRESQL, UTC, utcnow
from lycredit.inputs import escaped
from lycredit.oplog.canonical import canonical_json
from lycredit.oplog.merkle import Frontier, leaf_hash, root_from_leaf_hashes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROW_LABEL = b"lycredit/row/v1\n"
SIGN_LABEL = b"lycredit/operation/v1\n"
ENTRY_VERSION = 1
ADVISORY_LOCK_ID = 0x6C79_6372  # "lycr": serialises appends on PostgreSQL
REASON_MAX_CHARS = 1000
"""The longest reason an operation keeps: the length of ``oplog_operation.reason`` (a test holds them equal)."""


def timestamp(value: dt.datetime) -> str:
    """The one text form of a time in the log: UTC, microseconds, ``Z``."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _lower_hex(text: str) -> bool:
    """Whether ``text`` is lower-case hex digits only: ``bytes.fromhex`` refuses any other character but
    ASCII white space, which would leave it fewer bytes (twice as fast as a regular expression over a
    batch's hashes)."""
    try:
        return len(bytes.fromhex(text)) * 2 == len(text) and text == text.lower()
    except ValueError:
        return False


def row_hash(table_name: str, values: Mapping[str, str | None]) -> str:
    """SHA-256 hex of a row's canonical text form, under the row label.

    The row form (``row_values``) has ASCII column names and only text or null
    values, for which the C JSON encoder with sorted keys is exactly RFC 8785;
    this is the hot path of bulk imports and of ``audit verify`` (a test keeps
    it equal to ``canonical_json``).
    """
    text = _ROW_ENCODER.encode({"table": table_name, "row": values})
    return digest.sha256(ROW_LABEL + text.encode("utf-8")).hexdigest()


def signing_bytes(header: Mapping[str, Any]) -> bytes:
    """What an operator signs: the operation label and the header without its signature."""
    unsigned = {k: v for k, v in header.items() if k != "signature"}
    return SIGN_LABEL + canonical_json(unsigned)


# NamedTuples rather than frozen dataclasses: a dataclass costs ~0.5 ms to create at import,
# and these load with every logged query (issue #5).
class Signer(NamedTuple):
    """The operator a command runs as, with the private key that signs its operations."""

    operator_id: int
    name: str
    role: str
    key_id: str
    private_key: Ed25519PrivateKey


class Appended(NamedTuple):
    seq: int
    first_idx: int
    size: int
    root: bytes
    note: str


def as_text(text: str | None) -> str | None:
    """A reason or subject as Unicode text. Bytes that were not UTF-8 (a file's name, an argument typed in a
    shell of another encoding) reach Python as halves of surrogate pairs, which no UTF-8 text, and so no log
    entry, can hold: they are written as backslash escapes (``\\xff``), as ``ls`` shows such a name."""
    if text is None or text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no undecodable byte makes
            return escaped(text)
    return text


class LogAppender:
    """Collects the leaves of one operation on ``db``; :meth:`close` signs and appends them.

    Use it inside a transaction on ``db``; the caller commits (or, for ``--dry-run``,
    rolls back) after :meth:`close`. On PostgreSQL it takes the log's advisory lock at once.
    """

    def __init__(
        self,
        db: DB,
        signer: Signer,
        *,
        command: str,
        action: str,
        reason: str | None = None,
        subject: str | None = None,
    ) -> None:
        self.db = db
        self.signer = signer
        self.command = command
        self.action = action
        self.reason = as_text(reason)
        if self.reason is not None and len(self.reason) > REASON_MAX_CHARS:
            # refused before anything is done: PostgreSQL refused it only when the log was appended (a traceback
            # after all the work), and SQLite stored it, so one command line gave the two backends different ends
            from lycredit.errors import UsageError
            from lycredit.i18n import _

            raise UsageError(_("The reason (--reason) has {length} characters; the signed log keeps at most {limit}")
                             .format(length=len(self.reason), limit=REASON_MAX_CHARS))
        self.subject = as_text(subject)
        self.summary: dict[str, Any] = {}
        self._entry_bytes: list[bytes] = []
        self._leaf_hashes: list[bytes] = []  # leaf_hash of each entry, made as the entry is recorded
        self.closed: Appended | None = None
        self._lock()

    def _lock(self) -> None:
        lock_log(self.db)

    # ---- recording -------------------------------------------------------
    def record_change(self, table_name: str, key: str, before: str | None, after: str | None) -> None:
        """Record a change already written with the caller's own SQL (bulk paths)."""
        if before == after:
            return
        self._add({"type": "change", "table": table_name, "key": key, "before": before, "after": after})

    def record_changes(self, table_name: str, changes: Iterable[tuple[str, str | None, str | None]]) -> None:
        for key, before, after in changes:
            self.record_change(table_name, key, before, after)

    def record_inserts(self, table_name: str, inserted: Iterable[tuple[str, str]]) -> None:
        """Record rows a bulk path inserted with its own SQL: ``(key, row hash)`` pairs.

        The same leaves as :meth:`record_change` with ``before`` None, byte for byte, built
        from one template instead of the generic encoder: the hot path of bulk imports.
        """
        if self.closed is not None:
            raise RuntimeError("unit of work already closed")
        template = ('{"after":"%s","before":null,"key":%s,"table":' + _ROW_ENCODER.encode(table_name)
                    + f',"type":"change","v":{ENTRY_VERSION}}}')
        pairs = list(inserted)
        hashes = [after for _key, after in pairs]
        if not set(map(len, hashes)) <= {64} or not _lower_hex("".join(hashes)):
            raise ValueError(f"a row hash of {table_name} is not 64 lower-case hex digits")
        encode = json.encoder.encode_basestring  # the C string encoder
        sha256 = digest.sha256
        made = [(template % (after, encode(key))).encode() for key, after in pairs]
        self._entry_bytes.extend(made)
        self._leaf_hashes.extend([sha256(b"\x00" + entry).digest() for entry in made])  # leaf_hash, inlined

    def event(self, event: str, **fields: Any) -> None:
        """Record something that is not a row change: a key event, a query of non-public data."""
        self._add({"type": "event", "event": event, **fields})

    def _add(self, leaf: dict[str, Any]) -> None:
        if self.closed is not None:
            raise RuntimeError("unit of work already closed")
        leaf["v"] = ENTRY_VERSION
        entry = canonical_json(leaf)
        self._entry_bytes.append(entry)
        self._leaf_hashes.append(leaf_hash(entry))

    # ---- the clock and the key window (UnitOfWork routes them through lycredit.oplog.log) ----
    def _now(self) -> dt.datetime:
        return utcnow()

    def _require_key_valid_at(self, at: dt.datetime) -> None:
        require_key_valid_at(self.db, self.signer, at)

    # ---- appending --------------------------------------------------------
    def close(self) -> Appended:
        """Sign the operation and append its leaves and a checkpoint; once."""
        if self.closed is not None:
            return self.closed
        from lycredit.oplog.note import Checkpoint, sign_note

        db = self.db
        head = latest_checkpoint(db)
        origin = log_origin(db)
        if head is None:
            frontier, seq, prev_root = Frontier(), 1, root_from_leaf_hashes([])
        else:
            frontier, seq, prev_root = Frontier.from_bytes(head.frontier), head.op_seq + 1, head.root
        first_idx = frontier.size
        leaf_hashes = self._leaf_hashes
        at = self._now()
        self._require_key_valid_at(at)
        header = {
            "type": "operation",
            "v": ENTRY_VERSION,
            "seq": seq,
            "at": timestamp(at),
            "operator": self.signer.name,
            "key_id": self.signer.key_id,
            "role": self.signer.role,
            "command": self.command,
            "action": self.action,
            "reason": self.reason,
            "subject": self.subject,
            "summary": _jsonable(self.summary),
            "prev_size": first_idx,
            "prev_root": prev_root.hex(),
            "leaf_count": len(leaf_hashes),
            "leaves_root": root_from_leaf_hashes(leaf_hashes).hex(),
        }
        header["signature"] = base64.b64encode(self.signer.private_key.sign(signing_bytes(header))).decode()
        header_bytes = canonical_json(header)
        entries = [*self._entry_bytes, header_bytes]
        frontier.extend(leaf_hashes)
        frontier.append(leaf_hash(header_bytes))
        root = frontier.root()
        note = sign_note(Checkpoint(origin, frontier.size, root).text(), [(self.signer.name, self.signer.private_key)])
        insert_entries(db, first_idx, seq, entries)
        db.execute(
            "INSERT INTO oplog_operation (seq, first_idx, leaf_count, at, operator, key_id, command, action,"
            " subject, reason, summary) VALUES (:seq, :first_idx, :leaf_count, :at, :operator, :key_id,"
            " :command, :action, :subject, :reason, :summary)",
            {
                "seq": seq,
                "first_idx": first_idx,
                "leaf_count": len(entries),
                "at": at,
                "operator": self.signer.name,
                "key_id": self.signer.key_id,
                "command": self.command[:100],
                "action": self.action,
                "subject": self.subject,
                "reason": self.reason,
                "summary": json.dumps(header["summary"], ensure_ascii=False, sort_keys=True),
            },
        )
        db.execute(
            "INSERT INTO oplog_checkpoint (size, op_seq, root, note, frontier, created_at)"
            " VALUES (:size, :op_seq, :root, :note, :frontier, :created_at)",
            {
                "size": frontier.size,
                "op_seq": seq,
                "root": root,
                "note": note,
                "frontier": frontier.to_bytes(),
                "created_at": at,
            },
        )
        self.closed = Appended(seq=seq, first_idx=first_idx, size=frontier.size, root=root, note=note)
        return self.closed


# --- the operator and its key ---------------------------------------------------------------------


def find_signer(db: DB, private_key: Ed25519PrivateKey, now: dt.datetime | None = None) -> Signer:
    """The operator whose registered key this is, if it may sign now; otherwise exit 77 saying why."""
    from lycredit.errors import PermissionDenied
    from lycredit.i18n import _
    from lycredit.keys import public_b64

    now = now or utcnow()
    row = db.first(
        "SELECT k.operator_id, k.key_id, k.valid_from, k.valid_until, o.name, o.role, o.status"
        " FROM operator_key k JOIN operator o ON o.id = k.operator_id WHERE k.public_key = :public_key",
        {"public_key": public_b64(private_key)},
        {"valid_from": UTC, "valid_until": UTC},
    )
    if row is None:
        raise PermissionDenied(_("This key is not registered to any operator"))
    if row["status"] != "active":
        raise PermissionDenied(_("Operator {name} is revoked").format(name=row["name"]))
    require_key_window(row["name"], row["key_id"], row["valid_from"], row["valid_until"], now)
    return Signer(row["operator_id"], row["name"], row["role"], row["key_id"], private_key)


def require_key_valid_at(db: DB, signer: Signer, at: dt.datetime) -> None:
    """The key must be valid when the operation is signed, not only when the command started.

    A long import can outlive a rotation's overlap; signing then would put an entry in
    the log that ``audit verify`` rightly rejects, so the operation is refused instead.
    """
    row = db.first(
        "SELECT k.valid_from, k.valid_until FROM operator_key k JOIN operator o ON o.id = k.operator_id"
        " WHERE o.name = :name AND k.key_id = :key_id",
        {"name": signer.name, "key_id": signer.key_id},
        {"valid_from": UTC, "valid_until": UTC},
    )
    if row is None:
        return  # bootstrap: the key is registered by this very operation
    require_key_window(signer.name, signer.key_id, row["valid_from"], row["valid_until"], at)


def require_key_window(
    operator: str, key_id: str, valid_from: dt.datetime, valid_until: dt.datetime | None, at: dt.datetime
) -> None:
    """Exit 77 unless ``at`` lies in the key's window [valid_from, valid_until)."""
    if valid_from > at or (valid_until is not None and valid_until <= at):
        from lycredit.errors import PermissionDenied
        from lycredit.i18n import _

        raise PermissionDenied(
            _("The key {key_id} of operator {name} is not valid now (valid {start} to {end})").format(
                key_id=key_id, name=operator, start=timestamp(valid_from),
                end=timestamp(valid_until) if valid_until else "-",
            )
        )


# --- the log's tables -----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Summaries hold counts and names; anything else is stored as text (no floats in entries)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def lock_log(db: DB) -> None:
    """Serialise appenders: an advisory transaction lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already does."""
    if db.dialect == POSTGRESQL:
        db.execute(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")


def insert_entries(db: DB, first_idx: int, seq: int, entries: list[bytes]) -> None:
    """Append the entries through the driver's bulk path (COPY on PostgreSQL), in the caller's transaction."""
    rows = zip(range(first_idx, first_idx + len(entries)), itertools.repeat(seq), entries)
    if db.dialect == POSTGRESQL:
        with db.raw.cursor() as cursor, cursor.copy(
                "COPY oplog_entry (idx, op_seq, entry) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(ENTRY_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        return
    cursor = db.raw.cursor()
    try:
        mode = _json_each_mode() if len(entries) >= _JSON_EACH_MIN else None
        if mode is not None:
            # One statement for the whole batch: SQLite splits a JSON array of the entries itself, a
            # quarter cheaper than executemany's row by row. The entries are canonical JSON objects, so
            # an array of them is JSON as it stands, and SQLite gives each element back as the very text
            # it was given (OBJECTS; checked on this SQLite at first use); otherwise they go in as JSON
            # strings, which CAST gives back byte for byte. A test holds both ways to the same bytes.
            if mode == OBJECTS:
                array = _array_of_objects(entries)
            else:
                array = json.dumps([entry.decode() for entry in entries], ensure_ascii=False)
            cursor.execute("INSERT INTO oplog_entry (idx, op_seq, entry)"
                           " SELECT ? + key, ?, CAST(value AS BLOB) FROM json_each(?)", (first_idx, seq, array))
            return
        cursor.executemany("INSERT INTO oplog_entry (idx, op_seq, entry) VALUES (?, ?, ?)", rows)
    finally:
        cursor.close()


ENTRY_COPY_TYPES = ("int4", "int4", "bytea")
"""oplog_entry's columns as COPY's binary format takes them (a test holds them to the schema): in binary an entry
crosses as its bytes, where the text format writes each as hex for the server to decode (half the time)."""

_JSON_EACH_MIN = 64
"""Entries from which one ``json_each`` INSERT replaces executemany (a bulk operation's)."""
OBJECTS, STRINGS = "objects", "strings"
_JSON_EACH_PROBE = (
    b'{"a":"q\\"\\\\\\u0001\xe2\x80\xa8\xc3\xa9\xe5\x87\x8c/\\t\xf0\x9f\x98\x80\x7f","b":[1,-1,"x",[],{}],'
    b'"c":{"":"","n":9007199254740991,"z":null},"d":true,"e":false}',
    b'{"after":"' + b"0f" * 32 + b'","before":null,"key":"1","table":"record","type":"change","v":1}',
)
"""Canonical entries with what could come back changed: escapes, raw UTF-8, nesting, empty containers."""
_json_each: str | None | bool = False  # not probed yet


def _array_of_objects(entries: Sequence[bytes]) -> str:
    """Canonical JSON objects as one JSON array, as they stand (what the probe checks SQLite takes back)."""
    return (b"[" + b",".join(entries) + b"]").decode()


def _json_each_mode() -> str | None:
    """How this SQLite takes a bulk operation's entries through ``json_each`` (built in from 3.38, unless
    compiled out): as the objects they are, if it gives them back byte for byte; else as JSON strings."""
    global _json_each
    if _json_each is False:
        import sqlite3

        try:
            probe = sqlite3.connect(":memory:")
            try:
                back = [bytes(value) for (value,) in probe.execute(
                    "SELECT CAST(value AS BLOB) FROM json_each(?)", (_array_of_objects(_JSON_EACH_PROBE),))]
            finally:
                probe.close()
            _json_each = OBJECTS if back == list(_JSON_EACH_PROBE) else STRINGS
        except sqlite3.OperationalError:
            _json_each = None
    return _json_each


class Head(NamedTuple):
    size: int
    op_seq: int
    root: bytes
    note: str
    frontier: bytes


def latest_checkpoint(db: DB) -> Head | None:
    row = db.first("SELECT size, op_seq, root, note, frontier FROM oplog_checkpoint ORDER BY size DESC LIMIT 1")
    if row is None:
        return None
    return Head(row["size"], row["op_seq"], bytes(row["root"]), row["note"], bytes(row["frontier"]))


def log_origin(db: DB) -> str:
    origin = db.scalar("SELECT value FROM platform_meta WHERE key = 'origin'")
    if not origin:
        from lycredit.errors import ConfigError
        from lycredit.i18n import _

        raise ConfigError(_("The database has no log origin: it was not created by 'lycredit db init'"))
    return origin
