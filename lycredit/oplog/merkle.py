"""RFC 6962 / RFC 9162 Merkle tree over SHA-256: roots, the compact frontier, proofs (oplog.md).

RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 ‖ entry), node hash =
SHA-256(0x01 ‖ left ‖ right), the empty tree's root is SHA-256 of the empty
string, and a tree of n > 1 leaves splits at k, the largest power of two
smaller than n. Proofs are generated as in §2.1.3.1 (PATH) and §2.1.4.1
(PROOF/SUBPROOF) and verified with the algorithms of §2.1.3.2 and §2.1.4.2;
a failed check raises :class:`MerkleError` naming the check.

:class:`Frontier` keeps only the right edge of the tree (one perfect subtree
root per set bit of its size), so the log appends a batch and gets the new
root in O(batch + log n) without re-reading earlier leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lycredit import digest

HASH_SIZE = 32
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")  # SHA-256 of b""


class MerkleError(ValueError):
    """A tree parameter or proof failed a check; the message says which."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 ‖ entry)."""
    return digest.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 ‖ left ‖ right)."""
    return digest.sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves with these hashes (RFC 9162 §2.1.1), computed level by level.

    Pairing neighbours and carrying an odd last node up unchanged builds the
    same tree as splitting at the largest power of two below n.
    """
    _check_hashes(hashes, "leaf hash")
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        odd = level.pop() if len(level) % 2 else None
        level = _pair_up(level)
        if odd is not None:
            level.append(odd)
    return level[0]


class Frontier:
    """The compact right edge of a tree: the roots of its perfect subtrees, largest first.

    A tree of size n is the concatenation of perfect subtrees of sizes given by
    the set bits of n; appending a leaf merges them like a binary carry.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at the right."""
        _check_hashes((leaf,), "leaf hash")
        carry, node = self._size, leaf
        while carry & 1:
            node = node_hash(self._hashes.pop(), node)
            carry >>= 1
        self._hashes.append(node)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add many leaf hashes at the right, hashing each level of the batch in one pass."""
        level = list(leaves)
        _check_hashes(level, "leaf hash")
        added = len(level)
        by_height = dict(zip(self._heights(), self._hashes, strict=True))
        height = 0
        while level:
            if self._size >> height & 1:
                level.insert(0, by_height.pop(height))
            if len(level) % 2:
                by_height[height] = level.pop()
            level = _pair_up(level)
            height += 1
        self._size += added
        self._hashes = [by_height[h] for h in sorted(by_height, reverse=True)]

    def root(self) -> bytes:
        """The tree's root: the subtree roots folded right to left (RFC 9162 §2.1.1)."""
        if not self._hashes:
            return EMPTY_ROOT
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = node_hash(left, node)
        return node

    def to_bytes(self) -> bytes:
        """8-byte big-endian size followed by the subtree roots, largest first."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """The frontier :meth:`to_bytes` wrote; :class:`MerkleError` if the length does not fit the size."""
        data = bytes(data)
        if len(data) < 8:
            raise MerkleError(f"frontier bytes: {len(data)} bytes, too short to hold the 8-byte size")
        size = int.from_bytes(data[:8], "big")
        expected = 8 + HASH_SIZE * size.bit_count()
        if len(data) != expected:
            raise MerkleError(f"frontier bytes: a tree of size {size} needs {expected} bytes, got {len(data)}")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [data[i:i + HASH_SIZE] for i in range(8, expected, HASH_SIZE)]
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"

    def _heights(self) -> list[int]:
        """Heights of the perfect subtrees, largest first: the set bits of the size."""
        return [h for h in range(self._size.bit_length() - 1, -1, -1) if self._size >> h & 1]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1: sibling subtree roots, from the leaf up."""
    if not 0 <= index < size <= len(leaf_hashes):
        raise MerkleError(f"inclusion proof: needs 0 <= leaf index {index} < tree size {size} "
                          f"<= {len(leaf_hashes)} leaves given")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(root_from_leaf_hashes(leaf_hashes[lo + k:hi]))
            hi = lo + k
        else:
            proof.append(root_from_leaf_hashes(leaf_hashes[lo:lo + k]))
            lo += k
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is at ``index`` of the tree of ``size`` leaves with ``root`` (RFC 9162 §2.1.3.2)."""
    _check_hashes((leaf,), "inclusion proof: leaf hash")
    _check_hashes((root,), "inclusion proof: root")
    _check_hashes(proof, "inclusion proof: proof hash")
    if not 0 <= index < size:
        raise MerkleError(f"inclusion proof: leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise MerkleError(f"inclusion proof: {len(proof)} hashes, more than the leaf's path holds")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError(f"inclusion proof: {len(proof)} hashes, fewer than the leaf's path holds")
    if r != root:
        raise MerkleError("inclusion proof: the computed root is not the expected root")


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or equals new_size."""
    if not 0 <= old_size <= new_size <= len(leaf_hashes):
        raise MerkleError(f"consistency proof: needs 0 <= old size {old_size} <= new size {new_size} "
                          f"<= {len(leaf_hashes)} leaves given")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(root_from_leaf_hashes(leaf_hashes[lo + k:hi]))
            hi = lo + k
        else:
            proof.append(root_from_leaf_hashes(leaf_hashes[lo:lo + k]))
            lo, m, whole_old_tree = lo + k, m - k, False
    if not whole_old_tree:
        proof.append(root_from_leaf_hashes(leaf_hashes[lo:hi]))
    proof.reverse()
    return proof


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that the tree with ``new_root`` extends the one with ``old_root`` (RFC 9162 §2.1.4.2)."""
    _check_hashes((old_root,), "consistency proof: old root")
    _check_hashes((new_root,), "consistency proof: new root")
    _check_hashes(proof, "consistency proof: proof hash")
    if not 0 <= old_size <= new_size:
        raise MerkleError(f"consistency proof: old size {old_size} is not between 0 and new size {new_size}")
    if old_size == new_size:
        if proof:
            raise MerkleError("consistency proof: the sizes are equal, so the proof must be empty")
        if old_root != new_root:
            raise MerkleError("consistency proof: the sizes are equal but the roots differ")
        return
    if old_size == 0:
        if proof:
            raise MerkleError("consistency proof: the old tree is empty, so the proof must be empty")
        if old_root != EMPTY_ROOT:
            raise MerkleError("consistency proof: the old tree is empty but its root is not the empty root")
        return
    if not proof:
        raise MerkleError("consistency proof: the proof is empty")
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleError(f"consistency proof: {len(proof)} hashes, more than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError(f"consistency proof: {len(proof)} hashes, fewer than the trees need")
    if fr != old_root:
        raise MerkleError("consistency proof: the computed old root is not the expected old root")
    if sr != new_root:
        raise MerkleError("consistency proof: the computed new root is not the expected new root")


def _pair_up(level: list[bytes]) -> list[bytes]:
    """The parents of an even-length level of nodes: one node hash per neighbouring pair."""
    sha256 = digest.sha256
    return [sha256(b"\x01" + left + right).digest() for left, right in zip(level[::2], level[1::2], strict=True)]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    """Every hash must be 32 bytes: catches entry bytes passed where leaf hashes belong."""
    if set(map(type, hashes)) <= {bytes} and set(map(len, hashes)) <= {HASH_SIZE}:
        return
    for position, h in enumerate(hashes):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            shown = f"{len(h)} bytes" if isinstance(h, bytes) else f"a {type(h).__name__}"
            raise MerkleError(f"{what} {position} is {shown}, not a {HASH_SIZE}-byte SHA-256 hash")
