"""C2SP signed notes and tlog checkpoints with Ed25519."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
DASH = "\u2014"


class NoteError(ValueError):
    pass


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(bytes([ALG_ED25519]) + public_key).decode()}"


def parse_verifier_key(s: str) -> tuple[str, bytes, bytes]:
    name, kid, b64 = s.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    if key_id(name, raw[1:]).hex() != kid:
        raise NoteError("verifier key id does not match")
    return name, bytes.fromhex(kid), raw[1:]


def parse_private_key(s: str) -> tuple[str, Ed25519PrivateKey]:
    prefix, word, name, _kid, b64 = s.split("+", 4)
    if (prefix, word) != ("PRIVATE", "KEY"):
        raise NoteError("not a private key string")
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("private key is not Ed25519")
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_note(text: str, signers: list[tuple[str, Ed25519PrivateKey]]) -> str:
    if not text or not text.endswith("\n"):
        raise NoteError("note text must be non-empty and end with a newline")
    lines = []
    for name, key in signers:
        sig = key.sign(text.encode())
        kid = key_id(name, _raw(key.public_key()))
        lines.append(f"{DASH} {name} {base64.b64encode(kid + sig).decode()}\n")
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: dict) -> tuple[str, list[str]]:
    """Verify ``note`` with ``verifiers`` (verifier-key string -> anything); returns (text, verified names)."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise NoteError("malformed note: no blank line before the signatures")
    text += "\n"
    known: dict[tuple[str, bytes], bytes] = {}
    for vk in verifiers:
        name, kid, pub = parse_verifier_key(vk)
        known[(name, kid)] = pub
    names = []
    for line in sigs.splitlines():
        m = re.fullmatch(DASH + r" (\S+) (\S+)", line)
        if not m:
            raise NoteError("malformed signature line")
        blob = base64.b64decode(m.group(2))
        kid, sig = blob[:4], blob[4:]
        pub = known.get((m.group(1), kid))
        if pub is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"signature by {m.group(1)} does not verify") from exc
        names.append(m.group(1))
    if not names:
        raise NoteError("no known key signed the note")
    return text, names


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or not lines[0] or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
            raise NoteError("malformed checkpoint")
        root = base64.b64decode(lines[2], validate=True)
        if len(root) != 32:
            raise NoteError("checkpoint root is not 32 bytes")
        return cls(lines[0], int(lines[1]), root)
