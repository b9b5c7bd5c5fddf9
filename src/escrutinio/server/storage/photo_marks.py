"""What is known about each stored photo (perceptual hash, EXIF) and the flags raised on
photos (append-only): the same photo for two tables, EXIF time or place that disagrees
with the table. Flags are for coordinators to look at; they change no count."""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Column, Float, Integer, String, Table, Text, insert, select
from sqlalchemy.orm import Session

from escrutinio.observers import photos as ph
from escrutinio.publication.entry import utc_now
from escrutinio.server.storage import events
from escrutinio.server.storage.tables import entries, metadata
from escrutinio.server.storage.users import audit

photo_marks = Table(
    "photo_marks", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("phash", String(16), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("exif_time", String(40), nullable=True),
    Column("exif_lat", Float, nullable=True),
    Column("exif_lon", Float, nullable=True),
)

photo_flags = Table(
    "photo_flags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("unit", Text, nullable=False),
    Column("contest", Text, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("detail", Text, nullable=False),
)


def save(session: Session, sha256: str, facts: ph.PhotoFacts) -> None:
    if session.execute(select(photo_marks.c.sha256).where(photo_marks.c.sha256 == sha256)).first() is None:
        session.execute(insert(photo_marks).values(sha256=sha256, phash=facts.phash, width=facts.width, height=facts.height,
                                                   exif_time=facts.exif_time, exif_lat=facts.exif_lat, exif_lon=facts.exif_lon))


def _flag(session: Session, sha256: str, unit: str, contest: str, kind: str, detail: dict, user) -> dict:
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
    seen = session.execute(select(photo_flags.c.id).where(photo_flags.c.sha256 == sha256, photo_flags.c.unit == unit,
                                                          photo_flags.c.contest == contest, photo_flags.c.kind == kind,
                                                          photo_flags.c.detail == text)).first()
    row = {"sha256": sha256, "unit": unit, "contest": contest, "kind": kind, "detail": detail}
    if seen is None:
        session.execute(insert(photo_flags).values(time=utc_now(), sha256=sha256, unit=unit, contest=contest, kind=kind,
                                                   detail=text))
        audit(session, user, "photo_flagged", f"acta:{contest}:{unit}", {"sha256": sha256, "kind": kind, **detail})
        events.publish(session, "photo_flag", {"unit": unit, "contest": contest, "kind": kind})
    return row


def on_entry(session: Session, *, sha256: str, unit: str, contest: str, place: tuple[float, float] | None,
             election_day: date | None, user=None) -> list[dict]:
    """Flags for a photo just attached to an entry of ``unit``: the same photo already
    attached to another table (both tables are flagged), and EXIF disagreements."""
    mark = session.execute(select(photo_marks).where(photo_marks.c.sha256 == sha256)).first()
    if mark is None:                        # uploaded before marks were kept
        return []
    out = []
    others = session.execute(select(entries.c.unit, entries.c.contest, photo_marks.c.sha256, photo_marks.c.phash)
                             .join(photo_marks, photo_marks.c.sha256 == entries.c.photo_sha256)
                             .where(entries.c.unit != unit)).all()
    for other in others:
        bits = ph.hamming(mark.phash, other.phash)
        if bits <= ph.SAME_PHOTO_BITS:
            out.append(_flag(session, sha256, unit, contest, "same_photo",
                             {"other_unit": other.unit, "other_sha256": other.sha256, "bits": bits}, user))
            _flag(session, other.sha256, other.unit, other.contest, "same_photo",
                  {"other_unit": unit, "other_sha256": sha256, "bits": bits}, user)
    facts = ph.PhotoFacts("", "", mark.width, mark.height, mark.phash, mark.exif_time, mark.exif_lat, mark.exif_lon)
    for kind, detail in ph.exif_flags(facts, place, election_day):
        out.append(_flag(session, sha256, unit, contest, kind, detail, user))
    return out


def flags(session: Session, unit: str | None = None, contest: str | None = None, limit: int = 1000) -> list[dict]:
    q = select(photo_flags).order_by(photo_flags.c.id).limit(limit)
    if unit is not None:
        q = q.where(photo_flags.c.unit == unit)
    if contest is not None:
        q = q.where(photo_flags.c.contest == contest)
    return [{**dict(r._mapping), "detail": json.loads(r.detail)} for r in session.execute(q)]


def marks(session: Session, sha256: str) -> dict | None:
    row = session.execute(select(photo_marks).where(photo_marks.c.sha256 == sha256)).first()
    return dict(row._mapping) if row else None
