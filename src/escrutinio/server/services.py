"""What the API does, in terms of the repositories and the application layer.

No counting here: reading files, tabulating, applying the law and projecting are
``escrutinio.app``'s; comparing copies with the official count is
``escrutinio.observers``'. This module only fetches the stored data those functions
take, and caches their answers per process keyed by the database's change counter (so
every worker answers the same, and a change anywhere invalidates every cache).
"""
from __future__ import annotations

import functools

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Mapping

import polars as pl
from sqlalchemy.orm import Session

from escrutinio.app import discrepancies as use_case
from escrutinio.errors import UsageError
from escrutinio.model import Election, Snapshot
from escrutinio.observers import discrepancies as disc
from escrutinio.observers import double_entry as de
from escrutinio.server.storage import copies, events, official
from escrutinio.server.storage.tables import discrepancy_seen, explanations, projections

SOURCES = ("official", "copies", "both")


class NotFound(LookupError):
    pass


# ------------------------------------------------------------------ reading uploads
async def in_write_thread(app, fn, *args):
    """``fn(*args)`` in a worker thread, at most ``settings.write_threads`` at once per
    process (issue 26). The writes of copies queue on the database's write lock anyway;
    with the thread pool's 40 threads, 25 typists' entries per process each took the
    interpreter lock back after every round trip, and the event loop answering cached
    reads got a share of it, not of the CPU."""
    import anyio
    import anyio.to_thread

    limiter = getattr(app.state, "write_slots", None)
    if limiter is None:
        limiter = app.state.write_slots = anyio.CapacityLimiter(app.state.settings.write_threads)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)


def read_upload(path: Path, mapping: str | None) -> tuple[list[Snapshot], str | None]:
    """Read an uploaded file the way `escrutinio results` does; returns the snapshots and
    the law preset its mapping names."""
    from escrutinio import app

    election = app.read([str(path)], mapping=mapping)
    return list(election.snapshots), getattr(election, "law_preset", None)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def projection_inputs(settings) -> dict:
    """The files the projection is made from, by name and content hash (once per
    settings): a projection stored under other inputs (the server restarted with
    ``--places``) is made again."""
    if settings._inputs is None:
        out: dict = {}
        for key in ("roll", "places", "previous"):
            path = getattr(settings, key)
            if path is not None:
                try:
                    digest = sha256_file(path)
                except OSError:  # the projection itself reports the unreadable file
                    digest = None
                out[key] = {"file": Path(path).name, "sha256": digest}
        if settings.previous_mapping:
            out["previous_mapping"] = settings.previous_mapping
        if settings.roll_mapping:
            out["roll_mapping"] = settings.roll_mapping
        # the model's measured constants: a projection stored by a release with other
        # priors or another remoteness radius is made again after an upgrade
        from escrutinio.app.projection_inputs import model_constants

        out["model"] = model_constants()
        # the number asked for (None: sized from a pilot); another number, another projection
        out["simulations"] = settings.projection_simulations
        settings._inputs = out
    return settings._inputs


# ------------------------------------------------------------------ contests and layouts
def contest_of(session: Session, contest: str | None, checked_later: bool = False) -> dict:
    """The latest official snapshot of ``contest`` (or of the only contest loaded).
    ``checked_later``: the caller checks again, where it counts, that the snapshot is
    still the one in force (an entry, under the write lock), so the answer this process
    knows already will do, without a round trip; a contest it does not know yet is
    looked up."""
    if checked_later:
        known = official.last_known(session)
        if known and (contest in known if contest is not None else len(known) == 1):
            return known[contest] if contest is not None else next(iter(known.values()))
    latest = official.latest(session)
    if not latest:
        raise NotFound("no official snapshot has been loaded yet")
    if contest is None:
        if len(latest) > 1:
            raise UsageError(f"several contests are loaded; say which with contest=: {sorted(latest)}")
        return next(iter(latest.values()))
    if contest not in latest:
        raise NotFound(f"unknown contest {contest!r}; contests: {sorted(latest)}")
    return latest[contest]


def snapshot_of(session: Session, info: dict) -> Snapshot:
    return official.load(session, info["snapshot_id"], info["contest"])


def unit_levels(snap: Snapshot, unit: str) -> dict[str, str | None]:
    row = official.unit_row(snap, unit)
    return {} if row is None else {lv: row[lv] for lv in snap.levels}


