"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and tlog checkpoints (c2sp.org/tlog-checkpoint).

A signed note is its text (non-empty, ending in a newline), a blank line, and
one line per signature: ``— <key name> <base64(4-byte key id ‖ signature)>``
with U+2014 EM DASH. The whole note is UTF-8 with no control character but
newline. Key names are non-empty, without Unicode spaces or ``+``. For
Ed25519 (signature type 0x01) the key id is SHA-256(name ‖ 0x0A ‖ 0x01 ‖
32-byte public key)[:4] and the signature is RFC 8032 over the text's bytes.

A verifier ignores signatures by keys it does not know (name and key id
both), verifies every signature by a key it knows, rejects the note if one of
those fails, and rejects a note that no known key signed.

Keys travel as the strings of golang.org/x/mod/sumdb/note: a verifier key is
``name+hex(key id)+base64(0x01 ‖ public key)``, a private key is
``PRIVATE+KEY+name+hex(key id)+base64(0x01 ‖ 32-byte seed)``.

A checkpoint's note text is the log's origin, the tree size in decimal, and
the base64 RFC 6962 root hash, each on its own line, then optional non-empty
extension lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lycredit import digest

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1

_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, key string or checkpoint failed a check; the message says which."""


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte Ed25519 key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    _check_name(name)
    _check_length(public_key, 32, "Ed25519 public key")
    return digest.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key string ``name+hex8+base64(0x01 ‖ public key)``."""
    return f"{name}+{key_id(name, public_key).hex()}+{_b64encode(bytes([ED25519]) + public_key)}"


def parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    """``(name, key id, 32-byte public key)`` of a verifier key string, its key id checked."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key: expected name+keyid+key")
    name, id_hex, encoded = parts
    kid, public = _parse_key(name, id_hex, encoded, "verifier key")
    _check_key_id(name, public, kid, "verifier key")
    return name, kid, public


def parse_private_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    """``(name, key)`` of a ``PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)`` string, its key id checked."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("private key: expected PRIVATE+KEY+name+keyid+key")
    name, id_hex, encoded = parts[2:]
    kid, seed = _parse_key(name, id_hex, encoded, "private key")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    _check_key_id(name, _raw_public(private_key), kid, "private key")
    return name, private_key


