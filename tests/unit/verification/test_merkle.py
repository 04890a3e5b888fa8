"""RFC 9162 Merkle trees (``verification.merkle``): the reference vectors of the 8-leaf tree, a naive
implementation of the RFC's recursive definitions to compare against, proofs that verify and tampered proofs
that do not, appending and resuming, lookups that stay O(log n) in a tree of 2**40 leaves, bad arguments."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verification.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Lookup,
    MemoryTree,
    Node,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

_SETTINGS = settings(max_examples=100, deadline=None)

# --- the naive reference: RFC 9162 §2.1 read literally, over a list of entries --------------------------


def _ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """§2.1.1 MTH(D[n])."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _ref_k(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = _ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """§2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """§2.1.4.1 PROOF(m, D[n])."""
    return ref_subproof(m, d, True)


# --- a shared tree ---------------------------------------------------------------------------------------

# Distinct entries, so distinct leaf hashes: with duplicates, a proof for one index can honestly verify at
# another index holding the same entry.
N = 520
ENTRIES = [b"licence-%d" % i for i in range(N)]
TREE = MemoryTree(ENTRIES)


def within(size: int, lookup: Lookup = TREE.lookup) -> Lookup:
    """``lookup`` that fails the test if asked for a node not yet complete at ``size`` leaves (a later node would
    be the wrong hash for an old tree head)."""

    def checked(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node ({level}, {index}) is not complete at size {size}"
        return lookup(level, index)

    return checked


def leaf(i: int) -> bytes:
    return TREE.lookup(0, i)


@st.composite
def size_and_index(draw: st.DrawFn, max_size: int = 300) -> tuple[int, int]:
    size = draw(st.integers(1, max_size))
    return size, draw(st.integers(0, size - 1))


@st.composite
def growing_sizes(draw: st.DrawFn, max_size: int = 300) -> tuple[int, int]:
    second = draw(st.integers(2, max_size))
    return draw(st.integers(1, second - 1)), second


def inclusion_shape(index: int, size: int) -> tuple[int, int]:
    """What the §2.1.3.2 verifier's computation depends on besides ``index`` (transparency-dev/merkle's
    ``decompInclProof``): the levels below the point where the paths to leaf ``index`` and to the last leaf
    meet, and the number of left siblings above it."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, bin(index >> inner).count("1")


def consistency_shape(first: int, second: int) -> tuple[bool, int, int, int]:
    """The same for §2.1.4.2 (transparency-dev/merkle ``VerifyConsistency``): whether ``first`` is a power of
    two, and the inclusion shape of leaf ``first - 1`` with the levels below ``first``'s lowest set bit removed."""
    shift = (first & -first).bit_length() - 1
    inner, border = inclusion_shape(first - 1, second)
    inner -= shift
    return first == 1 << shift, inner, border, ((first - 1) >> shift) & ((1 << inner) - 1)


# --- known answers ---------------------------------------------------------------------------------------

# The RFC 6962 test tree (certificate-transparency C++ merkle_tree_test.cc, transparency-dev/merkle).
KAT_ENTRIES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
KAT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
KAT_TREE = MemoryTree(KAT_ENTRIES)


def _hexes(*hashes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


# transparency-dev/merkle proof/verify_test.go ``inclusionProofs`` (its leaf numbers are 1-based; these are
# 0-based indices) and ``consistencyProofs``, over the same tree.
KAT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hexes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hexes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hexes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]
KAT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hexes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_hash(0, within(0)) == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    expected = KAT_ROOTS[size - 1]
    assert ref_mth(KAT_ENTRIES[:size]) == expected  # the reference itself is right
    assert root_hash(size, within(size, KAT_TREE.lookup)) == expected
    assert KAT_TREE.root(size) == expected
    assert MemoryTree(KAT_ENTRIES[:size]).root() == expected  # from the compact range, without lookups


def test_hash_functions() -> None:
    assert leaf_hash(b"") == bytes.fromhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == KAT_ROOTS[1]


@pytest.mark.parametrize(("index", "size", "path"), KAT_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(index, size, within(size, KAT_TREE.lookup)) == path
    assert ref_path(index, KAT_ENTRIES[:size]) == path
    verify_inclusion(leaf_hash(KAT_ENTRIES[index]), index, size, path, KAT_ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second", "proof"), KAT_CONSISTENCY)
def test_reference_consistency_proofs(first: int, second: int, proof: list[bytes]) -> None:
    assert consistency_proof(first, second, within(second, KAT_TREE.lookup)) == proof
    assert ref_proof(first, KAT_ENTRIES[:second]) == proof
    verify_consistency(first, second, KAT_ROOTS[first - 1], KAT_ROOTS[second - 1], proof)


# --- against the naive reference -------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 300))
def test_root_matches_reference(size: int) -> None:
    assert root_hash(size, within(size)) == ref_mth(ENTRIES[:size])


@_SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=70))
def test_root_of_arbitrary_entries(entries: list[bytes]) -> None:
    tree = MemoryTree(entries)
    assert tree.size == len(entries)
    assert tree.root() == ref_mth(entries)
    assert root_hash(len(entries), tree.lookup) == ref_mth(entries)


@_SETTINGS
@given(size_and_index())
def test_inclusion_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    size, index = case
    path = inclusion_proof(index, size, within(size))
    assert path == ref_path(index, ENTRIES[:size])
    verify_inclusion(leaf(index), index, size, path, ref_mth(ENTRIES[:size]))


@_SETTINGS
@given(growing_sizes())
def test_consistency_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    first, second = case
    proof = consistency_proof(first, second, within(second))
    assert proof == ref_proof(first, ENTRIES[:second])
    verify_consistency(first, second, ref_mth(ENTRIES[:first]), ref_mth(ENTRIES[:second]), proof)


EDGE_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513]


