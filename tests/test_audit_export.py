"""``audit export`` and the standalone verifier: an auditor checks the log offline, and tampering shows."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from lycredit.keys import load_private_key
from lycredit.oplog import standalone_verify as sv
from lycredit.oplog.canonical import canonical_json
from tests.conftest import ADMIN_UNIT, PASSPHRASE, PROVIDER_UNIT, TEST_ENV, Platform, _init_platform, invoke
from tests.test_merkle import load_vectors


def populate(p: Platform) -> None:
    """Operators added, one refused (signed by a provider), a key rotated, an operator revoked."""
    p.add_operator("scjg-01", "provider")
    p.add_operator("ops-1", "operator")
    assert p.run("operator", "revoke", "admin", "--reason", "try", key="scjg-01").exit_code == 77
    new = p.dir / "ops-1-new.key"
    public = invoke(["key", "generate", "--out", str(new)]).stdout.strip()
    assert p.run("key", "rotate", "ops-1", "--public-key", public, "--overlap-days", "3").exit_code == 0
    assert p.run("operator", "revoke", "scjg-01", "--reason", "left the bureau").exit_code == 0


def export(p: Platform, out: Path):  # noqa: ANN201
    return p.run("--format", "json", "audit", "export", "--out", str(out), key=None)


def standalone(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the bundle's own verify.py as an auditor would."""
    return subprocess.run([sys.executable, str(bundle / "verify.py"), str(bundle), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def source_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean bundle of a populated SQLite platform; tests tamper with copies of it."""
    directory = tmp_path_factory.mktemp("source")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in TEST_ENV.items():
            if value:
                mp.setenv(key, value)
            else:
                mp.delenv(key, raising=False)
        url = f"sqlite:///{directory / 'lycredit.db'}"
        admin_key = _init_platform(url, directory)
        p = Platform(url, "sqlite", directory, admin_key, {"admin": admin_key})
        populate(p)
        assert export(p, directory / "bundle").exit_code == 0
    return directory / "bundle"


@pytest.fixture
def bundle(source_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(source_bundle, copy)
    return copy


# ---- helpers that tamper as an attacker would: the manifest's hashes are made to fit -----------------

def entries(bundle: Path) -> list[bytes]:
    return [base64.b64decode(line) for line in (bundle / "entries.b64").read_bytes().splitlines()]


def leaves(bundle: Path) -> list[dict]:
    return [json.loads(e) for e in entries(bundle)]


def write_entries(bundle: Path, data: list[bytes]) -> None:
    (bundle / "entries.b64").write_bytes(b"".join(base64.b64encode(d) + b"\n" for d in data))
    rehash(bundle)


def rehash(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def header_index(bundle: Path, seq: int) -> int:
    return next(i for i, leaf in enumerate(leaves(bundle)) if leaf["type"] == "operation" and leaf["seq"] == seq)


def span(bundle: Path, seq: int) -> str:
    """How both verifiers name the leaves of operation ``seq``."""
    first = header_index(bundle, seq - 1) + 1 if seq > 1 else 0
    return f"operation {seq} (entries {first} to {header_index(bundle, seq) - 1})"


LEAVES_ALTERED = "the root of its leaves is not the one its header signs: a leaf was altered, added, removed or moved"


def change_indexes(bundle: Path, seq: int) -> list[int]:
    """The change leaves of operation ``seq``."""
    end = header_index(bundle, seq)
    start = header_index(bundle, seq - 1) + 1 if seq > 1 else 0
    return [i for i in range(start, end) if leaves(bundle)[i]["type"] == "change"]


def problems(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout.splitlines()


# ---- the bundle, exported from a real platform on both databases -------------------------------------

def test_a_real_platforms_bundle_verifies_offline_and_audit_verify_agrees(platform: Platform) -> None:
    populate(platform)
    assert platform.run("audit", "verify", key=None).exit_code == 0
    r = export(platform, platform.dir / "bundle")
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    with platform.engine().connect() as conn:
        ops = conn.execute(sa.text("SELECT count(*) FROM oplog_operation")).scalar()
        size, root = conn.execute(sa.text("SELECT size, root FROM oplog_checkpoint ORDER BY size DESC")).first()
    assert (done["operations"], done["checkpoints"], done["tree_size"], done["root"]) == (ops, ops, size,
                                                                                          bytes(root).hex())
    result = standalone(platform.dir / "bundle")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: {size} entries, {ops} operations")


def test_a_log_entry_altered_in_the_database_is_found_by_both_verifiers(platform: Platform) -> None:
    populate(platform)
    with platform.engine().connect() as conn:
        idx, data = conn.execute(sa.text(
            "SELECT e.idx, e.entry FROM oplog_entry e JOIN oplog_operation o ON o.seq = e.op_seq "
            "WHERE o.seq = 2 ORDER BY e.idx")).first()
        leaf = json.loads(bytes(data))
        leaf["after"] = "0" * 64
        if platform.backend == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER oplog_entry_no_update")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.execute(sa.text("UPDATE oplog_entry SET entry = :e WHERE idx = :i").bindparams(
            sa.bindparam("e", type_=sa.LargeBinary())), {"e": canonical_json(leaf), "i": idx})
        conn.commit()
    in_db = platform.run("--format", "json", "audit", "verify", key=None)
    assert in_db.exit_code == 1
    log_problems = {f"{p['where']}: {p['what']}" for p in json.loads(in_db.stdout)["problems"]
                    if p["where"].startswith(("operation", "entry", "entries"))}
    assert log_problems == {f"operation 2 (entries 6 to 9): {LEAVES_ALTERED}"}
    assert export(platform, platform.dir / "bundle").exit_code == 0
    offline = problems(standalone(platform.dir / "bundle"))
    assert offline == [f"operation 2 (entries 6 to 9): {LEAVES_ALTERED}",
                       "tree: the root of the entries is not the manifest's root"]


def test_export_refuses_a_directory_that_is_not_empty_and_touches_nothing(platform: Platform) -> None:
    out = platform.dir / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = export(platform, out)
    assert r.exit_code == 78 and "not an empty directory" in r.stderr and "never overwrites" in r.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "precious"


def test_export_into_an_existing_empty_directory_is_allowed(platform: Platform) -> None:
    out = platform.dir / "empty"
    out.mkdir()
    assert export(platform, out).exit_code == 0
    assert standalone(out).returncode == 0


@pytest.mark.parametrize("command", ["export", "anchor"])
@pytest.mark.parametrize("kind", ["a file", "below a file", "not writable"])
def test_an_output_directory_that_cannot_be_one_exits_78_naming_it(platform: Platform, tmp_path: Path, command: str,
                                                                   kind: str) -> None:
    """audit export --out and audit anchor --out: a file there or on the way, or a directory this process may
    not write in, is refused like a non-empty export directory (78), never click's usage error or a traceback."""
    out = tmp_path / "out"
    if kind == "a file":
        out.write_text("precious")
        problem = "exists and is not a"
    elif kind == "below a file":
        (tmp_path / "file").write_text("precious")
        out, problem = tmp_path / "file" / "out", "cannot be written (Not a directory)"
    else:
        out.mkdir()
        os.chmod(out, 0o500)
        if os.access(out, os.W_OK):
            pytest.skip("this process writes in a directory of mode 500 (root)")
        problem = "cannot be written (Permission denied)"
    try:
        r = platform.run("audit", command, "--out", str(out), key=None)
    finally:
        if kind == "not writable":
            os.chmod(out, 0o700)
    assert r.exit_code == 78, r.output
    assert str(out) in r.stderr and problem in r.stderr, r.stderr
    assert "Usage:" not in r.stderr and r.stdout == ""
    if kind == "a file":
        assert out.read_text() == "precious"
    elif kind == "below a file":
        assert (tmp_path / "file").read_text() == "precious"
    else:
        assert list(out.iterdir()) == []


# ---- what the bundle holds -----------------------------------------------------------------------------

def test_the_bundle_lists_every_file_with_its_sha256_and_ships_the_verifier(source_bundle: Path) -> None:
    manifest = json.loads((source_bundle / "manifest.json").read_text())
    files = {p.relative_to(source_bundle).as_posix() for p in source_bundle.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((source_bundle / name).read_bytes()).hexdigest() == digest, name
    assert (source_bundle / "verify.py").read_bytes() == Path(sv.__file__).read_bytes()
    assert manifest["counts"] == {"entries": 25, "operations": 6, "checkpoints": 6, "keys": 4}
    assert len(entries(source_bundle)) == manifest["tree_size"] == 25


def test_keys_json_holds_every_key_with_the_window_the_log_gave_it(source_bundle: Path) -> None:
    keys = {(k["operator"], k["key_id"]): k for k in json.loads((source_bundle / "keys.json").read_text())}
    assert sorted(k[0] for k in keys) == ["admin", "ops-1", "ops-1", "scjg-01"]
    revoke = next(leaf for leaf in leaves(source_bundle) if leaf.get("event") == "key.revoke")
    assert keys[("scjg-01", revoke["key_id"])]["valid_until"] == revoke["valid_until"]
    old, new = sorted((k for k in keys.values() if k["operator"] == "ops-1"), key=lambda k: k["valid_from"])
    assert old["valid_until"] is not None and new["valid_until"] is None
    for k in keys.values():
        assert sv.parse_verifier_key(k["verifier_key"]) == (k["operator"], base64.b64decode(k["public_key"]))


def test_the_bundle_holds_no_row_data(source_bundle: Path) -> None:
    blob = b"".join(p.read_bytes() for p in source_bundle.rglob("*") if p.is_file() and p.name != "verify.py")
    blob += b"".join(entries(source_bundle))
    for secret in (ADMIN_UNIT, PROVIDER_UNIT, "凌源市发展和改革局", "市市场监督管理局"):
        assert secret.encode() not in blob, secret


# ---- tampering with the bundle: each is found, and the first line says where and what ------------------

def test_an_altered_entry_is_found(bundle: Path) -> None:
    data = entries(bundle)
    i = change_indexes(bundle, 2)[0]
    leaf = json.loads(data[i])
    leaf["after"] = "f" * 64
    data[i] = canonical_json(leaf)
    write_entries(bundle, data)
    assert problems(standalone(bundle)) == [f"{span(bundle, 2)}: {LEAVES_ALTERED}",
                                            "tree: the root of the entries is not the manifest's root"]


def test_entry_bytes_that_are_not_canonical_are_found(bundle: Path) -> None:
    data = entries(bundle)
    data[3] = data[3].replace(b'"key":', b'"key": ')
    write_entries(bundle, data)
    assert "entry 3: bytes are not canonical JSON (RFC 8785)" in problems(standalone(bundle))


def test_a_deleted_entry_is_found(bundle: Path) -> None:
    data = entries(bundle)
    del data[change_indexes(bundle, 3)[0]]
    write_entries(bundle, data)
    assert problems(standalone(bundle))[0] == f"{span(bundle, 3)}: the header signs 3 leaves but 2 are stored before it"


def test_two_swapped_entries_are_found(bundle: Path) -> None:
    data = entries(bundle)
    i, j = change_indexes(bundle, 2)[:2]
    data[i], data[j] = data[j], data[i]
    write_entries(bundle, data)
    assert problems(standalone(bundle))[0] == f"{span(bundle, 2)}: {LEAVES_ALTERED}"


def test_an_inserted_entry_is_found(bundle: Path) -> None:
    data = entries(bundle)
    i = change_indexes(bundle, 2)[0]
    data.insert(i, data[i])
    write_entries(bundle, data)
    assert problems(standalone(bundle))[0] == f"{span(bundle, 2)}: the header signs 4 leaves but 5 are stored before it"


def test_an_entry_appended_after_the_last_operation_is_found(bundle: Path) -> None:
    data = entries(bundle)
    write_entries(bundle, [*data, data[0]])
    assert (f"entry {len(data)}: after the last signed operation: not covered by any signature "
            "(log cut or entries inserted)") in problems(standalone(bundle))


def test_an_altered_signature_is_found(bundle: Path) -> None:
    data = entries(bundle)
    i = header_index(bundle, 3)
    header = json.loads(data[i])
    header["signature"] = base64.b64encode(bytes(64)).decode()
    data[i] = canonical_json(header)
    write_entries(bundle, data)
    assert problems(standalone(bundle))[0] == f"operation 3 (entry {i}): the operator's signature does not verify"


def test_an_operation_signed_by_a_non_administrator_cannot_register_keys(bundle: Path) -> None:
    refused = next(leaf for leaf in leaves(bundle) if leaf["type"] == "operation" and leaf["action"] == "refused")
    assert refused["operator"] == "scjg-01"
    data = entries(bundle)
    i = header_index(bundle, refused["seq"])
    data.insert(i, data[header_index(bundle, 2) - 1])  # a key.register leaf under the provider's operation
    write_entries(bundle, data)
    assert f"entry {i}: key event key.register not signed by an administrator" in problems(standalone(bundle))


@pytest.fixture
def admin_key(source_bundle: Path) -> Ed25519PrivateKey:
    return load_private_key(source_bundle.parent / "admin.key", PASSPHRASE)


def resign_last_operation(bundle: Path, admin_key: Ed25519PrivateKey, **changes: object) -> None:
    """What only the administrator could do: rewrite the last header, re-sign it, its checkpoint and the manifest."""
    data = entries(bundle)
    header = {k: v for k, v in json.loads(data[-1]).items() if k != "signature"} | changes
    header["signature"] = base64.b64encode(admin_key.sign(sv.SIGN_LABEL + sv.canonical(header))).decode()
    data[-1] = canonical_json(header)
    root = sv.tree_root([sv.leaf_hash(e) for e in data])
    text = f"lycredit.test/log\n{len(data)}\n{base64.b64encode(root).decode()}\n"
    kid = sv.note_key_id("admin", admin_key.public_key().public_bytes_raw())
    note = f"{text}\n\u2014 admin {base64.b64encode(kid + admin_key.sign(text.encode())).decode()}\n"
    (bundle / "checkpoints" / f"checkpoint-{len(data):012d}.txt").write_text(note)
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "root": root.hex()}))
    write_entries(bundle, data)


