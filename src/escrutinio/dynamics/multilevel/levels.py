"""The nested levels (municipality, polling place): DerSimonian-Laird between-node variances, their
Q-profile draws, within-parent completion slopes and the precision-weighted node means."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escrutinio.dynamics.multilevel.shared import BOOT_CHUNK, EPS, _psd_corr

MIN_PARTIAL = 10


@dataclass
class _Level:
    codes: np.ndarray  # node code per place
    parent: np.ndarray  # parent node code per node (into the next coarser level)
    m: np.ndarray  # nodes x C data estimate of the node mean (NaN where no data)
    v: np.ndarray  # nodes x C its sampling variance (inf where no data)
    tau2: np.ndarray  # C: variance of this level's nodes around their parent (point estimate)
    df: int  # groups-with-data degrees of freedom behind tau2
    corr: np.ndarray  # C x C correlation of standardised deviations
    grid: np.ndarray | None = None  # tau^2 grid (G x C) and Q statistic on it, for Q-profile draws
    qgrid: np.ndarray | None = None
    shift_base: np.ndarray | None = None  # per node: parent's mean completion of counted children (no-data nodes)
    slope: np.ndarray | None = None  # C, shrunk completion slope
    slope_boot: np.ndarray | None = None  # B x C
    slope_info: dict | None = None


def _pooled_tau2(m: np.ndarray, v: np.ndarray, group: np.ndarray, has: np.ndarray, ngroups: int):
    """Pooled DerSimonian-Laird between-node variance per channel (nodes with data only)
    and its degrees of freedom. Returns (tau2 C, df, corr C x C, standardised residuals)."""
    C = m.shape[1]
    g = group[has]
    mm, vv = m[has], np.maximum(v[has], EPS)
    w = 1.0 / vv
    sw = np.zeros((ngroups, C))
    swm = np.zeros((ngroups, C))
    sw2 = np.zeros((ngroups, C))
    for c in range(C):
        sw[:, c] = np.bincount(g, w[:, c], ngroups)
        swm[:, c] = np.bincount(g, w[:, c] * mm[:, c], ngroups)
        sw2[:, c] = np.bincount(g, w[:, c] ** 2, ngroups)
    k = np.bincount(g, minlength=ngroups)
    mbar = swm / np.where(sw > 0, sw, 1)
    dev = mm - mbar[g]
    Q = np.zeros(C)
    for c in range(C):
        Q[c] = np.bincount(g, w[:, c] * dev[:, c] ** 2, ngroups)[k >= 2].sum()
    multi = k >= 2
    df = int((k[multi] - 1).sum())
    denom = (sw - sw2 / np.where(sw > 0, sw, 1))[multi].sum(axis=0)
    tau2 = np.where(denom > 0, np.maximum(0.0, (Q - df) / np.where(denom > 0, denom, 1)), 0.0) if df else np.zeros(C)
    # correlation of the deviations (within groups of two or more), for correlated draws
    sel = multi[g]
    corr = np.eye(C)
    if sel.sum() > C + 2:
        z = dev[sel] / np.sqrt(tau2 + vv[sel])
        with np.errstate(invalid="ignore", divide="ignore"):  # a channel always 0 (no blank column)
            cc = np.atleast_2d(np.corrcoef(z, rowvar=False))
        if np.all(np.isfinite(cc)):
            corr = _psd_corr(cc)
    return tau2, df, corr


def _q_grid(m: np.ndarray, v: np.ndarray, group: np.ndarray, has: np.ndarray, ngroups: int, df: int):
    """Cochran's Q of the pooled one-way random-effects model on a grid of tau^2 (per
    channel). Q(tau^2) = sum_g sum_s w_s (m_s - mbar_g)^2, w_s = 1 / (tau^2 + v_s), is
    decreasing in tau^2 and chi-square(df) at the true tau^2: solving Q(tau^2) = a
    chi-square draw gives a draw of tau^2 from its confidence distribution, the Q-profile
    of Viechtbauer (2007, Stat. Med. 26) as a generalised pivotal quantity (Iyer, Wang &
    Mathew 2004, JASA 99). With few strata this has a long right tail: that is the point."""
    C = m.shape[1]
    if df < 1:
        return None, None
    g = group[has]
    mm, vv = m[has], np.maximum(v[has], EPS)
    k = np.bincount(g, minlength=ngroups)
    multi = (k >= 2)[g]
    scale = np.maximum(np.nanvar(mm[multi], axis=0), EPS)
    # up to four times the observed spread of the node means: a between-node variance far
    # beyond what the nodes themselves show is not a plausible value, only a tail artefact
    factors = np.concatenate([[0.0], np.logspace(-5, np.log10(4.0), 57)])
    grid = factors[:, None] * scale[None, :]  # G x C
    qg = np.zeros_like(grid)
    for j in range(grid.shape[0]):
        w = 1.0 / (grid[j][None, :] + vv)
        for c in range(C):
            sw = np.bincount(g, w[:, c], ngroups)
            mb = np.bincount(g, w[:, c] * mm[:, c], ngroups) / np.where(sw > 0, sw, 1)
            qg[j, c] = (w[multi, c] * (mm[multi, c] - mb[g[multi]]) ** 2).sum()
    return grid, qg


def _tau2_draws(lev: "_Level", S: int, rng: np.random.Generator) -> np.ndarray:
    """S x C draws of tau^2 from the Q-profile (point estimate when there is no grid)."""
    C = lev.tau2.size
    if lev.grid is None:
        return np.broadcast_to(lev.tau2, (S, C)).copy()
    x = rng.chisquare(lev.df, size=S)
    out = np.empty((S, C))
    for c in range(C):
        q = lev.qgrid[:, c]
        # Q decreases along the grid; np.interp wants increasing abscissae
        out[:, c] = np.interp(x, q[::-1], lev.grid[::-1, c], left=lev.grid[-1, c], right=0.0)
    return out


def _completion_slope(m, v, tau2, comp, parent, has, nparents, rng, boot=1000):
    """Within-parent slope of the child means on the child's completion (share of its
    registered voters counted), per channel, weighted by 1 / (tau^2 + v); a cluster
    (parent) Poisson bootstrap gives its draws; each channel is shrunk toward 0 by
    positive-part James-Stein (Efron & Morris 1973). Why: when slow strata vote
    differently (urban-first counts, Bolivia 2019 and 2020), a stratum with nothing
    counted is an extrapolation to completion 0 along this slope (response propensity,
    Little 1986). Returns (slope C, draws B x C, info) or None without variation."""
    C = m.shape[1]
    g = parent[has]
    k = np.bincount(g, minlength=nparents)
    if (k >= 2).sum() < 3:
        return None
    mm, vv, cc = m[has], np.maximum(v[has], EPS), comp[has]
    # a slope needs nodes spread along completion: at least MIN_PARTIAL partly counted
    # nodes, else it is a few points' leverage, not a pattern
    if int(((cc > 0) & (cc < 0.9)).sum()) < MIN_PARTIAL:
        return None
    sxx = np.zeros((nparents, C))
    sxy = np.zeros((nparents, C))
    for c in range(C):
        w = 1.0 / (tau2[c] + vv[:, c])
        sw = np.bincount(g, w, nparents)
        xb = np.bincount(g, w * cc, nparents) / np.where(sw > 0, sw, 1)
        yb = np.bincount(g, w * mm[:, c], nparents) / np.where(sw > 0, sw, 1)
        xc, yc = cc - xb[g], mm[:, c] - yb[g]
        sxx[:, c] = np.bincount(g, w * xc * xc, nparents)
        sxy[:, c] = np.bincount(g, w * xc * yc, nparents)
    den = sxx.sum(axis=0)
    if np.all(den <= EPS):
        return None
    beta = np.where(den > EPS, sxy.sum(axis=0) / np.where(den > EPS, den, 1), 0.0)
    # in chunks of replicates (the weights drawn in the same order as in one draw): 2 x boot x
    # parents weights would take hundreds of megabytes at the automatic simulations' cap
    out = []
    for b0 in range(0, 2 * boot, BOOT_CHUNK):
        wb = rng.poisson(1.0, size=(min(BOOT_CHUNK, 2 * boot - b0), nparents)).astype(np.float64)
        dd = wb @ sxx
        okb = np.all(dd > EPS, axis=1)
        out.append((wb[okb] @ sxy) / dd[okb])
    bs = np.concatenate(out)
    if bs.shape[0] < boot // 2:
        return None
    se = bs.std(axis=0)
    keep = np.clip(1 - se**2 / np.where(beta != 0, beta**2, np.inf), 0, 1)
    bs = (bs - beta) * np.sqrt(keep) + beta * keep
    # completion runs from 0 to 1, so a shift larger than twice the spread of the nodes'
    # means is an extrapolation artefact, not a difference the data can show
    bound = 2 * np.sqrt(np.maximum(np.var(mm, axis=0), EPS))
    bs = np.clip(bs, -bound, bound)
    t = np.where(se > 0, beta / np.where(se > 0, se, 1), 0.0)
    info = {"slope": [float(b) for b in beta], "se": [float(x) for x in se], "kept": [float(x) for x in keep],
            "t": [float(x) for x in t], "clusters": int((k >= 2).sum())}
    return np.clip(beta * keep, -bound, bound), bs, info


def _combine(m: np.ndarray, v: np.ndarray, has: np.ndarray, tau2: np.ndarray, parent: np.ndarray, nparents: int):
    """Parent data estimates from children: precision-weighted means with weights
    1 / (tau^2 + v). Returns (m, v) for the parents (NaN / inf where no child has data)."""
    C = m.shape[1]
    pm = np.full((nparents, C), np.nan)
    pv = np.full((nparents, C), np.inf)
    p = parent[has]
    for c in range(C):
        w = 1.0 / (tau2[c] + np.maximum(v[has, c], EPS))
        sw = np.bincount(p, w, nparents)
        swm = np.bincount(p, w * m[has, c], nparents)
        ok = sw > 0
        pm[ok, c] = swm[ok] / sw[ok]
        pv[ok, c] = 1.0 / sw[ok]
    return pm, pv
