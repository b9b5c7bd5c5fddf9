"""``POST /api/v1/official``: an admin loads an official snapshot file."""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field

from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import official
from escrutinio.server.uploads import UPLOAD_PREFIX, DecompressionLimit, check_counts, check_decompression

log = logging.getLogger("escrutinio.server")


def _publication_due(db, settings) -> bool:
    """The latest checkpoint has no static folder (lost to a crash or a restart)."""
    from escrutinio.server import checkpointing
    from escrutinio.server.storage import publication as repo

    with db.session() as s:
        latest = repo.latest_checkpoint(s)
    return latest is not None and not checkpointing._folder(settings.data_dir, latest.tree_size).exists()


@asynccontextmanager
async def publication_lifespan(app):
    """At start-up, write the static folder of the latest checkpoint again if it is
    missing (in the background, as after a load); at shutdown, let a folder being
    written finish (bounded)."""
    if importlib.util.find_spec("escrutinio.server.checkpointing") is None:
        yield
        return
    from escrutinio.server import checkpointing

    db, settings = app.state.db, app.state.settings
    try:
        if await asyncio.to_thread(_publication_due, db, settings):
            checkpointing.schedule_publication(db.url, settings.data_dir, settings.signing_key)
    except Exception:  # serving comes first; the checkpoint loop retries
        log.exception("static publication at start-up")
    try:
        yield
    finally:
        await asyncio.to_thread(checkpointing.wait_published, 30.0)


router = APIRouter(tags=["official count"], lifespan=publication_lifespan)


class LoadResult(BaseModel):
    snapshot_id: int
    units: int
    created: bool
    contests: list[str] = []
    in_force: list[str] = Field([], description="contests this file now shows: none for an export older than the "
                                                "one in force (kept as history)")
    same_content_as: int | None = Field(None, description="the stored snapshot holding the same records, when the "
                                                          "file is a known count under new bytes (nothing added)")
    note: str | None = None
    checkpoint: dict | None = None


def _safe_name(name: str | None) -> str:
    base = Path(name or "upload").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "upload"


def _spool(upload: UploadFile, target: Path, limit: int) -> None:
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"{upload.filename}: larger than the limit of {limit:,} bytes")
            out.write(chunk)
    if size == 0:
        raise HTTPException(422, f"{upload.filename}: empty file")


def sign_in_load(session, settings, log_first: int) -> dict | None:
    """Sign the checkpoint in the load's own transaction (issue 26): its entries were
    appended by this transaction, from payloads checked as they were encoded, so the
    signing does not read and parse them again. Under a savepoint: a signing failure
    is reported in the answer and the load still commits."""
    if importlib.util.find_spec("escrutinio.server.checkpointing") is None:
        return None
    from escrutinio.server import checkpointing

    try:
        with session.begin_nested():
            out = checkpointing.maybe_sign(session, settings, force=True, trusted_from=log_first)
        return out if isinstance(out, dict) else {"signed": bool(out)}
    except Exception as exc:  # the load commits; say why it is not signed yet
        log.warning("checkpoint not signed: %s", exc)
        return {"signed": False, "error": str(exc)}


# how long the projection waits for the load's static publication to finish (below)
PUBLICATION_WAIT_SECONDS = 300.0


def after_load(db, settings, contests: list[str], snapshot_id: int) -> None:
    from escrutinio.server.checkpointing import wait_published

    # The load's static publication runs in its own thread; the projection waits for it, so
    # that the two largest allocations after a load do not add up: at 1,000,000 actas the two
    # together peaked at 2.5 GB, the publication alone at 1.8 GB (benchmarks/bench_scale_pg.py).
    # Bounded: a publication that hangs delays the projection, never stops it.
    wait_published(PUBLICATION_WAIT_SECONDS)
    for contest in contests:
        try:
            with db.session(write=True) as s:
                services.record_seen(s, contest)
        except Exception:  # pragma: no cover - logged, the next change recomputes it
            log.exception("discrepancies after snapshot %s", snapshot_id)
        services.compute_projection(db, contest, snapshot_id, settings)