def test_the_administrator_re_signing_a_backdated_operation_is_found(bundle: Path, admin_key) -> None:
    first, *_, previous, _last = [leaf["at"] for leaf in leaves(bundle) if leaf["type"] == "operation"]
    resign_last_operation(bundle, admin_key, at=first)
    assert problems(standalone(bundle)) == [
        f"operation 6 (entry {len(entries(bundle)) - 1}): its time {first} is before the previous operation's "
        f"{previous}"]


def test_the_administrator_re_signing_a_skipped_sequence_number_is_found(bundle: Path, admin_key) -> None:
    resign_last_operation(bundle, admin_key, seq=7)
    assert problems(standalone(bundle)) == [
        f"operation 7 (entry {len(entries(bundle)) - 1}): sequence number 7, expected 6 "
        "(operation deleted, inserted or moved)"]


def test_re_signing_without_changes_passes(bundle: Path, admin_key) -> None:
    resign_last_operation(bundle, admin_key)
    assert standalone(bundle).returncode == 0


def test_control_characters_a_forged_bundle_puts_in_a_problem_are_shown_not_run_by_the_terminal(bundle: Path) -> None:
    """A forger's operator name that erases its own line (CR, ESC [2K) or adds one (LF) must not hide the problem."""
    data = entries(bundle)
    header = json.loads(data[-1])
    header["operator"] = "admin\r\x1b[2KOK: all good\n\x9b"
    data[-1] = canonical_json(header)
    write_entries(bundle, data)
    found = problems(standalone(bundle))
    line = f"operation 6 (entry {len(data) - 1}): signed by key {header['key_id']} of admin\\x0d\\x1b[2KOK: all good"
    assert f"{line}\\x0a\\x9b, which the log never registered" in found, found
    assert not any(c in "".join(found) for c in "\r\x1b\x9b")


