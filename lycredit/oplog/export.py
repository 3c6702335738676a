"""``audit export``: a bundle an external auditor checks offline (oplog.md, guarantees 3 and 4; Art. 28, 47).

The bundle, a new directory (the README, "The signed operation log and
audit", documents it for auditors who write their own verifier):

- ``entries.b64``: the leaves of the RFC 6962 tree in order, leaf *i* on line
  *i* + 1 as standard padded base64 (RFC 4648 §4) of its exact bytes;
- ``checkpoints/checkpoint-<size, 12 digits>.txt``: every checkpoint the log
  signed (one per operation), as its C2SP signed note, byte for byte;
- ``keys.json``: every operator key the log's ``key.*`` events register, with
  its validity window, as :class:`~lycredit.oplog.verify.Replayer` replays them;
- ``verify.py``: :mod:`lycredit.oplog.standalone_verify`, the verifier that
  needs only Python and ``cryptography``; ``README.txt``: how to run it;
- ``manifest.json``, written last: the format, origin, tree size and root of
  the latest checkpoint, counts, and the SHA-256 of every other file.

Entries carry hashes of rows and internal ids, never the rows themselves, so
the bundle holds no personal data (Art. 31 deletions leave nothing in it).
The directory must be new or empty, and no file is ever overwritten. A bundle that cannot be written
whole (a full disk) is removed, with the directory if the export created it, and exits 78 naming the
file (:mod:`lycredit.outputs`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lycredit import __version__
from lycredit.errors import ConfigError
from lycredit.i18n import _
from lycredit.keys import public_raw
from lycredit.models.base import utcnow
from lycredit.oplog.anchor import anchor_name
from lycredit.oplog.log import latest_checkpoint, log_origin, timestamp
from lycredit.oplog.note import verifier_key
from lycredit.oplog.verify import Replayer, Report, iter_entries
from lycredit.outputs import cannot_write, output_dir

BUNDLE_FORMAT = "lycredit-audit-bundle/1"
ENTRIES_FILE = "entries.b64"
VERIFIER = Path(__file__).with_name("standalone_verify.py")
PERSONAL_DATA_NOTE = (
    "No personal data: entries carry SHA-256 hashes of rows and internal ids, never the rows themselves; "
    "the data rows are not in this bundle, so verify.py cannot compare them (lycredit audit verify does)."
)
BUNDLE_README = """\
lycredit audit bundle ({format})

  entries.b64     the log's leaves in order: line i+1 = base64 of leaf i's exact bytes (RFC 8785 JSON)
  checkpoints/    every signed checkpoint (C2SP tlog-checkpoint signed notes), one per operation
  keys.json       every operator key the log registers, with its validity window
  verify.py       the verifier: Python 3.11+ and the 'cryptography' package, nothing else
  manifest.json   origin, tree size and root of the latest checkpoint, counts, SHA-256 of every file

