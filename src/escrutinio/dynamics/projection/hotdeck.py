"""Projection (nowcast) of a final result from a partial count.

Method: hierarchical hot-deck imputation with a nested (cluster) bootstrap.

Every expected table comes from the roll (identity, geography, registered voters). Each
table not yet counted is imputed from counted tables that are geographically closest,
walking up the hierarchy polling place -> locality -> municipality -> province ->
department -> country, as CEPR (Long, Rosnick et al., "What happened in Bolivia's 2019
vote count?", Nov 2019) and Curiel & Williams ("Bolivia Dispute Election in 2019",
MIT Election Data and Science Lab, Feb 2020) did. Matching by place, not assuming the
uncounted look like the counted average, is what absorbs non-random arrival: late areas
differ (Idrobo, Kronick & Rodríguez, J. Politics 84(4), 2022).

Uncertainty, per simulation:

1. *Anchor.* An uncounted table's anchor is its deepest ancestor with at least
   ``min_donors`` counted children (tables for a polling place, places for a locality,
   ...). The anchor's counted children estimate its mean, so the child that the table
   descends through is given a donor drawn from a **bootstrap resample** of the anchor's
   counted children, shared by every uncounted node of that anchor in the simulation.
   Sharing one resample is what makes uncounted siblings correlated, so the spread of the
   simulated total includes the uncertainty of the group mean (variance ~ m sigma^2 +
   m^2 sigma^2 / n for m uncounted among n counted), not only table-to-table noise.
2. *Structure below the anchor.* Below the anchor, each uncounted node takes a donor
   drawn uniformly among the counted children of its parent's donor (a donor locality,
   then one of its places, then one of its tables): an uncounted polling place inherits
   the between-table spread of a real place, and its tables stay correlated.
3. *Table.* The uncounted table receives the donor table's rates per registered voter
   (each choice, blank, null) times its own registered voters from the roll. The donor's
   rates already carry its sampling noise, so no separate multinomial term is added.

4. *Slow places.* Geography alone assumes that, within an area, a polling place with no
   counted table votes like the counted places. When places that report slowly vote
   differently, that fails: in Bolivia 2019 the places still missing at 19:40 were more
   for MAS than the counted places of their municipality, and the geography-only interval
   ([10.26, 10.46]) misses the final 10.56. Every place's *completion* (share of its
   registered voters counted) measures how slowly it reports, so the within-area slope
   of rates on completion is tested (H0: no slope; per-channel t, Bonferroni); only when p < 0.01 are
   wholly uncounted places (completion 0) shifted along it, with the slope redrawn per
   simulation and shrunk by empirical Bayes. See :func:`_completion_shift`.

Null hypothesis: none for the projection itself (it is an estimator); the slow-place
adjustment reports its own test. Statistic: projected totals per choice
and the lead (points of valid votes between the two leading choices of the point
estimate). Interval: simulation quantiles (equal-tailed). Verdict probabilities: the law
(Bolivia, art. 166 of the Constitution: first-round win with more than 50% of valid
votes, or at least 40% and 10 points ahead of the second) applied to each simulation's
integer totals with exact integer comparisons.

Caveat, in plain words: the projection assumes the uncounted tables in a place vote like
the counted tables of the same place (or of the nearest area with enough counted
tables). If whole areas that vote differently are missing, or if counted numbers change
later, the projection can be wrong with confidence. It is an expectation, not a count.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from escrutinio.dynamics.projection.plumbing import _extrapolation, _previous_rates
from escrutinio.dynamics.projection.result import ProjectionResult, _finish

SIZE_BREAKS = (1, 3, 8)  # tables per polling place: 1 | 2-3 | 4-8 | 9+


def _size_strata(hcols: list[str], rollh: pl.DataFrame) -> tuple[list[str], pl.DataFrame]:
    """Insert a place-size class (tables per polling place in the roll) above the
    locality level: a wholly uncounted polling place is then imputed from counted places
    of the same size class in its area. Why: in Bolivia 2019 the late places were small
    and rural and voted differently from the large urban places of the same municipality
    (Idrobo, Kronick & Rodríguez 2022); size is known for every place from the roll."""
    place = hcols[-1]
    n = pl.len().over(place)
    sz = (pl.when(n <= SIZE_BREAKS[0]).then(pl.lit("s1")).when(n <= SIZE_BREAKS[1]).then(pl.lit("s2"))
          .when(n <= SIZE_BREAKS[2]).then(pl.lit("s3")).otherwise(pl.lit("s4")))
    at = len(hcols) - 2  # position of the level just above the place (locality)
    rollh = rollh.with_columns(sz.alias("_sz"))
    new = hcols[:at] + ["_h_size"]
    exprs = [pl.concat_str([pl.col(hcols[at - 1]), pl.col("_sz")], separator="|").alias("_h_size")]
    for c in hcols[at:-1]:
        exprs.append(pl.concat_str([pl.col(c), pl.col("_sz")], separator="|").alias(c))
    return new + hcols[at:], rollh.with_columns(exprs)


@dataclass
class _Plan:
    """Pre-computed index arrays for the nested bootstrap (built once, used per chunk)."""

    depth_names: list[str]
    steps: list[dict]  # per depth: arrays describing the uncounted nodes to give donors
    table_step: dict
    R_unc: np.ndarray  # registered of uncounted tables (float64)
    rates: np.ndarray  # donor tables x channels (float32)
    imputed_at: dict[str, int]
    prepared: list | None = None
    R_tab: np.ndarray | None = None
    rates64: np.ndarray | None = None
    salt: np.uint64 = np.uint64(0)



_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _uniform_hash(keys: np.ndarray, salt: np.uint64) -> np.ndarray:
    """Uniform [0,1) floats from integer keys (splitmix64 finaliser): a bootstrap resample
    slot's value is a function of (simulation, slot), so two uncounted nodes that pick the
    same slot get the same donor without materialising the whole resample."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + salt
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _build_plan(H: np.ndarray, donor: np.ndarray, R: np.ndarray, rates_all: np.ndarray,
                depth_names: list[str], min_donors: int) -> _Plan:
    """H: tables x D node codes (depth 0 = root), donor: bool tables, R: registered."""
    n, D = H.shape
    # counted-touching ("live") nodes per depth, and live children counts
    live = []
    for d in range(D):
        size = int(H[:, d].max()) + 1 if n else 0
        lv = np.zeros(size, bool)
        lv[H[donor, d]] = True
        live.append(lv)
    # live children count per node at depth d (children live at d+1; tables at the last depth)
    nchild = []
    for d in range(D):
        if d + 1 < D:
            pairs = np.unique(np.stack([H[:, d], H[:, d + 1]], 1)[live[d + 1][H[:, d + 1]]], axis=0)
            cnt = np.bincount(pairs[:, 0], minlength=live[d].size)
        else:
            cnt = np.bincount(H[donor, d], minlength=live[d].size)
        nchild.append(cnt)
    unc = np.flatnonzero(~donor)
    Hu = H[unc]
    # anchor depth per uncounted table: deepest ancestor with >= min_donors live children;
    # the root is the last resort whenever it has any.
    anchor = np.zeros(unc.size, np.int64)
    for d in range(1, D):
        ok = nchild[d][Hu[:, d]] >= min_donors
        anchor = np.where(ok, d, anchor)
    imputed_at = {}
    for d in range(D):
        k = int((anchor == d).sum())
        if k:
            imputed_at[depth_names[d]] = k
    # live children lists (CSR) per depth: children of node p at depth d are live nodes at d+1
    steps = []
    for d in range(1, D + 1):
        # nodes at depth d on a chain: tables' nodes at depth d with anchor < d
        on = anchor < d
        if d < D:
            node = Hu[on, d]
        else:
            node = np.flatnonzero(on)  # tables themselves (indices into unc)
        parent = Hu[on, d - 1]
        start = (anchor[on] == d - 1)
        if d < D:
            uniq, inv = np.unique(node, return_inverse=True)
            par = np.zeros(uniq.size, np.int64)
            par[inv] = parent
            st = np.zeros(uniq.size, bool)
            st[inv] = start
            # donor candidates: live children of a parent at depth d-1
            pairs = np.unique(np.stack([H[:, d - 1], H[:, d]], 1)[live[d][H[:, d]]], axis=0)
        else:
            uniq, inv = node, np.arange(node.size)
            par, st = parent, start
            dt = np.flatnonzero(donor)
            order = np.argsort(H[dt, d - 1], kind="stable")
            pairs = np.stack([H[dt, d - 1][order], dt[order]], 1)
        cstart = np.searchsorted(pairs[:, 0], np.arange(live[d - 1].size))
        ccount = np.bincount(pairs[:, 0], minlength=live[d - 1].size)
        steps.append(dict(nodes=uniq, inv=inv, parent=par, start=st, children=pairs[:, 1],
                          cstart=cstart, ccount=ccount, on=on))
    # map table-level donor ids into rows of the rates matrix
    return _Plan(depth_names, steps[:-1], steps[-1], R[unc].astype(np.float64), rates_all, imputed_at)


