"""Stratified batch comparison (e.g. one stratum per department): Kaplan-Markov within
each stratum, Fisher's combining function across strata, maximised over the way the
margin could be split among strata.

Papers: Stark, "Risk-limiting post-election audits: P-values from common probability
inequalities" (2009) for the Kaplan-Markov bound; Ottoboni, Stark, Lindeman & McBurnett,
"Risk-Limiting Audits by Stratified Union-Intersection Tests of Elections (SUITE)",
E-Vote-ID 2018, for combining stratum P-values with Fisher's function and maximising over
the allocation of error.

Set-up. Stratum ``s`` has MACRO bound ``U_s`` (in margin units, so the whole contest has
``sum_s U_s``) and is sampled independently, with replacement, with probability
proportional to the batches' bounds; the draws show taints ``t_sj <= 1``. The outcome is
wrong only if the strata's total errors ``E_s`` satisfy ``sum_s E_s >= 1``. For any split
``lambda`` with ``sum_s lambda_s = 1``, the null ``E_s >= lambda_s`` in stratum ``s`` has the
Kaplan-Markov P-value::

    P_s(lambda_s) = min(1, prod_j (1 - lambda_s / U_s) / (1 - t_sj))

Null hypothesis: the outcome is wrong, i.e. some split ``lambda`` with every
``E_s >= lambda_s``. Statistic: Fisher's ``F = -2 sum_s log P_s(lambda_s)``, minimised over
``lambda`` (each term is convex and non-decreasing in ``lambda_s``, so the minimum is found by
bisection on the Lagrange multiplier); the risk is ``chi2_sf(F_min, 2 S)``.

Caveat: Fisher's combination assumes a fixed number of draws per stratum; escalating in
rounds and re-testing is not covered by this guarantee (SUITE's sequential extensions
are not implemented). ``lambda_s`` is bounded below by the most negative error the stratum
can hold, ``lower_s`` (pass ``-inf`` if unknown: it only makes the risk larger).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from escrutinio.audit.risk_result import RiskVerdict
from escrutinio.errors import UsageError


@dataclass
class StratifiedResult(RiskVerdict):
    risk: float
    fisher: float
    allocation: list[float]
    stratum_risks: list[float]
    draws: list[int]
    risk_limit: float | None = None

    def summary(self) -> str:
        return (f"Stratified batch comparison (Kaplan-Markov per stratum, Fisher across {len(self.draws)} strata): "
                f"risk {self.risk:.4g}{self.verdict()} with draws {self.draws}; least favourable error split "
                f"{[round(x, 4) for x in self.allocation]}. Caveat: fixed sample sizes per stratum.")


def _minimise(n, S, U, lower, iters: int = 200):
    """Vectorised over leading axes: n, S (sum log(1 - t)), U, lower have shape (..., K).
    Returns (F_min, lambda)."""
    n = np.asarray(n, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
    U = np.broadcast_to(np.asarray(U, dtype=np.float64), n.shape)
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), n.shape)
    # below the kink the stratum's P-value is 1 (no cost)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        kink = np.where(n > 0, U * (1 - np.exp(np.minimum(S / np.where(n > 0, n, 1), 50.0))), U)
    kink = np.maximum(kink, lower)
    top = U * (1 - 1e-15)

    def lam(mu):
        with np.errstate(divide="ignore"):
            cand = np.where(n > 0, U - 2 * n / mu[..., None], top)
        return np.clip(np.maximum(kink, cand), lower, top)

    def cost(lmb):
        with np.errstate(divide="ignore"):
            g = -n * np.log1p(-lmb / U) + S
        return 2 * np.maximum(0.0, np.where(n > 0, g, 0.0)).sum(axis=-1)

    free = np.clip(kink, lower, top).sum(axis=-1)
    lo = np.zeros(n.shape[:-1])
    hi = np.full(n.shape[:-1], 1.0)
    # grow hi until the allocation reaches 1 (or saturates near U)
    for _ in range(200):
        grow = lam(hi).sum(axis=-1) < 1
        if not grow.any():
            break
        hi = np.where(grow, hi * 4, hi)
    for _ in range(iters):
        mid = (lo + hi) / 2
        over = lam(mid).sum(axis=-1) >= 1
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    lmb = lam(hi)
    F = np.where(free >= 1, 0.0, cost(lmb))
    feasible = top.sum(axis=-1) > 1
    return np.where(feasible, F, 0.0), lmb


def stratified_risk(taints_by_stratum: list, bounds: list, lower: list | None = None,
                    risk_limit: float | None = None) -> StratifiedResult:
    """Risk from the taints drawn in each stratum (a list of 1-D arrays) and the strata's
    bounds ``U_s``."""
    U = np.asarray(bounds, dtype=np.float64)
    if U.ndim != 1 or len(taints_by_stratum) != U.size or np.any(U <= 0):
        raise UsageError("one positive bound per stratum, and one taint list per stratum")
    L = np.full(U.size, -np.inf) if lower is None else np.asarray(lower, dtype=np.float64)
    ts = [np.minimum(np.asarray(t, dtype=np.float64), 1.0) for t in taints_by_stratum]
    n = np.array([t.size for t in ts], dtype=np.float64)
    with np.errstate(divide="ignore"):
        S = np.array([np.log1p(-t).sum() for t in ts])
    F, lmb = _minimise(n, S, U, L)
    risk = float(chi2.sf(F, 2 * U.size)) if np.isfinite(F) else 0.0
    with np.errstate(divide="ignore"):
        lp = np.minimum(0.0, n * np.log1p(-lmb / U) - S)
    return StratifiedResult(risk, float(F), lmb.tolist(), np.exp(lp).tolist(), n.astype(int).tolist(), risk_limit)


def zero_error_sample_size(bounds, risk_limit: float, max_total: int = 10_000_000) -> dict:
    """Smallest total number of draws, allocated in proportion to the strata's bounds
    (rounded up), for which a sample with no discrepancies confirms the outcome."""
    U = np.asarray(bounds, dtype=np.float64)

    def risk(total):
        n = np.ceil(total * U / U.sum())
        F, _ = _minimise(n, np.zeros_like(n), U, np.full(U.size, -np.inf))
        return float(chi2.sf(F, 2 * U.size)), n

    lo, hi = 0, 1
    while risk(hi)[0] > risk_limit:
        lo, hi = hi, hi * 2
        if hi > max_total:
            raise UsageError("no feasible sample size: full hand count")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if risk(mid)[0] <= risk_limit:
            hi = mid
        else:
            lo = mid
    r, n = risk(hi)
    return {"total": int(n.sum()), "per_stratum": n.astype(int).tolist(), "risk": r}


def simulate(bounds: list, batch_bounds: list, batch_taints: list, n_per_stratum: list, reps: int = 1000,
             seed: int = 0) -> np.ndarray:
    """Risks of ``reps`` simulated stratified audits with fixed draws per stratum; each
    stratum ``s`` draws its batches with probability proportional to ``batch_bounds[s]``
    and sees ``batch_taints[s]``."""
    rng = np.random.default_rng(seed)
    K = len(bounds)
    n = np.array(n_per_stratum, dtype=np.float64)
    S = np.zeros((reps, K))
    for s in range(K):  # strata are few; draws within each are vectorised
        b = np.asarray(batch_bounds[s], dtype=np.float64)
        t = np.minimum(np.asarray(batch_taints[s], dtype=np.float64), 1.0)
        cum = np.cumsum(b) / b.sum()
        d = np.minimum(np.searchsorted(cum, rng.random((reps, int(n[s]))), side="right"), b.size - 1)
        with np.errstate(divide="ignore"):
            S[:, s] = np.log1p(-t[d]).sum(axis=1)
    F, _ = _minimise(np.broadcast_to(n, (reps, K)), S, np.asarray(bounds, dtype=np.float64), -np.inf)
    return chi2.sf(F, 2 * K)