@pytest.mark.parametrize("size", EDGE_SIZES)
def test_edge_sizes(size: int) -> None:
    """Sizes 1, 2**k and 2**k ± 1: every index up to 129 leaves, the ends and the powers of two above."""
    d = ENTRIES[:size]
    root = ref_mth(d)
    assert TREE.root(size) == root
    assert MemoryTree(d).root() == root
    if size <= 129:
        positions = set(range(size))
    else:
        positions = {0, 1, size // 2, size - 2, size - 1} | {
            (1 << k) + j for k in range(size.bit_length()) for j in (-1, 0)
        }
    for i in sorted(p for p in positions if 0 <= p < size):
        path = inclusion_proof(i, size, within(size))
        assert path == ref_path(i, d), i
        verify_inclusion(leaf(i), i, size, path, root)
        first = i + 1
        proof = consistency_proof(first, size, within(size))
        assert proof == ref_proof(first, d), first
        verify_consistency(first, size, TREE.root(first), root, proof)


def test_equal_sizes_give_empty_proof() -> None:
    for size in (1, 2, 3, 8, 300):
        assert consistency_proof(size, size, within(size)) == []
        verify_consistency(size, size, TREE.root(size), TREE.root(size), [])


# --- tampered inclusion proofs ---------------------------------------------------------------------------


def _raises_proof_error(call: object) -> bool:
    assert callable(call)
    try:
        call()
    except ProofError:
        return True
    return False


@_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_with_a_flipped_byte_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    path = TREE.inclusion_proof(index, size)
    root = TREE.root(size)
    # Flip a byte of the path, the leaf or the root.
    which = data.draw(st.integers(-2, len(path) - 1))
    at = data.draw(st.integers(0, 31))
    mask = data.draw(st.integers(1, 255))

    def flip(digest: bytes) -> bytes:
        return digest[:at] + bytes([digest[at] ^ mask]) + digest[at + 1 :]

    tampered = list(path)
    leaf_hash_, root_ = leaf(index), root
    if which == -2:
        leaf_hash_ = flip(leaf_hash_)
    elif which == -1:
        root_ = flip(root_)
    else:
        tampered[which] = flip(tampered[which])
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf_hash_, index, size, tampered, root_)
    assert caught.value.reason == "mismatch"


@_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_with_a_hash_dropped_or_added_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    path = TREE.inclusion_proof(index, size)
    root = TREE.root(size)
    tampered = list(path)
    if len(path) > 0 and data.draw(st.booleans()):
        del tampered[data.draw(st.integers(0, len(path) - 1))]
    else:
        # A random hash, or one that belongs to the tree (a sibling again, the root, the leaf).
        extra = data.draw(st.sampled_from([*path, root, leaf(index)]) | st.binary(min_size=32, max_size=32))
        tampered.insert(data.draw(st.integers(0, len(path))), extra)
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf(index), index, size, tampered, root)
    assert caught.value.reason == "length"


