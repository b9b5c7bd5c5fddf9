"""The change feed behind ``GET /api/v1/events``: one row per change, written in the
same transaction as the change, so every worker process sees the same events in the
same order by polling the table (no in-process state)."""
from __future__ import annotations

import json

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from escrutinio.publication.entry import utc_now
from escrutinio.server.storage import log
from escrutinio.server.storage.tables import events

KINDS = ("snapshot", "entry", "discrepancy", "checkpoint", "pvt", "projection", "audit")


def publish(session: Session, kind: str, data: dict | None = None) -> None:
    """Record an event; its ``seq`` is the log's last sequence number at that point."""
    session.execute(insert(events).values(**row(kind, data, log.head(session)[0] - 1)))


def row(kind: str, data: dict | None, seq: int) -> dict:
    """The events row :func:`publish` stores, for a caller that knows the log's last
    sequence number ``seq`` (it appended to the log in the same transaction) and inserts
    the row with its other writes."""
    body = {**(data or {}), "kind": kind, "seq": seq}
    return {"time": utc_now(), "kind": kind, "seq": seq, "data": json.dumps(body, ensure_ascii=False)}


def last_id(session: Session) -> int:
    """The change counter: any write to the server's data publishes an event."""
    return int(session.execute(select(func.max(events.c.id))).scalar() or 0)


def since(session: Session, after: int, limit: int = 500) -> list[tuple[int, str, str]]:
    q = select(events.c.id, events.c.kind, events.c.data).where(events.c.id > after).order_by(events.c.id).limit(limit)
    return [(int(r.id), r.kind, r.data) for r in session.execute(q)]
