"""Hartigan's dip test of unimodality, implemented from the paper.

Hartigan, J. A. & Hartigan, P. M. (1985). "The dip test of unimodality." Annals of
Statistics 13(1), 70-84.

The dip is the sup-distance between the empirical distribution function F_n and the
closest unimodal distribution function. We follow the paper's iteration (section 3):
starting with the whole range [x_L, x_U], compute the greatest convex minorant G and
the least concave majorant L of F_n on it; find where G and L are furthest apart; that
fixes a narrower candidate modal interval [x_L0, x_U0]; the dip is updated with the
largest departure of F_n from G left of x_L0 and from L right of x_U0; repeat until the
G-L gap no longer exceeds the current dip. dip = D / 2 (in probability units).

Null: the uniform distribution, the least favourable unimodal law (Hartigan & Hartigan,
Theorem 5), so p-values are conservative for any unimodal population. The p-value
interpolates a table of null quantiles of sqrt(n) * dip at Maechler's sizes (4 ... 72,000)
and probabilities (0 ... 0.999), simulated with this very implementation from 5,000 to
100,000 uniform samples per size (benchmarks/make_dip_table.py, stored in
``_dip_table.py``), as R's ``diptest::dip.test`` interpolates Maechler's ``qDiptab``.
For n beyond the largest tabulated size the last row is used (sqrt(n) * dip converges).

Ties (turnouts are ratios of small integers, so they are frequent) are handled by
treating the ECDF as its graph: each observation contributes a lower point (x, i-1) used
by the convex minorant and an upper point (x, i) used by the concave majorant.
"""
from __future__ import annotations

import numpy as np


def _hull(x: np.ndarray, y: np.ndarray, lower: bool) -> np.ndarray:
    """Indices of the lower (or upper) convex hull of points sorted by x, in O(n) numpy
    passes instead of a Python loop: every pass drops, all at once, each point that is not
    a strict turn between its current neighbours. A dropped point lies on or above (below)
    the chord of two remaining points and the chain only moves down (up), so it can never
    be a vertex; the chain left when nothing drops is locally, hence globally, convex:
    the same vertices as Andrew's monotone chain."""
    h = np.arange(len(x))
    while len(h) > 2:
        a, b, c = h[:-2], h[1:-1], h[2:]
        cross = (x[b] - x[a]) * (y[c] - y[a]) - (y[b] - y[a]) * (x[c] - x[a])
        bad = cross <= 0 if lower else cross >= 0
        if not bad.any():
            break
        keep = np.ones(len(h), bool)
        keep[1:-1] = ~bad
        h = h[keep]
    return h


def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _hull(x, y, True)


def _upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _hull(x, y, False)


def _interp(xq: np.ndarray, xv: np.ndarray, yv: np.ndarray) -> np.ndarray:
    # hull vertices may share an x (vertical segment): np.interp needs increasing x,
    # so keep per x the value the hull takes there (first for minorant, last for majorant
    # is handled by the caller choosing the vertex order)
    return np.interp(xq, xv, yv)


def dip_statistic(x) -> float:
    """The dip of the sample ``x`` (probability units, between 1/(2n) and 1/4)."""
    x = np.sort(np.asarray(x, float))
    n = len(x)
    if n < 2:
        return 0.0 if n == 0 else 0.5
    lower = np.arange(n, dtype=float)      # F_n(x_i-) in counts
    upper = lower + 1.0                    # F_n(x_i) in counts
    lo, hi = 0, n - 1
    D = 0.0
    for _ in range(200):
        xs = x[lo:hi + 1]
        g = _lower_hull(xs, lower[lo:hi + 1]) + lo
        lv = _upper_hull(xs, upper[lo:hi + 1]) + lo
        # collapse vertical segments: minorant takes the lowest, majorant the highest value at an x
        gx, gi = np.unique(x[g], return_index=True)
        gy = lower[g][gi]
        lx, li = np.unique(x[lv][::-1], return_index=True)
        ly = upper[lv][::-1][li]
        Gx = _interp(xs, gx, gy)
        Lx = _interp(xs, lx, ly)
        gap = Lx - Gx
        d = float(gap.max())
        if d <= D:
            break
        j = int(np.argmax(gap)) + lo
        # the candidate modal interval: GCM vertex at or left of j, LCM vertex at or right of j
        gl = g[g <= j]
        new_lo = int(gl.max()) if len(gl) else lo
        lr = lv[lv >= j]
        new_hi = int(lr.min()) if len(lr) else hi
        if new_hi < new_lo:
            new_hi = new_lo
        left = slice(0, new_lo - lo + 1)
        right = slice(new_hi - lo, hi - lo + 1)
        d_left = float((upper[lo:new_lo + 1] - Gx[left]).max())
        d_right = float((Lx[right] - lower[new_hi:hi + 1]).max())
        D = max(D, d_left, d_right)
        if (new_lo, new_hi) == (lo, hi):
            D = max(D, d)
            break
        lo, hi = new_lo, new_hi
    return D / (2.0 * n)


def dip_p_value(dip: float, n: int) -> float:
    """P(dip of n uniform points >= dip): conservative for any unimodal null (Hartigan &
    Hartigan 1985), by interpolating the null quantile table (benchmarks/make_dip_table.py,
    same sizes and probabilities as Maechler's ``qDiptab``): on the sqrt(n) * dip scale,
    linearly in n between the neighbouring tabulated sizes, then linearly in probability
    between the quantiles. Beyond the largest size the largest row is used (sqrt(n) * dip
    converges); beyond the last tabulated quantile (probability 0.999) the p-value is
    reported as 0.001, an upper bound."""
    from escrutinio.forensics._dip_table import PROBS, SIZES, SQRT_N_QUANTILES

    if n <= 3:
        return 1.0
    sizes = np.asarray(SIZES, float)
    q = np.asarray(SQRT_N_QUANTILES, float)
    if n >= sizes[-1]:
        row = q[-1]
    elif n <= sizes[0]:
        row = q[0]
    else:
        k = int(np.searchsorted(sizes, n, side="right")) - 1
        f = (n - sizes[k]) / (sizes[k + 1] - sizes[k])
        row = q[k] + f * (q[k + 1] - q[k])
    stat = np.sqrt(n) * dip
    # np.interp needs increasing x: ties between quantiles (atoms at 1/(2n) for small n)
    # take the largest probability at that value, as a right-continuous distribution does
    row = np.maximum.accumulate(row)
    probs = np.asarray(PROBS, float)
    keep = np.r_[row[1:] > row[:-1], True]
    return float(1.0 - np.interp(stat, row[keep], probs[keep]))


def dip_test(x, max_n: int | None = 50_000, seed=None) -> tuple[float, float, int]:
    """(dip, p-value, n used). Samples above ``max_n`` are subsampled at random (seeded)
    because the hull pass is a Python loop; the p-value refers to the subsample."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if max_n is not None and len(x) > max_n:
        x = np.random.default_rng(seed).choice(x, max_n, replace=False)
    d = dip_statistic(x)
    return d, dip_p_value(d, len(x)), len(x)