def _prepare_steps(plan: _Plan) -> list[dict]:
    """Static per-step index arrays (identical for every chunk of simulations)."""
    out = []
    prev_nodes = None
    for st in plan.steps + [plan.table_step]:
        parent, start = st["parent"], st["start"]
        cstart, ccount = st["cstart"], st["ccount"]
        si, ci = np.flatnonzero(start), np.flatnonzero(~start)
        prep = dict(m=st["nodes"].size, si=si, ci=ci, children=st["children"], cstart=cstart,
                    ccount=ccount.astype(np.float32))
        if si.size:
            anchors, a_inv = np.unique(parent[si], return_inverse=True)
            n_a = ccount[anchors]
            # resample of size n-1 (not n): its mean then varies like s^2/n, the sampling
            # variance of the anchor's mean; a size-n resample understates it by (n-1)/n,
            # the small-sample bias of the approximate Bayesian bootstrap (Rubin &
            # Schenker 1986) discussed by Parzen, Lipsitz & Fitzmaurice (2005).
            n_slots = np.maximum(n_a - 1, 1)
            off = np.concatenate([[0], np.cumsum(n_slots)[:-1]])
            prep.update(n_inv=n_a[a_inv].astype(np.float32), slots_inv=n_slots[a_inv].astype(np.float32),
                        base_inv=cstart[anchors][a_inv], off_inv=off[a_inv].astype(np.int64),
                        total=int(n_slots.sum()))
        if ci.size:
            prep["pos"] = np.searchsorted(prev_nodes, parent[ci])
        out.append(prep)
        prev_nodes = st["nodes"]
    return out


