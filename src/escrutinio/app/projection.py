"""Projection through the application layer (contract C1): what ``escrutinio project``
computes, for the CLI, the server (``GET /api/v1/projection``) and notebooks.

``project(snapshot_or_election, roll=None, previous=None, seed=0, ...)`` returns a
:class:`Projection` whose ``.to_dict()`` is exactly ``escrutinio project --format json``
for one partial count: keys ``counted_units``, ``expected_units``,
``choices.{name}.share/lo/hi``, ``lead_points.point/lo/hi/between``, ``lead.point/lo/hi``,
``outcome_probabilities`` and the result's further fields (``extrapolation``, ``notes``...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import polars as pl

from escrutinio.errors import UsageError

# moved down to escrutinio.dynamics.roll (the dynamics report uses them); imported here for every caller
from escrutinio.dynamics.roll import ROLL_IDENTITY, _with_remoteness, default_strata, roll_levels  # noqa: F401


def json_safe(x):
    """JSON-safe: NaN/inf become null, tuples become lists, datetimes become text."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "isoformat"):
        return x.isoformat()
    if hasattr(x, "item"):
        return json_safe(x.item())
    return x


@dataclass
class Projection:
    """A projection with the CLI's JSON shape; ``result`` is the full
    :class:`~escrutinio.dynamics.projection.ProjectionResult`."""

    result: object
    source: str | None = None

    def to_dict(self) -> dict:
        r = self.result
        d = r.to_dict()
        payload = {"counted_units": r.counted_units, "expected_units": r.expected_units,
                   "choices": d["choices"], "lead_points": d["lead_points"],
                   "outcome_probabilities": r.outcome_probabilities}
        payload.update({k: v for k, v in d.items() if k not in payload and k != "shares"})
        return json_safe(payload)

    def summary(self) -> str:
        return self.result.summary()

    def to_polars(self) -> pl.DataFrame:
        r = self.result
        return pl.DataFrame({"choice": list(r.choices), "share": [r.shares[c]["point"] for c in r.choices],
                             "lo": [r.shares[c]["lo"] for c in r.choices], "hi": [r.shares[c]["hi"] for c in r.choices]})

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(self.summary())}</pre>"


def _remoteness_notes(places: pl.DataFrame, roll: pl.DataFrame, covariates) -> list[str]:
    """What the projection says when the places' coordinates could not be used, or only
    for part of the roll: never a silent change of model."""
    from escrutinio.dynamics.geography import REMOTENESS_COVARIATE

    if "lat" not in places.columns or places["lat"].null_count() == places.height:
        return []
    if REMOTENESS_COVARIATE not in roll.columns:
        return ["the polling places' coordinates match under half of the roll's tables: the projection does not "
                "adjust for how remote places are, and its selection prior is the wider one"]
    missing = roll[REMOTENESS_COVARIATE].null_count()
    if missing and REMOTENESS_COVARIATE in tuple(covariates or ()):
        return [f"{missing:,} of {roll.height:,} tables have no coordinates for their polling place: they take the "
                f"mean of the voters within 5 km"]
    return []


# roll_levels and default_strata are in escrutinio.dynamics.roll (imported above), below
# this layer, because the dynamics report uses them too.


def read_roll_with(path, roll_mapping=None, mapping=None) -> pl.DataFrame:
    """The roll through ``roll_mapping``; without one, a bundled roll layout, and failing
    that the count files' ``mapping`` (a final count of the same layout is a roll)."""
    from escrutinio.dynamics.sources import read_roll
    from escrutinio.errors import InputError

    if roll_mapping is not None or mapping is None:
        return read_roll(path, mapping=roll_mapping)
    try:
        return read_roll(path)
    except InputError:
        return read_roll(path, mapping=mapping)


def _snapshot(x, contest=None, mapping=None):
    from escrutinio.model import Election, Snapshot

    if isinstance(x, Snapshot):
        return x
    if isinstance(x, Election):
        contests = x.contests
        if contest is None:
            pres = [c for c in contests if c.upper().startswith("PRESIDENT")]
            contest = (pres or contests)[0]
        return x.latest(contest)
    if isinstance(x, (str, Path)):
        from escrutinio.dynamics.sources import read_snapshot

        return read_snapshot(x, contest, mapping=mapping)
    raise UsageError(f"cannot project from {type(x).__name__}: give a snapshot, an election or a file")


