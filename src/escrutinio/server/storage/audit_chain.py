"""The internal audit log's hash chain (issue 23).

Each ``audit_log`` row carries ``prev`` (the hash of the row before, 64 zeros for the
first) and ``hash`` = SHA-256 of the row's canonical JSON with ``prev``: rewriting,
removing or inserting a row anywhere breaks the chain from that row on, which
:func:`verify` names. The database's triggers refuse updates and deletes; the chain
catches what a database operator could still do outside them.
"""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from escrutinio.server.storage.audit_hash import FIELDS, GENESIS, row_hash, verify  # noqa: F401
from escrutinio.server.storage.db import write_lock
from escrutinio.server.storage.tables import audit_log


def chained(last_id: int | None, last_hash: str | None, row: dict) -> dict:
    """The row that follows the last one (``last_id`` None: the first row): ``row``'s
    fields with its id, ``prev`` and ``hash``. The one place a row is chained, whether
    appended here or written by the entry path with its other rows in one statement."""
    prev = (last_hash or GENESIS) if last_id is not None else GENESIS
    new_id = int(last_id) + 1 if last_id is not None else 1
    return {"id": new_id, "prev": prev, "hash": row_hash(prev, {**row, "id": new_id}), **row}


def append(session: Session, **row) -> int:
    """Insert one audit row, chained to the last one, in the caller's transaction
    (under the writer lock: two writers cannot chain to the same row)."""
    write_lock(session)
    last = session.execute(select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
    full = chained(last.id if last is not None else None, last.hash if last is not None else None, row)
    session.execute(insert(audit_log).values(**full))
    return full["id"]
