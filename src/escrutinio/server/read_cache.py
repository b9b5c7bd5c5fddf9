"""Answers computed once per change of the data and served from memory (issue 26).

The live pages and the press ask for the same few answers (results, discrepancies, the
PVT estimate) thousands of times between two changes of the data. Each process keeps:

* :class:`DataVersion`: the newest event id and the newest snapshot id, read from the
  database at most every ``Settings.read_version_interval`` seconds (0.25 s), and at
  once after a write made through this process. Every write to the data publishes an
  event in its own transaction, under the server's write lock, so event ids grow in
  commit order: the newest id names the state of the data. An answer about the official
  count alone is keyed by the newest snapshot id (entries do not change it), an answer
  that reads the watchers' copies by the newest event id.
* :class:`ReadCache`: the encoded body of each answer, its gzip-compressed copy and its
  ETag, by (version, endpoint, parameters). A miss is computed once, in a worker thread,
  however many requests wait for it; the others await that computation.

A request answered from the cache opens no database transaction and does not leave the
event loop: the role check (``auth.require``, with its token cache), a dict look-up and
the bytes. ``If-None-Match`` with the current ETag gets 304 and no body;
``Accept-Encoding: gzip`` gets the stored compressed copy.

Errors that follow from the data and the parameters alone (nothing loaded, an unknown
level, a bad filter) are kept like answers; anything else is raised and not kept.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

from fastapi import HTTPException
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from escrutinio.errors import EscrutinioError
from escrutinio.server.guards import charge_query_limit
from escrutinio.server.storage.tables import events, snapshots

clock = time.monotonic

#: answers smaller than this are sent as they are (gzip would save nothing worth a header)
GZIP_MIN = 512
#: errors kept like answers: they follow from the stored data and the request alone
KEPT_ERRORS = (EscrutinioError, LookupError, HTTPException)


@dataclass(frozen=True)
class Versions:
    events: int  #: the newest event id: any change of the data
    snapshots: int  #: the newest snapshot id: a change of the official count


class DataVersion:
    def __init__(self, db, interval: float):
        self._db, self._interval = db, interval
        self._value: Versions | None = None
        self._read_at = float("-inf")
        self._writes_seen = self._official_seen = -1
        self._lock = threading.Lock()
        self.reads = 0  # database reads of the version (tests, benchmark)

    def _own_writes_seen(self, official_only: bool) -> bool:
        """No write through this process since the version in memory was read (for an
        answer about the official count alone: no write that may have changed it)."""
        if official_only:
            return self._official_seen == self._db.official_writes
        return self._writes_seen == self._db.writes

    def _fresh(self, official_only: bool = False) -> bool:
        return (self._value is not None and self._own_writes_seen(official_only)
                and clock() - self._read_at < self._interval)

    def read(self, official_only: bool = False) -> Versions:
        """The version, from the database if the one in memory is older than the interval."""
        with self._lock:
            if self._fresh(official_only):
                return self._value
            # taken before the query: a write committed during it forces another read
            writes, official, at = self._db.writes, self._db.official_writes, clock()
            with self._db.session() as s:
                row = s.execute(select(select(func.max(events.c.id)).scalar_subquery(),
                                       select(func.max(snapshots.c.id)).scalar_subquery())).one()
            self._value = Versions(int(row[0] or 0), int(row[1] or 0))
            self._read_at, self._writes_seen, self._official_seen = at, writes, official
            self.reads += 1
            return self._value

    def peek(self, official_only: bool = False) -> Versions | None:
        """The version in memory, without waiting: None after a write made through this
        process (the caller must read its own write; for ``official_only``, a write that
        may have changed the official count) or when no read has succeeded for four
        intervals; past one interval, a read starts in a worker thread and the version in
        memory answers meanwhile (so the fast path does not stall every interval: the
        answer is at most one database round trip staler than the interval)."""
        if self._value is None or not self._own_writes_seen(official_only):
            return None
        age = clock() - self._read_at
        if age >= self._interval and not self._lock.locked():
            try:
                asyncio.get_running_loop().run_in_executor(None, self._read_quietly)
            except RuntimeError:  # no running loop: the caller reads it itself
                return None
        return self._value if age < 4 * self._interval else None

    def _read_quietly(self) -> None:
        try:
            self.read()
        except Exception:  # the route's own read reports the database's trouble
            pass

    async def current(self, official_only: bool = False) -> Versions:
        if self._fresh(official_only):
            return self._value
        if self._value is not None and self._own_writes_seen(official_only) and self._lock.locked():
            # another request is reading it: the one in memory is at most one interval older
            return self._value
        return await run_in_threadpool(self.read, official_only)


@dataclass(frozen=True)
class Cached:
    status: int
    body: bytes
    gzipped: bytes | None
    etag: str  # strong, of the uncompressed body; the gzip copy's is etag + "-gz"
    media_type: str = "application/json"
    error: BaseException | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


def encoded(body: bytes, status: int = 200, media_type: str = "application/json") -> Cached:
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN else None
    if gz is not None and len(gz) >= len(body):
        gz = None
    return Cached(status, body, gz, digest, media_type)


class ReadCache:
    """Bounded by entry count and bytes; the oldest entries go first (entries of an older
    data version are never asked for again, so insertion order is the right order)."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 128 * 1024 * 1024):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[Hashable, Cached] = OrderedDict()
        self._bytes = 0
        self._inflight: dict[Hashable, concurrent.futures.Future] = {}
        self._routes: dict[tuple[str, bytes], tuple[tuple, bool]] = {}
        self._lock = threading.Lock()
        self.misses = 0

    def peek(self, key: Hashable) -> Cached | None:
        return self._entries.get(key)

    #: URLs remembered for the fast path (bounded: each distinct query string is one)
    MAX_ROUTES = 4096

    def remember(self, path: str, query: bytes, key: tuple, official_only: bool) -> None:
        routes = self._routes
        if (path, query) not in routes:
            if len(routes) >= self.MAX_ROUTES:
                routes.clear()
            routes[(path, query)] = (key, official_only)

    def route(self, path: str, query: bytes) -> tuple[tuple, bool] | None:
        return self._routes.get((path, query))

    async def get(self, key: Hashable, compute: Callable[[], Cached]) -> Cached:
        hit = self._entries.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                return hit
            waiting = self._inflight.get(key)
            if waiting is None:
                mine = self._inflight[key] = concurrent.futures.Future()
        if waiting is not None:
            return await asyncio.wrap_future(waiting)
        try:
            value = await run_in_threadpool(self._build, compute)
        except BaseException as exc:
            with self._lock:
                self._inflight.pop(key, None)
            mine.set_exception(exc)
            raise
        with self._lock:
            self._store(key, value)
            self._inflight.pop(key, None)
        mine.set_result(value)
        return value

    def _build(self, compute: Callable[[], Cached]) -> Cached:
        self.misses += 1
        try:
            return compute()
        except KEPT_ERRORS as exc:
            return Cached(0, b"", None, "", error=exc)

    def _store(self, key: Hashable, value: Cached) -> None:
        if value.size > self.max_bytes:
            return
        self._entries[key] = value
        self._bytes += value.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def state(app) -> tuple[DataVersion, ReadCache]:
    s = app.state
    version = getattr(s, "data_version", None)
    if version is None:
        version = s.data_version = DataVersion(s.db, getattr(s.settings, "read_version_interval", 0.25))
        s.read_cache = ReadCache()
    return version, s.read_cache


