"""Check a lycredit audit bundle offline: Python's standard library and ``cryptography``, nothing else.

    python verify.py BUNDLE_DIR [--trusted-keys FILE] [--anchor DIR]

This one file is the verifier that ``lycredit audit export`` copies into the
bundle as ``verify.py`` (oplog.md, "What it must guarantee" 4; Art. 28 and 47
of the Measures). It shares no code with lycredit, so that an auditor needs to
read only this file. The formats are public standards: RFC 6962 / RFC 9162
(Merkle tree), RFC 8785 (canonical JSON entries), C2SP tlog-checkpoint and
signed-note (Ed25519 checkpoints); the bundle layout is in lycredit's README,
"The signed operation log and audit".

The checks, in order; each problem is one output line, ``<where>: <what>``:

1. manifest: every file it lists has its SHA-256, and every file is listed;
2. entries: each line of ``entries.b64`` is base64 of bytes that are RFC 8785
   canonical JSON (they re-canonicalise to themselves) of a known type,
   version and shape;
3. operations, by the rules of ``lycredit audit verify``: sequence numbers
   consecutive from 1; ``leaf_count`` and ``leaves_root`` match the leaves
   before the header, ``prev_size`` and ``prev_root`` the tree before them;
   time never goes back; the first operation registers the key that signs it
   and later key events are signed by an administrator; the signature
   verifies under a key the log registered, valid at that time; each change's
   ``before`` hash is its row as the log left it. A divergence is reported
   once: the tree after it cannot be trusted, so later operations' previous
   roots and later checkpoints' roots are not compared again;
4. tree: the leaves' size and root are the manifest's, no leaf follows the
   last operation, and every operation's end has a checkpoint;
5. checkpoints (and the notes in ``--anchor DIR``): signed by a known key, of
   this log's origin, not beyond the tree (cut back), with the tree's root at
   their size (rewritten);
6. ``keys.json`` says what the log's key events say;
7. with ``--trusted-keys FILE`` (C2SP verifier keys, one per line, obtained out
   of band): every key that signed an operation is one of them, and notes are
   checked against them alone.

It cannot check the data rows themselves: they are not in the bundle (only
their hashes are). ``lycredit audit verify`` compares them on the database.
Exit status: 0 all checks pass, 1 problems found, 2 unusable arguments (an --anchor directory that is
missing, a file or cannot be listed among them).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "lycredit-audit-bundle/1"
SIGN_LABEL = b"lycredit/operation/v1\n"
ENTRY_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1
DASH = "\u2014"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")  # UTC, microseconds: compares as text
TEXT, TEXT_OR_NULL, INTEGER = (str,), (str, type(None)), (int,)
SHAPES = {
    "change": {"table": TEXT, "key": TEXT, "before": TEXT_OR_NULL, "after": TEXT_OR_NULL},
    "event": {"event": TEXT},
    "operation": {"seq": INTEGER, "at": TEXT, "operator": TEXT, "key_id": TEXT, "prev_size": INTEGER,
                  "prev_root": TEXT, "leaf_count": INTEGER, "leaves_root": TEXT, "signature": TEXT},
}
KEY_EVENTS = {
    "key.register": {"operator": TEXT, "key_id": TEXT, "public_key": TEXT, "valid_from": TEXT,
                     "valid_until": TEXT_OR_NULL},
    "key.revoke": {"operator": TEXT, "key_id": TEXT, "valid_until": TEXT},
    "key.expire": {"operator": TEXT, "key_id": TEXT, "valid_until": TEXT},
}


class Problem(Exception):
    """A check failed; the message says what is wrong (the caller adds where)."""


# ---- RFC 8785 canonical JSON (entries hold no floats) ---------------------------------------------


def _no_duplicates(pairs: list) -> dict:
    if len({k for k, _v in pairs}) != len(pairs):
        raise ValueError("duplicate object key")
    return dict(pairs)


def _no_fractions(token: str) -> None:
    raise ValueError(f"number {token} is not an integer")


def _safe_int(token: str) -> int:
    if abs(int(token)) > MAX_SAFE_INTEGER:
        raise ValueError(f"integer {token} is outside the interoperable range")
    return int(token)


_strict = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_float=_no_fractions,
                           parse_constant=_no_fractions, parse_int=_safe_int)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def parse_json(data: bytes) -> object:
    """Strict JSON as entries use it: UTF-8, no duplicate keys, integers only, within ±(2**53 − 1)."""
    return _strict.decode(data.decode("utf-8"))


def canonical(value: object) -> bytes:
    """RFC 8785 bytes of a value as :func:`parse_json` returns it (no floats, integers in range).

    Python's encoder already writes RFC 8785 for such values, except that it sorts
    keys by code point; that differs from UTF-16 order only beyond U+FFFF.
    """
    text = _dumps(value)
    return (_utf16_ordered(value) if _ASTRAL.search(text) else text).encode("utf-8")


def _utf16_ordered(v: object) -> str:
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_dumps(k) + ":" + _utf16_ordered(v[k]) for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_utf16_ordered(x) for x in v) + "]"
    return _dumps(v)


# ---- RFC 6962 Merkle tree --------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(hashes: list[bytes]) -> bytes:
    """The root of the tree over these leaf hashes (an odd last node moves up a level unchanged)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    while len(level) > 1:
        pairs = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(pairs) * 2:]
    return level[0]


