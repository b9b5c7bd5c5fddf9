"""docs/publication.md's worked inclusion proof is reproduced byte for byte by the code."""
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escrutinio.publication.checkpoint import public_pem, sign
from escrutinio.publication.log import MemoryLog
from escrutinio.publication.merkle import hash_children, verify_inclusion
from escrutinio.publication.verify import verify_log

DOC = Path(__file__).resolve().parents[2] / "docs" / "publication.md"


def example():
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"escrutinio worked example").digest())
    log = MemoryLog()
    log.append("admin", "official_snapshot", {"snapshot_id": 1, "file_sha256": "0" * 64, "source": "computo.csv",
                                              "election": "Ejemplo", "contests": ["Presidente"], "units": 4, "exported_at": None},
               "2026-11-30T10:00:00.000000Z")
    for i, (unit, dep, a, b) in enumerate([("1001", "La Paz", 120, 80), ("1002", "La Paz", 95, 101),
                                           ("2001", "Oruro", 60, 77), ("2002", "Oruro", 88, 42)]):
        log.append("admin", "official_record", {"snapshot_id": 1, "contest": "Presidente", "unit": unit,
                                                "levels": {"country": "Bolivia", "department": dep},
                                                "values": {"registered": 250, "blank": 3, "null": 5, "emitted": a + b + 8,
                                                           "A": a, "B": b}},
                   f"2026-11-30T10:00:00.00000{i + 1}Z")
    return key, log, sign(key, len(log), log.tree.root().hex(), "2026-11-30T10:00:01.000000Z")


def test_worked_example_matches_the_docs():
    doc = DOC.read_text(encoding="utf-8")
    key, log, cp = example()
    assert public_pem(key.public_key()).decode().splitlines()[1] in doc
    for line in log.lines():
        assert line in doc
    assert cp.signature in doc and cp.root_hash in doc and cp.key_id in doc
    leaves = log.tree.leaves
    proof = log.tree.inclusion_proof(3)
    for h in (leaves[3], *proof):
        assert h.hex() in doc
    n23 = hash_children(leaves[2], leaves[3])
    n0123 = hash_children(hash_children(leaves[0], leaves[1]), n23)
    assert n23.hex() in doc and n0123.hex() in doc
    assert hash_children(n0123, leaves[4]).hex() == cp.root_hash
    assert verify_inclusion(leaves[3], 3, 5, proof, bytes.fromhex(cp.root_hash))
    assert verify_log(log.lines(), key.public_key(), [cp]).ok
