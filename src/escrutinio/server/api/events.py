"""``GET /api/v1/events``: server-sent events announcing every change.

Every worker process reads the database's event table (once per ``events_poll`` for all
its streams: :class:`escrutinio.server.event_hub.EventHub`), so every worker and every
instance sends the same events in the same order (LOG's checkpointing publishes
``checkpoint`` events there, PVT its ``pvt`` events, through
:func:`escrutinio.server.storage.events.publish`). ``id:`` is the event's row id:
a reconnecting client's ``Last-Event-ID`` resumes where it left off. Streams end after
``events_lifetime`` seconds with a ``retry`` hint (clients reconnect transparently).
"""
from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.event_hub import EventHub

router = APIRouter(tags=["events"])


def _hub(app) -> EventHub:
    hub = getattr(app.state, "event_hub", None)
    if hub is None:
        hub = app.state.event_hub = EventHub(app.state.db, app.state.settings.events_poll)
    return hub


@router.get("/events", summary="Server-sent events: snapshot, entry, discrepancy, checkpoint, pvt, projection",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, after: int | None = Query(None, ge=0, le=2**31 - 1, description="resume after this event id"),
                 user: User = Depends(require(*ALL_ROLES))):
    settings = request.app.state.settings
    hub = _hub(request.app)
    last_header = request.headers.get("last-event-id")
    start = after if after is not None else (int(last_header) if last_header and last_header.isdigit() else None)

    async def gen():
        last = start if start is not None else await hub.head()
        yield "retry: 3000\n: escrutinio events\n\n"
        deadline = time.monotonic() + settings.events_lifetime
        beat = time.monotonic()
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            new = await hub.after(last)
            if new:
                # one chunk per poll, not per event: with a thousand streams each send costs
                last = new[-1][0]
                yield "".join(f"id: {eid}\nevent: {kind}\ndata: {data}\n\n" for eid, kind, data in new)
            if time.monotonic() - beat > 15:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(settings.events_poll)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