Check it:  python verify.py . [--trusted-keys FILE] [--anchor DIR]
FILE holds the operators' verifier keys obtained out of band, one per line
(name+keyid+base64, as in keys.json's "verifier_key"); DIR holds checkpoints
anchored outside the database. Exit 0: all checks pass; exit 1: one line per problem.

{personal}
The full format is in lycredit's README, "The signed operation log and audit".
"""


@dataclass(frozen=True)
class Exported:
    path: Path
    origin: str
    tree_size: int
    root: str
    entries: int
    operations: int
    checkpoints: int
    keys: int


def export_bundle(conn: sa.Connection, out_dir: Path) -> Exported:
    """Write the bundle of the whole log into ``out_dir`` (new or empty), from one consistent snapshot.

    The log is copied as stored, tampering included, so that the bundle's
    verifier finds what ``audit verify`` finds in the log.
    """
    _require_empty(out_dir)
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    head = latest_checkpoint(conn)
    if head is None:
        raise ConfigError(_("The log is empty: nothing to export"))
    origin = log_origin(conn)
    created = output_dir(out_dir)
    written: list[Path] = []
    try:
        result = _write_bundle(conn, out_dir, origin, head, written)
    except BaseException:  # a full disk, an I/O error, an interruption: no half bundle that looks like a whole one
        for path in reversed(written):
            with contextlib.suppress(OSError):
                path.unlink()
        for directory in [out_dir / "checkpoints", *([out_dir] if created else [])]:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return result


def _write_bundle(conn: sa.Connection, out_dir: Path, origin: str, head: Any, written: list[Path]) -> Exported:
    """The files of the bundle, each one appended to ``written`` once it exists."""
    output_dir(out_dir / "checkpoints")
    digests: dict[str, str] = {}
    replayer = Replayer(Report())
    entries = 0
    with _Writer(out_dir, ENTRIES_FILE, digests, written) as fh:
        for position, (_idx, data) in enumerate(iter_entries(conn)):
            fh.write(base64.b64encode(data) + b"\n")
            replayer.feed(position, data)
            entries += 1
    checkpoints = 0
    for row in conn.execute(sa.text("SELECT size, note FROM oplog_checkpoint ORDER BY size")):
        with _Writer(out_dir, f"checkpoints/{anchor_name(row.size)}", digests, written) as fh:
            fh.write(row.note.encode("utf-8"))
        checkpoints += 1
    keys = [_key_json(k) for k in replayer.keys.values()]
    _write(out_dir, "keys.json", _json_bytes(keys), digests, written)
    _write(out_dir, "verify.py", VERIFIER.read_bytes(), digests, written)
    _write(out_dir, "README.txt", BUNDLE_README.format(format=BUNDLE_FORMAT, personal=PERSONAL_DATA_NOTE)
           .encode("utf-8"), digests, written)
    result = Exported(out_dir, origin, head.size, head.root.hex(), entries, replayer.report.operations,
                      checkpoints, len(keys))
    manifest = {
        "format": BUNDLE_FORMAT,
        "lycredit": __version__,
        "exported_at": timestamp(utcnow()),
        "origin": origin,
        "tree_size": result.tree_size,
        "root": result.root,
        "counts": {"entries": entries, "operations": result.operations, "checkpoints": checkpoints,
                   "keys": len(keys)},
        "personal_data": PERSONAL_DATA_NOTE,
        "files": dict(sorted(digests.items())),
    }
    _write(out_dir, "manifest.json", _json_bytes(manifest), {}, written)
    return result


def _require_empty(out_dir: Path) -> None:
    try:
        used = out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir()))
    except OSError as exc:  # a directory on the way that may not be searched, one that may not be listed
        raise cannot_write(out_dir, exc) from None
    if used:
        raise ConfigError(_("{path} exists and is not an empty directory: an export never overwrites; "
                            "give a new directory").format(path=out_dir))


def _key_json(key: Any) -> dict[str, Any]:
    raw = public_raw(key.public_key)
    return {"operator": key.operator, "role": key.role, "key_id": key.key_id,
            "public_key": base64.b64encode(raw).decode(), "verifier_key": verifier_key(key.operator, raw),
            "valid_from": key.valid_from, "valid_until": key.valid_until}


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class _Writer:
    """A new file in the bundle (created exclusively), whose SHA-256 goes into ``digests`` when closed; one that
    cannot be created or written is 78 naming it (:mod:`lycredit.outputs`)."""

    def __init__(self, out_dir: Path, name: str, digests: dict[str, str], written: list[Path]) -> None:
        self.path, self.name, self.digests, self.written = out_dir / name, name, digests, written
        self.sha = hashlib.sha256()

    def __enter__(self) -> _Writer:
        try:
            self.fh = open(self.path, "xb")  # noqa: SIM115 - closed in __exit__
        except OSError as exc:
            raise cannot_write(self.path, exc) from None
        self.written.append(self.path)
        return self

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            raise cannot_write(self.path, exc) from None
        self.sha.update(data)

    def __exit__(self, *exc: object) -> None:
        try:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            finally:
                self.fh.close()
        except OSError as error:
            if exc[0] is None:
                raise cannot_write(self.path, error) from None
        self.digests[self.name] = self.sha.hexdigest()


def _write(out_dir: Path, name: str, data: bytes, digests: dict[str, str], written: list[Path]) -> None:
    with _Writer(out_dir, name, digests, written) as fh:
        fh.write(data)
