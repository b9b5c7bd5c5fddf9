"""A roll's geographic levels and the multilevel model's default strata, whatever the
levels are called (used by the projection use case, :mod:`escrutinio.app.projection`, and
by the dynamics report)."""
from __future__ import annotations

from typing import Sequence

import polars as pl

from escrutinio.errors import UsageError

ROLL_IDENTITY = ("unit", "unit_id", "place_id", "registered")


def roll_levels(roll: pl.DataFrame, places: pl.DataFrame | None = None) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The roll's geographic levels, coarse to fine, whatever they are called: every
    column other than the table's identity and registered voters (a roll read through a
    mapping keeps the mapping's levels in order). An id-only roll (Bolivia 2020) gets its
    levels from the 16-digit place id and, with ``places``, province and municipality.
    Polling-place attributes from ``places`` (``area``, ``density``) are joined by place id."""
    from escrutinio.dynamics.projection import roll_levels_2020

    named = [c for c in roll.columns if c not in ROLL_IDENTITY and roll[c].null_count() < roll.height]
    if not named:
        if "place_id" not in roll.columns or roll["place_id"].null_count() == roll.height:
            raise UsageError("the roll has neither geographic levels nor polling-place ids: give a mapping "
                             "(--roll-mapping) that declares its levels")
        roll, levels = roll_levels_2020(roll, places)
    else:
        levels = tuple(named)
    if places is not None and "place_id" in roll.columns:
        extra = [c for c in ("area", "density") if c in places.columns and c not in roll.columns]
        if extra:
            roll = roll.join(places.select("place_id", *extra).unique("place_id", keep="first"), on="place_id", how="left")
            if "area" in extra:
                roll = roll.with_columns(pl.col("area").fill_null("unknown"))
        roll = _with_remoteness(roll, places)
    return roll, levels


def _with_remoteness(roll: pl.DataFrame, places: pl.DataFrame) -> pl.DataFrame:
    """The roll's registered voters within 5 km of each table's polling place
    (:mod:`escrutinio.dynamics.geography`), when the polling places have coordinates."""
    from escrutinio.dynamics.geography import REMOTENESS_COVARIATE, with_voters_within

    if (not {"lat", "lon"} <= set(places.columns) or REMOTENESS_COVARIATE in roll.columns
            or places["lat"].null_count() == places.height):
        return roll
    out = with_voters_within(roll, "place_id", coordinates=places)
    # a covariate known for under half of the tables (place ids that the places file does
    # not have) would be mostly the mean: leave it out rather than pretend
    if out[REMOTENESS_COVARIATE].null_count() * 2 > out.height:
        return roll
    return out


def default_strata(roll: pl.DataFrame, levels: Sequence[str], area: str | None = None) -> list[str]:
    """Strata for the multilevel model: the area type (``area`` column, or a mapping's
    declared area level), then the first real geographic level below the country, then
    the municipality-like level two above the polling place. Empty without an area type:
    the hot deck is used."""
    area = area or ("area" if "area" in roll.columns else None)
    if not area or area not in roll.columns:
        return []
    geo = [lv for lv in levels if lv != area and lv not in ("country", "polling_place", "locality")]
    if not geo and len(levels) >= 2:
        geo = list(levels[:-1])
    out = [area]
    if geo:
        out.append(geo[0])
    if "municipality" in geo:
        out.append("municipality")
    elif len(geo) >= 2:
        out.append(geo[-1])
    return out