@_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_at_the_wrong_index_or_leaf_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    path = TREE.inclusion_proof(index, size)
    root = TREE.root(size)
    other = data.draw(st.integers(0, N - 1).filter(lambda i: i != index))
    # The right leaf claimed at another index, another leaf at the right index.
    assert _raises_proof_error(lambda: verify_inclusion(leaf(index), other, size, path, root))
    assert _raises_proof_error(lambda: verify_inclusion(leaf(other), index, size, path, root))


@_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_with_the_wrong_root_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    path = TREE.inclusion_proof(index, size)
    wrong = data.draw(
        st.integers(0, N).filter(lambda s: s != size).map(TREE.root) | st.binary(min_size=32, max_size=32)
    )
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf(index), index, size, path, wrong)
    assert caught.value.reason == "mismatch"


@_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_at_the_wrong_size(case: tuple[int, int], data: st.DataObject) -> None:
    """With that size's own root the proof always fails. With the proof's true root it fails exactly when the
    size changes the proof's shape: the size is authenticated by the signed tree head, not by the proof
    (index 0 of 3 leaves and of 4 leaves have the same shape)."""
    size, index = case
    path = TREE.inclusion_proof(index, size)
    other = data.draw(st.integers(index + 1, N).filter(lambda s: s != size))
    assert _raises_proof_error(lambda: verify_inclusion(leaf(index), index, other, path, TREE.root(other)))
    same_shape = inclusion_shape(index, other) == inclusion_shape(index, size)
    assert _raises_proof_error(lambda: verify_inclusion(leaf(index), index, other, path, TREE.root(size))) != same_shape


def test_inclusion_size_is_not_bound_by_the_proof_alone() -> None:
    # The module docstring's example: leaf 0's path in 4 leaves reads the same as in 3 leaves (two siblings to
    # the right), so it verifies against the 4-leaf root at a claimed size of 3.
    verify_inclusion(leaf(0), 0, 3, TREE.inclusion_proof(0, 4), TREE.root(4))
    # Leaf 2's does not: in 3 leaves its one sibling is above it on the left, in 4 leaves there is one below too.
    with pytest.raises(ProofError):
        verify_inclusion(leaf(2), 2, 3, TREE.inclusion_proof(2, 4), TREE.root(4))


# --- tampered consistency proofs -------------------------------------------------------------------------


@_SETTINGS
@given(growing_sizes(), st.data())
def test_consistency_with_a_flipped_byte_fails(case: tuple[int, int], data: st.DataObject) -> None:
    first, second = case
    proof = TREE.consistency_proof(first, second)
    roots = [TREE.root(first), TREE.root(second)]
    which = data.draw(st.integers(-2, len(proof) - 1))
    at = data.draw(st.integers(0, 31))
    mask = data.draw(st.integers(1, 255))
    tampered = [*proof, *roots]
    tampered[which] = tampered[which][:at] + bytes([tampered[which][at] ^ mask]) + tampered[which][at + 1 :]
    with pytest.raises(ProofError) as caught:
        verify_consistency(first, second, tampered[-2], tampered[-1], tampered[:-2])
    assert caught.value.reason == "mismatch"


@_SETTINGS
@given(growing_sizes(), st.data())
def test_consistency_with_a_hash_dropped_or_added_fails(case: tuple[int, int], data: st.DataObject) -> None:
    first, second = case
    proof = TREE.consistency_proof(first, second)
    first_root, second_root = TREE.root(first), TREE.root(second)
    tampered = list(proof)
    if data.draw(st.booleans()):
        del tampered[data.draw(st.integers(0, len(proof) - 1))]
    else:
        extra = data.draw(st.sampled_from([*proof, first_root, second_root]) | st.binary(min_size=32, max_size=32))
        tampered.insert(data.draw(st.integers(0, len(proof))), extra)
    with pytest.raises(ProofError) as caught:
        verify_consistency(first, second, first_root, second_root, tampered)
    assert caught.value.reason == "length"


