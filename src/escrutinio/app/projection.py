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


def _counted_mask(counted: pl.DataFrame, roll: pl.DataFrame):
    """Which of the roll's tables are counted, on the key the projection matches on
    (None when the two files share no usable key; the projection then says why)."""
    import numpy as np

    for key in ("unit_id", "unit"):
        if (key in counted.columns and key in roll.columns and counted[key].null_count() == 0
                and roll[key].null_count() == 0):
            return roll[key].cast(pl.Utf8).is_in(counted[key].cast(pl.Utf8).implode()).to_numpy().astype(np.bool_)
    return None


def _representativeness(counted: pl.DataFrame, roll: pl.DataFrame, levels, strata, strata_given: bool, model: str):
    """Measure counted against uncounted tables on the roll's attributes
    (:mod:`escrutinio.dynamics.representativeness`) and, without an area type, choose the
    model: an unrepresentative count gets the multilevel model by settlement size x first
    level x the locality (or municipality), whose selection prior was measured in those
    strata; a representative one keeps the hot deck. Returns the roll (with the settlement
    columns when they were built), strata, the measurement, notes and a selection prior."""
    from escrutinio.dynamics.multilevel import SELECTION_R_SETTLEMENT
    from escrutinio.dynamics.representativeness import (SETTLEMENT, imbalance, implied_selection_r,
                                                         settlement_classes, within_strata)

    mask = _counted_mask(counted, roll)
    if mask is None or not mask.any() or mask.all():
        return roll, strata, None, [], None
    place = levels[-1] if levels and levels[-1] in roll.columns else ("place_id" if "place_id" in roll.columns else None)
    with_settlement = settlement_classes(roll, levels)
    base = with_settlement if with_settlement is not None else roll
    classes = [c for c in ("area", SETTLEMENT) if c in base.columns]
    rep = imbalance(base, mask, place=place, classes=classes)
    notes = [rep.text()]
    if strata_given or strata or model == "hotdeck":
        return roll, strata, rep, notes, None
    if not rep.unrepresentative and model == "auto":
        notes.append("the roll shows no meaningful imbalance, so the hot deck (matching on geography) is used")
        return roll, strata, rep, notes, None
    if with_settlement is None:
        notes.append("the roll has no level above the polling place to measure settlement size by: the projection "
                     "cannot account for the imbalance")
        return roll, strata, rep, notes, None
    geo = [lv for lv in levels if lv not in ("country", "polling_place", levels[-1])]
    inner = "municipality" if "municipality" in geo else levels[-2]
    new = [SETTLEMENT] + ([geo[0]] if geo and geo[0] != inner else []) + [inner]
    top = new[:2] if len(new) > 2 else new[:1]
    smd, f = within_strata(with_settlement, mask, top, place, with_share=True)
    r_obs = implied_selection_r(smd, f)
    rep.within = {"strata": top, "smd": smd, "counted_share": f, "implied_r": r_obs}
    notes.append(f"no area type is known (no --places), so the multilevel model uses strata {', '.join(new)} from the "
                 f"roll alone: settlement size is the decade of the registered voters of each polling place's "
                 f"{levels[-2]}, and the order's selection prior ({SELECTION_R_SETTLEMENT:g}) was measured in these "
                 "strata on Bolivia's 2019 count orders")
    if rep.strata_leave_selection:
        notes.append(f"within {' x '.join(top)} the counted tables are still unlike the uncounted ones (log voters "
                     f"per polling place {rep.within['smd']:+.2f} sd): the roll cannot account for the order's "
                     "selection, so the interval is the model's figure, not a calibrated one (on simulated urban-first "
                     "counts where the roll's strata were blind to it, such intervals covered 0-85% at 95%), and the "
                     "outcome probabilities are withheld; give the polling places (--places)")
    prior = SELECTION_R_SETTLEMENT
    if rep.strata_leave_selection and math.isfinite(r_obs) and r_obs > prior:
        # The order is more selective here than the prior allows, on what the roll shows;
        # selection on what it does not show is taken to be as strong (Altonji, Elder &
        # Taber 2005), so the prior's scale is the selection the roll measures.
        prior = r_obs
        notes.append(f"the selection within {' x '.join(top)} on log voters per polling place implies a correlation "
                     f"r = {r_obs:.2f} between the count order and the roll's attribute (at {100 * f:.1f}% counted), "
                     f"more than the prior {SELECTION_R_SETTLEMENT:g}: the order's selection on the vote is drawn "
                     f"with scale {r_obs:.2f} (selection on what the roll does not show taken as strong as on what "
                     "it shows)")
    return with_settlement, new, rep, notes, prior


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
            mapping=None, roll_mapping=None, previous_mapping=None, simulations: int | None = None, level: float = 0.95,
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
    the one the files' mapping declares, else plurality, said in the notes. ``simulations``:
    None chooses them from a pilot of 2,000 so that ten seeds move no bound by more than
    0.05 points, at most 64,000 (:mod:`escrutinio.dynamics.projection.auto`; the notes and
    ``monte_carlo["auto"]`` say how many, why and the cost); a number is kept exactly.
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
    frame0 = snap.counted()
    strata_given = strata is not None
    if strata is None:
        strata = default_strata(roll_frame, levels, area_level)
    # how unlike the uncounted tables the counted ones are, in what the roll holds; without
    # an area type an unrepresentative count gets strata by settlement size from the roll
    roll_frame, strata, rep, rep_notes, auto_r = _representativeness(
        frame0, roll_frame, levels, strata, strata_given, model)
    if selection_r is None and auto_r is not None:
        selection_r = auto_r
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
    try:
        r = P.project(frame, roll_frame, snap.counted_choices, levels=levels, simulations=simulations, seed=seed,
                      level=level, min_donors=min_donors, previous=prev, arrival=arrival, correct_bias=correct_bias,
                      completion_adjustment=completion_adjustment, strata=strata, model=model, covariates=covariates,
                      selection_r=selection_r,
                      rule=rule or getattr(snap, "presidential_rule", None) or law)
    except UsageError as e:  # name the file the message is about
        msg = str(e)
        for what, src in (("the roll", roll), ("the partial count", snapshot_or_election)):
            if msg.startswith(what) and isinstance(src, (str, Path)):
                raise UsageError(f"{Path(src).name}: {msg}") from None
        raise
    r.notes.append(f"outcome probabilities under {law.name}")
    r.notes.extend(rep_notes)
    r.representativeness = rep.to_dict() if rep is not None else None
    if rep is not None and rep.strata_leave_selection:
        r.outcome_probabilities = {k: float("nan") for k in r.outcome_probabilities}
    elif rep is not None and rep.unrepresentative and r.multilevel is None and model == "auto" and not strata_given:
        # the hot deck on a count measured as unrepresentative: on simulated urban-first
        # counts its intervals covered 0-11% and its Brier score was worse than a coin's,
        # so its calibration supports no outcome probability at all
        r.outcome_probabilities = {k: float("nan") for k in r.outcome_probabilities}
        r.notes.append("outcome probabilities withheld: the counted tables are unlike the uncounted ones and the roll "
                       "holds nothing this projection can account for it by (no area type, no level above the polling "
                       "place); give the polling places (--places) or a roll with its geographic levels")
    if places is not None and r.multilevel is not None:
        r.notes.extend(_remoteness_notes(places, roll_frame, covariates))
    return Projection(r, source=getattr(snap, "source", None))
