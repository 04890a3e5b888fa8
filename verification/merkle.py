"""RFC 9162 §2.1 Merkle trees for an append-only log that lives in a database, not in memory.

Hashing is RFC 9162's (the same as RFC 6962): ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) =
SHA-256(0x01 || l || r)``, and the empty tree's root is ``SHA-256("")`` (:data:`EMPTY_ROOT`).

The design is built on *perfect subtree nodes*. ``node(level, index)`` is the root of the perfect subtree over
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. A node never changes once
its last leaf exists, so the store writes each node once, when it becomes complete, and reads it back by
``(level, index)``. Every function that needs the tree takes a :data:`Lookup`, ``lookup(level, index) -> bytes``,
and asks only for complete nodes of the tree size it was given. A store with n leaves holds fewer than 2n nodes.

Any subtree the RFC's recursion names, ``D[begin:end]``, starts at a multiple of the smallest power of two
not below its length. So it splits into the maximal perfect subtrees given by the bits of ``end - begin``
(largest first), and its MTH is those nodes folded right to left with :func:`node_hash`. Roots and proofs
therefore cost O(log n) lookups and never need the leaves, which is what lets a log of millions of entries
answer proofs from a table of nodes.

API
---

Writing (appending entries):

* :class:`CompactRange` holds the right edge of the tree (the "frontier" of Trillian's compact range: one
  perfect subtree root per set bit of the size, O(log n) hashes). ``append(leaf)`` takes the next *leaf hash*
  and returns the :data:`Node` tuples ``(level, index, hash)`` that became complete (the leaf itself first,
  then its completed ancestors); the caller stores them. ``root()`` needs no lookups.
  ``CompactRange.resume(size, lookup)`` rebuilds the frontier from stored nodes after a restart, with O(log n)
  lookups. For a batch, resume once and append many.
* :func:`new_nodes` is the one-shot form for a single append: ``resume`` plus ``append``.

Reading (any size up to the stored one, so an old tree head can still be proved):

* :func:`root_hash`, :func:`inclusion_proof` (RFC 9162 §2.1.3.1 ``PATH``) and :func:`consistency_proof`
  (§2.1.4.1 ``PROOF``). Out-of-range arguments raise ``ValueError``.

Verifying (no store needed; a failed proof raises :class:`ProofError`, never returns ``False``):

* :func:`verify_inclusion` (§2.1.3.2) and :func:`verify_consistency` (§2.1.4.2), the RFC's algorithms step by
  step. Both require every hash to be 32 bytes. The RFC specifies consistency only for ``0 < first < second``;
  beyond that: ``first == second`` holds when the proof is empty and the roots are equal; ``first == 0`` holds
  when the proof is empty and ``first_root`` is :data:`EMPTY_ROOT` (the empty tree is a prefix of every
  tree, and that root is the only one a size-0 tree has). :func:`consistency_proof` still refuses
  ``first == 0``: there is nothing to prove, and a caller asking is more likely confused about sizes.

Neither verifier authenticates ``size`` by itself: a proof fixes a root, and the size only fixes the proof's
shape, so sizes of the same shape (index 0 in trees of 3 and 4 leaves, for example) verify alike. The size is
authenticated by the signed tree head that carries it together with the root.

:class:`MemoryTree` is a dict-backed store built on the functions above, for tests and small logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "Lookup",
    "MemoryTree",
    "Node",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "new_nodes",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

Lookup: TypeAlias = Callable[[int, int], bytes]
"""``lookup(level, index)``: the stored hash of perfect node ``(level, index)``. Called only for nodes that are
complete in the tree size being asked about; a store that lacks one should raise (``LookupError``)."""


Node: TypeAlias = tuple[int, int, bytes]
"""``(level, index, hash)``: a perfect subtree root covering leaves ``[index * 2**level, (index + 1) * 2**level)``."""


class ProofError(ValueError):
    """An inclusion or consistency proof does not verify. ``reason`` is a machine word: ``range`` (the index or
    sizes cannot be proved), ``malformed`` (a hash is not 32 bytes), ``length`` (too many or too few hashes for
    the sizes), ``mismatch`` (the proof leads to a different root)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# --- hashing ---------------------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The RFC's k for n > 1: the largest power of two smaller than n."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect_nodes(begin: int, end: int) -> Iterator[tuple[int, int]]:
    """``(level, index)`` of the maximal perfect subtrees covering ``[begin, end)``, left to right.

    ``begin`` must be a multiple of the largest one's width, which holds for ``[0, size)`` and for every
    subtree in the RFC's recursion; then each piece is aligned, because the pieces shrink left to right."""
    width = end - begin
    position = begin
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            yield level, position >> level
            position += 1 << level


