"""The Merkle tree over the results log, exactly as RFC 6962 section 2.1 (and RFC 9162
section 2.1) define it.

Leaves are the log entries' canonical bytes; a leaf hash is SHA-256(0x00 || bytes) and an
interior node is SHA-256(0x01 || left || right). The tree over n leaves splits at k, the
largest power of two smaller than n, so a tree head for n entries never changes once
written: later entries only add nodes to its right. That is what makes consistency
proofs between two published heads possible.

Everything here works on 32-byte digests (``bytes``); hex is for the edges (JSON, CLI).
Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step, so that an
observer can check our code against the RFC line by line.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """A tree over a list of leaf hashes, with the RFC 6962 tree head, audit paths and
    consistency proofs for any earlier size.

    Hashes of complete, aligned subtrees never change as the log grows, so they are
    cached: after the first proof over a large log, later proofs cost O(log n) hashes.
    """

    _CACHE_MIN = 64  # cache subtrees at least this large (smaller ones are cheap to redo)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()):
        self.leaves: list[bytes] = list(leaf_hashes)
        self._cache: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.leaves)

    def append(self, leaf: bytes) -> None:
        self.leaves.append(leaf)

    def extend(self, leaves: Iterable[bytes]) -> None:
        self.leaves.extend(leaves)

    # -------------------------------------------------------------- tree hash
    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 1:
            return self.leaves[lo]
        complete = n >= self._CACHE_MIN and n & (n - 1) == 0
        if complete:
            hit = self._cache.get((lo, n))
            if hit is not None:
                return hit
        k = _split(n)
        out = hash_children(self._mth(lo, lo + k), self._mth(lo + k, hi))
        if complete:
            self._cache[(lo, n)] = out
        return out

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) (the whole tree by default)."""
        size = len(self.leaves) if size is None else size
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"tree size {size} outside 0..{len(self.leaves)}")
        return EMPTY_ROOT if size == 0 else self._mth(0, size)

    # ------------------------------------------------------- inclusion proofs
    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[0:size]) of RFC 6962 2.1.1: the audit path of leaf ``index``."""
        size = len(self.leaves) if size is None else size
        if not 0 <= index < size <= len(self.leaves):
            raise ValueError(f"leaf {index} is not in a tree of size {size} (log has {len(self.leaves)})")
        path: list[bytes] = []
        lo, hi, m = 0, size, index
        # Walk down from the root; RFC order is leaf-to-root, so collect then reverse.
        while hi - lo > 1:
            k = _split(hi - lo)
            if m < k:
                path.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._mth(lo, lo + k))
                lo, m = lo + k, m - k
        path.reverse()
        return path

    # ----------------------------------------------------- consistency proofs
    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 2.1.2."""
        second = len(self.leaves) if second is None else second
        if not 0 <= first <= second <= len(self.leaves):
            raise ValueError(f"no consistency proof from {first} to {second} (log has {len(self.leaves)})")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, whole) + [self._mth(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self._mth(lo, lo + k)]


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size, O(log n)
    memory. It gives the tree head of every prefix while the log streams past, which is
    how a verifier checks a million entries without holding them."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # perfect subtrees, largest (leftmost) first

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        n = self.size
        while n & 1 == 0:  # merge equal-sized perfect subtrees
            right = self._stack.pop()
            self._stack[-1] = hash_children(self._stack[-1], right)
            n >>= 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        out = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            out = hash_children(left, out)
        return out


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    r = CompactRange()
    for h in leaf_hashes:
        r.append(h)
    return r.root()


# ------------------------------------------------------------ verification
def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose head is ``root``?"""
    if index >= size or index < 0:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does ``path`` prove the tree of ``first`` leaves (head
    ``first_root``) is a prefix of the tree of ``second`` leaves (head ``second_root``)?"""
    if first < 0 or second < first:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path  # the empty tree is a prefix of every tree
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:  # an exact power of two: its head is a node of the tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