def test_a_deleted_checkpoint_is_found(bundle: Path) -> None:
    size = header_index(bundle, 3) + 1
    (bundle / "checkpoints" / f"checkpoint-{size:012d}.txt").unlink()
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"][f"checkpoints/checkpoint-{size:012d}.txt"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert problems(standalone(bundle)) == [f"checkpoints: none at size {size}, where operation 3 ends"]


def test_a_wrong_hash_in_the_manifest_is_found(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["keys.json"] = "0" * 64
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert problems(standalone(bundle)) == ["manifest: SHA-256 of keys.json does not match the file"]


def test_a_file_changed_without_updating_the_manifest_is_found(bundle: Path) -> None:
    with (bundle / "README.txt").open("a") as fh:
        fh.write("extra\n")
    assert problems(standalone(bundle)) == ["manifest: SHA-256 of README.txt does not match the file"]


def test_an_altered_checkpoint_note_is_found(bundle: Path) -> None:
    size = header_index(bundle, 2) + 1
    path = bundle / "checkpoints" / f"checkpoint-{size:012d}.txt"
    origin, n, root, *rest = path.read_text().split("\n")
    path.write_text("\n".join([origin, str(n), base64.b64encode(bytes(32)).decode(), *rest]))
    rehash(bundle)
    assert problems(standalone(bundle)) == [f"checkpoints/checkpoint-{size:012d}.txt: signature by admin does not "
                                            "verify"]


def test_an_altered_keys_file_is_found(bundle: Path) -> None:
    keys = json.loads((bundle / "keys.json").read_text())
    keys[1]["valid_until"] = None
    (bundle / "keys.json").write_text(json.dumps(keys))
    rehash(bundle)
    assert problems(standalone(bundle)) == ["keys.json: does not match the key events in the log"]


@pytest.mark.parametrize(("line", "message"), [
    (b"@@@", "entry 0: line is not base64"),
    (base64.b64encode(b"not json"), "entry 0: not valid JSON"),
    (base64.b64encode(b"[1,2]"), "entry 0: unknown entry type null"),
    (base64.b64encode(b'{"type":"gossip"}'), 'entry 0: unknown entry type "gossip"'),
    (base64.b64encode(b'{"type":"change","v":2}'), "entry 0: entry version 2 is not 1"),
    (base64.b64encode(b'{"type":"change","n":1.5}'), "entry 0: bytes are not canonical JSON (RFC 8785)"),
    (base64.b64encode(b'{"type":"change","n":9007199254740992}'), "entry 0: bytes are not canonical JSON"),
    (base64.b64encode(b'{"type":"operation","v":1}'), "entry 0: malformed operation entry: field seq is missing"),
    (base64.b64encode(b'{"at":"yesterday","type":"operation","v":1}'), "entry 0: malformed operation entry"),
])
def test_a_malformed_entry_is_reported_by_position_without_a_crash(bundle: Path, line: bytes, message: str) -> None:
    lines = (bundle / "entries.b64").read_bytes().splitlines()
    (bundle / "entries.b64").write_bytes(b"\n".join([line, *lines[1:]]) + b"\n")
    rehash(bundle)
    result = standalone(bundle)
    assert any(p.startswith(message) for p in problems(result)), result.stdout
    assert "Traceback" not in result.stderr


def test_an_entries_file_cut_mid_line_is_found(bundle: Path) -> None:
    (bundle / "entries.b64").write_bytes((bundle / "entries.b64").read_bytes()[:-5])
    rehash(bundle)
    assert "entries.b64: does not end with a newline (cut off)" in problems(standalone(bundle))


def test_a_manifest_of_another_format_is_refused(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "format": "something/9"}))
    assert problems(standalone(bundle)) == [
        "manifest.json: format 'something/9' is not lycredit-audit-bundle/1"]


