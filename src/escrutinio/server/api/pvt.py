"""/api/v1/pvt: attach a PVT design (admin), follow the sampled tables' reports, and a
live estimate from the watchers' agreed copies of the sampled tables (docs/pvt.md)."""
from __future__ import annotations

from dataclasses import replace

import polars as pl
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from escrutinio.pvt.design import Design
from escrutinio.server.api.contest_choice import cached_answer
from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import get_session, pvt as pvt_repo
from escrutinio.server.storage.users import audit

router = APIRouter(tags=["pvt"])


def _attached(request: Request, session) -> tuple[Design, dict]:
    found = pvt_repo.current(session, request.app.state.settings.data_dir)
    if found is None:
        raise services.NotFound("no PVT design is attached to this server (POST /api/v1/pvt/design)")
    return found


def _copies(session, contest: str | None, sample: list[str] | None = None):
    """Official snapshot (layout, law) and the counted copies as a snapshot; with ``sample``,
    also the watchers' single reports of sampled tables not counted yet (SMS or app; see
    :func:`escrutinio.server.storage.field.with_watcher_reports`), and how many those are."""
    info = services.contest_of(session, contest)
    snap = services.snapshot_of(session, info)
    cs = services.copies_snapshot(session, snap)
    if sample is None:
        return info, snap, cs
    from escrutinio.server.storage import field

    cs, single = field.with_watcher_reports(session, snap, cs, sample, services.checker(snap))
    info = {**info, "single_reports": single}
    return info, snap, cs


@router.post("/pvt/design", summary="Attach a PVT design to the election (admin; logged as pvt_design_attached)",
             responses={400: {"description": "not a PVT design file"}})
def attach(request: Request, design: dict = Body(..., description="the JSON written by `escrutinio pvt design`"),
           user: User = Depends(require("admin")), session: Session = Depends(get_session)) -> dict:
    d = Design.from_dict(design)
    out = pvt_repo.attach(session, request.app.state.settings.data_dir, d, user.role)
    audit(session, user, "pvt_design_attached", f"pvt:{out['design_sha256']}", {"n": d.n, "seed": d.seed})
    return out


@router.get("/pvt/design", summary="The attached PVT design (the sample observers committed to)",
            responses={404: {"description": "no design attached"}})
def design(request: Request, user: User = Depends(require(*ALL_ROLES)), session: Session = Depends(get_session)) -> dict:
    d, entry = _attached(request, session)
    return {**d.to_dict(), "attached": entry}


def _progress(request: Request, session: Session, contest: str | None) -> dict:
    d, entry = _attached(request, session)
    # once per change of the server's data, however many pages ask (every entry event
    # makes every open PVT page ask again)
    return services.cached(session, ("pvt-progress", entry["design_sha256"], contest),
                           lambda: _progress_of(session, d, entry, contest))


def _progress_of(session: Session, d: Design, entry: dict, contest: str | None) -> dict:
    from escrutinio.app.pvt import sample_progress

    info, _, cs = _copies(session, contest, d.sample)
    counted = sample_progress(d, cs)
    return {"design_sha256": entry["design_sha256"], "attached": entry, "contest": info["contest"], **counted,
            "single_reports": info["single_reports"],
            "note": "reported = sampled tables whose watchers' copy is agreed (two matching entries), resolved or released, "
                    "or that a watcher reported (SMS or app) with numbers that pass the acta's checks and await their "
                    "second entry (single_reports)"}


def _progress_answer(request: Request, contest: str | None):
    return cached_answer(request, ("pvt-progress", contest), contest, lambda s: _progress(request, s, contest))


@router.get("/pvt/progress", summary="Sampled tables reported so far, per stratum",
            responses={404: {"description": "no design attached or nothing loaded"}})
async def progress(request: Request, contest: str | None = Query(None, max_length=200),
                   user: User = Depends(require(*ALL_ROLES))) -> dict:
    return await _progress_answer(request, contest)


@router.get("/pvt/status", summary="Same as /pvt/progress (used by the PVT page)",
            responses={404: {"description": "no design attached or nothing loaded"}})
async def status(request: Request, contest: str | None = Query(None, max_length=200),
                 user: User = Depends(require(*ALL_ROLES))) -> dict:
    return await _progress_answer(request, contest)


@router.get("/pvt/estimate", summary="Live PVT estimate from the agreed copies of the sampled tables "
            "(the `escrutinio pvt estimate --format json` contract)",
            responses={404: {"description": "no design attached or nothing loaded"},
                       409: {"description": "no sampled table reported yet"}})
async def estimate(request: Request, contest: str | None = Query(None, max_length=200),
                   level: float = Query(0.95, gt=0.5, lt=1.0), user: User = Depends(require(*ALL_ROLES))) -> dict:
    """Once per change of the data, from memory (ETag, 304, gzip: ``server/read_cache.py``)."""
    def compute_in(s):
        d, entry = _attached(request, s)
        return services.cached(s, ("pvt-estimate", entry["design_sha256"], contest, level),
                               lambda: _estimate_of(s, d, entry, contest, level))

    return await cached_answer(request, ("pvt-estimate", contest, level), contest, compute_in)


def _estimate_of(session: Session, d: Design, entry: dict, contest: str | None, level: float) -> dict:
    from escrutinio.app.pvt import estimate_snapshot

    info, snap, cs = _copies(session, contest, d.sample)
    sampled = cs.frame.filter(pl.col("unit").is_in(d.sample))
    if sampled.height == 0:
        raise HTTPException(409, f"none of the {len(d.sample):,} sampled tables has an agreed copy yet")
    out = estimate_snapshot(d, replace(cs, frame=sampled), law_preset=info["preset"], official=snap, level=level).to_dict()
    out["contest"] = info["contest"]
    out["attached"] = entry
    out["source"] = "watchers' agreed copies of the sampled tables, and watchers' single reports awaiting a second entry"
    out["single_reports"] = info["single_reports"]
    return out
