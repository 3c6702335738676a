"""What a file's reading has met so far, for its duplicate checks, in bounded memory.

A bulk file may be as long as its writer likes, and a duplicate check must remember every key
before it. :class:`Seen` keeps them in memory up to a limit and beyond it in a private temporary
SQLite file (deleted when it is closed), so that memory does not grow with the file. A fixed
bitmap of the moved keys' hashes (2 MiB) answers most questions about a key never met without
asking the file: the usual case, since most keys of a file are new. The file holds no key as
given (a person's ID number, say): only its BLAKE2b digest under a random key that lives in the
process's memory alone, so what reaches the disk cannot be matched back to a number.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Collection, Hashable

IN_MEMORY = 200_000
"""Keys a :class:`Seen` holds in memory before it moves them to its temporary file."""
_SCRATCH = ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -16384")
"""A scratch file that nothing reads after the process: no journal, no syncing, a 16 MiB page cache."""
_AT_ONCE = 500  # keys a query of Seen.found names (SQLite allows 32 766 parameters)
_BITS = 1 << 24  # the bitmap's bits: two a key, so that a million moved keys give about 1 % false alarms


def _bits(key: Hashable) -> tuple[int, int]:
    code = hash(key)
    return code % _BITS, (code // _BITS) % _BITS


class Seen:
    """Keys (integers or texts) met so far, each with an integer (the row it was first met on, say)."""

    def __init__(self, limit: int | None = None):
        self._limit = IN_MEMORY if limit is None else limit
        self._memory: dict[Hashable, int] = {}
        self._spilled: sqlite3.Connection | None = None
        self._bitmap = bytearray()
        self._salt = os.urandom(16)

    def _digest(self, key: int | str) -> bytes:
        """What the temporary file holds for ``key``: its keyed digest (an integer and its text are told apart)."""
        data = b"s" + key.encode("utf-8", "surrogatepass") if key.__class__ is str else b"i%d" % key
        return hashlib.blake2b(data, key=self._salt, digest_size=16).digest()

    def _maybe_spilled(self, key: Hashable) -> bool:
        """Whether ``key`` may be in the temporary file (False: it is not)."""
        bitmap = self._bitmap
        return all(bitmap[bit >> 3] >> (bit & 7) & 1 for bit in _bits(key))

    def get(self, key: int | str) -> int | None:
        """The integer stored with ``key``, or None if the key was not met."""
        found = self._memory.get(key)
        if found is None and self._spilled is not None and self._maybe_spilled(key):
            row = self._spilled.execute("SELECT value FROM seen WHERE key = ?", (self._digest(key),)).fetchone()
            found = row[0] if row else None
        return found

    def found(self, keys: Collection[int | str]) -> dict[int | str, int]:
        """Of ``keys`` (a batch of them), those met, with their integers: one query for many keys once they
        are in the temporary file, where :meth:`get` would make one each."""
        memory = self._memory
        hits = {key: memory[key] for key in keys if key in memory}
        if self._spilled is not None:
            rest = {self._digest(key): key for key in keys if key not in hits and self._maybe_spilled(key)}
            digests = list(rest)
            for start in range(0, len(digests), _AT_ONCE):
                chunk = digests[start:start + _AT_ONCE]
                hits.update((rest[digest], value) for digest, value in self._spilled.execute(
                    f"SELECT key, value FROM seen WHERE key IN ({', '.join('?' * len(chunk))})", chunk))
        return hits

    def __contains__(self, key: int | str) -> bool:
        return key in self._memory or self._spilled is not None and self.get(key) is not None

    def add(self, key: int | str, value: int = 0) -> None:
        """Remember ``key`` (not met before) with ``value``."""
        self._memory[key] = value
        if len(self._memory) >= self._limit:
            self._spill()

    def _spill(self) -> None:
        if self._spilled is None:
            self._spilled = sqlite3.connect("", isolation_level=None)  # a private file, deleted on close
            for pragma in _SCRATCH:
                self._spilled.execute(pragma)
            self._spilled.execute("CREATE TABLE seen (key BLOB PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID")
            self._bitmap = bytearray(_BITS // 8)
        bitmap = self._bitmap
        for key in self._memory:
            for bit in _bits(key):
                bitmap[bit >> 3] |= 1 << (bit & 7)
        digest = self._digest
        items = sorted((digest(key), value) for key, value in self._memory.items())  # each page written once
        self._spilled.execute("BEGIN")
        self._spilled.executemany("INSERT INTO seen VALUES (?, ?)", items)
        self._spilled.execute("COMMIT")
        self._memory.clear()

    def __bool__(self) -> bool:
        return bool(self._memory) or self._spilled is not None

    def clear(self) -> None:
        """Forget every key, and delete the temporary file."""
        self._memory.clear()
        self._bitmap = bytearray()
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None