def test_a_missing_manifest_is_found(bundle: Path) -> None:
    (bundle / "manifest.json").unlink()
    assert problems(standalone(bundle))[0].startswith("manifest.json: cannot be read")


def test_a_bundle_cut_back_consistently_passes_alone_but_not_against_an_anchor(bundle: Path, tmp_path) -> None:
    """Dropping the last operation everywhere is self-consistent; an anchored checkpoint exposes it."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    last = bundle / "checkpoints" / f"checkpoint-{manifest['tree_size']:012d}.txt"
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    shutil.copy(last, anchors / last.name)
    cut = header_index(bundle, 5) + 1
    last.unlink()
    del manifest["files"][f"checkpoints/{last.name}"]
    keys = json.loads((bundle / "keys.json").read_text())
    (bundle / "keys.json").write_text(json.dumps([{**k, "valid_until": None} if k["operator"] == "scjg-01" else k
                                                  for k in keys]))
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "tree_size": cut,
                                                      "root": sv.tree_root([sv.leaf_hash(e) for e in
                                                                            entries(bundle)[:cut]]).hex()}))
    write_entries(bundle, entries(bundle)[:cut])
    assert standalone(bundle).returncode == 0
    assert problems(standalone(bundle, "--anchor", str(anchors))) == [
        f"{anchors / last.name}: the log has {cut} entries, fewer than this checkpoint's "
        f"{manifest['tree_size']}: it was cut back"]


@pytest.mark.parametrize("kind, reason", [("missing", "No such file or directory"), ("a file", "Not a directory")])
def test_an_anchor_directory_that_is_missing_or_a_file_is_an_unusable_argument(bundle: Path, tmp_path, kind,
                                                                                 reason) -> None:
    """Not a run that passes having checked no anchor (its glob finds nothing there)."""
    anchors = tmp_path / "anchors"
    if kind == "a file":
        anchors.write_text("checkpoint\n")
    r = standalone(bundle, "--anchor", str(anchors))
    assert r.returncode == 2 and f"--anchor: {anchors}: {reason}" in r.stderr, r
    assert "OK" not in r.stdout


# ---- keys obtained out of band ---------------------------------------------------------------------------

def test_trusted_keys_that_include_every_signer_pass(bundle: Path, tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.txt"
    keys = json.loads((bundle / "keys.json").read_text())
    trusted.write_text("# from the units, on paper\n" + "".join(k["verifier_key"] + "\n" for k in keys))
    assert standalone(bundle, "--trusted-keys", str(trusted)).returncode == 0


def test_a_signer_missing_from_the_trusted_keys_is_named(bundle: Path, tmp_path: Path) -> None:
    keys = {k["operator"]: k["verifier_key"] for k in json.loads((bundle / "keys.json").read_text())}
    trusted = tmp_path / "trusted.txt"
    trusted.write_text(keys["admin"] + "\n")
    refused = header_index(bundle, 4) + 1  # the refusal scjg-01 signed, and its checkpoint
    assert problems(standalone(bundle, "--trusted-keys", str(trusted))) == [
        f"checkpoints/checkpoint-{refused:012d}.txt: no known key signed the note",
        f"trusted keys: {keys['scjg-01']} signed operations but is not among the trusted keys"]


def test_a_log_rebuilt_under_another_administrator_key_fails_against_trusted_keys(bundle, tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    trusted = tmp_path / "trusted.txt"
    trusted.write_text(sv.verifier_key("admin", stranger) + "\n")
    lines = problems(standalone(bundle, "--trusted-keys", str(trusted)))
    assert any(line.endswith("no known key signed the note") for line in lines)
    assert any(line.startswith("trusted keys: admin+") for line in lines)


def test_a_malformed_trusted_keys_file_is_a_usage_error_naming_the_line(bundle: Path, tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.txt"
    trusted.write_text("\nadmin+00000000+AAAA\n")
    r = standalone(bundle, "--trusted-keys", str(trusted))
    assert r.returncode == 2 and "line 2" in r.stderr and "not an Ed25519 verifier key" in r.stderr


def test_a_missing_bundle_directory_is_a_usage_error(bundle: Path, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(bundle / "verify.py"), str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "is not a directory" in r.stderr


# ---- the verifier itself: standard library and cryptography only; the published vectors -------------------

def test_the_standalone_verifier_imports_nothing_but_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(sv.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module)
    tops = {name.split(".")[0] for name in imported}
    assert "lycredit" not in tops
    assert tops - set(sys.stdlib_module_names) == {"cryptography"}


def test_the_standalone_merkle_tree_reproduces_the_rfc6962_vectors() -> None:
    vectors = load_vectors("merkle-rfc6962.json")
    hashes = [sv.leaf_hash(bytes.fromhex(x)) for x in vectors["leaf_inputs_hex"]]
    tree = sv.Tree()
    for n, want in enumerate(vectors["roots_hex"]):
        assert sv.tree_root(hashes[:n]).hex() == want
        assert tree.root().hex() == want
        if n < len(hashes):
            tree.append(hashes[n])


def test_the_standalone_note_check_accepts_the_c2sp_known_answer_and_rejects_a_change() -> None:
    kat = load_vectors("signed-note-kat.json")
    known = {sv.parse_verifier_key(kat["verifier_key"])}
    assert sv.open_note(kat["signed_note"], known) == kat["text"]
    with pytest.raises(sv.Problem, match="signature by PeterNeumann does not verify"):
        sv.open_note(kat["signed_note"].replace("cryptography", "cryptographY"), known)
    with pytest.raises(sv.Problem, match="no known key signed the note"):
        sv.open_note(kat["signed_note"], set())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_the_standalone_canonical_json_is_rfc8785(value: object) -> None:
    assert sv.canonical(value) == rfc8785.dumps(value) == canonical_json(value)


@given(json_values)
def test_canonical_bytes_pass_the_standalone_check_and_reformatted_ones_fail(value: object) -> None:
    data = sv.canonical(value)
    sv.check_canonical(data)
    spaced = json.dumps(value, ensure_ascii=True, indent=1).encode()
    if spaced != data:
        with pytest.raises(sv.Problem, match="not canonical"):
            sv.check_canonical(spaced)
