"""Differences between the official count and the counted watchers' copies."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from escrutinio.server.api.contest_choice import cached_answer
from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import events, log
from escrutinio.server.storage.tables import explanations
from escrutinio.server.storage.users import audit
from escrutinio.publication.entry import utc_now

router = APIRouter(tags=["discrepancies"])


@router.get("/discrepancies", summary="Every differing field of every acta with a counted copy and an official row",
            responses={404: {"description": "nothing loaded"}})
async def discrepancies(request: Request, contest: str | None = Query(None, max_length=200),
                        area: str | None = Query(None, max_length=300, description="an area name at any level, or a path prefix"),
                        field: str | None = Query(None, max_length=200),
                        min_size: int | None = Query(None, ge=0, le=10**9, description="smallest |copy - official|"),
                        explained: bool | None = Query(None),
                        user: User = Depends(require(*ALL_ROLES))) -> list[dict]:
    """``[{"unit", "field", "official", "copy", "difference", "since", "explained", "note", ...}]``.
    Once per change of the data, from memory (ETag, 304, gzip: ``server/read_cache.py``)."""
    return await cached_answer(request, ("discrepancies", contest, area, field, min_size, explained), contest, lambda s: services.discrepancies(s, contest, area, field, min_size, explained))


@router.get("/discrepancies/by-area", summary="Actas compared and actas with differences, by area",
            responses={404: {"description": "nothing loaded"}})
async def by_area(request: Request, contest: str | None = Query(None, max_length=200),
                  level: str | None = Query(None, max_length=100), user: User = Depends(require(*ALL_ROLES))) -> dict:
    return await cached_answer(request, ("discrepancies-by-area", contest, level), contest, lambda s: services.discrepancies_by_area(s, contest, level))


@router.get("/discrepancies/only-in", summary="Actas present in one source only",
            responses={404: {"description": "nothing loaded"}})
async def only_in(request: Request, contest: str | None = Query(None, max_length=200),
                  user: User = Depends(require(*ALL_ROLES))) -> dict:
    return await cached_answer(request, ("discrepancies-only-in", contest), contest, lambda s: services.only_in(s, contest))


class ExplainIn(BaseModel):
    unit: str = Field(min_length=1, max_length=100)
    contest: str | None = Field(None, max_length=200)
    field: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=2000)


@router.post("/discrepancies/explain", summary="Mark a difference explained, with a note (coordinator; logged)",
             responses={404: {"description": "no such difference"}})
def explain(body: ExplainIn, request: Request, user: User = Depends(require("coordinator"))) -> dict:
    with request.app.state.db.session(write=True) as s:
        info = services.contest_of(s, body.contest)
        current = [d for d in services.discrepancies(s, info["contest"], field=body.field) if d["unit"] == body.unit]
        if not current:
            raise HTTPException(404, f"acta {body.unit} has no difference in {body.field!r}")
        s.execute(explanations.insert().values(unit=body.unit, contest=info["contest"], field=body.field, note=body.note,
                                               user_id=user.id, time=utc_now()))
        entry = log.append(s, user.role, "discrepancy_explained",
                           {"unit": body.unit, "contest": info["contest"], "field": body.field, "note": body.note})
        audit(s, user, "discrepancy_explained", f"acta:{info['contest']}:{body.unit}", {"field": body.field, "note": body.note})
        events.publish(s, "discrepancy", {"contest": info["contest"], "unit": body.unit, "field": body.field, "explained": True})
    return {"unit": body.unit, "contest": info["contest"], "field": body.field, "explained": True, "seq": entry["seq"]}
