"""Inclusion proofs for one acta: that its published record is entry N of the log
whose signed tree head a checkpoint carries.

A proof document (what ``GET /api/v1/log/inclusion`` answers and ``verify-log
--inclusion`` prints)::

    {"unit": "...", "contest": "...", "seq": 17, "entry": {...the entry...},
     "leaf_hash": "<hex>", "tree_size": 40, "root_hash": "<hex>",
     "proof": ["<hex>", ...], "checkpoint": {...signed checkpoint of tree_size...}}

To check it by hand: leaf = SHA-256(0x00 || canonical JSON of the entry); fold the
proof with RFC 9162 2.1.3.2; the result must equal ``root_hash``, which the checkpoint
signs.
"""
from __future__ import annotations

import hashlib

from escrutinio.publication.checkpoint import Checkpoint, signature_problem
from escrutinio.publication.entry import ENTRY_KEYS, canonical_json
from escrutinio.publication.merkle import MerkleTree, verify_inclusion
from escrutinio.publication.totals import COPY_KINDS

RECORD_KINDS = COPY_KINDS | {"official_record"}


class UnitRecords:
    """A verify_log observer that keeps every leaf hash (32 bytes an entry) and the
    latest published records of one unit, to prove them afterwards."""

    def __init__(self, unit: str, contest: str | None = None):
        self.unit, self.contest = unit, contest
        self.leaves: list[bytes] = []
        self.found: dict[tuple[str, str], dict] = {}  # (contest, official|copy) -> entry

    def __call__(self, entry: dict, leaf: bytes) -> None:
        self.leaves.append(leaf)
        if entry["kind"] in RECORD_KINDS:
            p = entry["payload"]
            if p.get("unit") == self.unit and (self.contest is None or p.get("contest") == self.contest):
                which = "official" if entry["kind"] == "official_record" else "copy"
                self.found[(p.get("contest"), which)] = entry

    def proofs(self, checkpoints: list[Checkpoint]) -> list[dict]:
        tree = MerkleTree(self.leaves)
        out = []
        for (contest, which), entry in sorted(self.found.items()):
            seq = entry["seq"]
            covering = [cp for cp in checkpoints if cp.tree_size > seq and cp.tree_size <= len(self.leaves)]
            cp = covering[-1] if covering else None
            size = cp.tree_size if cp else len(self.leaves)
            out.append({"unit": self.unit, "contest": contest, "record": which, "seq": seq, "entry": entry,
                        "leaf_hash": self.leaves[seq].hex(), "tree_size": size, "root_hash": tree.root(size).hex(),
                        "proof": [h.hex() for h in tree.inclusion_proof(seq, size)],
                        "checkpoint": cp.to_dict() if cp else None})
        return out


def check_proof(doc: dict, public_key) -> list[str]:
    """What is wrong with an inclusion proof document (empty when it proves inclusion
    in a tree whose head the public key signed)."""
    problems = []
    try:
        entry = {k: doc["entry"][k] for k in ENTRY_KEYS}
        leaf = hashlib.sha256(b"\x00" + canonical_json(entry)).digest()
        seq, size = int(doc["seq"]), int(doc["tree_size"])
        root = bytes.fromhex(doc["root_hash"])
        path = [bytes.fromhex(h) for h in doc["proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        return [f"malformed inclusion proof: {exc}"]
    if doc.get("leaf_hash") and doc["leaf_hash"] != leaf.hex():
        problems.append("the leaf hash does not match the entry")
    if entry["seq"] != seq:
        problems.append(f"the entry is seq {entry['seq']}, the proof is for {seq}")
    if not verify_inclusion(leaf, seq, size, path, root):
        problems.append(f"the audit path does not lead from entry {seq} to root {doc['root_hash'][:16]}... "
                        f"of the first {size} entries")
    cp_doc = doc.get("checkpoint")
    if not cp_doc:
        problems.append("no signed checkpoint covers this entry yet")
    else:
        cp = Checkpoint.from_dict(cp_doc)
        if cp.tree_size != size or cp.root_hash != doc["root_hash"]:
            problems.append("the checkpoint signs a different tree than the proof uses")
        if public_key is None:
            problems.append("no public key to check the checkpoint's signature")
        else:
            why = signature_problem(cp, public_key)
            if why:
                problems.append(f"checkpoint: {why}")
    return problems
