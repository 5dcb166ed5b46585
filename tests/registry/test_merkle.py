"""RFC 9162 Merkle hashing and proofs against the Certificate Transparency reference vectors
and against the RFC's recursive definitions, for every tree shape up to 70 leaves."""

from __future__ import annotations

import hashlib

import pytest

from registry import merkle
from registry.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 test leaves and roots used by every CT implementation (transparency-dev/merkle).
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CT_CONSISTENCY = [
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


# The RFC's definitions, written as literally as possible, as the oracle.
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = _k(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = _k(len(d))
    return [*path(m, d[:k]), mth(d[k:])] if m < k else [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def _over(data: list[bytes]) -> merkle.Subtree:
    return lambda a, b: mth(data[a:b])


def test_reference_roots_for_every_size() -> None:
    compact = CompactRange()
    assert compact.root() == CT_ROOTS[0]
    for n, leaf in enumerate(CT_LEAVES, start=1):
        compact.append(leaf_hash(leaf))
        assert compact.root() == CT_ROOTS[n]
        assert merkle.root_from_leaf_hashes([leaf_hash(x) for x in CT_LEAVES[:n]]) == CT_ROOTS[n]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(index, size, _over(CT_LEAVES))
    assert [p.hex() for p in proof] == expected
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("first", "second", "expected"), CT_CONSISTENCY)
def test_reference_consistency_proofs(first: int, second: int, expected: list[str]) -> None:
    proof = consistency_proof(first, second, _over(CT_LEAVES))
    assert [p.hex() for p in proof] == expected
    verify_consistency(first, second, CT_ROOTS[first], CT_ROOTS[second], proof)


DATA = [i.to_bytes(2, "big") for i in range(70)]


def test_every_shape_matches_the_rfc_definitions() -> None:
    compact = CompactRange()
    stored: dict[tuple[int, int], bytes] = {}
    for n in range(1, len(DATA) + 1):
        h = leaf_hash(DATA[n - 1])
        stored[(0, n - 1)] = h
        for level, index, node in compact.append(h):
            stored[(level, index)] = node
        root = mth(DATA[:n])
        assert compact.root() == root
        # proofs built from stored perfect subtrees, as the server does
        from_store = merkle.subtree_from_lookup(lambda lv, ix: stored[(lv, ix)])
        for m in range(n):
            proof = inclusion_proof(m, n, from_store)
            assert proof == path(m, DATA[:n])
            verify_inclusion(leaf_hash(DATA[m]), m, n, proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, from_store)
            assert proof == subproof(m, DATA[:n], True)
            verify_consistency(m, n, mth(DATA[:m]), root, proof)


def test_inclusion_rejects_every_alteration() -> None:
    n = 13
    root = mth(DATA[:n])
    for m in range(n):
        proof = inclusion_proof(m, n, _over(DATA))
        leaf = leaf_hash(DATA[m])
        bad_cases = [
            (leaf_hash(b"other"), m, n, proof, root),
            (leaf, (m + 1) % n, n, proof, root),
            (leaf, m, 2 * n, proof, root),
            (leaf, m, n, proof[:-1], root),
            (leaf, m, n, [*proof, proof[0]], root),
            (leaf, m, n, proof, mth(DATA[:n - 1])),
            (leaf, m, n, [bytes(32), *proof[1:]], root),
        ]
        for case in bad_cases:
            with pytest.raises(ProofError):
                verify_inclusion(*case)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(DATA[0]), 5, 5, [], root)


def test_consistency_rejects_every_alteration() -> None:
    n = 21
    for m in range(1, n):
        proof = consistency_proof(m, n, _over(DATA))
        a, b = mth(DATA[:m]), mth(DATA[:n])
        forked = mth([*DATA[:m - 1], b"fork"])
        for args in [
            (m, n, forked, b, proof),
            (m, n, a, mth(DATA[:n - 1]), proof),
            (m, n, a, b, proof[:-1]),
            (m, n, a, b, [*proof, proof[-1]]),
            (m, 4 * n, a, b, proof),
        ]:
            with pytest.raises(ProofError):
                verify_consistency(*args)
    with pytest.raises(ProofError):
        verify_consistency(3, 3, mth(DATA[:3]), mth(DATA[:2]), [])
    with pytest.raises(ProofError):
        verify_consistency(0, 3, mth([]), mth(DATA[:3]), [])
