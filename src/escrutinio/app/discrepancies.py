"""The watchers' copies against the official count, as a use case: which fields of which
actas differ, since when, whether a coordinator has explained them, and how many per area.

The server fetches the stored frames (the official snapshot, the counted copies, when each
difference was first seen, the coordinators' notes) and caches the answer; the comparing
is here, once (``observers.discrepancies`` compares two frames field by field).
"""
from __future__ import annotations

import polars as pl

from escrutinio.errors import UsageError
from escrutinio.model import Snapshot
from escrutinio.observers import discrepancies as disc


def discrepancy_frame(snap: Snapshot, counted: pl.DataFrame, seen: pl.DataFrame, notes: pl.DataFrame) -> pl.DataFrame:
    """Every differing field of every counted copy (``counted``: one row per acta with
    ``counted_at``) against the official row, with its area path, since when it has been
    seen (``seen``: unit, field, official, copy, since) and whether a note (``notes``:
    unit, field, note, time, in order) explains it."""
    d = disc.compare(snap.frame, counted.drop("counted_at"))
    notes = notes.unique(["unit", "field"], keep="last").select("unit", "field", "note", pl.col("time").alias("explained_at"))
    geo = snap.frame.select("unit", *snap.levels).unique("unit", keep="first").with_columns(
        pl.concat_str([pl.col(c).fill_null("?") for c in snap.levels], separator=" / ").alias("path"))
    return (d.join(seen, on=["unit", "field", "official", "copy"], how="left")
            .join(counted.select("unit", "counted_at"), on="unit", how="left")
            .with_columns(pl.coalesce("since", "counted_at").alias("since"))
            .drop("counted_at")
            .join(notes, on=["unit", "field"], how="left")
            # a note explains the difference it was written about: if the official
            # row or the copy changes afterwards, the new difference is unexplained
            .with_columns((pl.col("note").is_not_null() & (pl.col("explained_at") >= pl.col("since"))).alias("explained"),
                          (pl.col("copy") - pl.col("official")).alias("difference"))
            .join(geo, on="unit", how="left"))


def listing(snap: Snapshot, d: pl.DataFrame, area: str | None = None, field: str | None = None,
            min_size: int | None = None, explained: bool | None = None) -> list[dict]:
    """The differences, filtered by area (a level's name or a path prefix), field, size
    and whether they are explained."""
    if area:
        d = d.filter(pl.any_horizontal([pl.col(c) == area for c in snap.levels]) | pl.col("path").str.starts_with(area))
    if field:
        d = d.filter(pl.col("field") == field)
    if min_size:
        d = d.filter(pl.col("difference").abs() >= min_size)
    if explained is not None:
        d = d.filter(pl.col("explained") == explained)
    return d.select("unit", "field", "official", "copy", "difference", "since", "explained", "note", "explained_at",
                    "path").to_dicts()


def by_area(snap: Snapshot, d: pl.DataFrame, counted: pl.DataFrame, level: str | None) -> dict:
    """Per area of ``level``: actas compared, actas and fields that differ, and explained."""
    level = level or (snap.levels[1] if len(snap.levels) > 1 else snap.levels[0])
    if level not in snap.levels:
        raise UsageError(f"unknown level {level!r}: levels are {list(snap.levels)}")
    keys = list(snap.levels[: snap.levels.index(level) + 1])
    compared = counted.select("unit").join(snap.frame.select("unit", *keys), on="unit", how="inner")
    area = pl.concat_str([pl.col(k).fill_null("?") for k in keys], separator=" / ").alias("area")
    counts = (compared.group_by(area).agg(pl.len().alias("compared"))
              .join(d.join(snap.frame.select("unit", *keys).unique("unit"), on="unit", how="left")
                    .group_by(area).agg(pl.col("unit").n_unique().alias("units_with_differences"), pl.len().alias("fields"),
                                        pl.col("explained").sum().alias("explained")),
                    on="area", how="left")
              .with_columns(pl.col("units_with_differences", "fields", "explained").fill_null(0))
              .sort(["units_with_differences", "area"], descending=[True, False]))
    return {"contest": snap.contest, "level": level, "areas": counts.to_dicts()}