def project(snapshot_or_election, roll=None, previous=None, seed: int = 0, *, places=None, contest: str | None = None,
            mapping=None, roll_mapping=None, previous_mapping=None, simulations: int = 2000, level: float = 0.95,
            min_donors: int = 2, strata: Sequence[str] | None = None, model: str = "auto",
            covariates: Sequence[str] | None = None, arrival: str | None = None, arrival_from=None,
            correct_bias: bool = False, completion_adjustment: bool = True, area_level: str | None = None,
            rule: str | None = None, selection_r: float | None = None) -> Projection:
    """Project the final result of a partial count.

    ``snapshot_or_election``: a Snapshot, an Election (its latest snapshot of ``contest``,
    default the presidential one) or a file path. ``roll``: a path or a frame of every
    expected table (required). ``previous``: a path, snapshot or frame of a previous
    election. ``places``: a path or frame of polling places with their area type.
    ``strata``: roll columns for the multilevel model (default: area type, first level,
    municipality when an area type is known; otherwise the hot deck). ``rule``: the
    presidential rule for the outcome probabilities (a preset name or law file); default
    the one the files' mapping declares, else plurality, said in the notes.
    """
    from escrutinio.dynamics import projection as P
    from escrutinio.dynamics.geography import REMOTENESS_COVARIATE
    from escrutinio.dynamics.sources import read_places_2020, read_roll, read_snapshot

    if roll is None:
        raise UsageError("a projection needs the roll: every expected table with its registered voters")
    snap = _snapshot(snapshot_or_election, contest, mapping)
    if isinstance(places, (str, Path)):
        places = read_places_2020(places)
    roll_frame = read_roll_with(roll, roll_mapping, mapping) if isinstance(roll, (str, Path)) else roll
    roll_frame, levels = roll_levels(roll_frame, places)
    # (a mapping's ``area_level`` (C7) names the area for outlier grouping, e.g. the
    # municipality; it is not an area *type*, so it is not used here unless passed)
    if strata is None:
        strata = default_strata(roll_frame, levels, area_level)
    if covariates is None:
        covariates = [c for c in ("density", REMOTENESS_COVARIATE) if c in roll_frame.columns and strata]
    prev = None
    if previous is not None:
        if isinstance(previous, (str, Path)):
            ps = read_snapshot(previous, mapping=previous_mapping)
            prev = P.previous_place_rates(ps.frame, ps.choices)
        elif hasattr(previous, "frame"):
            prev = P.previous_place_rates(previous.frame, previous.choices)
        else:
            prev = previous
    frame = snap.counted()
    if arrival and arrival not in frame.columns:
        if arrival_from is None:
            raise UsageError(f"the partial count has no column {arrival!r}; give arrival_from (--arrival-from)")
        src = read_snapshot(arrival_from).frame.select(pl.col("unit").cast(pl.Utf8), arrival)
        frame = frame.with_columns(pl.col("unit").cast(pl.Utf8)).join(src, on="unit", how="left")
    from escrutinio.law import presidential

    # the rule the files declare decides the outcome probabilities: another country's
    # count must not be judged by Bolivia's 40% + 10 points
    law = presidential.resolve(rule, getattr(snap, "presidential_rule", None))
    r = P.project(frame, roll_frame, snap.counted_choices, levels=levels, simulations=simulations, seed=seed,
                  level=level, min_donors=min_donors, previous=prev, arrival=arrival, correct_bias=correct_bias,
                  completion_adjustment=completion_adjustment, strata=strata, model=model, covariates=covariates,
                  selection_r=selection_r,
                  rule=rule or getattr(snap, "presidential_rule", None) or law)
    r.notes.append(f"outcome probabilities under {law.name}")
    if places is not None and r.multilevel is not None:
        r.notes.extend(_remoteness_notes(places, roll_frame, covariates))
    return Projection(r, source=getattr(snap, "source", None))
