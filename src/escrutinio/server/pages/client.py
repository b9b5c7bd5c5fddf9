"""The pages read and write through the public JSON API, in process (as datasette's
internal client does): what a page shows is, by construction, what its JSON link returns,
and every role check stays where the API makes it. The user's token travels from the
HttpOnly cookie to the API as a bearer header; it is never written into a page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

TOKEN_COOKIE = "escrutinio_token"
ROLES = ("admin", "coordinator", "typist", "watcher", "reader")


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("error") or self.body.get("detail") or self.status)
        return str(self.body or self.status)


def _internal(app):
    """The application, with its in-process calls marked in their ASGI scope (the rate
    limits count the page's own request, not each of its calls; guards.INTERNAL_CALL)."""
    from escrutinio.server.guards import INTERNAL_CALL

    async def marked(scope, receive, send):
        await app({**scope, INTERNAL_CALL: True}, receive, send)

    return marked


def token_of(request: Request) -> str | None:
    return request.cookies.get(TOKEN_COOKIE) or None


async def call(request: Request, method: str, path: str, *, params=None, json=None, data=None, files=None,
               token: str | None = None, timeout: float = 120.0) -> Reply:
    """One API call on the same application, with the caller's credentials."""
    headers = {"accept": "application/json"}
    from_cookie = token is None
    token = token if token is not None else token_of(request)
    if from_cookie and getattr(request.state, "stale_token", False):
        token = None
    if token:
        headers["authorization"] = f"Bearer {token}"
    if params:
        params = {k: v for k, v in params.items() if v not in (None, "")}
    transport = httpx.ASGITransport(app=_internal(request.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://escrutinio.internal", timeout=timeout) as client:
        response = await client.request(method, path, params=params, json=json, data=data, files=files, headers=headers)
        if response.status_code == 401 and from_cookie and token and method == "GET":
            # A revoked or expired token in the cookie must not hide the public pages: read
            # as the public, and let the page drop the cookie.
            request.state.stale_token = True
            headers.pop("authorization")
            response = await client.request(method, path, params=params, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Reply(response.status_code, body)


async def get(request: Request, path: str, **params) -> Reply:
    return await call(request, "GET", path, params=params)


async def raw(request: Request, path: str) -> tuple[int, bytes, str]:
    """A binary resource (an acta's photo) with the caller's credentials:
    (status, bytes, content type)."""
    headers = {}
    token = None if getattr(request.state, "stale_token", False) else token_of(request)
    if token:
        headers["authorization"] = f"Bearer {token}"
    transport = httpx.ASGITransport(app=_internal(request.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://escrutinio.internal", timeout=60.0) as client:
        response = await client.get(path, headers=headers)
    return response.status_code, response.content, response.headers.get("content-type", "application/octet-stream")
