"""One reader of the event table per process, shared by every open event stream.

Each ``GET /api/v1/events`` stream used to poll the database on its own, so 500 open
streams made 1,000 queries a second and slowed the typists' entries tenfold (issue 26).
Here a process polls at most once per ``interval`` whatever the number of streams, keeps
the recent events in memory, and every stream reads from that copy. Every worker and
every instance still reads the same table, so each subscriber gets every event once,
in order, whichever instance it is connected to.

A stream resuming from further back than the events kept in memory (a client that was
away) is served from the database directly, once.
"""
from __future__ import annotations

import asyncio
import bisect
import threading
import time

from escrutinio.server.storage import events

KEEP = 4096  # events kept in memory: a few minutes of a busy election night


class EventHub:
    def __init__(self, db, interval: float):
        self._db, self._interval = db, interval
        # the newest KEEP events' ids and rows, as tuples replaced (not changed) by each
        # read: every stream bisects them without a copy (copying a 4,096-item window per
        # stream and poll made a thousand open streams cost more than the entries they carry)
        self._kept: tuple[tuple[int, ...], tuple[tuple[int, str, str], ...]] = ((), ())
        self._last: int | None = None  # the newest event id this process has read
        self._polled_at = float("-inf")
        self._reads = 0
        self._lock = threading.Lock()  # a TestClient may run requests on several event loops

    def _read(self) -> None:
        with self._db.session() as s:
            if self._last is None:
                self._last = events.last_id(s)
                return
            while True:
                rows = events.since(s, self._last)
                if rows:
                    ids, kept = self._kept
                    self._kept = ((*ids, *(r[0] for r in rows))[-KEEP:], (*kept, *rows)[-KEEP:])
                    self._last = rows[-1][0]
                if len(rows) < 500:
                    return

    async def refresh(self) -> None:
        """Read new events if the last read is older than the interval (one reader at a time)."""
        if time.monotonic() - self._polled_at < self._interval:
            return
        if not self._lock.acquire(blocking=False):
            # another stream is reading: wait for its answer (bounded) rather than read too
            seen = self._reads
            for _ in range(400):
                await asyncio.sleep(0.005)
                if self._reads != seen:
                    break
            return
        try:
            await asyncio.to_thread(self._read)
            self._polled_at = time.monotonic()
        finally:
            self._reads += 1
            self._lock.release()

    async def head(self) -> int:
        """The newest event id (read at most ``interval`` ago): where a new stream starts."""
        await self.refresh()
        while self._last is None:  # another stream holds the first read
            await asyncio.sleep(0.01)
            await self.refresh()
        return self._last

    async def after(self, after: int) -> list[tuple[int, str, str]]:
        """Events with an id above ``after``, in order."""
        await self.refresh()
        if self._last is not None and after >= self._last:
            # the usual answer, asked by every open stream several times a second: no copy
            # of the kept ids (a thousand idle streams cost a fifth of a core without this)
            return []
        ids, rows = self._kept
        floor = ids[0] - 1 if ids else self._last
        if floor is not None and after >= floor:
            return list(rows[bisect.bisect_right(ids, after):])
        return await asyncio.to_thread(self._from_database, after)

    def _from_database(self, after: int) -> list[tuple[int, str, str]]:
        with self._db.session() as s:
            return events.since(s, after)
