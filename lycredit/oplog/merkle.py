"""RFC 6962 / RFC 9162 Merkle tree over SHA-256: hashes, roots, proofs.

Leaf hash = SHA-256(0x00 ‖ entry), node hash = SHA-256(0x01 ‖ left ‖ right),
the empty tree's root is SHA-256(""), and a tree of n leaves splits at the
largest power of two smaller than n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


class MerkleError(ValueError):
    """A proof or tree parameter failed a check; the message says which."""


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, bottom-up, level by level (the odd last node is carried up)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class Frontier:
    """The right edge of a tree: one perfect subtree root per set bit of the size."""

    def __init__(self) -> None:
        self.size = 0
        self._nodes: list[bytes] = []  # roots of perfect subtrees, largest first

    def append(self, h: bytes) -> None:
        self._nodes.append(h)
        self.size += 1
        n = self.size
        while n % 2 == 0:
            right = self._nodes.pop()
            left = self._nodes.pop()
            self._nodes.append(node_hash(left, right))
            n //= 2

    def extend(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            self.append(h)

    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        acc = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            acc = node_hash(node, acc)
        return acc

    def to_bytes(self) -> bytes:
        return self.size.to_bytes(8, "big") + b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        f = cls()
        f.size = int.from_bytes(data[:8], "big")
        body = data[8:]
        if len(body) != 32 * bin(f.size).count("1"):
            raise MerkleError("frontier bytes do not match its size")
        f._nodes = [body[i:i + 32] for i in range(0, len(body), 32)]
        return f


def _split(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def _mth(hashes: Sequence[bytes]) -> bytes:
    return root_from_leaf_hashes(hashes)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    if not 0 <= index < size <= len(leaf_hashes):
        raise MerkleError("index or size out of range")

    def path(m: int, d: Sequence[bytes]) -> list[bytes]:
        n = len(d)
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return path(m, d[:k]) + [_mth(d[k:])]
        return path(m - k, d[k:]) + [_mth(d[:k])]

    return path(index, leaf_hashes[:size])


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        raise MerkleError("inclusion: index not below size")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise MerkleError("inclusion: proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("inclusion: proof too short")
    if r != root:
        raise MerkleError("inclusion: computed root does not match")


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    if not 0 <= old_size <= new_size <= len(leaf_hashes):
        raise MerkleError("sizes out of range")
    if old_size == 0 or old_size == new_size:
        return []

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [_mth(d)]
        k = _split(n)
        if m <= k:
            return subproof(m, d[:k], b) + [_mth(d[k:])]
        return subproof(m - k, d[k:], False) + [_mth(d[:k])]

    return subproof(old_size, leaf_hashes[:new_size], True)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2."""
    if old_size > new_size:
        raise MerkleError("consistency: old size larger than new size")
    if old_size == new_size:
        if proof:
            raise MerkleError("consistency: proof must be empty for equal sizes")
        if old_root != new_root:
            raise MerkleError("consistency: roots differ for equal sizes")
        return
    if old_size == 0:
        if proof:
            raise MerkleError("consistency: proof must be empty from the empty tree")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise MerkleError("consistency: empty proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleError("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("consistency: proof too short")
    if fr != old_root:
        raise MerkleError("consistency: old root does not match")
    if sr != new_root:
        raise MerkleError("consistency: new root does not match")