def sign_note(text: str, signers: Sequence[tuple[str, Ed25519PrivateKey]]) -> str:
    """The signed note: ``text``, a blank line, one signature line per ``(key name, private key)``."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text: must end with a newline")
    if not signers:
        raise NoteError("sign note: no signers given")
    message = text.encode("utf-8")
    lines = []
    for name, private_key in signers:
        signature = key_id(name, _raw_public(private_key)) + private_key.sign(message)
        lines.append(f"{SIGNATURE_PREFIX}{name} {_b64encode(signature)}\n")
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: Iterable[str]) -> tuple[str, list[str]]:
    """Verify ``note`` against the verifier key strings ``verifiers`` (a dict keyed by them will do).

    Returns the note text and the names of the known keys whose signatures
    verified, in signature order. Raises :class:`NoteError` if the note is
    malformed, a known key's signature fails, or no known key signed.
    """
    known = _known_keys(verifiers)
    _check_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note: no blank line separates the text from the signatures")
    text, signature_block = note[:split + 1], note[split + 2:]
    if not signature_block.endswith("\n"):
        raise NoteError("note: the signature lines must end with a newline")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note: {len(lines)} signature lines, more than the {MAX_SIGNATURES} accepted")
    message = text.encode("utf-8")
    seen: set[tuple[str, bytes]] = set()
    verified: list[str] = []
    for number, line in enumerate(lines, start=1):
        name, kid, signature = _parse_signature_line(line, number)
        public_key = known.get((name, kid))
        if public_key is None or (name, kid) in seen:
            continue
        seen.add((name, kid))
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            raise NoteError(f"note: signature {number} by {name} (key id {kid.hex()}) does not verify") from None
        verified.append(name)
    if not verified:
        raise NoteError("note: no signature by a known key")
    return text, verified


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog checkpoint: the tree head a log signs (origin, size, RFC 6962 root)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "checkpoint origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size: {self.size!r} is not an integer from 0 to 2**64 - 1")
        _check_length(self.root, 32, "checkpoint root")
        for number, line in enumerate(self.extensions, start=1):
            _check_line(line, f"checkpoint extension line {number}")

    def text(self) -> str:
        """The note text: origin, decimal size, base64 root and any extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint in a note text; strict: :class:`NoteError` names the line that is wrong."""
        _check_text(text, "checkpoint")
        if not text.endswith("\n"):
            raise NoteError("checkpoint: the text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint: {len(lines)} lines, expected origin, size and root hash")
        origin, size_line, root_line, *extensions = lines
        if not _DECIMAL.fullmatch(size_line):
            raise NoteError(f"checkpoint size: {size_line!r} is not a decimal number without leading zeros")
        if len(size_line) > len(str(MAX_TREE_SIZE)):
            raise NoteError(f"checkpoint size: {len(size_line)} digits, too large for a tree size")
        root = _b64decode(root_line, "checkpoint root")
        return cls(origin, int(size_line), root, tuple(extensions))


def _known_keys(verifiers: Iterable[str]) -> dict[tuple[str, bytes], Ed25519PublicKey]:
    known: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for verifier in verifiers:
        name, kid, public = parse_verifier_key(verifier)
        if (name, kid) in known:
            raise NoteError(f"verifier keys: two keys named {name} share key id {kid.hex()}")
        known[(name, kid)] = Ed25519PublicKey.from_public_bytes(public)
    return known


def _parse_signature_line(line: str, number: int) -> tuple[str, bytes, bytes]:
    where = f"note: signature line {number}"
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"{where}: does not start with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
    if not space:
        raise NoteError(f"{where}: no space between key name and signature")
    _check_name(name)
    signature = _b64decode(encoded, where)
    if len(signature) < 5:
        raise NoteError(f"{where}: {len(signature)} bytes, too short for a key id and a signature")
    return name, signature[:4], signature[4:]


def _parse_key(name: str, id_hex: str, encoded: str, what: str) -> tuple[bytes, bytes]:
    """Check a key string's name, key id and key parts; return (key id, the 32 key bytes after the type byte)."""
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise NoteError(f"{what}: key id {id_hex!r} is not 8 hexadecimal digits")
    raw = _b64decode(encoded, what)
    if len(raw) != 33:
        raise NoteError(f"{what}: {len(raw)} key bytes, expected 33 (type byte and 32-byte Ed25519 key)")
    if raw[0] != ED25519:
        raise NoteError(f"{what}: key type 0x{raw[0]:02x} is not Ed25519 (0x01)")
    return bytes.fromhex(id_hex), raw[1:]


def _check_key_id(name: str, public_key: bytes, kid: bytes, what: str) -> None:
    if key_id(name, public_key) != kid:
        raise NoteError(f"{what}: key id {kid.hex()} does not match the name and key")


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes_raw()


def _check_name(name: str) -> None:
    if not name:
        raise NoteError("key name: empty")
    if "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r}: contains a space or '+'")
    _check_text(name, f"key name {name!r}")


def _check_text(text: str, what: str) -> None:
    """Well-formed Unicode (UTF-8-encodable) with no control character but newline."""
    if not isinstance(text, str):
        raise NoteError(f"{what}: a {type(text).__name__}, not text")
    if not text:
        raise NoteError(f"{what}: empty")
    control = _CONTROL.search(text)
    if control:
        raise NoteError(f"{what}: control character U+{ord(control.group()):04X} at offset {control.start()}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what}: lone surrogate at offset {exc.start}, not Unicode text") from None


def _check_line(line: str, what: str) -> None:
    _check_text(line, what)
    if "\n" in line:
        raise NoteError(f"{what}: contains a newline")


def _check_length(value: bytes, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        shown = f"{len(value)} bytes" if isinstance(value, bytes) else f"a {type(value).__name__}"
        raise NoteError(f"{what}: {shown}, expected {length} bytes")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4) in its one canonical spelling: padded, no stray bits."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what}: {text[:60]!r} is not standard base64") from None
    if _b64encode(data) != text:
        raise NoteError(f"{what}: {text[:60]!r} is not canonical base64")
    return data