@router.post("/official", response_model=LoadResult, summary="Load an official snapshot (admin)",
             responses={409: {"description": "conflict"}, 413: {"description": "file too large"},
                        422: {"description": "the file cannot be read"}})
def load_official(request: Request, background: BackgroundTasks, file: UploadFile = File(...),
                  mapping: UploadFile | None = File(None, description="a mapping TOML file"),
                  mapping_name: str | None = Form(None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                                                  description="or the name of a bundled mapping"),
                  user: User = Depends(require("admin"))) -> LoadResult:
    """Read ``file`` the way `escrutinio results` reads it (any bundled layout, or the
    given mapping) and store it in one transaction: every acta row or none. The same
    file (by SHA-256), or the same records under new bytes, loaded again adds nothing and
    returns the first load's id. A file of another election is refused (409). An export
    older than the one in force is kept as history and does not replace it."""
    db, settings = request.app.state.db, request.app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX, dir=settings.data_dir))
    try:
        path = work / _safe_name(file.filename)
        _spool(file, path, settings.max_upload_bytes)
        sha = services.sha256_file(path)
        with db.session() as s:
            existing = official.find(s, sha)
        if existing:
            return LoadResult(snapshot_id=existing["id"], units=existing["units"], created=False)
        mapping_arg, mapping_label = None, None
        if mapping is not None and mapping.filename:
            mpath = work / "mapping.toml"
            _spool(mapping, mpath, 1 << 20)
            mapping_arg, mapping_label = str(mpath), "uploaded:" + services.sha256_file(mpath)
        elif mapping_name:
            mapping_arg = mapping_label = mapping_name
        try:  # h23: a bomb is refused before the reader decompresses it in memory
            check_decompression(path, file.filename or path.name, settings.max_decompressed_bytes,
                                settings.max_decompression_ratio)
        except DecompressionLimit as exc:
            raise HTTPException(422, str(exc)) from None
        snaps, preset = services.read_upload(path, mapping_arg)
        try:  # h23: a count no acta can have would wrap the server's int64 totals
            check_counts(snaps, file.filename or path.name, 2**31 - 1)
        except DecompressionLimit as exc:
            raise HTTPException(422, str(exc)) from None
        checkpoint = None
        try:
            with db.session(write=True) as s:
                out = official.store(s, file_sha256=sha, source=file.filename or path.name, mapping=mapping_label,
                                     snaps=snaps, presets={x.contest: preset for x in snaps}, user=user)
                if out["created"] and out["same_content_as"] is None:
                    checkpoint = sign_in_load(s, settings, out["log_first"])
        except official.OtherElection as exc:
            raise HTTPException(409, str(exc)) from exc
        except official.NotCanonical as exc:  # nothing was loaded
            raise HTTPException(422, f"{file.filename}: {exc}; nothing was loaded") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.pop("log_first", None)
    contests = [x.contest for x in snaps]
    note = None
    if out["same_content_as"] is not None:
        note = f"the same records as snapshot {out['same_content_as']} (the same count under new bytes): nothing added"
    elif out["created"]:
        if out["in_force"]:
            background.add_task(after_load, db, settings, out["in_force"], out["snapshot_id"])
        older = [c for c in contests if c not in out["in_force"]]
        if older:
            note = (f"exported before the snapshot in force for {', '.join(older)}: kept as history, "
                    "the public pages still show the later export")
    return LoadResult(**out, contests=contests, note=note, checkpoint=checkpoint)


@router.get("/snapshots", summary="Official snapshots loaded")
def list_snapshots(request: Request, user: User = Depends(require(*ALL_ROLES))) -> list[dict]:
    with request.app.state.db.session() as s:
        return official.list_snapshots(s)
