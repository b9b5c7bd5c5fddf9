"""Live results (official count, watchers' copies, side by side), projection, places."""
from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from escrutinio.app import parse_pairs
from escrutinio.server.api.contest_choice import cached_answer, contest_required
from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import copies, official

router = APIRouter(tags=["results"])


@router.get("/results", summary="Totals, verdict and completeness (the `escrutinio results --format json` contract)",
            response_class=Response,
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                       304: {"description": "unchanged since the ETag sent in If-None-Match"},
                       400: {"description": "bad level, filter or source"}, 404: {"description": "nothing loaded"}})
async def results(request: Request,
                  source: str = Query("official", pattern="^(official|copies|both)$",
                                      description="official count, counted watchers' copies, or both side by side"),
                  level: str | None = Query(None, max_length=100, description="one row per area at this level (default country)"),
                  contest: str | None = Query(None, max_length=200),
                  filter: list[str] = Query([], max_length=20, description="LEVEL=VALUE, repeatable"),
                  user: User = Depends(require(*ALL_ROLES))) -> Response:
    """With ``source=both``: ``official``, ``copies`` and ``official_same_units`` (the
    official count restricted to the actas that have a counted copy, for a like-for-like
    comparison). Computed once per change of the data and served from memory
    (``server/read_cache.py``): ETag and ``If-None-Match`` (304), gzip on request."""
    filters = tuple(sorted(parse_pairs(filter, option="filter").items()))
    # the official count changes only with a new snapshot; the copies with any entry
    return await cached_answer(request, ("results", source, contest, level, filters), contest,
                               lambda s: services.results_json(s, source, contest, level, dict(filters)),
                               official_only=source == "official")


@router.get("/projection", summary="Projection from the latest (partial) official snapshot",
            responses={404: {"description": "nothing loaded"}})
def projection(request: Request, background: BackgroundTasks, contest: str | None = Query(None, max_length=200),
               user: User = Depends(require(*ALL_ROLES))) -> dict:
    """Computed once per snapshot after it is loaded, and stored; ``status: "pending"``
    until then. A projection lost to a restart is started again by the next request."""
    if (missing := contest_required(request, contest)) is not None:
        return missing
    with request.app.state.db.session() as s:
        out = services.projection(s, contest, request.app.state.settings)
    key = (out["snapshot_id"], out["contest"])
    if out.get("status") == "pending" and key not in _running:
        _running.add(key)

        def run() -> None:
            try:
                services.compute_projection(request.app.state.db, key[1], key[0], request.app.state.settings)
            finally:
                _running.discard(key)

        background.add_task(run)
    return out


_running: set[tuple[int, str]] = set()


@router.get("/places", summary="Polling places (lat/lon where known), tables counted and the leader",
            responses={404: {"description": "nothing loaded"}})
def places(request: Request, contest: str | None = Query(None, max_length=200),
           user: User = Depends(require(*ALL_ROLES))) -> dict:
    if (missing := contest_required(request, contest)) is not None:
        return missing
    with request.app.state.db.session() as s:
        return services.places(s, contest)


@router.get("/contests", summary="Contests loaded: latest snapshot and double-entry progress")
def contests(request: Request, user: User = Depends(require(*ALL_ROLES))) -> list[dict]:
    with request.app.state.db.session() as s:
        out = []
        for name, info in official.latest(s).items():
            d = info["description"]
            out.append({"contest": name, "election": d["election"], "snapshot_id": info["snapshot_id"], "units": info["units"],
                        "exported_at": d["exported_at"], "loaded_at": info["loaded_at"], "choices": d["choices"],
                        "levels": d["levels"], "copies": copies.states(s, name)})
        return out