@dataclass
class Tree:
    """The growing tree's right edge: the root of one perfect subtree per set bit of its size."""

    size: int = 0
    edge: list[bytes] = field(default_factory=list)

    def append(self, h: bytes) -> None:
        self.edge.append(h)
        self.size += 1
        n = self.size
        while n % 2 == 0:
            right, left = self.edge.pop(), self.edge.pop()
            self.edge.append(node_hash(left, right))
            n //= 2

    def root(self) -> bytes:
        if not self.edge:
            return tree_root([])
        acc = self.edge[-1]
        for node in reversed(self.edge[:-1]):
            acc = node_hash(node, acc)
        return acc


# ---- C2SP signed notes ----------------------------------------------------------------------------


def note_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    return f"{name}+{note_key_id(name, public_key).hex()}+{base64.b64encode(bytes([1]) + public_key).decode()}"


def parse_verifier_key(line: str) -> tuple[str, bytes]:
    """``name+keyid+base64(0x01 ‖ key)`` -> (name, 32-byte Ed25519 public key)."""
    name, kid, b64 = line.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 verifier key")
    if note_key_id(name, raw[1:]).hex() != kid:
        raise ValueError("its key id does not match its name and key")
    return name, raw[1:]


def open_note(note: str, known: set[tuple[str, bytes]]) -> str:
    """The text of a signed note, if a known (name, key) signed it; a bad signature by a known key fails."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise Problem("malformed signed note")
    by_id = {(name, note_key_id(name, key)): key for name, key in known}
    signed = False
    for line in signatures.splitlines():
        m = re.fullmatch(DASH + r" (\S+) ([A-Za-z0-9+/=]+)", line)
        if not m:
            raise Problem("malformed signature line in the note")
        blob = base64.b64decode(m.group(2))
        key = by_id.get((m.group(1), blob[:4]))
        if key is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(blob[4:], (text + "\n").encode())
        except InvalidSignature:
            raise Problem(f"signature by {m.group(1)} does not verify") from None
        signed = True
    if not signed:
        raise Problem("no known key signed the note")
    return text + "\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root) of C2SP tlog-checkpoint text."""
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0] or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise Problem("malformed checkpoint")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise Problem("checkpoint root is not 32 bytes")
    return lines[0], int(lines[1]), root


# ---- one entry --------------------------------------------------------------------------------------


def decode_line(line: bytes) -> bytes:
    try:
        return base64.b64decode(line, validate=True)
    except ValueError:
        raise Problem("line is not base64") from None


def parse_entry(data: bytes) -> dict:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        raise Problem("not valid JSON") from None
    return obj if isinstance(obj, dict) else {}


def check_canonical(data: bytes) -> None:
    try:
        same = canonical(parse_json(data)) == data
    except (ValueError, RecursionError):
        same = False
    if not same:
        raise Problem("bytes are not canonical JSON (RFC 8785)")


