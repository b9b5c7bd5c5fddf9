"""Watchers' copies: double entry by typists, resolution by coordinators, photos."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Path as PathParam, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select

from escrutinio.observers import double_entry as de
from escrutinio.publication.entry import utc_now
from escrutinio.server.api.contest_choice import contest_required
from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.observers import photos as photo_facts
from escrutinio.server.storage import copies, official, photo_marks
from escrutinio.server.storage.official import unit_row
from escrutinio.server.storage.tables import entries, photos
from escrutinio.server.storage.users import audit

router = APIRouter(tags=["copies"])

#: an identifier (unit, contest, client id) has no control characters (h23)
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
Unit = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL)]
UnitPath = Annotated[str, PathParam(min_length=1, max_length=100, pattern=NO_CONTROL)]
#: no count on an acta comes near this; it also keeps every value inside int64 (h23)
COUNT_LIMIT = 2**31 - 1
Count = Annotated[StrictInt, Field(ge=0, le=COUNT_LIMIT)]
#: a vote count on a copy may pass the table's registered voters (the acta checks then
#: quarantine it) but not twice them plus this slack (h23)
REGISTERED_FACTOR, REGISTERED_SLACK = 2, 10
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ShaPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")]


class EntryIn(BaseModel):
    unit: Unit
    contest: str | None = Field(None, max_length=200, pattern=NO_CONTROL)
    values: dict[str, Count] = Field(max_length=200)
    client_id: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL,
                           description="chosen by the client; resending it changes nothing")
    photo_sha256: Sha256 | None = None


class EntryOut(BaseModel):
    entry_id: int
    state: str
    replayed: bool = False
    photo_flags: list[dict] = Field([], description="the photo's flags: same photo as another table's, EXIF time or place")


class ResolveIn(BaseModel):
    contest: str | None = Field(None, max_length=200, pattern=NO_CONTROL)
    values: dict[str, Count] = Field(max_length=200)
    note: str = Field("", max_length=2000)


class ReleaseIn(BaseModel):
    contest: str | None = Field(None, max_length=200, pattern=NO_CONTROL)
    note: str = Field("", max_length=2000)


class ActaOut(BaseModel):
    unit: str
    contest: str
    state: str
    findings: list[str] = []


class _Prepared:
    """What an entry needs from the latest official snapshot, worked out before the
    write lock is taken (validation and the acta checks cost more than the write), and
    re-used under the lock unless a new snapshot arrived in between."""

    def __init__(self, s, unit: str, contest: str | None, values: dict, ceiling: int | None = None,
                 checked_later: bool = True):
        # the snapshot's id is checked again with the acta's read under the lock
        # (copies.SnapshotChanged, then current()), so the one this process knows will
        # do; a refusal is never made on it, though (a newer snapshot may hold the unit)
        try:
            self._prepare(s, unit, contest, values, ceiling, checked_later)
        except Exception:
            if not checked_later:
                raise
            self._prepare(s, unit, contest, values, ceiling, False)

    def _prepare(self, s, unit: str, contest: str | None, values: dict, ceiling: int | None, checked_later: bool):
        info = services.contest_of(s, contest, checked_later=checked_later)
        snap = services.snapshot_of(s, info)
        self.snapshot_id, self.contest, self.ceiling = info["snapshot_id"], info["contest"], ceiling
        row = unit_row(snap, unit)
        if row is None:
            # a copy of an acta the official count does not have would be counted and
            # signed into the log as if it existed
            raise HTTPException(422, f"unit {unit!r} is not in the official count of {info['contest']}")
        self.values = de.validate_values(values, snap.choices)
        check_bounds(self.values, row, ceiling)
        # most copies agree with the official count: then there is no difference to
        # record, and the comparison (a query and a few frames) stays off the write lock
        self.same_as_official = all(row.get(f) == v for f, v in self.values.items())
        self.levels = services.unit_levels(snap, unit)
        full = services.checker(snap)
        if copies.entered(s, unit, self.contest):
            # a second entry: the acta's checks run when it agrees; run them here, outside
            # the lock (a one-row frame through every rule, about 2 ms)
            findings = full(self.values)
            self.check = lambda v: findings if dict(v) == self.values else full(v)
        else:
            # a first entry is not checked (the checks are of the agreed values); should
            # another typist's entry land first meanwhile, they run under the lock
            self.check = full

    def current(self, s, unit: str, contest: str | None, values: dict) -> "_Prepared":
        return self if services.contest_of(s, contest)["snapshot_id"] == self.snapshot_id else _Prepared(
            s, unit, contest, values, self.ceiling, checked_later=False)


def check_bounds(values: dict, row: dict, ceiling: int | None) -> None:
    """Every count is at most ``ceiling`` (Settings.max_count); a vote count is also at
    most twice the table's registered voters in the official count, plus 10, when that
    count states them. Between the roll and that bound a copy is accepted and the acta
    checks quarantine it (a copy that contradicts the official roll is a finding, not
    an error); beyond it no acta can be right, so it is refused. The copy's own
    ``registered`` is bounded by the ceiling only, so that it may contradict the roll."""
    ceiling = COUNT_LIMIT if ceiling is None else min(int(ceiling), COUNT_LIMIT)
    registered = row.get("registered")
    table = REGISTERED_FACTOR * registered + REGISTERED_SLACK if isinstance(registered, int) and registered > 0 else None
    for field, v in values.items():
        if v > ceiling:
            raise HTTPException(422, f"values.{field}: {v} is over the ceiling of {ceiling:,} for any count on an acta")
        if field != "registered" and table is not None and v > table:
            raise HTTPException(422, f"values.{field}: {v} is more than twice the {registered:,} registered voters of "
                                     f"this table in the official count (at most {table:,})")


@router.post("/entries", response_model=EntryOut, summary="Enter a copy of an acta (typist, or a watcher's own report)",
             responses={409: {"description": "same typist, acta closed, or client_id reused"},
                        422: {"description": "values do not fit the acta"}})
async def submit_entry(body: EntryIn, request: Request, user: User = Depends(require("typist", "watcher"))) -> EntryOut:
    """First or second entry of an acta's copy. Returns ``state``: ``first_entered``,
    ``agreed``, ``different`` or ``quarantined``. The second entry must come from a
    different typist (409 otherwise)."""
    return await services.in_write_thread(request.app, _submit_entry, body, request, user)


def _submit_entry(body: EntryIn, request: Request, user: User) -> EntryOut:
    def prepare(s) -> _Prepared:
        p = _Prepared(s, body.unit, body.contest, body.values, request.app.state.settings.max_count)
        if body.photo_sha256 and s.execute(photos.select().where(photos.c.sha256 == body.photo_sha256)).first() is None:
            raise HTTPException(422, f"photo {body.photo_sha256} was not uploaded (POST /api/v1/photos first)")
        return p

    # the write lock is taken with copies.submit's one read, in the same round trip
    with request.app.state.db.read_then_write(prepare, lock_with_first_read=True, official_unchanged=True) as (p, s):
        def submit(p, snapshot_id=None):
            return copies.submit(s, unit=body.unit, contest=p.contest, values=p.values, client_id=body.client_id,
                                 user=user, check=p.check, levels=p.levels, photo_sha256=body.photo_sha256,
                                 snapshot_id=snapshot_id)

        try:  # whether the snapshot is still in force is read with the acta, in one query
            out = submit(p, p.snapshot_id)
        except copies.SnapshotChanged:
            p = p.current(s, body.unit, body.contest, body.values)
            out = submit(p)
        if not out["replayed"] and out["state"] in de.COUNTED and not p.same_as_official:
            services.record_seen(s, p.contest, [body.unit])
        if body.photo_sha256 and not out["replayed"]:
            out["photo_flags"] = _photo_flags(s, request.app.state.settings, body.photo_sha256, body.unit, p.contest, user)
    return EntryOut(**out)


def election_day(settings):
    """The election day photos' EXIF times are compared with: ``settings.extra["election_day"]``
    or ESCRUTINIO_ELECTION_DAY (YYYY-MM-DD); without one, times are not compared."""
    from datetime import date

    raw = (getattr(settings, "extra", None) or {}).get("election_day") or os.environ.get("ESCRUTINIO_ELECTION_DAY")
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _photo_flags(s, settings, sha: str, unit: str, contest: str, user: User) -> list[dict]:
    snap = services.snapshot_of(s, services.contest_of(s, contest))
    row = official.unit_row(snap, unit) or {}
    lat, lon = row.get("lat"), row.get("lon")
    place = (float(lat), float(lon)) if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) else None
    found = photo_marks.on_entry(s, sha256=sha, unit=unit, contest=contest, place=place,
                                 election_day=election_day(settings), user=user)
    return [{k: f[k] for k in ("kind", "detail")} for f in found]


@router.post("/entries/{unit}/resolve", response_model=ActaOut, summary="Keep these values for a differing acta (coordinator)",
             responses={404: {"description": "no such acta"}, 409: {"description": "not in state different or quarantined"}})
async def resolve_entry(unit: UnitPath, body: ResolveIn, request: Request, user: User = Depends(require("coordinator"))) -> ActaOut:
    return await services.in_write_thread(request.app, _resolve_entry, unit, body, request, user)


def _resolve_entry(unit: UnitPath, body: ResolveIn, request: Request, user: User) -> ActaOut:
    def prepare(s) -> _Prepared:
        return _Prepared(s, unit, body.contest, body.values, request.app.state.settings.max_count)

    with request.app.state.db.read_then_write(prepare, lock_with_first_read=True, official_unchanged=True) as (p, s):
        def resolve(p, snapshot_id=None):
            return copies.resolve(s, unit=unit, contest=p.contest, values=p.values, user=user, check=p.check,
                                  levels=p.levels, note=body.note, snapshot_id=snapshot_id)

        try:  # as for an entry: the snapshot is checked with the acta, in one query
            acta = resolve(p, p.snapshot_id)
        except copies.SnapshotChanged:
            p = p.current(s, unit, body.contest, body.values)
            acta = resolve(p)
        if acta.state in de.COUNTED and not p.same_as_official:
            services.record_seen(s, p.contest, [unit])
    return ActaOut(unit=unit, contest=p.contest, state=acta.state, findings=list(acta.findings))


@router.post("/entries/{unit}/release", response_model=ActaOut, summary="Count a quarantined copy as it is (coordinator)",
             responses={404: {"description": "no such acta"}, 409: {"description": "not quarantined"}})
async def release_entry(unit: UnitPath, body: ReleaseIn, request: Request, user: User = Depends(require("coordinator"))) -> ActaOut:
    return await services.in_write_thread(request.app, _release_entry, unit, body, request, user)


def _release_entry(unit: UnitPath, body: ReleaseIn, request: Request, user: User) -> ActaOut:
    db = request.app.state.db
    with db.session(write=True, official_unchanged=True) as s:
        info = services.contest_of(s, body.contest)
        snap = services.snapshot_of(s, info)
        acta = copies.release(s, unit=unit, contest=info["contest"], user=user, levels=services.unit_levels(snap, unit), note=body.note)
        services.record_seen(s, info["contest"], [unit])
    return ActaOut(unit=unit, contest=info["contest"], state=acta.state, findings=list(acta.findings))


@router.get("/entries/pending", summary="Actas waiting for a second entry (without the first entry's values)")
def pending(request: Request, contest: str | None = Query(None, max_length=200),
            user: User = Depends(require("typist", "coordinator"))) -> list[dict]:
    with request.app.state.db.session() as s:
        return copies.pending(s, contest, user.id if user.role == "typist" else None)


@router.get("/entries/different", summary="Actas whose entries differ or that are quarantined, with both entries (coordinator)")
def different(request: Request, contest: str | None = Query(None, max_length=200),
              user: User = Depends(require("coordinator"))) -> list[dict]:
    with request.app.state.db.session() as s:
        return copies.different(s, contest)


@router.get("/entries/states", summary="How many actas are in each double-entry state")
def entry_states(request: Request, contest: str | None = Query(None, max_length=200),
                 user: User = Depends(require(*ALL_ROLES))) -> dict:
    with request.app.state.db.session() as s:
        return {"contest": contest, "states": copies.states(s, contest)}


@router.get("/units/{unit}", summary="An acta's layout: contest, choices, fields, place (never entered values)",
            responses={404: {"description": "no official snapshot of that contest"}})
def unit_layout(unit: UnitPath, request: Request, contest: str | None = Query(None, max_length=200),
                user: User = Depends(require(*ALL_ROLES))) -> dict:
    if (missing := contest_required(request, contest)) is not None:
        return missing
    with request.app.state.db.session() as s:
        out = services.layout(s, unit, contest)
        # the acta's photos (attached to its entries, whatever the contest: one paper sheet)
        out["photos"] = list(dict.fromkeys(s.execute(
            select(entries.c.photo_sha256).where(entries.c.unit == unit, entries.c.photo_sha256.is_not(None))
            .order_by(entries.c.id)).scalars()))
        return out


MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


def photo_type(head: bytes) -> tuple[str, str] | None:
    """The photo's type from its first bytes (JPEG, PNG, WebP), whatever its name says."""
    for magic, ctype, ext in MAGIC:
        if head.startswith(magic):
            return ctype, ext
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


