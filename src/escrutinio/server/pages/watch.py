"""The watcher's app at ``/watch``: an installable, offline-first page for a watcher's
phone (docs/field.md). The page is rendered once online and then served by its service
worker from the phone's cache; submissions queue in IndexedDB and go to the existing
``POST /api/v1/photos`` and ``POST /api/v1/entries`` with a ``client_id`` each, so a
retry never counts twice.

The service worker and the manifest are served from the site's root (a service worker
controls only the paths under its own URL), everything else from ``/static``.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from escrutinio.server.pages import client
from escrutinio.server.pages.views import STATIC, _gate, locale_of, render
from escrutinio.server.pages.i18n import translations

router = APIRouter(include_in_schema=False)
WATCH_ROLES = ("watcher", "typist")
# bump when the app's files change, so phones drop the old cache
VERSION = "1"


@router.get("/watch")
async def watch(request: Request, contest: str | None = None):
    user, refusal = await _gate(request, WATCH_ROLES)
    if refusal:
        return refusal
    layout = await client.get(request, "/api/v1/units/_", contest=contest)
    ok = layout.ok and isinstance(layout.body, dict)
    body = layout.body if ok else {}
    mine = await client.get(request, "/api/v1/field/tables") if user.get("role") == "watcher" else None
    tables = mine.body.get("tables", []) if mine is not None and mine.ok and isinstance(mine.body, dict) else []
    response = render(request, "watch.html", user=user, contest=body.get("contest"), choices=body.get("choices") or [],
                      tables=tables, error=None if ok else layout.error, version=VERSION)
    # the service worker keeps its own copy for offline use; the browser's HTTP cache does not
    return response


@router.get("/watch-sw.js")
async def service_worker():
    text = (STATIC / "watch-sw.js").read_text(encoding="utf-8").replace("__VERSION__", VERSION)
    return Response(text, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/watch",
                             "X-Content-Type-Options": "nosniff"})


@router.get("/watch.webmanifest")
async def manifest(request: Request):
    _ = translations(locale_of(request)).gettext
    body = {"name": _("escrutinio: watcher"), "short_name": _("Watcher"), "start_url": "/watch", "scope": "/watch",
            "display": "standalone", "background_color": "#ffffff", "theme_color": "#1d4e89",
            "lang": locale_of(request), "description": _("Report your table's acta, even without a network."),
            "icons": [{"src": "/static/watch-icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]}
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
