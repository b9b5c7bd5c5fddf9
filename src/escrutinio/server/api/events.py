"""``GET /api/v1/events``: server-sent events announcing every change.

Each stream polls the database's event table (and the checkpoints table), so every
worker process sends the same events in the same order. ``id:`` is the event's row id:
a reconnecting client's ``Last-Event-ID`` resumes where it left off. Streams end after
``events_lifetime`` seconds with a ``retry`` hint (clients reconnect transparently).
"""
from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import events
from escrutinio.server.storage.tables import checkpoints

router = APIRouter(tags=["events"])


def _poll(db, after: int, checkpoint_after: int):
    with db.session() as s:
        rows = events.since(s, after)
        cps = s.execute(select(checkpoints.c.id, checkpoints.c.tree_size, checkpoints.c.root_hash)
                        .where(checkpoints.c.id > checkpoint_after).order_by(checkpoints.c.id)).all()
    return rows, cps


def _start(db) -> tuple[int, int]:
    with db.session() as s:
        return events.last_id(s), int(s.execute(select(func.max(checkpoints.c.id))).scalar() or 0)


@router.get("/events", summary="Server-sent events: snapshot, entry, discrepancy, checkpoint, pvt, projection",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, after: int | None = Query(None, ge=0, description="resume after this event id"),
                 user: User = Depends(require(*ALL_ROLES))):
    db, settings = request.app.state.db, request.app.state.settings
    last_header = request.headers.get("last-event-id")
    start = after if after is not None else (int(last_header) if last_header and last_header.isdigit() else None)

    async def gen():
        last, cp_last = await asyncio.to_thread(_start, db)
        if start is not None:
            last = start
        yield "retry: 3000\n: escrutinio events\n\n"
        deadline = time.monotonic() + settings.events_lifetime
        beat = time.monotonic()
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            rows, cps = await asyncio.to_thread(_poll, db, last, cp_last)
            for eid, kind, data in rows:
                last = eid
                yield f"id: {eid}\nevent: {kind}\ndata: {data}\n\n"
            for cid, size, root in cps:
                cp_last = cid
                body = json.dumps({"kind": "checkpoint", "seq": int(size) - 1, "tree_size": int(size), "root_hash": root})
                yield f"event: checkpoint\ndata: {body}\n\n"
            if time.monotonic() - beat > 15:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(settings.events_poll)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