def misshapen(obj: dict, shape: dict) -> str | None:
    """The first field that is missing or of the wrong JSON type (``true`` is no integer), or a bad time."""
    for name, types in shape.items():
        value = obj.get(name)
        if name not in obj or not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return name
    for name in ("at", "valid_from", "valid_until"):
        if name in shape and isinstance(obj.get(name), str) and not TIME.fullmatch(obj[name]):
            return name
    return None


def check_type(obj: dict) -> bool:
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in SHAPES:
        raise Problem(f"unknown entry type {json.dumps(kind, ensure_ascii=False)}")
    return True


def check_version(obj: dict) -> None:
    if obj.get("v") != ENTRY_VERSION:
        raise Problem(f"entry version {json.dumps(obj.get('v'))} is not {ENTRY_VERSION}")


def check_shape(obj: dict) -> bool:
    if (bad := misshapen(obj, SHAPES[obj["type"]])) is not None:
        raise Problem(f"malformed {obj['type']} entry: field {bad} is missing or of the wrong type")
    return True


# ---- replaying the operations -------------------------------------------------------------------------


@dataclass
class Replay:
    """The state the log implies so far."""

    tree: Tree = field(default_factory=Tree)
    in_sync: bool = True
    ends: dict[int, tuple[int, bytes | None]] = field(default_factory=dict)  # size -> (seq, root if reliable)
    pending: list[tuple[int, dict, bytes]] = field(default_factory=list)
    keys: dict[tuple, dict] = field(default_factory=dict)
    rows: dict[tuple, tuple[str, int]] = field(default_factory=dict)  # (table, key) -> (hash, entry)
    signers: set[tuple] = field(default_factory=set)
    next_seq: int = 1
    last_at: str = ""
    operations: int = 0


def entries_text(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first} to {last}"


def check_sequence(r: Replay, h: dict) -> None:
    if h["seq"] != r.next_seq:
        raise Problem(f"sequence number {h['seq']}, expected {r.next_seq} (operation deleted, inserted or moved)")


def check_previous_tree(r: Replay, h: dict) -> bool:
    """True when the header's previous tree is the log before it; a divergence is reported only once."""
    if h["prev_size"] == r.tree.size and h["prev_root"] == r.tree.root().hex():
        return True
    if not r.in_sync:
        return False
    if h["prev_size"] != r.tree.size:
        raise Problem(f"previous tree size {h['prev_size']}, but the log before it has {r.tree.size} entries")
    raise Problem("previous root is not the root of the log before it: earlier entries were altered")


def check_leaf_count(h: dict, leaves: list) -> bool:
    if h["leaf_count"] != len(leaves):
        raise Problem(f"the header signs {h['leaf_count']} leaves but {len(leaves)} are stored before it")
    return True


def check_leaves_root(h: dict, leaves: list) -> bool:
    if h["leaves_root"] != tree_root([lh for _i, _leaf, lh in leaves]).hex():
        raise Problem("the root of its leaves is not the one its header signs: "
                      "a leaf was altered, added, removed or moved")
    return True


def check_time(r: Replay, h: dict) -> None:
    if h["at"] < r.last_at:
        raise Problem(f"its time {h['at']} is before the previous operation's {r.last_at}")


def check_key_event(r: Replay, h: dict, leaf: dict, bootstrap: bool) -> None:
    """Apply one ``key.*`` event: only the first operation or an administrator may sign one."""
    event = leaf["event"]
    if event not in KEY_EVENTS or misshapen(leaf, KEY_EVENTS[event]) is not None:
        raise Problem(f"malformed key event {event}")
    signer = r.keys.get((h["operator"], h["key_id"]))
    if not bootstrap and (signer is None or signer["role"] != "admin"):
        raise Problem(f"key event {event} not signed by an administrator")
    ident = (leaf["operator"], leaf["key_id"])
    if event != "key.register":
        if ident not in r.keys:
            raise Problem("ends a key the log never registered")
        r.keys[ident]["valid_until"] = leaf["valid_until"]
        return
    if ident in r.keys:
        raise Problem(f"registers key {ident[1]} of {ident[0]} again")
    try:
        public = base64.b64decode(leaf["public_key"], validate=True)
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise Problem("registers an invalid public key") from None
    r.keys[ident] = {"operator": leaf["operator"], "role": str(leaf.get("role", "")), "key_id": leaf["key_id"],
                     "public": public, "valid_from": leaf["valid_from"], "valid_until": leaf["valid_until"]}