@router.post("/photos", summary="Upload a photo of an acta (typist, watcher); stored by content",
             responses={413: {"description": "too large"}, 415: {"description": "not a JPEG, PNG or WebP image"}})
def upload_photo(request: Request, file: UploadFile = File(...), user: User = Depends(require("typist", "watcher"))) -> dict:
    settings, db = request.app.state.settings, request.app.state.db
    data = file.file.read(settings.max_photo_bytes + 1)
    if len(data) > settings.max_photo_bytes:
        raise HTTPException(413, f"photo larger than {settings.max_photo_bytes:,} bytes")
    kind = photo_type(data[:16])
    if kind is None:
        raise HTTPException(415, "not a JPEG, PNG or WebP image (checked by content, not by name)")
    try:  # decoded whole before it is accepted: a truncated or disguised file is refused here
        facts = photo_facts.inspect(data)
    except photo_facts.PhotoError as exc:
        raise HTTPException(415, str(exc))
    ctype, ext = facts.content_type, facts.ext
    sha = hashlib.sha256(data).hexdigest()
    folder = settings.data_dir / "photos" / sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha}.{ext}"
    if not target.exists():
        tmp = folder / f".{sha}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        tmp.replace(target)
    with db.session(write=True, official_unchanged=True) as s:
        if s.execute(photos.select().where(photos.c.sha256 == sha)).first() is None:
            s.execute(photos.insert().values(sha256=sha, content_type=ctype, size=len(data),
                                             path=str(target.relative_to(settings.data_dir)), uploaded_by=user.id,
                                             created_at=utc_now()))
            audit(s, user, "photo_uploaded", f"photo:{sha}", {"size": len(data), "content_type": ctype, "phash": facts.phash})
        photo_marks.save(s, sha, facts)
    return {"sha256": sha, "content_type": ctype, "size": len(data), "width": facts.width, "height": facts.height,
            "phash": facts.phash, "exif": {"time": facts.exif_time, "lat": facts.exif_lat, "lon": facts.exif_lon}}