@_SETTINGS
@given(growing_sizes(), st.data())
def test_consistency_with_the_wrong_roots_fails(case: tuple[int, int], data: st.DataObject) -> None:
    first, second = case
    proof = TREE.consistency_proof(first, second)
    first_root, second_root = TREE.root(first), TREE.root(second)
    some_root = st.integers(0, N).map(TREE.root) | st.binary(min_size=32, max_size=32)
    wrong_first = data.draw(some_root.filter(lambda r: r != first_root))
    wrong_second = data.draw(some_root.filter(lambda r: r != second_root))
    for roots in ((wrong_first, second_root), (first_root, wrong_second), (second_root, first_root)):
        with pytest.raises(ProofError) as caught:
            verify_consistency(first, second, *roots, proof)
        assert caught.value.reason == "mismatch"


@_SETTINGS
@given(growing_sizes(), st.data())
def test_consistency_at_the_wrong_sizes(case: tuple[int, int], data: st.DataObject) -> None:
    """As for inclusion: with the other sizes' own roots the proof always fails; with the proof's true roots it
    fails exactly when the sizes change the proof's shape."""
    first, second = case
    proof = TREE.consistency_proof(first, second)
    other_second = data.draw(st.integers(1, N))
    other_first = data.draw(st.integers(0, other_second).filter(lambda f: (f, other_second) != (first, second)))
    first_root, second_root = TREE.root(first), TREE.root(second)
    assert _raises_proof_error(
        lambda: verify_consistency(other_first, other_second, TREE.root(other_first), TREE.root(other_second), proof)
    )
    # Size 0 and equal sizes need an empty proof, and this one is not.
    same_shape = 0 < other_first < other_second and consistency_shape(other_first, other_second) == consistency_shape(
        first, second
    )
    failed = _raises_proof_error(lambda: verify_consistency(other_first, other_second, first_root, second_root, proof))
    assert failed != same_shape


# --- the cases the RFC leaves out, and bad arguments ------------------------------------------------------


def test_consistency_from_the_empty_tree() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, TREE.root(5), [])
    with pytest.raises(ProofError, match="empty tree") as caught:
        verify_consistency(0, 5, TREE.root(1), TREE.root(5), [])  # a size-0 tree has no other root
    assert caught.value.reason == "mismatch"
    with pytest.raises(ProofError, match="must be empty") as caught:
        verify_consistency(0, 5, EMPTY_ROOT, TREE.root(5), [TREE.root(5)])
    assert caught.value.reason == "length"
    with pytest.raises(ProofError, match="same tree size") as caught:
        verify_consistency(0, 0, EMPTY_ROOT, TREE.root(1), [])
    assert caught.value.reason == "mismatch"


def test_consistency_between_equal_sizes() -> None:
    root = TREE.root(7)
    verify_consistency(7, 7, root, root, [])
    with pytest.raises(ProofError, match="same tree size") as caught:
        verify_consistency(7, 7, root, TREE.root(8), [])
    assert caught.value.reason == "mismatch"
    with pytest.raises(ProofError, match="must be empty") as caught:
        verify_consistency(7, 7, root, root, [root])
    assert caught.value.reason == "length"


def test_verify_refuses_impossible_sizes_and_malformed_hashes() -> None:
    root, path = TREE.root(5), TREE.inclusion_proof(2, 5)
    for index, size in [(5, 5), (-1, 5), (0, 0), (6, 5)]:
        with pytest.raises(ProofError, match="not in a tree") as caught:
            verify_inclusion(leaf(2), index, size, path, root)
        assert caught.value.reason == "range"
    for first, second in [(6, 5), (-1, 5), (1, 0)]:
        with pytest.raises(ProofError, match="0 <= first <= second") as caught:
            verify_consistency(first, second, root, root, [root])
        assert caught.value.reason == "range"
    proof = TREE.consistency_proof(3, 5)
    for bad in (b"", root[:31], root + b"\x00"):
        for args in (
            (bad, 2, 5, path, root),
            (leaf(2), 2, 5, path, bad),
            (leaf(2), 2, 5, [*path[:-1], bad], root),
        ):
            with pytest.raises(ProofError, match="bytes, not 32") as caught:
                verify_inclusion(*args)
            assert caught.value.reason == "malformed"
        for cargs in ((3, 5, bad, root, proof), (3, 5, TREE.root(3), root, [bad, *proof[1:]])):
            with pytest.raises(ProofError, match="bytes, not 32") as caught:
                verify_consistency(*cargs)
            assert caught.value.reason == "malformed"
    with pytest.raises(ProofError, match="empty") as caught:
        verify_consistency(3, 5, TREE.root(3), root, [])
    assert caught.value.reason == "length"
    assert issubclass(ProofError, ValueError)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 5), (7, 5)])
