"""Tamper-evident publication: the results log, its Merkle tree, signed checkpoints,
verification and static exports. Pure code: no database, no web framework."""
