"""JSON behind two of the results page's figures that the core API does not give (C6
says to add them here, on the server's repository functions, without editing its files):

* ``GET /pages/series.json``: the lead against the share of tables counted, one point per
  official snapshot of the contest, in load order (the chart's line);
* ``GET /pages/places.json``: polling places with their coordinates, counted or not. The
  core ``/api/v1/places`` lists the places of the latest snapshot, which holds only counted
  tables; places known from any other loaded snapshot of the contest (an earlier or a
  fuller export) and missing from the latest are listed with ``counted: false``, so that
  the map shows what is still to come.

Both are public (the official count is public) and computed once per set of snapshots.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request

from escrutinio.server.auth import ALL_ROLES, User, require

router = APIRouter(include_in_schema=True, tags=["pages"])

_cache: dict = {}


def _remember(key, compute):
    hit = _cache.get(key)
    if hit is None:
        if len(_cache) > 64:
            _cache.clear()
        hit = _cache[key] = compute()
    return hit


def _snapshots_of(session, contest: str | None) -> tuple[dict, str, list[int]]:
    """The latest snapshot's info, the contest's name and the ids of all its snapshots."""
    from escrutinio.server import services
    from escrutinio.server.storage import official

    info = services.contest_of(session, contest)
    name = info["contest"]
    return info, name, [s["snapshot_id"] for s in official.list_snapshots(session)
                        if any(c["contest"] == name for c in s["contests"])]


def _point(snap, preset, pair):
    """Lead (points) of pair[0] over pair[1] on the share base, and completeness, of one snapshot."""
    from escrutinio import app
    from escrutinio.model import Election

    election = Election(snap.election, [snap])
    election.law_preset = preset
    r = app.results(election, contest=snap.contest, level="country").to_dict()
    base = r.get("valid") if r.get("share_base", "valid") == "valid" else r.get("emitted")
    choices = r.get("choices") or {}
    lead = None
    if base and pair and all(c in choices for c in pair):
        lead = 100.0 * (int(choices[pair[0]]) - int(choices[pair[1]])) / int(base)
    tables = (r.get("completeness") or {}).get("tables") or {}
    share = tables.get("share")
    return {"label": r.get("snapshot"), "exported_at": r.get("exported_at"), "units": r.get("units"),
            "counted_pct": 100.0 * share if share is not None else None, "expected": tables.get("expected"),
            "lead": lead, "final": r.get("final")}


@router.get("/pages/series.json", summary="Lead against share of tables counted, one point per official snapshot")
def series(request: Request, contest: str | None = Query(None, max_length=200),
           user: User = Depends(require(*ALL_ROLES))) -> dict:
    from escrutinio.server.api.contest_choice import contest_required
    from escrutinio.server.storage import official

    if (missing := contest_required(request, contest)) is not None:
        return missing
    db = request.app.state.db
    with db.session() as s:
        info, name, ids = _snapshots_of(s, contest)
        latest = official.load(s, info["snapshot_id"], name)
        totals = latest.counted().select(list(latest.counted_choices)).sum().row(0, named=True)
        pair = tuple(sorted(totals, key=lambda c: (-int(totals[c] or 0), c))[:2])

        def compute():
            points = [{**_point(official.load(s, sid, name), info["preset"], pair), "snapshot_id": sid,
                       "latest": sid == info["snapshot_id"]} for sid in ids]
            if all(p["exported_at"] for p in points):  # the count's own clock, not the order of loading
                points.sort(key=lambda p: p["exported_at"])
            return {"contest": name, "between": list(pair), "snapshots": ids, "series": points,
                    "note": "lead = (votes of the first minus the second of the latest snapshot) / share base, in "
                            "points; share counted = tables counted / tables expected (null when unknown)"}

        return _remember((db.url, "series", name, tuple(ids), info["snapshot_id"], pair), compute)


def _place_frame(snap, keys: list[str]):
    """One row per place: keys, coordinates, tables and votes per choice (vectorised)."""
    import polars as pl

    f = snap.counted()
    choices = list(snap.counted_choices)
    geo = [pl.col("place_id").cast(pl.Utf8).drop_nulls().first().alias("place_id") if "place_id" in f.columns
           else pl.lit(None, pl.Utf8).alias("place_id")]
    for col in ("lat", "lon"):
        if col in f.columns:
            geo.append(pl.col(col).cast(pl.Float64, strict=False).drop_nulls().first().alias(col))
        else:
            geo.append(pl.lit(None, pl.Float64).alias(col))
    return f.group_by(keys, maintain_order=True).agg(pl.len().alias("tables"), *[pl.col(c).sum() for c in choices], *geo), choices


def _keys(snap, others) -> list[str]:
    """The levels naming a place in every snapshot: the latest's levels down to its place
    level, kept only where all snapshots have them."""
    levels = list(snap.levels)
    place = getattr(snap, "place_level", None)
    if place in levels:
        levels = levels[: levels.index(place) + 1]
    common = [lv for lv in levels if all(lv in o.levels for o in others)]
    return common if (place is None or place in common) else []


@router.get("/pages/places.json", summary="Polling places with coordinates, counted or not, and the leader where counted")
def places(request: Request, contest: str | None = Query(None, max_length=200),
           user: User = Depends(require(*ALL_ROLES))) -> dict:
    import numpy as np
    import polars as pl

    from escrutinio.server.api.contest_choice import contest_required
    from escrutinio.server.storage import official

    if (missing := contest_required(request, contest)) is not None:
        return missing

    db = request.app.state.db
    with db.session() as s:
        info, name, ids = _snapshots_of(s, contest)

        def compute():
            latest = official.load(s, info["snapshot_id"], name)
            others = [official.load(s, sid, name) for sid in ids if sid != info["snapshot_id"]]
            keys = _keys(latest, others) or list(latest.levels)
            if not _keys(latest, others):
                others = []
            counted, choices = _place_frame(latest, keys)
            votes = counted.select(choices).to_numpy() if choices else np.zeros((counted.height, 0))
            leader = [choices[i] if row.size and row.max() > 0 else None
                      for i, row in zip(votes.argmax(axis=1) if votes.size else [0] * counted.height, votes)]
            counted = counted.select(*keys, "place_id", "lat", "lon", "tables").with_columns(
                pl.Series("leader", leader, dtype=pl.Utf8), pl.lit(True).alias("counted"))
            frames = [counted]
            if others:
                known = pl.concat([_place_frame(o, keys)[0].select(*keys, "place_id", "lat", "lon") for o in others],
                                  how="vertical_relaxed")
                known = known.group_by(keys).agg(pl.col("place_id").drop_nulls().first(), pl.col("lat").drop_nulls().first(),
                                                 pl.col("lon").drop_nulls().first())
                # Coordinates the latest export lacks come from the others (TREP files carry none).
                counted = counted.join(known.drop("place_id").rename({"lat": "_lat", "lon": "_lon"}), on=keys,
                                       how="left").with_columns(
                    pl.coalesce("lat", "_lat").alias("lat"), pl.coalesce("lon", "_lon").alias("lon")).drop("_lat", "_lon")
                by_id = known.filter(pl.col("place_id").is_not_null()).group_by("place_id").agg(
                    pl.col("lat").drop_nulls().first().alias("_lat"), pl.col("lon").drop_nulls().first().alias("_lon"))
                counted = counted.join(by_id, on="place_id", how="left").with_columns(
                    pl.coalesce("lat", "_lat").alias("lat"), pl.coalesce("lon", "_lon").alias("lon")).drop("_lat", "_lon")
                missing = known.join(counted.select(keys), on=keys, how="anti")
                # A place is the same place by its id, or by its tables, whatever its name:
                # the 2019 final count spells 49 TREP place names differently (and neither
                # file has a place id), and those places are counted.
                counted_ids = counted.get_column("place_id").drop_nulls()
                if counted_ids.len():
                    missing = missing.filter(pl.col("place_id").is_null() | ~pl.col("place_id").is_in(counted_ids.implode()))
                latest_units = latest.counted().get_column("unit").cast(pl.Utf8).implode()
                reached = pl.concat([o.counted().select(*keys, pl.col("unit").cast(pl.Utf8)) for o in others],
                                    how="vertical_relaxed").filter(pl.col("unit").is_in(latest_units)).select(keys).unique()
                missing = missing.join(reached, on=keys, how="anti")
                missing = missing.with_columns(
                    pl.lit(0, pl.UInt32).alias("tables"), pl.lit(None, pl.Utf8).alias("leader"), pl.lit(False).alias("counted"))
                frames = [counted, missing.select(counted.columns)]
            allp = pl.concat(frames, how="vertical_relaxed")
            path = pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("") for k in keys], separator=" / ")
            allp = allp.with_columns(path.alias("path"), pl.col(keys[-1]).cast(pl.Utf8).alias("name"))
            allp, source = _with_known_places(allp, settings)
            out = allp.select("name", "path", "lat", "lon", "tables", "counted", "leader").to_dicts()
            return {"contest": name, "snapshot_id": info["snapshot_id"], "snapshots": ids, "key": keys,
                    "counted": int(counted.height), "uncounted": len(out) - int(counted.height), "places": out,
                    "coordinates_from": source}

        settings = request.app.state.settings
        files = tuple(str(getattr(settings, k, None)) for k in ("places", "roll"))
        return _remember((db.url, "places", name, info["snapshot_id"], tuple(ids), files), compute)


def _with_known_places(allp, settings):
    """The server's polling-place file (``serve --places``) fills in coordinates by place
    id, and its roll (``--roll``) adds the places with no table counted yet, so that the
    map shows where the count has not reached. Returns the frame and what was used."""
    import polars as pl

    from escrutinio.app.projection_inputs import read_places, read_roll
    from escrutinio.errors import InputError, UsageError

    used = []
    places_file = getattr(settings, "places", None)
    if places_file is None and getattr(settings, "roll", None) is not None:
        # a roll that carries coordinates (LAT/LON beside the place id) is a places file too
        try:
            from_roll = read_places(settings.roll)
            if from_roll["lat"].null_count() < from_roll.height:
                places_file = settings.roll
        except (InputError, UsageError, OSError, ValueError, pl.exceptions.PolarsError):
            places_file = None
    if places_file is None or allp["place_id"].null_count() == allp.height:
        return allp, used
    places = read_places(places_file).unique("place_id", keep="first")
    if places["lat"].null_count() == places.height:
        return allp, used
    coords = places.select("place_id", pl.col("lat").alias("_lat"), pl.col("lon").alias("_lon"))
    allp = allp.join(coords, on="place_id", how="left").with_columns(
        pl.coalesce("lat", "_lat").alias("lat"), pl.coalesce("lon", "_lon").alias("lon")).drop("_lat", "_lon")
    used.append(f"places: {Path(places_file).name}")
    roll_file = getattr(settings, "roll", None)
    if roll_file is not None:
        try:
            roll = read_roll(roll_file)
        except (InputError, UsageError):
            # the projection reports an unreadable roll; the map keeps the counted places
            used.append(f"roll: {Path(roll_file).name} not read, places not counted yet are not listed")
            return allp, used
        if "place_id" in roll.columns and roll["place_id"].null_count() < roll.height:
            tables = roll.group_by(pl.col("place_id").cast(pl.Utf8)).agg(pl.len().cast(pl.UInt32).alias("tables"))
            missing = tables.join(allp.select("place_id").drop_nulls(), on="place_id", how="anti").join(
                places, on="place_id", how="left")
            # the path starts, as the counted places' does, with the country
            path = pl.concat_str([pl.col(c).fill_null("") for c in ("country", "department_name", "province",
                                                                    "municipality", "name")], separator=" / ")
            new = missing.select(pl.coalesce(pl.col("name"), pl.col("place_id")).alias("name"), path.alias("path"),
                                 "place_id", "lat", "lon", pl.lit(0, pl.UInt32).alias("tables"),
                                 pl.lit(False).alias("counted"), pl.lit(None, pl.Utf8).alias("leader"))
            cols = ["name", "path", "place_id", "lat", "lon", "tables", "counted", "leader"]
            allp = pl.concat([allp.select(cols), new.select(cols)], how="vertical_relaxed")
            used.append(f"roll: {Path(roll_file).name}")
    return allp, used
