"""RFC 6962 / RFC 9162 Merkle tree: published vectors, and agreement with the RFC's own recursive definitions."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lycredit.oplog.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def load_vectors(name: str) -> dict:
    """A file of ../shared/testdata (or $LYCREDIT_TESTDATA); missing is a failure, never a skip."""
    places = [Path(__file__).resolve().parents[2] / "shared" / "testdata"]
    if os.environ.get("LYCREDIT_TESTDATA"):
        places.append(Path(os.environ["LYCREDIT_TESTDATA"]))
    for place in places:
        if (place / name).is_file():
            return json.loads((place / name).read_text(encoding="utf-8"))
    pytest.fail(f"test vectors {name} not found in {', '.join(map(str, places))}: CI checks out ../shared "
                "next to the clone; elsewhere set LYCREDIT_TESTDATA to the testdata directory")


# The reference: RFC 6962 §2.1 written out as literally as possible, over entries, not leaf hashes.

def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_k(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def entries(n: int) -> list[bytes]:
    """n distinct entries, so that no leaf can stand in for another."""
    return [b"entry %d" % i for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@st.composite
def tree_and_index(draw):
    n = draw(st.integers(1, 140))
    return entries(n), draw(st.integers(0, n - 1))


@st.composite
def tree_and_old_size(draw):
    n = draw(st.integers(1, 140))
    return entries(n), draw(st.integers(1, n))


# Published vectors

def test_leaf_hashes_match_the_published_vectors() -> None:
    v = load_vectors("merkle-rfc6962.json")
    assert len(v["leaf_inputs_hex"]) == len(v["leaf_hashes_hex"]) == 8
    for entry_hex, expected in zip(v["leaf_inputs_hex"], v["leaf_hashes_hex"], strict=True):
        assert leaf_hash(bytes.fromhex(entry_hex)).hex() == expected


def test_every_published_root_is_reproduced_by_hashing_and_by_the_frontier() -> None:
    v = load_vectors("merkle-rfc6962.json")
    hashes = [leaf_hash(bytes.fromhex(e)) for e in v["leaf_inputs_hex"]]
    assert len(v["roots_hex"]) == 9
    for n, expected in enumerate(v["roots_hex"]):
        assert root_from_leaf_hashes(hashes[:n]).hex() == expected, f"root of {n} leaves"
        frontier = Frontier()
        frontier.extend(hashes[:n])
        assert frontier.root().hex() == expected, f"frontier root of {n} leaves"


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert Frontier().root() == EMPTY_ROOT


def test_node_hash_prefixes_0x01() -> None:
    assert node_hash(b"L" * 32, b"R" * 32) == ref_hash(b"\x01" + b"L" * 32 + b"R" * 32)


# Agreement with the reference

@given(st.lists(st.binary(max_size=6), max_size=200))
def test_root_equals_the_recursive_mth_of_rfc6962(data: list[bytes]) -> None:
    assert root_from_leaf_hashes([leaf_hash(e) for e in data]) == ref_mth(data)


@given(tree_and_index())
def test_inclusion_proof_equals_rfc6962_path_and_verifies(case) -> None:
    d, index = case
    hashes = [leaf_hash(e) for e in d]
    proof = inclusion_proof(hashes, index, len(d))
    assert proof == ref_path(index, d)
    verify_inclusion(hashes[index], index, len(d), proof, ref_mth(d))


@given(tree_and_index(), st.integers(0, 140))
def test_inclusion_proof_in_a_prefix_of_the_leaves_verifies_against_that_prefix(case, extra) -> None:
    d, index = case
    hashes = [leaf_hash(e) for e in d + entries(extra)]
    proof = inclusion_proof(hashes, index, len(d))
    assert proof == ref_path(index, d)
    verify_inclusion(hashes[index], index, len(d), proof, ref_mth(d))


@given(tree_and_old_size())
def test_consistency_proof_equals_rfc6962_proof_and_verifies(case) -> None:
    d, m = case
    hashes = [leaf_hash(e) for e in d]
    proof = consistency_proof(hashes, m, len(d))
    assert proof == ref_proof(m, d)
    verify_consistency(m, len(d), ref_mth(d[:m]), ref_mth(d), proof)


@given(st.integers(0, 140))
def test_every_tree_is_consistent_with_the_empty_tree(n: int) -> None:
    d = entries(n)
    proof = consistency_proof([leaf_hash(e) for e in d], 0, n)
    assert proof == []
    verify_consistency(0, n, EMPTY_ROOT, ref_mth(d), proof)


# Tampering

@given(tree_and_index(), st.data())
def test_inclusion_proof_with_any_hash_altered_is_rejected(case, data) -> None:
    d, index = case
    hashes = [leaf_hash(e) for e in d]
    proof = inclusion_proof(hashes, index, len(d))
    assume(proof)
    i = data.draw(st.integers(0, len(proof) - 1))
    proof[i] = flip(proof[i], data.draw(st.integers(0, 7)))
    with pytest.raises(MerkleError, match="computed root is not the expected root"):
        verify_inclusion(hashes[index], index, len(d), proof, ref_mth(d))


@given(tree_and_index())
def test_inclusion_of_another_leaf_or_against_another_root_is_rejected(case) -> None:
    d, index = case
    hashes = [leaf_hash(e) for e in d]
    proof, root = inclusion_proof(hashes, index, len(d)), ref_mth(d)
    with pytest.raises(MerkleError, match="computed root"):
        verify_inclusion(leaf_hash(b"forged"), index, len(d), proof, root)
    with pytest.raises(MerkleError, match="computed root"):
        verify_inclusion(hashes[index], index, len(d), proof, flip(root))


@given(tree_and_index(), st.data())
def test_inclusion_proof_claimed_for_another_index_is_rejected(case, data) -> None:
    d, index = case
    assume(len(d) > 1)
    other = data.draw(st.integers(0, len(d) - 1).filter(lambda i: i != index))
    hashes = [leaf_hash(e) for e in d]
    proof = inclusion_proof(hashes, index, len(d))
    with pytest.raises(MerkleError):
        verify_inclusion(hashes[index], other, len(d), proof, ref_mth(d))


@given(tree_and_index(), st.integers(1, 300))
def test_inclusion_proof_claimed_for_a_size_with_a_different_path_length_is_rejected(case, size) -> None:
    d, index = case
    assume(index < size and len(ref_path(index, entries(size))) != len(ref_path(index, d)))
    hashes = [leaf_hash(e) for e in d]
    with pytest.raises(MerkleError, match="hashes, (more|fewer) than the leaf's path holds"):
        verify_inclusion(hashes[index], index, size, inclusion_proof(hashes, index, len(d)), ref_mth(d))


@given(tree_and_index())
def test_inclusion_proof_with_a_hash_added_or_removed_is_rejected(case) -> None:
    d, index = case
    hashes = [leaf_hash(e) for e in d]
    proof, root = inclusion_proof(hashes, index, len(d)), ref_mth(d)
    with pytest.raises(MerkleError):
        verify_inclusion(hashes[index], index, len(d), [*proof, root], root)
    if proof:
        with pytest.raises(MerkleError, match="fewer than the leaf's path holds"):
            verify_inclusion(hashes[index], index, len(d), proof[:-1], root)


@given(tree_and_old_size(), st.data())
def test_consistency_proof_with_any_hash_altered_is_rejected(case, data) -> None:
    d, m = case
    proof = consistency_proof([leaf_hash(e) for e in d], m, len(d))
    assume(proof)
    i = data.draw(st.integers(0, len(proof) - 1))
    proof[i] = flip(proof[i], data.draw(st.integers(0, 7)))
    with pytest.raises(MerkleError, match="computed (old|new) root"):
        verify_consistency(m, len(d), ref_mth(d[:m]), ref_mth(d), proof)


@given(tree_and_old_size())
def test_consistency_with_a_rewritten_old_or_new_tree_is_rejected(case) -> None:
    d, m = case
    proof = consistency_proof([leaf_hash(e) for e in d], m, len(d))
    old_root, new_root = ref_mth(d[:m]), ref_mth(d)
    with pytest.raises(MerkleError):
        verify_consistency(m, len(d), flip(old_root), new_root, proof)
    with pytest.raises(MerkleError):
        verify_consistency(m, len(d), old_root, flip(new_root), proof)


@given(tree_and_old_size())
def test_consistency_proof_with_a_hash_added_or_removed_is_rejected(case) -> None:
    d, m = case
    proof = consistency_proof([leaf_hash(e) for e in d], m, len(d))
    old_root, new_root = ref_mth(d[:m]), ref_mth(d)
    with pytest.raises(MerkleError):
        verify_consistency(m, len(d), old_root, new_root, [*proof, new_root])
    if proof:
        with pytest.raises(MerkleError):
            verify_consistency(m, len(d), old_root, new_root, proof[:-1])


def test_consistency_of_equal_sizes_needs_equal_roots_and_no_proof() -> None:
    root = ref_mth(entries(5))
    verify_consistency(5, 5, root, root, [])
    with pytest.raises(MerkleError, match="sizes are equal but the roots differ"):
        verify_consistency(5, 5, root, flip(root), [])
    with pytest.raises(MerkleError, match="sizes are equal, so the proof must be empty"):
        verify_consistency(5, 5, root, root, [root])


def test_consistency_from_the_empty_tree_needs_the_empty_root_and_no_proof() -> None:
    root = ref_mth(entries(3))
    with pytest.raises(MerkleError, match="old tree is empty but its root is not the empty root"):
        verify_consistency(0, 3, root, root, [])
    with pytest.raises(MerkleError, match="old tree is empty, so the proof must be empty"):
        verify_consistency(0, 3, EMPTY_ROOT, root, [root])


def test_a_log_cut_back_below_the_old_size_is_rejected() -> None:
    d = entries(6)
    with pytest.raises(MerkleError, match="old size 7 is not between 0 and new size 6"):
        verify_consistency(7, 6, ref_mth(entries(7)), ref_mth(d), [])
    with pytest.raises(MerkleError, match="needs 0 <= old size 7 <= new size 6"):
        consistency_proof([leaf_hash(e) for e in d], 7, 6)


def test_an_empty_consistency_proof_between_different_sizes_is_rejected() -> None:
    with pytest.raises(MerkleError, match="the proof is empty"):
        verify_consistency(2, 4, ref_mth(entries(2)), ref_mth(entries(4)), [])


# Bad parameters

@pytest.mark.parametrize(("index", "size", "leaves"), [(3, 3, 3), (-1, 3, 3), (0, 4, 3), (0, 0, 0)])
def test_inclusion_proof_refuses_an_index_or_size_outside_the_leaves(index, size, leaves) -> None:
    with pytest.raises(MerkleError, match=f"needs 0 <= leaf index {index} < tree size {size} <= {leaves}"):
        inclusion_proof([leaf_hash(e) for e in entries(leaves)], index, size)


@pytest.mark.parametrize(("index", "size"), [(3, 3), (-1, 3), (0, 0)])
def test_verify_inclusion_refuses_an_index_outside_the_tree(index, size) -> None:
    with pytest.raises(MerkleError, match=f"leaf index {index} is not in a tree of size {size}"):
        verify_inclusion(leaf_hash(b"x"), index, size, [], EMPTY_ROOT)


def test_entry_bytes_passed_where_leaf_hashes_belong_are_refused() -> None:
    with pytest.raises(MerkleError, match="leaf hash 1 is 7 bytes, not a 32-byte SHA-256 hash"):
        root_from_leaf_hashes([leaf_hash(b"a"), b"entry 1"])
    with pytest.raises(MerkleError, match="leaf hash 0 is a str"):
        Frontier().append("0" * 32)
    with pytest.raises(MerkleError, match="inclusion proof: proof hash 1 is 0 bytes"):
        verify_inclusion(leaf_hash(b"x"), 0, 4, [EMPTY_ROOT, b""], EMPTY_ROOT)
    with pytest.raises(MerkleError, match="consistency proof: old root 0 is 31 bytes"):
        verify_consistency(1, 2, EMPTY_ROOT[:31], EMPTY_ROOT, [EMPTY_ROOT])


def test_proofs_in_a_tree_of_thousands_of_leaves_verify() -> None:
    hashes = [leaf_hash(e) for e in entries(5000)]
    root = root_from_leaf_hashes(hashes)
    for index in (0, 1, 2047, 2048, 4095, 4096, 4999):
        verify_inclusion(hashes[index], index, 5000, inclusion_proof(hashes, index, 5000), root)
    for old in (1, 1000, 2048, 4097, 4999):
        verify_consistency(old, 5000, root_from_leaf_hashes(hashes[:old]), root,
                           consistency_proof(hashes, old, 5000))


# The frontier

def test_frontier_root_equals_the_full_root_at_every_size_up_to_70_and_survives_storage() -> None:
    hashes = [leaf_hash(e) for e in entries(71)]
    frontier = Frontier()
    for size in range(71):
        assert frontier.size == size
        assert frontier.root() == root_from_leaf_hashes(hashes[:size]) == ref_mth(entries(size))
        stored = Frontier.from_bytes(frontier.to_bytes())
        assert stored == frontier and stored.size == size and stored.root() == frontier.root()
        assert len(frontier.to_bytes()) == 8 + 32 * size.bit_count()
        if size < 70:
            stored.append(hashes[size])
            assert stored.root() == root_from_leaf_hashes(hashes[:size + 1])
            frontier.append(hashes[size])


@given(st.lists(st.integers(0, 40), max_size=8))
def test_extending_in_batches_equals_appending_one_by_one(batch_sizes: list[int]) -> None:
    hashes = [leaf_hash(e) for e in entries(sum(batch_sizes))]
    batched, single, start = Frontier(), Frontier(), 0
    for count in batch_sizes:
        batched = Frontier.from_bytes(batched.to_bytes())  # as the log does: reload, append a batch, store
        batched.extend(hashes[start:start + count])
        start += count
    for h in hashes:
        single.append(h)
    assert batched == single
    assert batched.root() == root_from_leaf_hashes(hashes)


@pytest.mark.parametrize(("data", "words"), [
    (b"", "0 bytes, too short to hold the 8-byte size"),
    ((3).to_bytes(8, "big") + b"\x00" * 32, "a tree of size 3 needs 72 bytes, got 40"),
    ((1).to_bytes(8, "big") + b"\x00" * 33, "a tree of size 1 needs 40 bytes, got 41"),
    ((2**64 - 1).to_bytes(8, "big"), "a tree of size 18446744073709551615 needs 2056 bytes, got 8"),
])
def test_frontier_bytes_that_do_not_fit_their_size_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(MerkleError, match=f"frontier bytes: {words}"):
        Frontier.from_bytes(data)
