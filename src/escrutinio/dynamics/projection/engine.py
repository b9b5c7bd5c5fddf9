"""The projection's entry point: checks the count against the roll, joins them, and runs
the model asked for (the multilevel model by stratum when strata are given, else the
hierarchical hot deck); the arrival-order replay that calibrates the hot deck."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.projection.hotdeck import _size_strata, run_hotdeck
from escrutinio.dynamics.projection.plumbing import EXTRAPOLATION_K, _codes, hierarchy
from escrutinio.dynamics.projection.result import ProjectionResult
from escrutinio.dynamics.projection.stratified import run_multilevel
from escrutinio.errors import UsageError


def project(
    counted: pl.DataFrame,
    roll: pl.DataFrame,
    choices: Sequence[str],
    *,
    levels: Sequence[str] | None = None,
    simulations: int | None = None,
    seed: int | None = 0,
    level: float = 0.95,
    min_donors: int = 2,
    size_strata: bool = False,
    previous: pl.DataFrame | None = None,
    arrival: str | None = None,
    calibration_cuts: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
    correct_bias: bool = False,
    completion_adjustment: bool = True,
    rule=None,
    key: str | None = None,
    chunk: int | None = None,
    threads: int | None = None,
    strata: Sequence[str] | None = None,
    model: str = "auto",
    extrapolation_k: int = EXTRAPOLATION_K,
    covariates: Sequence[str] = (),
    selection_r: float | None = None,
) -> ProjectionResult:
    """Project final totals from a partial count.

    ``counted``: unit frame under the law (``Snapshot.counted()``): ``unit`` (and/or
    ``unit_id``), ``registered``, one column per counted choice, ``blank``, ``null``.
    ``roll``: every expected table: the same key, levels or ``place_id``, ``registered``.
    ``choices``: the choices whose votes are valid (shares are of their sum).
    ``strata``: roll columns known for every table, coarse to fine (e.g. area type,
    department, municipality). With ``model="auto"`` they switch the imputation to the
    multilevel model of :mod:`escrutinio.dynamics.multilevel`; ``model="hotdeck"`` keeps
    the hierarchical hot deck, ``model="multilevel"`` uses the geographic levels as strata
    when none are given.
    ``simulations``: None (the default) chooses them from a pilot's stated Monte Carlo
    error (:mod:`.auto`: ten seeds within 0.05 points, at most 64,000, said in the notes
    and ``monte_carlo["auto"]``); a number is kept exactly.
    """
    if simulations is None:
        # every keyword as given (read before any other local exists), so that an option
        # added to this signature reaches the pilot and the sized run without a list to keep
        kw = {k: v for k, v in locals().items() if k not in ("counted", "roll", "choices", "simulations")}
        from escrutinio.dynamics.projection.auto import run_auto

        if seed is None:  # the pilot and the run it sizes use the same stream
            kw["seed"] = int(np.random.SeedSequence().entropy % (2**63))
        return run_auto(lambda S: project(counted, roll, choices, simulations=S, **kw))
    if model not in ("auto", "hotdeck", "multilevel"):
        raise UsageError(f"unknown model {model!r}: auto, hotdeck or multilevel")
    strata = [c for c in (strata or ())]
    for c in strata:
        if c not in roll.columns:
            raise UsageError(f"the roll has no stratum column {c!r}")
    use_ml = model == "multilevel" or (model == "auto" and bool(strata))
    if not 0 < level < 1:
        raise UsageError("level must be between 0 and 1")
    if simulations < 1:
        raise UsageError("simulations must be positive")
    choices = list(choices)
    missing = [c for c in [*choices, "blank", "null", "registered"] if c not in counted.columns]
    if missing:
        raise UsageError(f"counted frame lacks columns {missing}")
    if "registered" not in roll.columns:
        raise UsageError("the roll has no registered-voters column")
    if key is None:
        key = "unit_id" if ("unit_id" in counted.columns and "unit_id" in roll.columns
                            and counted["unit_id"].null_count() == 0 and roll["unit_id"].null_count() == 0) else "unit"
    for what, fr in (("the roll", roll), ("the partial count", counted)):
        if key not in fr.columns or fr[key].null_count() == fr.height:
            other = "unit_id" if key == "unit" else "unit"
            raise UsageError(f"{what} has no table identifier {key!r} to match tables on (the other file identifies "
                             f"them by {other!r} or not at all): give the roll of the same election as the count")
        if fr[key].null_count():
            row = int(fr.with_row_index("_i").filter(pl.col(key).is_null())["_i"][0]) + 2
            raise UsageError(f"{what}, row {row}, column {key}: no table identifier")
    if roll[key].is_duplicated().any():
        raise UsageError(f"the roll lists table {roll.filter(pl.col(key).is_duplicated())[key][0]!r} more than once")
    if counted[key].is_duplicated().any():
        raise UsageError(f"the partial count lists table {counted.filter(pl.col(key).is_duplicated())[key][0]!r} more than once")
    nulls = counted.select([pl.col(c).null_count() for c in [*choices, "blank", "null", "registered"]]).row(0)
    if any(nulls):
        raise UsageError("the partial count has tables with unreadable vote numbers; check it before projecting")
    channels = [*choices, "blank", "null"]
    hcols, rollh = hierarchy(roll.with_columns(pl.col(key).cast(pl.Utf8)), levels)
    if size_strata and len(hcols) >= 3:
        hcols, rollh = _size_strata(hcols, rollh)
    depth_names = ["country(all)"] + [c.removeprefix("_h_") for c in hcols] + ["table"]
    cnt = counted.select(pl.col(key).cast(pl.Utf8), pl.col("registered").alias("_reg_c"), *channels)
    keep = [key, "registered", *hcols] + (["place_id"] if "place_id" in rollh.columns else [])
    keep += [c for c in [*strata, *covariates] if c not in keep]
    joined = rollh.select(keep).join(cnt, on=key, how="left")
    extra = cnt.join(rollh.select(key), on=key, how="anti")
    notes = []
    if extra.height:
        notes.append(f"{extra.height} counted tables are not in the roll; their votes are added as counted "
                     "but they do not serve as donors")
    is_c = joined["_reg_c"].is_not_null().to_numpy()
    V = joined.select([pl.col(c).fill_null(0) for c in channels]).to_numpy().astype(np.float64)
    Rc = joined["_reg_c"].fill_null(0).to_numpy().astype(np.float64)
    Rr = joined["registered"].fill_null(0).to_numpy().astype(np.float64)
    denom = np.where(Rc > 0, Rc, Rr)
    donor = is_c & (denom > 0)
    if not donor.any():
        raise UsageError("no counted table to project from")
    rates = np.zeros_like(V, dtype=np.float32)
    rates[donor] = (V[donor] / denom[donor, None]).astype(np.float32)
    H = np.zeros((joined.height, len(hcols) + 1), np.int64)
    for i, c in enumerate(hcols):
        H[:, i + 1] = _codes(joined[c])
    prev_const = np.zeros(len(channels))
    if use_ml:
        return run_multilevel(choices=choices, channels=channels, joined=joined, extra=extra, strata=strata,
                              hcols=hcols, is_c=is_c, donor=donor, V=V, denom=denom, Rc=Rc, Rr=Rr, previous=previous,
                              simulations=simulations, seed=seed, level=level, rule=rule, notes=notes,
                              extrapolation_k=extrapolation_k, covariates=covariates, selection_r=selection_r,
                              prev_const=prev_const)

    def replay():
        return arrival_errors(counted, arrival, roll, choices, levels=levels, key=key, cuts=calibration_cuts,
                              min_donors=min_donors, size_strata=size_strata, previous=previous)

    return run_hotdeck(choices=choices, channels=channels, joined=joined, extra=extra, hcols=hcols,
                       depth_names=depth_names, H=H, is_c=is_c, donor=donor,
                       V=V, rates=rates, denom=denom, Rc=Rc, Rr=Rr, previous=previous, min_donors=min_donors,
                       simulations=simulations, seed=seed, level=level, rule=rule,
                       notes=notes, chunk=chunk, threads=threads, completion_adjustment=completion_adjustment,
                       extrapolation_k=extrapolation_k, arrival=arrival, replay=replay,
                       calibration_cuts=calibration_cuts, correct_bias=correct_bias)


def arrival_errors(counted: pl.DataFrame, arrival: str, roll: pl.DataFrame, choices: Sequence[str], *,
                   levels=None, key: str = "unit", cuts: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                   min_donors: int = 2, size_strata: bool = False, previous=None, simulations: int = 100) -> np.ndarray:
    """Relative errors of the imputation replayed on the counted tables' own arrival order.

    For each cut k, the first k of the counted tables (by ``arrival``) play the counted
    ones and the rest of the counted tables play the uncounted; the error is
    (actual - expected) / expected total per channel of those held-back tables. Only
    information available at the time of the partial count is used. Returns cuts x channels.
    """
    if arrival not in counted.columns:
        raise UsageError(f"the partial count has no arrival column {arrival!r}")
    if counted[arrival].null_count():
        raise UsageError(f"{counted[arrival].null_count()} counted tables have no arrival order in {arrival!r}")
    channels = [*choices, "blank", "null"]
    f = counted.sort([arrival, key])
    sub_roll = roll.join(f.select(pl.col(key).cast(roll[key].dtype)), on=key, how="semi")
    rows = []
    for c in cuts:
        n = int(round(c * f.height))
        early, late = f.head(n), f.tail(f.height - n)
        if early.height == 0 or late.height == 0:
            continue
        r = project(early, sub_roll, choices, levels=levels, simulations=simulations, seed=1, key=key,
                    min_donors=min_donors, size_strata=size_strata, previous=previous)
        expected = r.draws.mean(axis=0)
        actual = late.select(channels).sum().to_numpy().ravel().astype(np.float64)
        rows.append((actual - expected) / np.where(expected > 0, expected, 1))
    if not rows:
        raise UsageError("too few counted tables to replay their arrival order")
    return np.vstack(rows)


def project_snapshot(snapshot, roll: pl.DataFrame, **kw) -> ProjectionResult:
    """:func:`project` for a :class:`~escrutinio.model.Snapshot` under the law."""
    frame = snapshot.counted()
    return project(frame, roll, snapshot.counted_choices, levels=kw.pop("levels", snapshot.levels), **kw)