def _simulate(plan: _Plan, S: int, rng: np.random.Generator, s0: int = 0) -> np.ndarray:
    """Simulated totals of the uncounted tables: S x channels (float64)."""
    C = plan.rates.shape[1]
    if plan.R_unc.size == 0:
        return np.zeros((S, C))
    prev_donor = None
    for st in plan.prepared:
        m = st["m"]
        if m == 0:
            prev_donor = np.zeros((S, 0), np.int64)
            continue
        donor = np.empty((S, m), np.int64)
        children, cstart = st["children"], st["cstart"]
        si, ci = st["si"], st["ci"]
        if si.size:
            # start nodes: a donor from a bootstrap resample of the anchor's counted
            # children, one resample per (simulation, anchor), shared by all the anchor's
            # uncounted children. Slot j of the resample is a hash of (simulation, slot),
            # so two nodes that draw the same slot get the same donor.
            n_inv = st["n_inv"]
            j = (rng.random((S, si.size), dtype=np.float32) * st["slots_inv"]).astype(np.int64)
            slot = (np.arange(s0, s0 + S, dtype=np.int64)[:, None] * st["total"] + st["off_inv"]) + j
            pick = (_uniform_hash(slot, plan.salt + np.uint64(len(si))) * n_inv).astype(np.int64)
            donor[:, si] = children[st["base_inv"] + pick]
        if ci.size:
            # below the anchor: a uniform counted child of the parent's donor
            pdon = prev_donor[:, st["pos"]]
            u = (rng.random((S, ci.size), dtype=np.float32) * st["ccount"][pdon]).astype(np.int64)
            donor[:, ci] = children[cstart[pdon] + u]
        prev_donor = donor
    # totals = sum_u R_u * rates[donor(s,u)]: a sparse (simulation x donor) matrix of
    # registered voters, built directly in CSR form (one row per simulation, no sorting),
    # times the dense rates matrix
    from scipy import sparse

    R = plan.R_tab
    nt = plan.rates.shape[0]
    m = prev_donor.shape[1]
    W = sparse.csr_matrix((np.broadcast_to(R, prev_donor.shape).ravel(), prev_donor.ravel(),
                           np.arange(0, S * m + 1, m, dtype=np.int64)), shape=(S, nt))
    return np.asarray(W @ plan.rates64)