def layout(session: Session, unit: str, contest: str | None) -> dict:
    """An acta's layout: contest, choices, the fields to type, its place; never values."""
    info = contest_of(session, contest)
    snap = snapshot_of(session, info)
    levels = unit_levels(snap, unit)
    acta = copies.get(session, unit, info["contest"])
    return {"unit": unit, "contest": info["contest"], "election": snap.election, "choices": list(snap.choices),
            "fields": list(de.layout_fields(snap.choices)), "levels": levels, "in_official": bool(levels),
            "state": acta.state if acta else None}


def checker(snap: Snapshot) -> de.Checker:
    return _checker(tuple(snap.choices), snap.contest)


@functools.lru_cache(maxsize=64)
def _checker(choices: tuple[str, ...], contest: str) -> de.Checker:
    # one per contest layout, so that its memo of checked values lasts across requests
    return de.copy_checker(choices, contest)


# ------------------------------------------------------------------ results
_cache: dict = {}


def cached(session: Session, key: tuple, compute, volatile: bool = True):
    """``compute()`` once per process per key; ``volatile`` answers (those that depend on
    copies) are also keyed by the change counter, while answers about a stored snapshot
    alone never go stale (a snapshot never changes)."""
    stamp = events.last_id(session) if volatile else 0
    full = (str(session.get_bind().engine.url), stamp, *key)
    hit = _cache.get(full)
    if hit is None:
        hit = compute()
        if len(_cache) > 64:
            _cache.clear()
        _cache[full] = hit
    return hit


def _election(snap: Snapshot, preset: str | None) -> Election:
    e = Election(snap.election, [snap])
    e.law_preset = preset
    return e