def _fold(hashes: Sequence[bytes]) -> bytes:
    # MTH of a non-perfect subtree = its perfect pieces combined from the right (the RFC always splits off the
    # largest power of two on the left, so the smaller pieces nest on the right).
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _subtree_hash(begin: int, end: int, lookup: Lookup) -> bytes:
    """MTH(D[begin:end]) for a non-empty subtree of the RFC's recursion, by O(log n) lookups."""
    return _fold([lookup(level, index) for level, index in _perfect_nodes(begin, end)])


# --- appending -------------------------------------------------------------------------------------------


class CompactRange:
    """The right edge of a tree: the roots of the maximal perfect subtrees covering ``[0, size)``, largest
    first. Appending a leaf hash returns the nodes that became complete, for the caller to store; the root is
    computed from the edge alone."""

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._frontier: list[bytes] = []

    @classmethod
    def resume(cls, size: int, lookup: Lookup) -> CompactRange:
        """The edge of a stored tree of ``size`` leaves, read with one lookup per set bit of ``size``."""
        if size < 0:
            raise ValueError(f"树的大小不能为负 / tree size must not be negative, got {size}")
        compact = cls()
        compact._size = size
        compact._frontier = [lookup(level, index) for level, index in _perfect_nodes(0, size)]
        return compact

    @property
    def size(self) -> int:
        """The number of leaves appended (or resumed from)."""
        return self._size

    @property
    def frontier(self) -> tuple[Node, ...]:
        """The edge as nodes, largest first: what :meth:`resume` would look up."""
        return tuple(
            (level, index, digest)
            for (level, index), digest in zip(_perfect_nodes(0, self._size), self._frontier, strict=True)
        )

    def append(self, leaf: bytes) -> list[Node]:
        """Append leaf hash ``leaf`` as leaf number :attr:`size`; return the nodes that are now complete, the
        level-0 node first, then each completed ancestor up to the largest."""
        if len(leaf) != HASH_SIZE:
            # Most likely an entry passed where its leaf_hash belongs.
            raise ValueError(f"叶哈希应为 {HASH_SIZE} 字节 / a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        level, index, digest = 0, self._size, leaf
        completed: list[Node] = [(level, index, digest)]
        # A right child (odd index) completes its parent; its left sibling is the smallest subtree on the edge.
        while index & 1:
            digest = node_hash(self._frontier.pop(), digest)
            level, index = level + 1, index >> 1
            completed.append((level, index, digest))
        self._frontier.append(digest)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append several leaf hashes; return all the nodes completed, in order."""
        completed: list[Node] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        """MTH of the first :attr:`size` leaves, without lookups."""
        return _fold(self._frontier) if self._frontier else EMPTY_ROOT


def new_nodes(size_before: int, leaf: bytes, lookup: Lookup) -> list[Node]:
    """The nodes completed by appending leaf hash ``leaf`` as leaf number ``size_before`` to a stored tree
    (O(log n) lookups each time; use :class:`CompactRange` for a batch)."""
    return CompactRange.resume(size_before, lookup).append(leaf)


# --- roots and proofs ------------------------------------------------------------------------------------


def root_hash(size: int, lookup: Lookup) -> bytes:
    """MTH(D[size]), the root of the first ``size`` leaves."""
    if size < 0:
        raise ValueError(f"树的大小不能为负 / tree size must not be negative, got {size}")
    return _subtree_hash(0, size, lookup) if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, lookup: Lookup) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]): the audit path of leaf ``index``, nearest sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"叶序号超出树的范围 / leaf index {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    begin, end = 0, size
    # Walk the RFC's recursion from the root down; PATH lists the siblings from the leaf up, hence the reverse.
    while end - begin > 1:
        middle = begin + _split(end - begin)
        if index < middle:
            path.append(_subtree_hash(middle, end, lookup))
            end = middle
        else:
            path.append(_subtree_hash(begin, middle, lookup))
            begin = middle
    path.reverse()
    return path


def consistency_proof(first: int, second: int, lookup: Lookup) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[second]) for ``0 < first <= second``; empty when the sizes are equal."""
    if not 0 < first <= second:
        raise ValueError(
            f"一致性证明要求 0 < first <= second / a consistency proof needs 0 < first <= second, got {first}, {second}"
        )
    proof: list[bytes] = []
    begin, end = 0, second
    # ``whole`` is SUBPROOF's flag b: still on the left spine, so D[begin:first] is the old tree itself and the
    # verifier already has its root.
    whole = True
    while first != end:
        middle = begin + _split(end - begin)
        if first <= middle:
            proof.append(_subtree_hash(middle, end, lookup))
            end = middle
        else:
            proof.append(_subtree_hash(begin, middle, lookup))
            begin = middle
            whole = False
    if not whole:
        proof.append(_subtree_hash(begin, end, lookup))
    proof.reverse()
    return proof


# --- verifying -------------------------------------------------------------------------------------------


def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for position, digest in enumerate(hashes):
        if len(digest) != HASH_SIZE:
            raise ProofError(
                "malformed",
                f"哈希长度应为 {HASH_SIZE} 字节 / {what} {position} is {len(digest)} bytes, not {HASH_SIZE}",
            )


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Check that leaf hash ``leaf`` (``leaf_hash(entry)``, not the entry) is leaf ``index`` of the tree of
    ``size`` leaves whose root is ``root``, by RFC 9162 §2.1.3.2; raise :class:`ProofError` if not."""
    _check_hashes("leaf/root", (leaf, root))
    _check_hashes("path hash", path)
    # 1. The index must fall inside the tree (and, in Python, not be negative).
    if not 0 <= index < size:
        raise ProofError("range", f"叶序号超出树的范围 / leaf index {index} is not in a tree of {size} leaves")
    # 2.
    fn, sn = index, size - 1
    # 3.
    r = leaf
    # 4.
    for p in path:
        # a.
        if sn == 0:
            raise ProofError("length", f"包含证明的哈希过多 / the inclusion path is longer than a tree of {size} needs")
        # b.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # c.
        fn >>= 1
        sn >>= 1
    # 5.
    if sn != 0:
        raise ProofError("length", f"包含证明的哈希过少 / the inclusion path is shorter than a tree of {size} needs")
    if r != root:
        raise ProofError("mismatch", "包含证明与根哈希不符 / the inclusion path does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``first`` leaves with root ``first_root`` is a prefix of the tree of ``second``
    leaves with root ``second_root``, by RFC 9162 §2.1.4.2; raise :class:`ProofError` if not. See the module
    docstring for ``first == 0`` and ``first == second``, which the RFC leaves out."""
    _check_hashes("root", (first_root, second_root))
    _check_hashes("proof hash", proof)
    if not 0 <= first <= second:
        raise ProofError(
            "range", f"树的大小不能倒退 / tree sizes must satisfy 0 <= first <= second, got {first}, {second}"
        )
    if first == 0 or first == second:
        if proof:
            raise ProofError("length", f"此时一致性证明应为空 / the proof for sizes {first}, {second} must be empty")
        if first == 0 and first_root != EMPTY_ROOT:
            raise ProofError("mismatch", "空树的根哈希不符 / the root of an empty tree must be SHA-256('')")
        if first == second and first_root != second_root:
            raise ProofError("mismatch", "同一大小的两个根哈希不同 / two roots of the same tree size differ")
        return
    # 1.
    if not proof:
        raise ProofError("length", "一致性证明不能为空 / the consistency proof is empty")
    path = list(proof)
    # 2.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        # a.
        if sn == 0:
            raise ProofError("length", f"一致性证明的哈希过多 / the proof is longer than sizes {first}, {second} need")
        # b.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        # c.
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise ProofError("length", f"一致性证明的哈希过少 / the proof is shorter than sizes {first}, {second} need")
    if fr != first_root:
        raise ProofError("mismatch", "一致性证明与旧根哈希不符 / the proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("mismatch", "一致性证明与新根哈希不符 / the proof does not lead to the second root")


# --- in memory -------------------------------------------------------------------------------------------


class MemoryTree:
    """A log whose nodes live in a dict: :class:`CompactRange` to append, the lookup functions to read."""

    __slots__ = ("_nodes", "_range")

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._range = CompactRange()
        for entry in entries:
            self.append(entry)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, entry: bytes) -> int:
        """Log ``entry`` (the entry itself; it is leaf-hashed here) and return its leaf index."""
        index = self._range.size
        for level, node_index, digest in self._range.append(leaf_hash(entry)):
            self._nodes[level, node_index] = digest
        return index

    def lookup(self, level: int, index: int) -> bytes:
        """The stored perfect node ``(level, index)``; ``LookupError`` if it is not complete yet."""
        try:
            return self._nodes[level, index]
        except KeyError:
            raise LookupError(f"没有此节点 / no complete node at level {level}, index {index}") from None

    def root(self, size: int | None = None) -> bytes:
        """The current root, or the root the tree had at ``size`` leaves."""
        if size is None:
            return self._range.root()
        return root_hash(self._known(size), self.lookup)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else self._known(size), self.lookup)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self.size if second is None else self._known(second), self.lookup)

    def _known(self, size: int) -> int:
        if size > self.size:
            raise ValueError(f"树只有 {self.size} 个叶 / the tree has only {self.size} leaves, not {size}")
        return size