COMPLETION_ALPHA = 0.01


def _hotdeck_extrapolation(joined, hcols, is_c, Rr, k) -> dict:
    """For the hot deck: strata are the level two above the polling place (municipality)."""
    cols = [hcols[-3]] if len(hcols) >= 3 else hcols[:1]
    return _extrapolation(joined, cols, is_c, Rr, k)


def _completion_shift(joined: pl.DataFrame, hcols: list[str], is_c: np.ndarray, rates: np.ndarray,
                      denom: np.ndarray, Rr: np.ndarray, S: int, rng: np.random.Generator):
    """Response-propensity adjustment for wholly uncounted polling places.

    Statistic: within each area (the level two above the polling place, a municipality
    in Bolivia), the slope of a counted place's rates per registered voter on its
    completion (share of its registered voters already counted), pooled across areas by
    within-area least squares over places, weighted by counted registered voters (a
    place's rate varies like 1 / its size). Completion stands for how fast a place reports; a
    non-zero slope means slow places vote differently, which the hot deck, matching only
    by geography, cannot see. A wholly uncounted place has completion 0, so its expected
    rate is its area's mean counted-place rate minus slope x the area's mean completion.
    Interval: the slope is redrawn per simulation by a cluster (area) Poisson bootstrap
    (Hanley & MacGibbon 2006), so its estimation uncertainty widens the projection.
    Null: slope 0 (missing at random given geography), under which the shift is noise.
    After Little (1986, "Survey nonresponse adjustments for estimates of means", Int.
    Stat. Rev. 54) on response-propensity cells; motivation in Idrobo, Kronick &
    Rodríguez (J. Politics 2022): slow-reporting places differ.

    Returns (S x channels shift in votes to add to the imputed totals, info dict) or
    (None, None) when there is nothing to adjust or no variation to learn from.
    """
    if len(hcols) < 2:
        return None, None
    place, group = hcols[-1], hcols[-3] if len(hcols) >= 3 else hcols[-2]
    C = rates.shape[1]
    base = pl.DataFrame({"p": joined[place], "g": joined[group], "c": is_c, "R": Rr, "d": np.where(is_c, denom, 0.0)})
    y = pl.DataFrame(rates.astype(np.float64) * np.where(is_c, denom, 0.0)[:, None], schema=[f"y{i}" for i in range(C)])
    t = pl.concat([base, y], how="horizontal")
    P = t.group_by("p", maintain_order=True).agg(pl.col("g").first(), pl.col("R").sum(), pl.col("d").sum().alias("Rc"),
                            pl.col("c").any().alias("live"), *[pl.col(f"y{i}").sum() for i in range(C)])
    live = P.filter(pl.col("live") & (pl.col("Rc") > 0) & (pl.col("R") > 0)).with_columns(
        (pl.col("Rc") / pl.col("R")).clip(0, 1).alias("x"), *[(pl.col(f"y{i}") / pl.col("Rc")) for i in range(C)])
    if live.height < 3:
        return None, None

    def wmean(c: str) -> pl.Expr:
        return (pl.col(c) * pl.col("Rc")).sum().over("g") / pl.col("Rc").sum().over("g")

    live = live.with_columns(pl.col("x").mean().over("g").alias("xbar"), (pl.col("x") - wmean("x")).alias("xc"),
                             *[(pl.col(f"y{i}") - wmean(f"y{i}")).alias(f"yc{i}") for i in range(C)])
    G = live.group_by("g", maintain_order=True).agg((pl.col("Rc") * pl.col("xc") ** 2).sum().alias("sxx"), pl.col("xbar").first(),
                               *[(pl.col("Rc") * pl.col("xc") * pl.col(f"yc{i}")).sum().alias(f"sxy{i}")
                                 for i in range(C)]).sort("g")  # a stable order keeps draws reproducible
    sxx = G["sxx"].to_numpy()
    areas = int(sxx.size)
    if sxx.sum() <= 0 or areas < 3:
        return None, None
    sxy = G.select([f"sxy{i}" for i in range(C)]).to_numpy()
    dead = P.filter(~pl.col("live")).join(G.select("g", "xbar"), on="g", how="inner")
    K = float((dead["R"] * dead["xbar"]).sum()) if dead.height else 0.0
    if K == 0.0:
        return None, None
    beta = sxy.sum(axis=0) / sxx.sum()
    # at least 1,000 bootstrap draws for the standard errors, whatever S is. A draw whose
    # Poisson weights leave no variation (likely with few areas: all-zero weights have
    # probability e^-areas) has no slope; it is redrawn, not read as a slope of 0.
    need = max(S, 1000)
    w = rng.poisson(1.0, size=(2 * need, sxx.size)).astype(np.float64)
    den = w @ sxx
    ok = den > 0
    if ok.sum() < need:
        return None, None
    w, den = w[ok][:need], den[ok][:need]
    boot = (w @ sxy) / den[:, None]
    se = boot.std(axis=0)
    # test of "all slopes are 0": each channel's slope over its bootstrap standard error,
    # referred to Student's t with (areas - 1) df, Bonferroni over channels. The
    # adjustment is applied only when the data show that slow places differ (p <
    # COMPLETION_ALPHA); otherwise it would add noise to a projection that needs none.
    # (A joint Wald test was tried and rejected: with few areas the bootstrap covariance
    # of correlated channels is near-singular and the test over-rejects; per-channel t
    # with few-cluster df follows Cameron & Miller 2015, J. Human Resources 50(2).)
    from scipy.stats import t as t_dist

    # a slope known without error (se 0) is infinitely significant unless it is 0
    tstat = np.where(se > 0, beta / np.where(se > 0, se, 1), np.where(beta != 0, np.inf, 0.0))
    k = int(np.argmax(np.abs(tstat)))
    p_value = float(min(1.0, C * 2 * t_dist.sf(abs(tstat[k]), areas - 1)))
    # Empirical-Bayes shrinkage of each slope towards 0 (no adjustment): with a normal
    # prior of variance tau^2 = max(0, beta^2 - se^2) (positive-part James-Stein, Efron &
    # Morris 1973), the posterior is N(B beta, B se^2) with B = tau^2 / (tau^2 + se^2). A
    # slope indistinguishable from noise then neither moves the point nor widens the
    # interval; a clear one is kept whole.
    keep = np.clip(1 - se**2 / np.where(beta != 0, beta**2, np.inf), 0, 1)
    boot = (boot - beta) * np.sqrt(keep) + beta * keep
    info = {"null": "a counted place's rates do not depend on its completion (missing at random given geography)",
            "statistic": "largest |slope / bootstrap s.e.| over channels, Student t, Bonferroni",
            "t": float(tstat[k]), "channel": k, "df": areas - 1,
            "p_value": p_value, "alpha": COMPLETION_ALPHA, "applied": p_value < COMPLETION_ALPHA,
            "areas": areas, "area_level": group.removeprefix("_h_"), "uncounted_places": int(dead.height),
            "registered_weighted_completion": K, "slope": [float(b) for b in beta],
            "slope_se": [float(x) for x in se], "kept": [float(x) for x in keep]}
    if not info["applied"]:
        return None, info
    return -K * boot[:S], info


