"""The multilevel model's plumbing for the projection: places, strata, covariates and a
previous election from the tables joined to the roll, handed to
:mod:`escrutinio.dynamics.multilevel`, and its draws turned into a result."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.geography import REMOTENESS_COVARIATE
from escrutinio.dynamics.projection.plumbing import _codes, _extrapolation, _previous_rates, _stratum_codes
from escrutinio.dynamics.projection.result import ProjectionResult, _finish


# bounds from the draws' conditional normal parts (result._conditional), not their order
# statistics; a switch so that the benchmark can run both in one process
CONDITIONAL_BOUNDS = True
# replicates of the covariates' slopes per simulation in the conditional bounds: their term
# is additive and independent of the rest, so each simulation's conditional distribution
# is averaged over this many replicates of it (result._conditional)
SLOPE_PARTNERS = 8


def _multilevel(joined, strata, hcols, is_c, donor, V, denom, Rr, previous, channels, S, rng, k, chunk, crossed=True,
                covariates=(), selection_r=None):
    """Multilevel imputation (see :mod:`escrutinio.dynamics.multilevel`): S x C draws and info."""
    from escrutinio.dynamics import multilevel as ml

    place = _codes(joined[hcols[-1]])
    P = int(place.max()) + 1
    C = len(channels)
    cnt = is_c & donor
    cR = np.bincount(place, np.where(cnt, denom, 0.0), P)
    cV = np.vstack([np.bincount(place, np.where(cnt, V[:, c], 0.0), P) for c in range(C)]).T
    uR = np.bincount(place, np.where(is_c, 0.0, Rr), P)
    keys = []
    for i in range(len(strata)):
        t = _stratum_codes(joined, strata[: i + 1])
        kp = np.zeros(P, np.int64)
        kp[place] = t
        keys.append(kp)
    x = None
    info: dict = {}
    if previous is not None:
        Pt, matched, filled = _previous_rates(joined, previous, channels, hcols)
        x = np.zeros((P, C))
        x[place] = Pt
        info["previous_note"] = (f"previous election as a covariate (rate now = slope x rate then + strata): channels "
                                 f"{matched}; {filled} tables without a previous result at their place took their area's")
    cross = None
    if crossed and len(strata) >= 2:
        cross = np.zeros(P, np.int64)
        cross[place] = _stratum_codes(joined, [strata[1]])
    # place covariates known for every place: log size (registered voters in the roll)
    # and any numeric place columns given (e.g. log population density)
    zs, znames = [np.log(np.maximum(np.bincount(place, Rr, P), 1.0))], ["log place size"]
    for c in covariates:
        col = joined[c].cast(pl.Float64, strict=False).to_numpy()
        z = np.full(P, np.nan)
        z[place] = col
        z = np.log(np.maximum(z, 1e-3)) if c.startswith("log:") or True else z
        z = np.where(np.isfinite(z), z, np.nanmean(z) if np.isfinite(z).any() else 0.0)
        zs.append(z)
        znames.append(f"log {c}")
    Z = np.stack(zs, 1)
    if selection_r is None:
        selection_r = ml.selection_prior(covariates)
    f = ml.fit(keys, [c.removeprefix("_h_") for c in strata], cR, cV, uR, place[cnt], denom[cnt], V[cnt], x, rng,
               cross=cross, Z=Z, selection_r=selection_r, boot=max(1000, S),
               slope_boot=max(1000, S * SLOPE_PARTNERS) if CONDITIONAL_BOUNDS else None)
    if CONDITIONAL_BOUNDS:
        sims, info["_parts"] = ml.simulate(f, S, rng, chunk=max(1, chunk // 2), parts=True)
    else:
        sims, info["_parts"] = ml.simulate(f, S, rng, chunk=max(1, chunk // 2)), None
    if f.selection is not None and f.selection.r_scale > 0:
        sd = f.selection.per_sd(float(f.U.sum()))
        info["selection"] = {"r_scale": f.selection.r_scale,
                             "sd_uncounted_rate": {ch: float(x) for ch, x in zip(channels, sd)}}
        info["selection_note"] = (f"the count order may favour some voters inside strata: its correlation with the "
                                  f"vote is drawn from N(0, {f.selection.r_scale:g}^2) (measured on Bolivia's 2019 "
                                  f"count orders, net of this model's place covariates; --selection-r 0 if tables "
                                  f"arrive at random)")
    info["levels"] = [{"level": n, "tau": [float(np.sqrt(t)) for t in lev.tau2], "df": lev.df,
                       "nodes": int(lev.parent.size), "nodes_with_data": int(np.isfinite(lev.v[:, 0]).sum())}
                      for n, lev in zip(f.names, f.levels)]
    info["strata"] = [c.removeprefix("_h_") for c in strata]
    info["covariates"] = (["previous rate"] if x is not None else []) + znames
    info["slopes"] = [[float(b) for b in row] for row in f.beta]  # channel x covariate
    info["slopes_se"] = [[float(b) for b in row] for row in f.beta_boot.std(axis=0)] if f.beta_boot is not None else []
    ext_cols = strata[:2] if len(strata) >= 2 else strata
    info["extrapolation"] = _extrapolation(joined, ext_cols, is_c, Rr, k, by=strata[0] if strata else None)
    return sims, info


def run_multilevel(*, choices, channels, joined, extra, strata: Sequence[str], hcols, is_c, donor, V, denom, Rc, Rr,
                   previous, simulations, seed, level, rule, notes, extrapolation_k, covariates, selection_r,
                   prev_const) -> ProjectionResult:
    """The multilevel model's draws and result, from the tables joined to the roll by
    :func:`escrutinio.dynamics.projection.project`."""
    rng = np.random.default_rng(seed)
    sims, ml_info = _multilevel(joined, strata or [c for c in hcols[:-1]], hcols, is_c, donor, V, denom, Rr,
                                previous, channels, simulations, rng, extrapolation_k, min(simulations, 250),
                                covariates=covariates, selection_r=selection_r)
    parts = ml_info.pop("_parts")
    if ml_info.get("previous_note"):
        notes.append(ml_info["previous_note"])
    notes.append("place covariates: " + ", ".join(
        "log registered voters within 5 km (how remote the place is, from the polling places' coordinates)"
        if c == f"log {REMOTENESS_COVARIATE}" else c for c in ml_info["covariates"]))
    if ml_info.get("selection_note"):
        notes.append(ml_info.pop("selection_note"))
    return _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, simulations, seed, level,
                   rule, notes, {"multilevel": int((~is_c).sum())}, None, None, ml_info.pop("extrapolation"),
                   "multilevel empirical Bayes by stratum (DerSimonian & Laird 1986; Fay & Herriot 1979)", ml_info,
                   parts=parts)