def check_signer_registered(r: Replay, h: dict) -> None:
    if (h["operator"], h["key_id"]) not in r.keys:
        raise Problem(f"signed by key {h['key_id']} of {h['operator']}, which the log never registered")


def check_signature(r: Replay, h: dict) -> bool:
    """The operator signed the label and the header without its signature (an unknown key is reported apart)."""
    key = r.keys.get((h["operator"], h["key_id"]))
    if key is None:
        return True
    r.signers.add((key["operator"], key["public"]))
    unsigned = {k: v for k, v in h.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(key["public"]).verify(
            base64.b64decode(h["signature"], validate=True), SIGN_LABEL + canonical(unsigned))
    except (InvalidSignature, ValueError):
        raise Problem("the operator's signature does not verify") from None
    return True


def check_key_window(r: Replay, h: dict) -> None:
    key = r.keys.get((h["operator"], h["key_id"]))
    if key is not None and (h["at"] < key["valid_from"]
                            or (key["valid_until"] is not None and h["at"] >= key["valid_until"])):
        raise Problem(f"key {key['key_id']} of {key['operator']} was not valid at {h['at']} "
                      f"(valid {key['valid_from']} to {key['valid_until'] or '-'})")


def check_change(r: Replay, idx: int, leaf: dict) -> None:
    """Apply one change: its before-hash must be its row as the log left it."""
    row = (leaf["table"], leaf["key"])
    current = r.rows.get(row)
    if leaf["after"] is None:
        r.rows.pop(row, None)
    else:
        r.rows[row] = (leaf["after"], idx)
    if current is None and leaf["before"] is not None:
        raise Problem(f"change of {row[0]} {row[1]}: the log has no such row before it")
    if current is not None and leaf["before"] != current[0]:
        raise Problem(f"change of {row[0]} {row[1]}: its before-hash is not the row as entry {current[1]} left it")


# ---- the bundle -----------------------------------------------------------------------------------


class Verifier:
    """Runs every check over one bundle and collects one line per problem."""

    def __init__(self, bundle: Path, trusted: set[tuple[str, bytes]] | None) -> None:
        self.bundle = bundle
        self.trusted = trusted
        self.problems: list[str] = []
        self.replay = Replay()

    def run(self, where: str, check, *args):  # noqa: ANN001, ANN201 - any check, its result
        """The check's result, or None when it failed (its problem is recorded, never raised)."""
        try:
            return check(*args)
        except Problem as p:
            self.problems.append(f"{where}: {p}")
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
            self.problems.append(f"{where}: {check.__name__} failed ({type(exc).__name__}: {exc})")
        return None

    def verify(self, anchor_dir: Path | None) -> dict:
        manifest = self.run("manifest.json", read_manifest, self.bundle)
        if manifest is None:
            return {}
        self.run("manifest", check_files, self.bundle, manifest["files"])
        for idx, line in enumerate(self.run("entries.b64", read_entry_lines, self.bundle / "entries.b64") or []):
            self.feed(idx, line)
        r = self.replay
        if r.pending:
            self.problems.append(f"{entries_text(r.pending[0][0], r.pending[-1][0])}: after the last signed "
                                 "operation: not covered by any signature (log cut or entries inserted)")
        self.run("tree", check_head, r.tree, manifest)
        known = self.trusted if self.trusted is not None else {(k["operator"], k["public"]) for k in r.keys.values()}
        notes = sorted((self.bundle / "checkpoints").glob("*.txt"))
        for path in notes:
            self.run(path.relative_to(self.bundle).as_posix(), check_checkpoint, path, known, manifest["origin"], r)
        named = {checkpoint_name_size(path) for path in notes}
        for size, (seq, _root) in sorted(r.ends.items()):
            if size not in named:
                self.problems.append(f"checkpoints: none at size {size}, where operation {seq} ends")
        for path in sorted(anchor_dir.glob("checkpoint-*.txt")) if anchor_dir is not None else []:
            self.run(str(path), check_checkpoint, path, known, manifest["origin"], r)
        self.run("keys.json", check_keys_file, self.bundle / "keys.json", r.keys)
        for name, public in sorted(r.signers - self.trusted) if self.trusted is not None else []:
            self.problems.append(f"trusted keys: {verifier_key(name, public)} signed operations "
                                 "but is not among the trusted keys")
        return manifest

    def feed(self, idx: int, line: bytes) -> None:
        where = f"entry {idx}"
        data = self.run(where, decode_line, line) or line
        obj = self.run(where, parse_entry, data)
        if obj is not None:
            self.run(where, check_canonical, data)
        obj = obj or {}
        if self.run(where, check_type, obj):
            self.run(where, check_version, obj)
            obj = obj if self.run(where, check_shape, obj) else {}
        else:
            obj = {}
        if obj.get("type") == "operation":
            self.operation(idx, obj, leaf_hash(data))
        else:
            self.replay.pending.append((idx, obj, leaf_hash(data)))

    def operation(self, idx: int, h: dict, header_hash: bytes) -> None:
        r = self.replay
        leaves, r.pending = r.pending, []
        where = f"operation {h['seq']} (entry {idx})"
        span = where if not leaves else f"operation {h['seq']} ({entries_text(leaves[0][0], leaves[-1][0])})"
        first = r.operations == 0  # bootstrap: the first operation registers the key that signs it
        key_events = [(i, leaf) for i, leaf, _h in leaves
                      if leaf.get("type") == "event" and leaf["event"].startswith("key.")]
        self.run(where, check_sequence, r, h)
        r.next_seq = h["seq"] + 1
        follows = self.run(where, check_previous_tree, r, h)
        leaves_ok = self.run(span, check_leaf_count, h, leaves) and self.run(span, check_leaves_root, h, leaves)
        self.run(where, check_time, r, h)
        r.last_at = max(r.last_at, h["at"])
        for i, leaf in key_events if first else []:
            self.run(f"entry {i}", check_key_event, r, h, leaf, True)
        self.run(where, check_signer_registered, r, h)
        signed = self.run(where, check_signature, r, h)
        self.run(where, check_key_window, r, h)
        for i, leaf in key_events if not first else []:
            self.run(f"entry {i}", check_key_event, r, h, leaf, False)
        for i, leaf, _h in leaves:
            if leaf.get("type") == "change":
                self.run(f"entry {i}", check_change, r, i, leaf)
        for _i, _leaf, leaf_h in leaves:
            r.tree.append(leaf_h)
        r.tree.append(header_hash)
        r.in_sync = bool(follows and leaves_ok and signed)
        end = h["prev_size"] + h["leaf_count"] + 1
        r.ends[end] = (h["seq"], r.tree.root() if r.in_sync and end == r.tree.size else None)
        r.operations += 1


def read_manifest(bundle: Path) -> dict:
    try:
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Problem(f"cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise Problem(f"format {manifest.get('format') if isinstance(manifest, dict) else None!r} "
                      f"is not {BUNDLE_FORMAT}")
    for name, kind in (("origin", str), ("tree_size", int), ("root", str), ("files", dict)):
        if not isinstance(manifest.get(name), kind):
            raise Problem(f"{name} is missing or not a {kind.__name__}")
    return manifest


def check_files(bundle: Path, files: dict[str, str]) -> None:
    bad = []
    for name, digest in sorted(files.items()):
        path = bundle / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            bad.append(f"{name} is outside the bundle")
        elif not path.is_file():
            bad.append(f"{name} is listed but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(f"SHA-256 of {name} does not match the file")
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    bad += [f"{name} is not listed in the manifest" for name in sorted(present - set(files) - {"manifest.json"})]
    if bad:
        raise Problem("; ".join(bad))


def read_entry_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        raise Problem("does not end with a newline (cut off)")
    return data.split(b"\n")[:-1]


def check_head(tree: Tree, manifest: dict) -> None:
    if tree.size != manifest["tree_size"]:
        raise Problem(f"the bundle has {tree.size} entries, the manifest says {manifest['tree_size']}")
    if tree.root().hex() != manifest["root"]:
        raise Problem("the root of the entries is not the manifest's root")


def checkpoint_name_size(path: Path) -> int | None:
    m = re.fullmatch(r"checkpoint-([0-9]+)\.txt", path.name)
    return int(m.group(1)) if m else None


def check_checkpoint(path: Path, known: set[tuple[str, bytes]], origin: str, r: Replay) -> None:
    """A checkpoint-<size>.txt note: signed, of this log, of that size, and contained in the tree."""
    cp_origin, size, root = parse_checkpoint(open_note(path.read_bytes().decode("utf-8"), known))
    if checkpoint_name_size(path) != size:
        raise Problem(f"holds a checkpoint of size {size}, not the one its name says")
    if cp_origin != origin:
        raise Problem(f"a checkpoint of log {cp_origin}, not of this log {origin}")
    if size > r.tree.size:
        raise Problem(f"the log has {r.tree.size} entries, fewer than this checkpoint's {size}: it was cut back")
    if size not in r.ends:
        raise Problem(f"its size {size} is not the end of any operation in the log")
    if r.ends[size][1] is not None and r.ends[size][1] != root:
        raise Problem(f"its root is not the tree's root at size {size}: the log was rewritten below entry {size}")


def check_keys_file(path: Path, keys: dict[tuple, dict]) -> None:
    replayed = [{"operator": k["operator"], "role": k["role"], "key_id": k["key_id"],
                 "public_key": base64.b64encode(k["public"]).decode(),
                 "verifier_key": verifier_key(k["operator"], k["public"]),
                 "valid_from": k["valid_from"], "valid_until": k["valid_until"]} for k in keys.values()]
    if json.loads(path.read_text(encoding="utf-8")) != replayed:
        raise Problem("does not match the key events in the log")


def read_trusted_keys(path: Path) -> set[tuple[str, bytes]]:
    keys = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            try:
                keys.add(parse_verifier_key(line.strip()))
            except ValueError as exc:
                raise ValueError(f"{path} line {n}: {exc}") from None
    return keys


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 (line feed and tab too: one line per problem), DEL, C1


def shown(text: str) -> str:
    """A problem as printed: control characters a forged bundle put in it (an operator's name, an origin) written
    as escapes (``\\x1b``), so that they cannot erase, overwrite or add lines on the auditor's terminal."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a lycredit audit bundle offline.")
    parser.add_argument("bundle", type=Path, help="the bundle directory written by 'lycredit audit export'")
    parser.add_argument("--trusted-keys", type=Path, help="operators' verifier keys obtained out of band")
    parser.add_argument("--anchor", type=Path, help="a directory of anchored checkpoint-*.txt notes to check too")
    args = parser.parse_args(argv)
    if not args.bundle.is_dir():
        parser.error(f"{args.bundle} is not a directory")
    if args.anchor is not None:
        try:  # missing, not a directory, or not listable: its glob would find no anchor and the run would pass
            next(args.anchor.iterdir(), None)
        except OSError as exc:
            parser.error(f"--anchor: {args.anchor}: {exc.strerror}")
    try:
        trusted = read_trusted_keys(args.trusted_keys) if args.trusted_keys else None
    except (OSError, ValueError) as exc:
        parser.error(f"--trusted-keys: {exc}")
    verifier = Verifier(args.bundle, trusted)
    manifest = verifier.verify(args.anchor)
    for line in verifier.problems:
        print(shown(line))
    if verifier.problems:
        return 1
    print(f"OK: {manifest['tree_size']} entries, {verifier.replay.operations} operations, "
          f"root {manifest['root']} (the data rows are not in the bundle: lycredit audit verify checks them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