def run_hotdeck(*, choices, channels, joined, extra, hcols, depth_names, H, is_c, donor, V,
                rates, denom, Rc, Rr, previous, min_donors, simulations, seed, level, rule, notes, chunk,
                threads, completion_adjustment, extrapolation_k, arrival, replay, calibration_cuts, correct_bias
                ) -> ProjectionResult:
    """The hot deck's draws and result, from the tables joined to the roll by
    :func:`escrutinio.dynamics.projection.project`. ``replay()`` gives the imputation's
    errors replayed on the counted tables' arrival order (with ``arrival``)."""
    prev_const = np.zeros(len(channels))
    swing_note = None
    if previous is not None:
        P, matched, filled = _previous_rates(joined, previous, channels, hcols)
        # swing model: a donor passes on its change since the previous election at its
        # own place (rate now - rate then), added to the uncounted table's own previous
        # rate. The previous-rate part is fixed, so it is added once, outside the draws.
        rates[donor] = (rates[donor] - P[donor]).astype(np.float32)
        prev_const = (P[~is_c] * Rr[~is_c, None]).sum(axis=0)
        swing_note = (f"swing model on the previous election: channels {matched}; "
                      f"{filled} tables without a previous result at their place took their area's")
        notes.append(swing_note)
    # counted but unusable as donors (0 registered): their votes count, nothing to impute
    plan = _build_plan(H, donor | is_c, Rr, rates, depth_names, min_donors) if (~is_c).any() else None
    if plan is not None and (is_c & ~donor).any():
        # counted tables with no registered voters are live nodes; their rates are zero,
        # which is exactly what such a table would contribute, so keep them as donors.
        notes.append(f"{int((is_c & ~donor).sum())} counted tables have 0 registered voters")
    counted_tot = V[is_c].sum(axis=0) + (extra.select(channels).to_numpy().sum(axis=0) if extra.height else 0)
    counted_tot = counted_tot + prev_const  # zero without a previous election
    rng = np.random.default_rng(seed)
    S = simulations
    unc_n = int((~is_c).sum())
    if plan is None:
        sims = np.zeros((S, len(channels)))
    else:
        chunk = chunk or max(1, min(S, 250, int(2e6 // max(unc_n, 1))))
        plan.prepared = _prepare_steps(plan)
        plan.R_tab = plan.R_unc[plan.table_step["nodes"]]
        plan.rates64 = plan.rates.astype(np.float64)
        plan.salt = np.uint64(rng.integers(0, 2**62))
        # each chunk has its own random stream spawned from the seed, so results do not
        # depend on how many threads run them; numpy releases the GIL in the heavy ops
        starts = list(range(0, S, chunk))
        streams = [np.random.default_rng(ss) for ss in np.random.SeedSequence(rng.integers(0, 2**63)).spawn(len(starts))]
        jobs = [(min(chunk, S - s0), g, s0) for s0, g in zip(starts, streams)]
        workers = min(len(jobs), threads if threads is not None else (os.cpu_count() or 1))
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda j: _simulate(plan, *j), jobs))
        else:
            parts = [_simulate(plan, *j) for j in jobs]
        sims = np.vstack(parts)
    completion_info = None
    if completion_adjustment and plan is not None:
        shift, completion_info = _completion_shift(joined, hcols, is_c, rates, denom, Rr, S, rng)
        if shift is not None:
            sims = sims + shift
    arrival_info = None
    ext = _hotdeck_extrapolation(joined, hcols, is_c, Rr, extrapolation_k) if plan is not None else None
    if arrival is not None and plan is not None:
        E = replay()
        # errors of the same imputation on the counted tables' own arrival order: their
        # second-moment matrix scales a Gaussian multiplicative term on the imputed totals
        z = rng.standard_normal((S, E.shape[0]))
        if correct_bias:
            # shift by the mean replay error, spread by the errors' own covariance
            mu = E.mean(axis=0)
            delta = mu[None, :] + z @ (E - mu) / np.sqrt(max(E.shape[0] - 1, 1))
        else:
            delta = z @ E / np.sqrt(E.shape[0])
        # the term scales the whole imputed total (with a swing model, its fixed
        # previous-election part too), as the replay errors were measured on it
        sims = (sims + prev_const[None, :]) * (1 + delta) - prev_const[None, :]
        arrival_info = {"cuts": list(calibration_cuts), "bias_corrected": bool(correct_bias),
                        "relative_errors": {c: [float(x) for x in E[:, i]] for i, c in enumerate(channels)}}
        notes.append("uncertainty widened by the imputation's own errors when replayed on the counted tables' "
                     f"arrival order ({arrival!r}) at {', '.join(f'{100 * c:.0f}%' for c in calibration_cuts)} of them")
    return _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, S, seed, level, rule, notes,
                   plan.imputed_at if plan else {}, arrival_info, completion_info, ext,
                   "hierarchical hot-deck, nested bootstrap (CEPR 2019; Curiel & Williams 2020)")