@router.get("/photos/{sha256}", summary="A stored photo", response_class=FileResponse,
            responses={404: {"description": "no such photo"}})
def get_photo(sha256: ShaPath, request: Request, user: User = Depends(require("admin", "coordinator", "typist", "watcher"))):
    settings = request.app.state.settings
    with request.app.state.db.session() as s:
        row = s.execute(photos.select().where(photos.c.sha256 == sha256)).first()
    if row is None:
        raise HTTPException(404, "no such photo")
    return FileResponse(Path(settings.data_dir) / row.path, media_type=row.content_type,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=31536000, immutable",
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.get("/photos/{sha256}/flags", summary="A photo's facts (perceptual hash, EXIF) and its flags",
            responses={404: {"description": "no such photo"}})
def photo_flags_of(sha256: ShaPath, request: Request, user: User = Depends(require("admin", "coordinator", "typist", "watcher"))) -> dict:
    with request.app.state.db.session() as s:
        if s.execute(photos.select().where(photos.c.sha256 == sha256)).first() is None:
            raise HTTPException(404, "no such photo")
        found = [f for f in photo_marks.flags(s) if f["sha256"] == sha256]
        return {"sha256": sha256, "marks": photo_marks.marks(s, sha256), "flags": found}


@router.get("/units/{unit}/photos", summary="The photos attached to an acta's entries (sha256, oldest first), to type it from")
def unit_photos(unit: UnitPath, request: Request, contest: str | None = Query(None, max_length=200),
                user: User = Depends(require("admin", "coordinator", "typist", "watcher"))) -> list[str]:
    from sqlalchemy import select

    from escrutinio.server.storage.tables import entries as entries_table

    with request.app.state.db.session() as s:
        q = select(entries_table.c.photo_sha256).where(entries_table.c.unit == unit, entries_table.c.photo_sha256.is_not(None))
        if contest is not None:
            q = q.where(entries_table.c.contest == contest)
        seen: list[str] = []
        for sha in s.execute(q.order_by(entries_table.c.id)).scalars():
            if sha not in seen:
                seen.append(sha)
        return seen


@router.get("/photo-flags", summary="Photos flagged for a coordinator: the same photo for two tables, EXIF time or place")
def photo_flag_list(request: Request, unit: str | None = Query(None, max_length=100), contest: str | None = Query(None, max_length=200),
                    user: User = Depends(require("admin", "coordinator"))) -> list[dict]:
    with request.app.state.db.session() as s:
        return photo_marks.flags(s, unit, contest)
