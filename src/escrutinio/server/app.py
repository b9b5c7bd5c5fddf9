"""The app factory (contract C5): ``create_app(settings) -> FastAPI``.

The app is stateless: everything lives in the database (and photos in the data
directory), so any number of worker processes behind any load balancer answer alike.
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from escrutinio import __version__
from escrutinio.errors import EscrutinioError, InputError, MappingError
from escrutinio.observers.double_entry import EntryError
from escrutinio.server.auth import ROLES
from escrutinio.server.services import NotFound
from escrutinio.server.settings import Settings, overrides_from_environment
from escrutinio.server.storage import Database

log = logging.getLogger("escrutinio.server")
API = "/api/v1"


class BodyLimit:
    """Refuse request bodies over the limit before reading them (Content-Length), and
    stop reading chunked bodies once they pass it: 413 either way."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings

    def limit(self, path: str) -> int:
        if path == f"{API}/official":
            return self.settings.max_upload_bytes
        if path == f"{API}/photos":
            return self.settings.max_photo_bytes + 64 * 1024
        return self.settings.max_request_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers and scope.get("http_version") in ("1.0", "1.1"):
            # no body (RFC 9112 6.3): nothing to count (most requests are such reads);
            # HTTP/2 frames a body without either header, so it is counted as before
            return await self.app(scope, receive, send)
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _too_large(limit)(scope, receive, send)
        state = {"seen": 0, "over": False, "replaced": False}

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    state["over"] = True
                    raise _TooLarge(limit)
            return message

        async def guarded_send(message):
            # whatever the app makes of a body cut short (a parse error...), the answer is 413
            if state["over"]:
                if message["type"] == "http.response.start" and not state["replaced"]:
                    state["replaced"] = True
                    await _too_large(limit)(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            if not state["replaced"]:
                state["replaced"] = True
                await _too_large(limit)(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


def _too_large(limit: int):
    return JSONResponse({"error": f"request body larger than {limit:,} bytes"}, status_code=413)


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), ) if not exc.headers else JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        return _error(422, f"{'.'.join(first['loc'])}: {first['msg']}", detail=errors)

    @app.exception_handler(EntryError)
    async def entry_error(request: Request, exc: EntryError):
        return _error(exc.status, str(exc), code=exc.code)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return _error(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(LookupError)
    async def lookup(request: Request, exc: LookupError):
        return _error(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(EscrutinioError)
    async def user_error(request: Request, exc: EscrutinioError):
        status = 422 if isinstance(exc, (InputError, MappingError)) else 400
        return _error(status, str(exc))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (logged on the server)")


def _document_roles(router) -> None:
    """Write each route's admitted roles into the OpenAPI spec as ``x-roles`` (routes
    without a role check are public: every role). Walks included routers too."""
    from fastapi.routing import APIRoute

    def roles_of(dependant) -> set[str] | None:
        found = None
        for dep in dependant.dependencies:
            r = getattr(dep.call, "roles", None)
            if r is not None:
                found = set(r) if found is None else found & set(r)
            inner = roles_of(dep)
            if inner is not None:
                found = inner if found is None else found & inner
        return found

    for route in getattr(router, "routes", ()):
        if isinstance(route, APIRoute):
            roles = roles_of(route.dependant)
            extra = dict(route.openapi_extra or {})
            extra["x-roles"] = sorted(roles if roles is not None else ROLES, key=ROLES.index)
            route.openapi_extra = extra
        inner = getattr(route, "original_router", None)
        if inner is not None:
            _document_roles(inner)


async def _checkpoint_loop(app: FastAPI) -> None:
    """Once a minute while the log grows, let LOG's checkpointing decide whether to sign."""
    if importlib.util.find_spec("escrutinio.server.checkpointing") is None:
        return
    from escrutinio.server import checkpointing
    from escrutinio.server.storage import log as results_log

    db, settings = app.state.db, app.state.settings
    last = -1

    def tick(last: int) -> int:
        with db.session() as s:
            size = results_log.size(s)
            if size == last or size == 0:
                return size
            # the whole log's re-verification, before the writer lock: under it, only
            # what was appended since (every typist waits while the lock is held)
            verified = checkpointing.verify_ahead(s, settings)
        with db.session(write=True) as s:
            checkpointing.maybe_sign(s, settings, verified=verified)
        return size

    while True:
        await asyncio.sleep(settings.checkpoint_interval)
        try:
            last = await asyncio.to_thread(tick, last)
        except Exception:  # keep serving; the next tick retries
            log.exception("background checkpoint")


def _telemetry(settings: Settings) -> dict:
    """FastAPI's OpenTelemetry hooks (FastAPI 0.16x) look for configured providers on
    every request even when there are none: about 20 µs, a third of a cached read's time
    in the app. Off unless ``Settings.otel`` asks for them."""
    import inspect

    if settings.otel or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(settings: Settings | None = None, check_schema: bool = True) -> FastAPI:
    settings = settings or Settings()
    db = Database(settings.database_url)
    if check_schema:
        db.check_schema()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(_checkpoint_loop(app))
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="escrutinio observer network", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, **_telemetry(settings),
                  description="Watchers' copies of actas, double entry, discrepancies with the official count, live "
                              "results and a signed results log. Roles per operation: `x-roles`.")
    app.state.settings = settings
    app.state.db = db
    _install_errors(app)

    from escrutinio.server.api import admin, discrepancies, entries, events, official, results
    from escrutinio.server.api import audit_reports as audit_api, log as log_api, pvt as pvt_api
    from escrutinio.server.api import sms as sms_api
    from escrutinio.server import pages

    for router, prefix in ((official.router, API), (entries.router, API), (results.router, API),
                           (discrepancies.router, API), (events.router, API), (admin.router, API),
                           (log_api.router, API), (pvt_api.router, API), (audit_api.router, API), (sms_api.router, API),
                           (pages.router, "")):
        _document_roles(router)
        app.include_router(router, prefix=prefix)
    static = resources.files("escrutinio.server") / "pages" / "static"
    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _install_docs(app)
    from escrutinio.server.guards import InputGuard, RateLimit, SecurityHeaders

    from escrutinio.server.read_cache import FastReads

    # outermost last: headers on every answer, then the cheap limits, then the body,
    # then (innermost) cached reads answered without the router
    app.add_middleware(FastReads)
    app.add_middleware(InputGuard, settings=settings)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(RateLimit, settings=settings)
    app.add_middleware(SecurityHeaders)
    return app


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>escrutinio observer network: API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script></body></html>
"""


def _install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the copy of ``swagger-ui-dist`` bundled with the
    package (with its licence), not from a CDN."""
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = resources.files("escrutinio.server") / "swagger"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="swagger")


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory`` with several workers: settings from ESCRUTINIO_* variables."""
    import json
    import os

    import sys

    # A worker's event loop answers cached reads without pause while the entries run in
    # threads; a thread back from a database round trip waits for the interpreter lock
    # up to this interval, 10 to 20 times per entry, and while it holds the write lock
    # every other writer waits with it. Python's default, 5 ms, made entries under a read
    # storm several times slower than alone; 0.5 ms left their p99 2.2 to 2.6 times
    # alone, 0.2 ms 1.5 and 1.9 times, for about a tenth fewer cached reads meanwhile
    # (bench_server.py on PostgreSQL, issue 26). The entries come first: they have no
    # other way in, while readers can be served the static snapshots from a CDN.
    sys.setswitchinterval(0.0002)
    raw = json.loads(os.environ.get("ESCRUTINIO_SETTINGS", "{}"))
    # the operator's tuning that `serve` has no option for (rate limits, cache lifetimes),
    # e.g. ESCRUTINIO_SETTINGS_OVERRIDES='{"rate_limit_client": "200/second"}'
    raw.update(overrides_from_environment())
    return create_app(Settings(**raw))
