"""ASGI guards in front of every route: security headers, rate limits, and bounds on
what a request may carry (header and query sizes, control characters).

They are plain ASGI middleware, cheap per request: no database access, no parsing
beyond what the check needs. Order, outermost first (``app.create_app``):
``SecurityHeaders`` (so that every answer, 413 and 429 included, has the headers),
``RateLimit``, the body limit, ``InputGuard``.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import weakref
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.responses import JSONResponse

#: C0 controls, DEL and C1 controls: never part of a unit, a name, a query or a header
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: in a JSON body, free text (a coordinator's note) may hold tabs and line breaks
BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: raw header bytes: C0 controls but tab, and DEL (bytes over 0x7f may be UTF-8)
HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")

#: the pages and the API: scripts only from this origin, nothing framed, nothing sniffed
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=(), payment=()"),
)

SECURITY_NAMES = frozenset(k for k, _ in SECURITY_HEADERS)


def _json(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class SecurityHeaders:
    """Adds the security headers to every HTTP answer that does not set its own."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                have = {k.lower() for k, _ in headers}
                if have.isdisjoint(SECURITY_NAMES):  # the usual case: all of them, at once
                    headers += SECURITY_HEADERS
                else:
                    headers += [(k, v) for k, v in SECURITY_HEADERS if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# ------------------------------------------------------------------ rate limits
def _credential(scope) -> str | None:
    """The caller's token (Authorization header or the pages' cookie), if any; only its
    hash is kept as a key."""
    token = None
    for k, v in scope.get("headers") or ():
        if k == b"authorization":
            token = v.partition(b" ")[2].strip() or v
            break
        if k == b"cookie" and token is None:
            try:
                jar = SimpleCookie(v.decode("latin-1"))
            except Exception:
                continue
            if "escrutinio_token" in jar:
                token = jar["escrutinio_token"].value.encode("latin-1")
    return hashlib.sha256(token).hexdigest()[:32] if token else None


#: paths whose query string costs nothing (a resume point, a language, a static file)
QUERY_EXEMPT = ("/api/v1/events", "/static", "/docs", "/login", "/logout")
#: set in the ASGI scope of the pages' in-process calls to the API (pages/client.py), which
#: only the application can set: the page's own request was counted, and its dozen calls
#: must not be (they all came from one made-up address, so every reader's pages shared
#: one bucket: past about five page views a second the pages lost their figures)
INTERNAL_CALL = "escrutinio.internal_call"
#: in the ASGI scope of a request with a query string: a callable that charges the query
#: limit and returns a 429 answer when it is over (None otherwise); called by
#: read_cache.FastReads for what it does not answer from memory (see charge_query_limit)
QUERY_CHARGE = "escrutinio.query_charge"


def charge_query_limit(scope):
    """The 429 answer when this request's query limit is over, else None (no limit set,
    no query string, or charged already)."""
    charge = scope.pop(QUERY_CHARGE, None)
    return charge() if charge is not None else None


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _memory_counters():
    """The ``limits`` library's in-memory storage, expired by one long-lived thread.

    Why: ``MemoryStorage`` starts a new ``threading.Timer`` whenever its last one has
    run out, so under steady traffic a request every 10 ms starts a thread, and
    ``Thread.start()`` waits until that thread is running. On a busy 2-core machine the
    new thread waits for a CPU and the interpreter lock, and the event loop that serves
    every reader waits with it: the server used about 1.2 of 2 cores under a read storm
    while its requests queued (issue 26). The counters, the sliding-window arithmetic and
    the expiry itself stay the library's; only the scheduling differs. One thread per
    process expires every storage, held weakly (a test session makes hundreds of apps)."""
    from limits.storage import MemoryStorage

    class MemoryCounters(MemoryStorage):
        def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the library's private hook
            pass  # expired every EXPIRY_SECONDS by _expire_counters, not by a Timer per 10 ms

    storage = MemoryCounters()
    global _expiry_thread
    with _counters_lock:
        _counters.add(storage)
        if _expiry_thread is None:
            _expiry_thread = threading.Thread(target=_expire_counters, name="rate-limit-expiry", daemon=True)
            _expiry_thread.start()
    return storage


_counters: "weakref.WeakSet" = weakref.WeakSet()
_counters_lock = threading.Lock()
_expiry_thread: threading.Thread | None = None


def _expire_counters() -> None:
    while True:
        time.sleep(EXPIRY_SECONDS)
        with _counters_lock:
            alive = list(_counters)
        for storage in alive:
            storage._MemoryStorage__expire_events()
        del alive


# Expired counters are dropped this often; a counter past its window is already ignored
# by the next hit on its key (the library checks expiry on every read), so this bounds
# only the memory held by keys that are not seen again.
EXPIRY_SECONDS = 1.0


class RateLimit:
    """Per token (requests that carry one) and per client address (those that do not),
    in the ``limits`` library's sliding-window counters (O(1) per hit) held in this
    process's memory (about 10 us a request for two limits, against 2 us for a dict of
    our own: a well-kept library is worth that); failed sign-ins (401) are counted per address so that rotating
    made-up tokens does not escape the limit; concurrent event streams are capped per
    key. Over a limit: 429 with ``Retry-After`` (seconds)."""

    def __init__(self, app, settings):
        from limits import parse_many
        from limits.strategies import SlidingWindowCounterRateLimiter

        self.app = app
        self.limiter = SlidingWindowCounterRateLimiter(_memory_counters())
        self.client_limits = parse_many(settings.rate_limit_client) if settings.rate_limit_client else []
        self.token_limits = parse_many(settings.rate_limit_token) if settings.rate_limit_token else []
        self.query_limits = parse_many(settings.rate_limit_query) if settings.rate_limit_query else []
        self.failure_limits = parse_many("20/minute") if settings.rate_limit_client else []
        self.max_streams = settings.max_streams
        self.streams: dict[str, int] = {}

    @staticmethod
    def _refusal(wait: int | None):
        return None if wait is None else _json(429, f"too many requests; retry in {wait} s", {"Retry-After": str(wait)})

    def _retry_after(self, limit, *keys) -> int:
        reset = self.limiter.get_window_stats(limit, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _over(self, limits, *keys) -> int | None:
        for limit in limits:
            if not self.limiter.hit(limit, *keys):
                return self._retry_after(limit, *keys)
        return None

    def _failures_over(self, client: str) -> int | None:
        for limit in self.failure_limits:
            if not self.limiter.test(limit, "auth-fail", client):
                return self._retry_after(limit, "auth-fail", client)
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get(INTERNAL_CALL):
            return await self.app(scope, receive, send)
        client = _client(scope)
        token = _credential(scope)
        # a sign-in through the login form carries its token in the body: an attempt too
        attempt = bool(token) or (scope["path"] == "/login" and scope["method"] == "POST")
        wait = self._failures_over(client) if attempt else None
        if wait is None:
            wait = self._over(self.token_limits, "token", token) if token else self._over(self.client_limits, "client", client)
        if wait is None and scope.get("query_string") and self.query_limits and not scope["path"].startswith(QUERY_EXEMPT):
            # charged only if the request gets past the answers already in memory
            # (read_cache.FastReads): the limit is on computing distinct filters, and a
            # newsroom behind one address re-reading a cached view computes nothing
            key = token or client
            scope[QUERY_CHARGE] = lambda: self._refusal(self._over(self.query_limits, "query", key))
        if wait is not None:
            return await _json(429, f"too many requests; retry in {wait} s",
                               {"Retry-After": str(wait)})(scope, receive, send)
        stream_key = None
        if scope["path"].endswith("/events"):
            stream_key = f"t:{token}" if token else f"c:{client}"
            if self.streams.get(stream_key, 0) >= self.max_streams:
                return await _json(429, f"at most {self.max_streams} event streams at once",
                                   {"Retry-After": "5"})(scope, receive, send)
            self.streams[stream_key] = self.streams.get(stream_key, 0) + 1

        async def watch(message):
            if message["type"] == "http.response.start" and message["status"] == 401 and attempt:
                for limit in self.failure_limits:
                    self.limiter.hit(limit, "auth-fail", client)
            await send(message)

        try:
            # only a sign-in attempt's 401 is counted: any other answer passes unwatched
            await self.app(scope, receive, watch if attempt else send)
        finally:
            if stream_key is not None:
                left = self.streams.get(stream_key, 1) - 1
                if left > 0:
                    self.streams[stream_key] = left
                else:
                    self.streams.pop(stream_key, None)


# ------------------------------------------------------------------ input bounds
def bad_text(value: str, body: bool = False) -> str | None:
    """Why ``value`` may not be stored (None when it may)."""
    m = (BODY_CONTROL if body else CONTROL).search(value)
    if m:
        return f"control character U+{ord(m.group()):04X} is not allowed"
    if SURROGATE.search(value):
        return "a lone UTF-16 surrogate is not text"
    return None


#: identifiers: not even a line break (free text elsewhere may hold tabs and line breaks)
STRICT_KEYS = frozenset({"unit", "contest", "client_id", "name", "role", "field", "photo_sha256", "level", "source",
                         "mapping_name", "area"})


def _walk(obj, path: str = "body"):
    """(where, why) of the first string in a parsed JSON document that may not be stored."""
    stack = [(path, obj, None)]
    while stack:
        where, o, key = stack.pop()
        if isinstance(o, str):
            why = bad_text(o, body=key not in STRICT_KEYS)
            if why:
                return where, why
        elif isinstance(o, dict):
            for k, v in o.items():
                why = bad_text(k)
                if why:
                    return f"{where} key", why
                stack.append((f"{where}.{k}", v, k))
        elif isinstance(o, list):
            stack.extend((f"{where}[{i}]", v, key) for i, v in enumerate(o))
    return None


class InputGuard:
    """422 for control characters (and lone surrogates) in the path, the query, a form
    or a JSON body, whichever database is behind: PostgreSQL refuses NUL in text while
    SQLite stores it, so the check cannot be left to the database. 431 for oversized
    headers, 414 for an oversized query string."""

    def __init__(self, app, settings):
        self.app = app
        self.max_query = settings.max_query_bytes
        self.max_header = settings.max_header_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        problem = self._check_head(scope)
        if problem is not None:
            return await _json(*problem)(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] in ("POST", "PUT", "PATCH") and ctype in (b"application/json", b"application/x-www-form-urlencoded"):
            body, more, messages = b"", True, []
            while more:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
            found = self._check_body(body, ctype)
            if found is not None:
                return await _json(422, f"{found[0]}: {found[1]}")(scope, receive, send)
            replay = iter([{"type": "http.request", "body": body, "more_body": False}])

            async def replayed():
                try:
                    return next(replay)
                except StopIteration:
                    return await receive()

            return await self.app(scope, replayed, send)
        await self.app(scope, receive, send)

    def _check_head(self, scope):
        query = scope.get("query_string", b"")
        if len(query) > self.max_query:
            return 414, f"query string longer than {self.max_query} bytes"
        why = bad_text(scope["path"])
        if why:
            return 422, f"path: {why}"
        if query:
            # the whole query percent-decoded at once (separators are not controls)
            raw = unquote_to_bytes(query) if b"%" in query else query
            why = bad_text(raw.decode("utf-8", "replace"))
            if why:
                return 422, f"query string: {why}"
        for k, v in scope.get("headers") or ():
            if len(v) > self.max_header:
                return 431, f"header {k.decode('latin-1')[:40]} longer than {self.max_header} bytes"
            if HEADER_CONTROL.search(v):
                return 422, f"header {k.decode('latin-1')[:40]}: control characters are not allowed"
        last = dict(scope.get("headers") or []).get(b"last-event-id")
        if last is not None and last.strip() and (not last.strip().isdigit() or len(last.strip()) > 10
                                                  or int(last.strip()) > 2**31 - 1):
            return 422, "Last-Event-ID must be an event id (an integer up to 2147483647)"
        return None

    @staticmethod
    def _check_body(body: bytes, ctype: bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return ("body", "not UTF-8 text") if ctype == b"application/json" else None
        if ctype == b"application/x-www-form-urlencoded":
            for k, v in parse_qsl(text, keep_blank_values=True):
                why = bad_text(k) or bad_text(v, body=k not in STRICT_KEYS)
                if why:
                    return f"form field {k[:40]!r}", why
            return None
        if "\\" not in text and not CONTROL.search(text):
            # without an escape a JSON string is a stretch of this text, which holds no
            # control character (nor a surrogate: strict UTF-8 decodes none): nothing
            # to find, and the body is not parsed twice (every entry comes this way)
            return None
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            return None  # not JSON: the route's own validation answers 422
        return _walk(doc)