def copies_snapshot(session: Session, snap: Snapshot) -> Snapshot:
    """The counted copies of a contest as a snapshot with the official one's layout (and
    its geography for the units it knows)."""
    fields = list(de.layout_fields(snap.choices))
    counted = copies.counted_frame(session, snap.contest, fields).drop("counted_at")
    geo = snap.frame.select("unit", "unit_id", "place_id", *snap.levels, *snap.attributes).unique("unit", keep="first")
    frame = counted.join(geo, on="unit", how="left").with_columns(
        pl.lit(None, pl.Int64).alias("valid_reported"), pl.lit(None, pl.Int64).alias("valid_system"),
        pl.lit(None, pl.Int64).alias("emitted_system"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"))
    frame = frame.select([c for c in snap.frame.columns if c in frame.columns])
    return replace(snap, frame=frame, source="watchers' copies", label="watchers' copies", exported_at=None,
                   derived=(), repaired_rows=(), notes=())


def results_json(session: Session, source: str, contest: str | None, level: str | None, filters: Mapping[str, str]) -> bytes:
    """:func:`results` encoded once per cache entry (the hot path of the live pages)."""
    info = contest_of(session, contest)
    return cached(session, ("results-json", source, info["snapshot_id"], info["contest"], level, tuple(sorted(filters.items()))),
                   lambda: json.dumps(results(session, source, contest, level, filters), ensure_ascii=False).encode("utf-8"),
                   volatile=source != "official")


def results(session: Session, source: str, contest: str | None, level: str | None, filters: Mapping[str, str]) -> dict:
    if source not in SOURCES:
        raise UsageError(f"source must be one of {list(SOURCES)}")
    info = contest_of(session, contest)

    def compute():
        from escrutinio import app

        snap = snapshot_of(session, info)
        lv = level or "country"

        def run(s: Snapshot) -> dict:
            return app.results(_election(s, info["preset"]), contest=s.contest, level=lv, filters=dict(filters)).to_dict()

        if source == "official":
            return run(snap)
        cs = copies_snapshot(session, snap)
        if source == "copies":
            return run(cs)
        same = snap.filter(pl.col("unit").is_in(cs.frame.get_column("unit").implode()))
        return {"official": run(snap), "copies": run(cs),
                "official_same_units": run(replace(same, label=f"{snap.name}, only the actas with a counted copy"))}

    return cached(session, ("results", source, info["snapshot_id"], info["contest"], level, tuple(sorted(filters.items()))),
                   compute, volatile=source != "official")


# ------------------------------------------------------------------ discrepancies
def _pair(session: Session, info: dict) -> tuple[Snapshot, pl.DataFrame]:
    snap = snapshot_of(session, info)
    fields = list(de.layout_fields(snap.choices))
    return snap, copies.counted_frame(session, snap.contest, fields)


def discrepancy_frame(session: Session, contest: str | None) -> tuple[Snapshot, pl.DataFrame]:
    """Every differing field of every counted copy against the latest official row, with
    its area, since when it has been seen and whether it has been explained."""
    info = contest_of(session, contest)

    def compute():
        snap, cp = _pair(session, info)
        seen = pl.DataFrame(session.execute(discrepancy_seen.select().where(discrepancy_seen.c.contest == snap.contest)).all(),
                            schema={"unit": pl.Utf8, "contest": pl.Utf8, "field": pl.Utf8, "official": pl.Int64,
                                    "copy": pl.Int64, "since": pl.Utf8}, orient="row").drop("contest")
        notes = pl.DataFrame(session.execute(explanations.select().where(explanations.c.contest == snap.contest)
                                             .order_by(explanations.c.id)).all(),
                             schema={"id": pl.Int64, "unit": pl.Utf8, "contest": pl.Utf8, "field": pl.Utf8, "note": pl.Utf8,
                                     "user_id": pl.Int64, "time": pl.Utf8}, orient="row")
        return snap, use_case.discrepancy_frame(snap, cp, seen, notes)

    return cached(session, ("discrepancies", info["snapshot_id"], info["contest"]), compute)


def discrepancies(session: Session, contest: str | None, area: str | None = None, field: str | None = None,
                  min_size: int | None = None, explained: bool | None = None) -> list[dict]:
    snap, d = discrepancy_frame(session, contest)
    return use_case.listing(snap, d, area, field, min_size, explained)


def discrepancies_by_area(session: Session, contest: str | None, level: str | None) -> dict:
    snap, d = discrepancy_frame(session, contest)
    _, cp = _pair(session, contest_of(session, snap.contest))
    return use_case.by_area(snap, d, cp, level)


def only_in(session: Session, contest: str | None) -> dict:
    info = contest_of(session, contest)
    snap, cp = _pair(session, info)
    o = disc.only_in(snap.frame, cp)
    return {"contest": snap.contest,
            "official_only": o.filter(pl.col("source") == "official").height,
            "copies_only": o.filter(pl.col("source") == "copies").get_column("unit").to_list(),
            "note": "official_only counts official actas with no counted copy yet; copies_only lists counted copies of "
                    "actas absent from the latest official snapshot"}


def record_seen(session: Session, contest: str, units: list[str] | None = None) -> int:
    """Remember when each (acta, field, official, copy) difference was first seen; returns
    how many differences are new (they publish a ``discrepancy`` event). ``units``:
    only these actas (after an entry), else the whole contest (after a snapshot)."""
    from escrutinio.publication.entry import utc_now

    info = contest_of(session, contest)
    snap = snapshot_of(session, info)
    fields = list(de.layout_fields(snap.choices))
    if units is None:
        base, cp = snap.frame, copies.counted_frame(session, contest, fields)
    else:
        rows = [r for r in (official.unit_row(snap, u) for u in units) if r is not None]
        if not rows:
            return 0
        base = pl.DataFrame([{"unit": r["unit"], **{f: r[f] for f in fields}} for r in rows],
                            schema={"unit": pl.Utf8, **{f: pl.Int64 for f in fields}})
        cp = copies.counted_frame(session, contest, fields, units=units)
    d = disc.compare(base, cp.drop("counted_at"))
    if d.height == 0:
        return 0
    q = discrepancy_seen.select().where(discrepancy_seen.c.contest == contest)
    if units is not None:
        q = q.where(discrepancy_seen.c.unit.in_(list(units)))
    seen = pl.DataFrame(session.execute(q).all(), schema={"unit": pl.Utf8, "contest": pl.Utf8, "field": pl.Utf8,
                                                          "official": pl.Int64, "copy": pl.Int64, "since": pl.Utf8}, orient="row")
    new = d.join(seen, on=["unit", "field", "official", "copy"], how="anti")
    if new.height:
        now = utc_now()
        session.execute(discrepancy_seen.insert(), new.with_columns(pl.lit(contest).alias("contest"), pl.lit(now).alias("since")).to_dicts())
        events.publish(session, "discrepancy", {"contest": contest, "new": new.height,
                                                "units": new.get_column("unit").unique().sort().to_list()[:50]})
    return new.height


# ------------------------------------------------------------------ projection and places
def projection(session: Session, contest: str | None, settings) -> dict:
    """The projection from the latest official snapshot, computed once per snapshot and
    kept in the database (every worker reads the same stored answer). One stored under
    other inputs (roll, polling places, previous election) counts as not yet computed."""
    info = contest_of(session, contest)
    row = session.execute(projections.select().where(projections.c.snapshot_id == info["snapshot_id"],
                                                     projections.c.contest == info["contest"])).first()
    if row is not None:
        stored = json.loads(row.result)
        if stored.get("inputs", {}) == projection_inputs(settings):
            return stored
    return {"snapshot_id": info["snapshot_id"], "contest": info["contest"], "status": "pending",
            "note": "the projection for this snapshot is being computed; it is announced by a `projection` event"}


def compute_projection(db, contest: str, snapshot_id: int, settings) -> dict:
    """Compute and store a snapshot's projection (run after a load, off the request), with
    the server's roll, polling places and previous election (``settings``)."""
    from escrutinio.publication.entry import utc_now

    with db.session() as s:
        snap = official.load(s, snapshot_id, contest)
        preset = official.latest(s).get(contest, {}).get("preset")
    try:
        from escrutinio.app import projection as proj  # contract C1 (PROJ)
    except ImportError:
        proj = None
    if proj is None:
        result = {"status": "unavailable", "note": "the projection module (escrutinio.app.projection) is not installed"}
    else:
        try:
            result = {"status": "ok", **proj.project(
                snap, roll=str(settings.roll) if settings.roll else None, roll_mapping=settings.roll_mapping, seed=0,
                places=str(settings.places) if settings.places else None,
                previous=str(settings.previous) if settings.previous else None,
                previous_mapping=settings.previous_mapping, simulations=settings.projection_simulations).to_dict()}
        except Exception as exc:  # a projection that cannot be made is reported, not a crash
            result = {"status": "unavailable", "note": f"no projection from this snapshot: {exc}"}
    result = {"snapshot_id": snapshot_id, "contest": contest, "partial": True, **result,
              "inputs": projection_inputs(settings)}
    body = json.dumps(result, ensure_ascii=False, default=str)
    where = (projections.c.snapshot_id == snapshot_id) & (projections.c.contest == contest)
    with db.session(write=True) as s:
        exists = s.execute(projections.select().where(where)).first()
        if exists is None:
            s.execute(projections.insert().values(snapshot_id=snapshot_id, contest=contest, computed_at=utc_now(), result=body))
        elif json.loads(exists.result).get("inputs", {}) != result["inputs"]:
            # made under other inputs (an earlier run of the server): replaced, not kept
            s.execute(projections.update().where(where).values(computed_at=utc_now(), result=body))
        else:
            return result
        events.publish(s, "projection", {"snapshot_id": snapshot_id, "contest": contest, "status": result["status"]})
    return result


def places(session: Session, contest: str | None) -> dict:
    """Polling places with lat/lon where known, tables counted and the leading choice."""
    info = contest_of(session, contest)

    def compute():
        snap = snapshot_of(session, info)
        f = snap.counted()
        key = "place_id" if f.get_column("place_id").null_count() < f.height else None
        keys = [key] if key else list(snap.levels)
        choices = list(snap.counted_choices)
        has_geo = "lat" in f.columns and "lon" in f.columns
        agg = [pl.len().alias("tables"), *[pl.col(c).sum() for c in choices],
               *[pl.col(lv).first() for lv in snap.levels if lv not in keys]]
        if has_geo:
            agg += [pl.col("lat").cast(pl.Float64, strict=False).first(), pl.col("lon").cast(pl.Float64, strict=False).first()]
        g = f.group_by(keys, maintain_order=True).agg(agg)
        votes = g.select(choices).to_numpy() if choices else None
        leader = [choices[i] if row.max() > 0 else None for i, row in zip(votes.argmax(axis=1), votes)] if choices and g.height else []
        out = []
        for r, lead in zip(g.iter_rows(named=True), leader):
            out.append({"place": r.get("place_id") or " / ".join(str(r[lv]) for lv in snap.levels),
                        "name": r.get(snap.levels[-1]) if snap.levels else None,
                        "path": " / ".join(str(r[lv]) for lv in snap.levels),
                        "lat": r.get("lat") if has_geo else None, "lon": r.get("lon") if has_geo else None,
                        "tables": r["tables"], "counted": True, "leader": lead})
        return {"contest": snap.contest, "snapshot_id": info["snapshot_id"], "places": out}

    return cached(session, ("places", info["snapshot_id"], info["contest"]), compute, volatile=False)