def test_inclusion_proof_refuses_bad_arguments(index: int, size: int) -> None:
    with pytest.raises(ValueError, match=f"leaf index {index} is not in a tree of {size} leaves"):
        inclusion_proof(index, size, within(max(size, 0)))


@pytest.mark.parametrize(("first", "second"), [(0, 5), (0, 0), (6, 5), (-1, 3), (1, 0)])
def test_consistency_proof_refuses_bad_arguments(first: int, second: int) -> None:
    with pytest.raises(ValueError, match="needs 0 < first <= second"):
        consistency_proof(first, second, within(max(second, 0)))


def test_bad_sizes_and_leaves_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        root_hash(-1, TREE.lookup)
    with pytest.raises(ValueError, match="must not be negative"):
        CompactRange.resume(-1, TREE.lookup)
    with pytest.raises(ValueError, match="a leaf hash is 32 bytes"):
        CompactRange().append(b"an entry, not its leaf hash")
    with pytest.raises(ValueError, match=f"only {N} leaves"):
        TREE.root(N + 1)
    with pytest.raises(ValueError, match=f"only {N} leaves"):
        TREE.inclusion_proof(0, N + 1)
    with pytest.raises(ValueError, match=f"only {N} leaves"):
        TREE.consistency_proof(1, N + 1)
    with pytest.raises(LookupError, match="no complete node"):
        TREE.lookup(1, N // 2)  # covers leaves N and N + 1, which do not exist
    with pytest.raises(LookupError):
        MemoryTree().lookup(0, 0)


# --- appending and resuming ------------------------------------------------------------------------------


def _perfect_subtrees(entries: Sequence[bytes]) -> set[Node]:
    """Every perfect subtree of the tree, by the reference."""
    nodes: set[Node] = set()
    level = 0
    while 1 << level <= len(entries):
        width = 1 << level
        for index in range(len(entries) // width):
            nodes.add((level, index, ref_mth(entries[index * width : (index + 1) * width])))
        level += 1
    return nodes


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 9, 33, 64, 100])
def test_appended_nodes_are_exactly_the_perfect_subtrees(size: int) -> None:
    compact = CompactRange()
    seen: list[Node] = []
    for i in range(size):
        completed = compact.append(leaf_hash(ENTRIES[i]))
        # The leaf first, then its ancestors level by level, each ending at this leaf.
        assert [(lvl, idx) for lvl, idx, _ in completed] == [(lvl, i >> lvl) for lvl in range(len(completed))]
        assert all((idx + 1) << lvl == i + 1 for lvl, idx, _ in completed)
        seen.extend(completed)
        assert compact.root() == ref_mth(ENTRIES[: i + 1])
    assert len(seen) == len(set(seen))  # each node is written once
    assert set(seen) == _perfect_subtrees(ENTRIES[:size])
    assert len(seen) == 2 * size - bin(size).count("1")


@_SETTINGS
@given(st.integers(0, 150), st.integers(0, 150))
def test_resume_continues_identically(cut: int, more: int) -> None:
    """Resuming from (size, lookup) after a restart gives the same frontier, nodes and roots as never stopping."""
    total = min(cut + more, N)
    straight = CompactRange()
    straight_nodes = straight.extend(leaf_hash(e) for e in ENTRIES[:cut])
    resumed = CompactRange.resume(cut, within(cut))
    assert resumed.size == straight.size == cut
    assert resumed.frontier == straight.frontier
    assert resumed.root() == straight.root() == ref_mth(ENTRIES[:cut])
    for i in range(cut, total):
        expected = straight.append(leaf_hash(ENTRIES[i]))
        straight_nodes.extend(expected)
        assert resumed.append(leaf_hash(ENTRIES[i])) == expected
        assert resumed.root() == straight.root()
    assert resumed.root() == ref_mth(ENTRIES[:total])
    # Every node either run produced is the one the store already holds.
    assert all(TREE.lookup(level, index) == digest for level, index, digest in straight_nodes)


