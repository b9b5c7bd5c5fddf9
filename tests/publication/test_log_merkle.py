"""RFC 6962 / RFC 9162 Merkle tree: published reference vectors, a definitional
implementation written straight from the RFC text, and every (m, n) up to 64."""
import hashlib

import pytest

from escrutinio.publication.merkle import (
    EMPTY_ROOT, CompactRange, MerkleTree, hash_children, hash_leaf, root_of, verify_consistency, verify_inclusion,
)

# The Certificate Transparency reference inputs and tree heads for sizes 0..8.
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


# --- a definitional implementation, line by line from RFC 6962 section 2.1 ---------
def mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m, d):
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def data(n):
    return [f"leaf {i}".encode() for i in range(n)]


def test_reference_tree_heads():
    tree = MerkleTree(hash_leaf(x) for x in CT_LEAVES)
    assert tree.root(0) == EMPTY_ROOT
    for n in range(9):
        assert tree.root(n).hex() == CT_ROOTS[n]
        assert root_of([hash_leaf(x) for x in CT_LEAVES[:n]]).hex() == CT_ROOTS[n]
        assert mth(CT_LEAVES[:n]).hex() == CT_ROOTS[n]


def test_hand_checked_three_leaf_tree():
    # MTH({a, b, c}) = H(0x01 || H(0x01 || H(0x00||a) || H(0x00||b)) || H(0x00||c)): the
    # split is at 2, the largest power of two below 3.
    a, b, c = b"a", b"b", b"c"
    la, lb, lc = (hashlib.sha256(b"\x00" + x).digest() for x in (a, b, c))
    ab = hashlib.sha256(b"\x01" + la + lb).digest()
    expected = hashlib.sha256(b"\x01" + ab + lc).digest()
    tree = MerkleTree([la, lb, lc])
    assert tree.root() == expected
    assert tree.inclusion_proof(2) == [ab]
    assert tree.inclusion_proof(0) == [lb, lc]
    assert tree.consistency_proof(2) == [lc]
    assert verify_inclusion(lc, 2, 3, [ab], expected)
    assert verify_consistency(2, 3, ab, expected, [lc])


def test_reference_inclusion_proofs():
    tree = MerkleTree(hash_leaf(x) for x in CT_LEAVES)
    for (m, n), want in CT_INCLUSION.items():
        got = tree.inclusion_proof(m, n)
        assert [h.hex() for h in got] == want
        assert verify_inclusion(tree.leaves[m], m, n, got, bytes.fromhex(CT_ROOTS[n]))


def test_every_inclusion_proof_up_to_64():
    d = data(64)
    tree = MerkleTree(hash_leaf(x) for x in d)
    for n in range(1, 65):
        root = tree.root(n)
        assert root == mth(d[:n])
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == path(m, d[:n])
            assert verify_inclusion(tree.leaves[m], m, n, proof, root)
            # Another leaf, a leaf past the end, or an altered path does not verify.
            assert not verify_inclusion(tree.leaves[(m + 1) % n], m, n, proof, root) or n == 1
            assert not verify_inclusion(tree.leaves[m], n, n, proof, root)
            if proof:
                bad = list(proof)
                bad[-1] = hashlib.sha256(bad[-1]).digest()
                assert not verify_inclusion(tree.leaves[m], m, n, bad, root)


def test_every_consistency_proof_up_to_64():
    d = data(64)
    tree = MerkleTree(hash_leaf(x) for x in d)
    roots = [tree.root(n) for n in range(65)]
    for n in range(0, 65):
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            if 0 < m < n:
                assert proof == subproof(m, d[:n], True)
            else:
                assert proof == []
            assert verify_consistency(m, n, roots[m], roots[n], proof)
            if 0 < m < n:
                # A forked history (a changed leaf before m) is refused.
                forked = MerkleTree(list(tree.leaves[:n]))
                forked.leaves[m - 1] = hash_leaf(b"altered")
                assert not verify_consistency(m, n, roots[m], forked.root(n), proof)
                assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not verify_consistency(m - 1 if m > 1 else m + 1, n, roots[m], roots[n], proof) or m + 1 == n


def test_compact_range_matches_every_prefix():
    d = data(70)
    c = CompactRange()
    assert c.root() == EMPTY_ROOT
    for i, x in enumerate(d):
        c.append(hash_leaf(x))
        assert c.size == i + 1
        assert c.root() == mth(d[: i + 1])


def test_interior_and_leaf_domains_differ():
    # A leaf can never be mistaken for an interior node (second-preimage protection).
    l, r = hash_leaf(b"x"), hash_leaf(b"y")
    assert hash_children(l, r) != hash_leaf(l + r)


def test_out_of_range_requests_refused():
    tree = MerkleTree(hash_leaf(x) for x in data(5))
    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 6)
    assert not verify_inclusion(tree.leaves[0], 5, 5, [], tree.root())
