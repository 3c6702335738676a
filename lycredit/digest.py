"""SHA-256 and HMAC-SHA-256 from whichever library the process has loaded already.

The interpreter's ``hashlib`` and cryptography each start an OpenSSL of their own.
A logged query needs cryptography to sign, and only a few digests besides (two leaf
hashes, a tree edge, a key hash, a blind index); starting ``hashlib``'s OpenSSL
as well cost it 3 ms, 5 % of ``lycredit --help`` and of its whole margin (issue #5).
So a digest is made by ``hashlib`` when it is loaded (every bulk command loads it:
imports, sweeps, ``audit verify``) or when cryptography is not, and by cryptography
otherwise. The bytes are the same either way (a test holds them equal); the choice is
made at the first digest and kept.
"""

from __future__ import annotations

import sys
from typing import Any

_impl: Any = None
_hmac: Any = None


class _CryptographySHA256:
    """The part of ``hashlib.sha256``'s interface lycredit uses, on cryptography's SHA-256."""

    __slots__ = ("_hash",)

    def __init__(self, data: bytes = b"") -> None:
        from cryptography.hazmat.primitives import hashes

        self._hash = hashes.Hash(hashes.SHA256())
        self._hash.update(data)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.copy().finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()


def _cryptography_loaded() -> bool:
    return "hashlib" not in sys.modules and "cryptography.hazmat.bindings._rust" in sys.modules


def _choose() -> Any:
    global _impl, sha256
    if _cryptography_loaded():
        _impl = _CryptographySHA256
    else:
        import hashlib

        _impl = hashlib.sha256
    sha256 = _impl  # later calls through the module attribute go straight to the library
    return _impl


def _first_sha256(data: bytes = b"") -> Any:
    """A SHA-256 hash object of ``data`` (``.digest()``, ``.hexdigest()``, ``.update()``).

    After the first call ``sha256`` is the chosen library's constructor itself; callers
    use it as ``digest.sha256(...)`` (an alias taken before the first call still works).
    """
    return (_impl or _choose())(data)


sha256 = _first_sha256


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA-256 of ``data`` under ``key``."""
    global _hmac
    if _hmac is None:
        if _cryptography_loaded():
            from cryptography.hazmat.primitives import hashes, hmac

            def _hmac(key: bytes, data: bytes) -> bytes:
                mac = hmac.HMAC(key, hashes.SHA256())
                mac.update(data)
                return mac.finalize()
        else:
            import hashlib
            import hmac

            def _hmac(key: bytes, data: bytes) -> bytes:
                return hmac.new(key, data, hashlib.sha256).digest()
    return _hmac(key, data)


def reset() -> None:
    """Choose again at the next digest (tests use it to exercise both libraries)."""
    global _impl, _hmac, sha256
    _impl = _hmac = None
    sha256 = _first_sha256
