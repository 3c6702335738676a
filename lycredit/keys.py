"""Operators' Ed25519 keys: generate, store encrypted, load, and name.

A private key is written as encrypted PKCS#8 PEM, created with mode 0600 and
never over an existing file (one that cannot be written whole is removed, exit 78:
:mod:`lycredit.outputs`); loading refuses a key file that others can read,
like ssh does. The passphrase comes from ``LYCREDIT_KEY_PASSPHRASE`` or, on a
terminal, from a prompt (the CLI asks; the core only takes it as an argument).

A public key travels as the base64 of its 32 raw bytes, or as a PEM file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lycredit.errors import ConfigError, DataError, InputMissing, PermissionDenied
from lycredit.i18n import _
from lycredit.outputs import cannot_write

PASSPHRASE_ENV = "LYCREDIT_KEY_PASSPHRASE"
MIN_PASSPHRASE = 8


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _serialization():  # -> the module cryptography.hazmat.primitives.serialization
    """Imported only where PEM is written or public keys parsed: with its SSH support it takes ~10 ms."""
    from cryptography.hazmat.primitives import serialization

    return serialization


def _pem_private_key_loader():  # -> Callable[..., PrivateKeyTypes]
    """``serialization.load_pem_private_key``, which is the Rust binding's, without importing the SSH module.

    Signing a query must not pay for SSH key support it never uses; if a cryptography release
    moves the function, the public name is used (a test holds the two equal).
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        return rust_openssl.keys.load_pem_private_key
    except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
        return _serialization().load_pem_private_key


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    return base64.b64encode(public_raw(key)).decode("ascii")


def check_new_passphrase(passphrase: str) -> None:
    """Refuse (78) a passphrase too short to encrypt a new key with."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ConfigError(_("The key passphrase must have at least {n} characters").format(n=MIN_PASSPHRASE))


def write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: str) -> None:
    """Write ``key`` encrypted under ``passphrase``, mode 0600, refusing to overwrite."""
    check_new_passphrase(passphrase)
    serialization = _serialization()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(_("{path} already exists; lycredit never overwrites a key file").format(path=path)) from exc
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:  # a full disk, an I/O error: no key file is better than a truncated one
        with contextlib.suppress(OSError):
            path.unlink()
        raise cannot_write(path, exc) from None


def load_private_key(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    """Load an encrypted private key; refuse one readable by group or others."""
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputMissing(_("Key file {path} does not exist").format(path=path)) from exc
    except IsADirectoryError as exc:
        raise InputMissing(_("Key file {path} is a directory, not a key file").format(path=path)) from exc
    except OSError as exc:  # no read permission: an input file that cannot be read, like a missing one (66)
        raise InputMissing(_("Cannot read key file {path}: {error}").format(path=path, error=exc.strerror)) from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            _("Key file {path} is accessible to other users (mode {mode}); run: chmod 600 {path}").format(
                path=path, mode=oct(st.st_mode & 0o777)
            )
        )
    if passphrase is None:
        raise ConfigError(
            _("Key file {path} is encrypted: set {env} or run on a terminal to be asked").format(
                path=path, env=PASSPHRASE_ENV
            )
        )
    try:
        key = _pem_private_key_loader()(data, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PermissionDenied(
            _("Cannot unlock key file {path}: wrong passphrase or not an encrypted private key").format(path=path)
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(_("Key file {path} is not an Ed25519 key").format(path=path))
    return key


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as base64 of 32 raw bytes, or as PEM (text or a file path)."""
    text = text.strip()
    if "BEGIN PUBLIC KEY" not in text and os.path.isfile(text):
        text = Path(text).read_text(encoding="ascii", errors="replace")
    if "BEGIN PUBLIC KEY" in text:
        try:
            key = _serialization().load_pem_public_key(text.encode("ascii"))
        except ValueError as exc:
            raise DataError(_("Not a valid PEM public key")) from exc
        if not isinstance(key, Ed25519PublicKey):
            raise DataError(_("The public key is not an Ed25519 key"))
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataError(_("Not a public key: expected base64 of 32 bytes or a PEM file")) from exc
    if len(raw) != 32:
        raise DataError(_("Not a public key: expected base64 of 32 bytes or a PEM file"))
    return Ed25519PublicKey.from_public_bytes(raw)


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    serialization = _serialization()
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