def _tags(header: str) -> set[str]:
    out = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        out.add(tag.strip('"'))
    return out


def accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


class _Raw(Response):
    """A response from ready-made header bytes (Starlette's constructor re-encodes them)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]):
        self.status_code, self.body, self.background = status, body, None
        self.raw_headers = headers


def respond(request: Request, cached: Cached) -> Response:
    """The cached answer for this request: 304 when the client has it, gzip when it takes it."""
    if cached.error is not None:
        raise cached.error
    return _response(cached, request.headers.get("accept-encoding"), request.headers.get("if-none-match"))


def _response(cached: Cached, accept_encoding: str | None, if_none_match: str | None) -> Response:
    gz = cached.gzipped is not None and accepts_gzip(accept_encoding)
    etag = f'"{cached.etag}-gz"' if gz else f'"{cached.etag}"'
    headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache"), (b"vary", b"Accept-Encoding")]
    if if_none_match and cached.status == 200:
        tags = _tags(if_none_match)
        if "*" in tags or cached.etag in tags or f"{cached.etag}-gz" in tags:
            return _Raw(304, b"", headers)
    body = cached.gzipped if gz else cached.body
    headers += [(b"content-type", cached.media_type.encode()), (b"content-length", str(len(body)).encode())]
    if gz:
        headers.append((b"content-encoding", b"gzip"))
    return _Raw(cached.status, body, headers)


def as_cached(out) -> Cached:
    """A computed answer as stored: bytes (JSON already), a Response, or anything
    FastAPI would encode (encoded here exactly as FastAPI would)."""
    if isinstance(out, Cached):
        return out
    if isinstance(out, (bytes, bytearray)):
        return encoded(bytes(out))
    if isinstance(out, Response):
        return encoded(bytes(out.body), out.status_code, out.media_type or "application/json")
    from fastapi.encoders import jsonable_encoder
    from starlette.responses import JSONResponse

    return encoded(JSONResponse(jsonable_encoder(out)).body)


async def answer(request: Request, key: tuple, compute: Callable[[], object], official_only: bool = False) -> Response:
    """The answer named by ``key`` at the current data version: from memory, or computed
    once (``compute`` runs in a worker thread and opens its own session). ``official_only``:
    the answer reads the official snapshots alone (entries do not change it).

    Only for routes that admit every role (the public included): the route's URL is then
    remembered for :class:`FastReads`, which answers it again without FastAPI."""
    version, cache = state(request.app)
    v = await version.current(official_only)
    hit = await cache.get((_stamp(v, official_only), *key), lambda: as_cached(compute()))
    cache.remember(request.scope["path"], request.scope.get("query_string", b""), key, official_only)
    return respond(request, hit)


def _stamp(v: Versions, official_only: bool) -> tuple:
    return ("s", v.snapshots) if official_only else ("e", v.events)


class FastReads:
    """Innermost middleware: a GET of a URL a cached route has already answered, at a data
    version still fresh in memory, is answered here from the cache, without FastAPI's
    routing, parameter validation and dependency resolution (about half of a cached
    read's cost). Everything outside still runs (security headers, rate limits, input
    bounds). The caller's credentials are still checked on every request: no token is
    the public (which these routes admit); a token must be one the token cache verified
    less than ``token_cache_seconds`` ago; anything else (an unknown, malformed or not yet
    verified token, a stale version, an answer not in memory) goes to the route, which
    answers 401 or computes as usual."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            response = self._answer(scope)
            if response is not None:
                return await response(scope, receive, send)
        refusal = charge_query_limit(scope)
        if refusal is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def _answer(self, scope) -> Response | None:
        app = scope.get("app")
        state_ = getattr(app, "state", None) if app is not None else None
        cache: ReadCache | None = getattr(state_, "read_cache", None)
        if cache is None:
            return None
        route = cache.route(scope["path"], scope.get("query_string", b""))
        if route is None:
            return None
        v = state_.data_version.peek(route[1])
        if v is None:
            return None
        hit = cache.peek((_stamp(v, route[1]), *route[0]))
        if hit is None or hit.error is not None:
            return None
        accept = match = authorization = cookie = None
        for k, val in scope["headers"]:
            if k == b"accept-encoding":
                accept = val.decode("latin-1")
            elif k == b"if-none-match":
                match = val.decode("latin-1")
            elif k == b"authorization":
                authorization = val.decode("latin-1")
            elif k == b"cookie":
                cookie = val.decode("latin-1")
        from escrutinio.server import auth

        if not auth.known_caller(state_, authorization, cookie):
            return None
        return _response(hit, accept, match)