@_SETTINGS
@given(st.integers(0, N - 1))
def test_new_nodes_matches_the_compact_range(size_before: int) -> None:
    compact = CompactRange.resume(size_before, TREE.lookup)
    expected = compact.append(leaf(size_before))
    assert new_nodes(size_before, leaf(size_before), within(size_before)) == expected
    assert expected[0] == (0, size_before, leaf(size_before))
    assert all(TREE.lookup(level, index) == digest for level, index, digest in expected)


def test_frontier_is_the_decomposition_of_the_size() -> None:
    compact = CompactRange()
    compact.extend(leaf_hash(e) for e in ENTRIES[:13])  # 13 = 8 + 4 + 1
    assert compact.frontier == (
        (3, 0, ref_mth(ENTRIES[0:8])),
        (2, 2, ref_mth(ENTRIES[8:12])),
        (0, 12, ref_mth(ENTRIES[12:13])),
    )


def test_memory_tree_api() -> None:
    tree = MemoryTree()
    assert tree.size == 0
    assert [tree.append(e) for e in ENTRIES[:6]] == list(range(6))
    assert tree.size == 6
    assert tree.root() == tree.root(6) == ref_mth(ENTRIES[:6])
    assert tree.root(3) == ref_mth(ENTRIES[:3])
    assert tree.lookup(0, 5) == leaf_hash(ENTRIES[5])
    assert tree.lookup(1, 2) == node_hash(leaf_hash(ENTRIES[4]), leaf_hash(ENTRIES[5]))
    assert tree.inclusion_proof(4) == ref_path(4, ENTRIES[:6])
    assert tree.consistency_proof(3) == ref_proof(3, ENTRIES[:6])


# --- a tree too big to hold: 2**40 leaves ----------------------------------------------------------------

# Every leaf is the same entry, so node (level, index) depends only on the level and any size can be served.
_UNIFORM: list[bytes] = [leaf_hash(b"same entry")]
for _ in range(64):
    _UNIFORM.append(node_hash(_UNIFORM[-1], _UNIFORM[-1]))


@cache
def _uniform_root(n: int) -> bytes:
    """MTH of n identical entries, by the RFC's recursion (which needs only O(log n) distinct subtrees)."""
    if n & (n - 1) == 0:
        return _UNIFORM[n.bit_length() - 1]
    k = _ref_k(n)
    return node_hash(_uniform_root(k), _uniform_root(n - k))


class _CountingStore:
    def __init__(self, size: int) -> None:
        self.size = size
        self.calls = 0

    def lookup(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.size, (level, index)
        self.calls += 1
        return _UNIFORM[level]


@_SETTINGS
@given(st.integers(1, 2**40 + 2**20), st.data())
def test_huge_trees_need_only_logarithmic_lookups(size: int, data: st.DataObject) -> None:
    budget = 2 * size.bit_length()
    store = _CountingStore(size)
    assert root_hash(size, store.lookup) == _uniform_root(size)
    assert store.calls == bin(size).count("1")

    index = data.draw(st.integers(0, size - 1))
    store.calls = 0
    path = inclusion_proof(index, size, store.lookup)
    assert store.calls <= budget
    verify_inclusion(_UNIFORM[0], index, size, path, _uniform_root(size))

    first = data.draw(st.integers(1, size))
    store.calls = 0
    proof = consistency_proof(first, size, store.lookup)
    assert store.calls <= budget
    verify_consistency(first, size, _uniform_root(first), _uniform_root(size), proof)

    store.calls = 0
    compact = CompactRange.resume(size, store.lookup)
    assert store.calls == bin(size).count("1")
    assert compact.root() == _uniform_root(size)


# --- isolation -------------------------------------------------------------------------------------------


def test_merkle_imports_only_the_standard_library_it_needs() -> None:
    source = Path(__file__).resolve().parents[3] / "verification" / "merkle.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "hashlib", "collections.abc", "typing"}, imported
