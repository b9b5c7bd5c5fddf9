"""The results log's storage (contract C3): append-only, hash-chained entries.

Entries are appended in the caller's transaction, under the writer lock, so the chain
has no gaps or forks: ``seq`` runs from 0 and each ``prev`` is the hash of the entry
before. The entry format and hashing are :mod:`escrutinio.publication.entry`'s; this
module only stores them. The public log carries roles, never user names or tokens.
"""
from __future__ import annotations

import hashlib
import json
from typing import Iterable, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from escrutinio.publication.entry import GENESIS_PREV, canonical_json, entry_hash, make_entry, utc_now
# the canonical bytes of an entry with its payload's canonical text spliced in: the same
# function the checkpoint's chain check and verify-log hash stored rows with
from escrutinio.publication.log import entry_bytes_from_row as _entry_bytes
from escrutinio.server.storage.db import write_lock
from escrutinio.server.storage.tables import log_entries


def last_row():
    """The query for the last entry's (seq, hash): one row, or none on an empty log."""
    return select(log_entries.c.seq, log_entries.c.hash).order_by(log_entries.c.seq.desc()).limit(1)


def head_of(seq: int | None, hash_: str | None) -> tuple[int, str]:
    """(next seq, hash of the last entry) from the last entry's ``seq`` and ``hash``
    (both None on an empty log)."""
    return (0, GENESIS_PREV) if seq is None else (int(seq) + 1, hash_)


def head(session: Session) -> tuple[int, str]:
    """(next seq, hash of the last entry) of the log."""
    row = session.execute(last_row()).first()
    return head_of(None, None) if row is None else head_of(row.seq, row.hash)


def size(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(log_entries)).scalar() or 0)


def append(session: Session, role: str, kind: str, payload: dict) -> dict:
    """Append one entry; returns it with its ``hash``."""
    return append_many(session, role, kind, [payload])[0]


def append_many(session: Session, role: str, kind: str, payloads: Iterable[dict]) -> list[dict]:
    """Append entries of one kind, in order, in the caller's transaction."""
    write_lock(session)
    rows, out = chained(head(session), role, kind, payloads)
    if len(rows) > 1:
        _insert_rows(session, [tuple(r[c] for c in COLUMNS) for r in rows])
    elif rows:  # one entry (a typist's copy): a plain INSERT is the cheapest
        session.execute(insert(log_entries), rows)
    return out


def chained(head: tuple[int, str], role: str, kind: str, payloads: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """The log rows of ``payloads`` chained after ``head`` (next seq, last hash), and the
    entries with their ``hash``. For a caller that read the head under the writer lock
    together with its other reads and inserts the rows itself, in the same transaction."""
    seq, prev = head
    time = utc_now()
    rows, out = [], []
    for payload in payloads:
        entry = make_entry(seq, role, kind, payload, prev, time)
        h = entry_hash(entry)
        rows.append({"seq": seq, "time": time, "role": role, "kind": kind,
                     "payload": canonical_json(payload).decode("utf-8"), "prev": prev, "hash": h})
        out.append({**entry, "hash": h})
        prev, seq = h, seq + 1
    return rows, out


COLUMNS = ("seq", "time", "role", "kind", "payload", "prev", "hash")


def _insert_rows(session: Session, rows: list[tuple]) -> None:
    """Insert log rows (tuples in :data:`COLUMNS` order) in the caller's transaction, in
    one batch: COPY on PostgreSQL, the driver's executemany on SQLite (SQLAlchemy's
    per-row parameter handling cost as much as the hashing for a 35,000-row snapshot)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY log_entries ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(f"INSERT INTO log_entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                             rows)


def append_canonical(session: Session, role: str, kind: str, payloads: Sequence[str]) -> tuple[int, int, str]:
    """Append entries whose payloads are already canonical JSON text (e.g. encoded by
    Polars for a 35,000-row snapshot). Each payload is spot-checked against
    :func:`canonical_json` (first and last, and every one when there are few).
    Returns (first seq, last seq, last hash)."""
    if not payloads:
        seq, prev = head(session)
        return seq, seq - 1, prev
    probe = payloads if len(payloads) <= 16 else [payloads[0], payloads[len(payloads) // 2], payloads[-1]]
    for p in probe:
        if canonical_json(json.loads(p)).decode("utf-8") != p:
            raise ValueError(f"payload is not canonical JSON: {p[:200]}")
    from escrutinio.server.storage import publication

    write_lock(session)
    first, prev = head(session)
    # the Merkle tree's cache up to here, so that the leaves hashed below extend it (the
    # checkpoint signed next then hashes no entry twice)
    try:
        publication.tree(session)
    except LookupError:  # a log with a gap: the checkpoint's chain check names it; store anyway
        pass
    time = utc_now()
    seq = first
    rows, leaves = [], []
    sha = hashlib.sha256
    for p in payloads:
        data = _entry_bytes(seq, time, role, kind, p, prev)
        h = sha(data).hexdigest()
        leaves.append(sha(b"\x00" + data).digest())
        rows.append((seq, time, role, kind, p, prev, h))
        prev, seq = h, seq + 1
    _insert_rows(session, rows)
    publication.extend_tree(session, first, leaves, prev)
    return first, seq - 1, prev


def entries(session: Session, start: int = 0, stop: int | None = None) -> list[dict]:
    """Entries with ``start <= seq < stop`` as stored (payload parsed), plus ``hash``."""
    q = select(log_entries).where(log_entries.c.seq >= start).order_by(log_entries.c.seq)
    if stop is not None:
        q = q.where(log_entries.c.seq < stop)
    return [{"seq": int(r.seq), "time": r.time, "role": r.role, "kind": r.kind, "payload": json.loads(r.payload),
             "prev": r.prev, "hash": r.hash} for r in session.execute(q)]
