"""Open event streams share one reader of the event table per process (issue 26): many
streams cost one query per interval, and each still gets every event once, in order."""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from escrutinio.server.event_hub import EventHub


class _Table:
    def __init__(self):
        self.rows: list[tuple[int, str, str]] = []
        self.queries = 0


class _DB:
    def __init__(self, table):
        self.table = table

    @contextmanager
    def session(self):
        yield self.table


def _run(coro):
    # its own thread: in the whole suite Playwright's sync API keeps a loop running in this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _patch(monkeypatch, table):
    from escrutinio.server.storage import events

    def last_id(s):
        s.queries += 1
        return s.rows[-1][0] if s.rows else 0

    def since(s, after, limit=500):
        s.queries += 1
        return [r for r in s.rows if r[0] > after][:limit]

    monkeypatch.setattr(events, "last_id", last_id)
    monkeypatch.setattr(events, "since", since)


def test_many_streams_one_read_and_every_event_once(monkeypatch):
    table = _Table()
    _patch(monkeypatch, table)
    hub = EventHub(_DB(table), interval=0.05)

    async def scenario():
        start = await hub.head()
        assert start == 0
        table.rows += [(i, "entry", f"{{\"n\": {i}}}") for i in range(1, 1201)]  # more than one read's page
        await asyncio.sleep(0.06)
        before = table.queries
        got = await asyncio.gather(*[hub.after(start) for _ in range(300)])
        reads = table.queries - before
        return got, reads

    got, reads = _run(scenario())
    assert reads <= 3  # one refresh (paged by 500), not one per stream
    for events in got:
        ids = [e[0] for e in events]
        assert ids == list(range(1, 1201))


def test_a_client_from_long_ago_is_served_from_the_database(monkeypatch):
    table = _Table()
    _patch(monkeypatch, table)
    table.rows += [(i, "entry", "{}") for i in range(1, 10)]
    hub = EventHub(_DB(table), interval=0.0)

    async def scenario():
        await hub.head()  # starts at 9: events 1..9 are not in memory
        table.rows.append((10, "entry", "{}"))
        return await hub.after(3)

    assert [e[0] for e in _run(scenario())] == list(range(4, 11))
