"""Reading the results log for publication (LOG's repository module): published lines,
the Merkle tree over the stored entries, checkpoints, and an acta's records.

The tree's leaf hashes are cached per process and per database: a stored entry never
changes (the database refuses it), so only new entries are hashed on each request. The
cache checks that the last entry it hashed still carries the same stored hash, and
starts over if not.
"""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from escrutinio.publication.checkpoint import Checkpoint
from escrutinio.publication.log import entry_bytes_from_row, line_from_row
from escrutinio.publication.merkle import MerkleTree
from escrutinio.server.storage.tables import checkpoints, log_entries

PAGE = 5000
_trees: dict[str, tuple[MerkleTree, list[str]]] = {}
_lock = threading.Lock()


def _key(session: Session) -> str:
    bind = session.get_bind()
    url = bind.engine.url.render_as_string(hide_password=True)
    schema = bind.engine.dialect.default_schema_name or ""
    return f"{url}#{schema}#{id(bind.engine)}"


def size(session: Session) -> int:
    last = session.execute(select(func.max(log_entries.c.seq))).scalar()
    return 0 if last is None else int(last) + 1


def rows(session: Session, start: int = 0, stop: int | None = None) -> Iterator:
    """Stored rows with ``start <= seq < stop`` in order, fetched page by page."""
    seq = start
    while stop is None or seq < stop:
        q = select(log_entries).where(log_entries.c.seq >= seq).order_by(log_entries.c.seq).limit(PAGE)
        if stop is not None:
            q = q.where(log_entries.c.seq < stop)
        page = session.execute(q).all()
        if not page:
            return
        yield from page
        seq = int(page[-1].seq) + 1


def lines(session: Session, start: int = 0, stop: int | None = None) -> Iterator[str]:
    for r in rows(session, start, stop):
        yield line_from_row(r.seq, r.time, r.role, r.kind, r.payload, r.prev, r.hash)


def tree(session: Session) -> MerkleTree:
    """The Merkle tree over every stored entry (ask it for ``root(n)`` or proofs at
    any earlier size ``n``)."""
    n = size(session)
    key = _key(session)
    with _lock:
        cached = _trees.get(key)
        if cached is not None:
            t, last = cached
            if len(t) > n or (len(t) and _stored_hash(session, len(t) - 1) != last):
                cached = None
        if cached is None:
            t, last = MerkleTree(), ""
        if len(t) < n:
            sha = hashlib.sha256
            for r in rows(session, len(t), n):
                if int(r.seq) != len(t):
                    raise LookupError(f"the log has no entry {len(t)} (next stored is {r.seq})")
                t.append(sha(b"\x00" + entry_bytes_from_row(r.seq, r.time, r.role, r.kind, r.payload, r.prev)).digest())
                last = r.hash
            if len(t) < n:
                raise LookupError(f"the log has {len(t)} entries, not {n}")
        _trees[key] = (t, last)  # the last stored hash is enough to notice a rewritten tail
        return t


def extend_tree(session: Session, first: int, leaves: list[bytes], last_hash: str) -> bool:
    """Add the leaf hashes of entries ``first, first + 1, ...`` just appended in
    ``session`` to the cached tree, when it ends at ``first`` (True if added). Should the
    transaction roll back, :func:`tree` notices at its next call (the log is shorter than
    the tree, or its entry at the tree's end carries another hash) and starts over."""
    key = _key(session)
    with _lock:
        cached = _trees.get(key)
        if cached is None or len(cached[0]) != first:
            return False
        cached[0].extend(leaves)
        _trees[key] = (cached[0], last_hash)
        return True


def _stored_hash(session: Session, seq: int) -> str | None:
    return session.execute(select(log_entries.c.hash).where(log_entries.c.seq == seq)).scalar()


def entry(session: Session, seq: int) -> dict | None:
    r = session.execute(select(log_entries).where(log_entries.c.seq == seq)).first()
    if r is None:
        return None
    return {"seq": int(r.seq), "time": r.time, "role": r.role, "kind": r.kind, "payload": json.loads(r.payload),
            "prev": r.prev}


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return [Checkpoint(int(r.tree_size), r.root_hash, r.time, r.signature, r.key_id, int(r.id))
            for r in session.execute(select(checkpoints).order_by(checkpoints.c.tree_size, checkpoints.c.id))]


def latest_checkpoint(session: Session) -> Checkpoint | None:
    r = session.execute(select(checkpoints).order_by(checkpoints.c.tree_size.desc(), checkpoints.c.id.desc()).limit(1)).first()
    return None if r is None else Checkpoint(int(r.tree_size), r.root_hash, r.time, r.signature, r.key_id, int(r.id))


def add_checkpoint(session: Session, cp: Checkpoint) -> Checkpoint:
    cid = session.execute(insert(checkpoints).values(tree_size=cp.tree_size, root_hash=cp.root_hash, time=cp.time,
                                                     signature=cp.signature, key_id=cp.key_id)
                          .returning(checkpoints.c.id)).scalar_one()
    return Checkpoint(cp.tree_size, cp.root_hash, cp.time, cp.signature, cp.key_id, int(cid))


RECORD_KINDS = ("official_record", "copy_agreed", "copy_resolved", "quarantine_released")


def unit_records(session: Session, unit: str, contest: str | None = None, limit: int = 200) -> list[dict]:
    """The log entries that publish an acta's numbers, newest first."""
    needle = '"unit":' + json.dumps(unit, ensure_ascii=False)
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    q = (select(log_entries).where(log_entries.c.kind.in_(RECORD_KINDS), log_entries.c.payload.like(pattern, escape="\\"))
         .order_by(log_entries.c.seq.desc()).limit(limit))
    out = []
    for r in session.execute(q):
        payload = json.loads(r.payload)
        if payload.get("unit") != unit or (contest is not None and payload.get("contest") != contest):
            continue
        out.append({"seq": int(r.seq), "time": r.time, "role": r.role, "kind": r.kind, "payload": payload,
                    "prev": r.prev})
    return out
