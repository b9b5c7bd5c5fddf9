"""Multilevel (empirical-Bayes) imputation of uncounted tables by stratum.

Why: the hot deck of :mod:`escrutinio.dynamics.projection` imputes an uncounted table
from counted tables near it. When the count is not random *between* areas (Bolivia 2020:
cities and abroad first, rural areas last), a rural place whose department has no counted
rural table is imputed from urban tables of its department: the point is biased and the
interval, made from urban tables, is narrow. What is known about every uncounted table
(its area type, department and municipality, from the roll and the polling places) says
where the uncounted voters are; this model uses it.

Model (per channel: each choice, blank and null, as votes per registered voter):

    y_t = beta * x_p + a_s1 + b_s2 + c_s3 + e_p + u_t

* ``x_p``: the polling place's rate in a previous election (absent: 0 and no beta). The
  slope beta is estimated by weighted least squares within top strata; it generalises
  the swing model (beta = 1). Its uncertainty is a cluster (second-level stratum) Poisson
  bootstrap, redrawn in every simulation: far from the counted places' ``x``, it widens.
* strata nested coarse to fine, e.g. area type -> area x department -> area x
  department x municipality; ``e_p`` the polling place; ``u_t`` the table, with variance
  phi / registered (binomial-like).
* every random effect is normal with a between-stratum variance per level, estimated by
  the pooled DerSimonian-Laird moment estimator (one-way random effects with known
  sampling variances; DerSimonian & Laird 1986), bottom-up. A stratum's mean is shrunk
  toward its parent by B = tau^2 / (tau^2 + v) (empirical Bayes, Efron & Morris 1975;
  Fay & Herriot 1979 for small areas).
* **Widening when extrapolating.** A stratum with no counted table draws its effect from
  N(parent, tau^2): its uncertainty is the between-stratum variation, not the spread of
  a borrowed point. tau^2 itself is uncertain when few strata are counted (three area
  types, say), so each simulation draws it from its scaled inverse chi-square with the
  level's degrees of freedom (the posterior of a normal variance under the Jeffreys
  prior; Gelman et al., *Bayesian Data Analysis*, ch. 3 and 5).
* channels are correlated (a vote for one party is not a vote for another): the normal
  draws of a level share the correlation of that level's standardised deviations.

Simulation is top-down (root, then each level given its parent's draw), the exact
conditional of a Gaussian hierarchy: theta_child | theta_parent, data ~
N(theta_parent + B (m_child - theta_parent), B v_child). Everything is vectorised over
strata and simulations; the only loops are over levels, channels and chunks.

Null hypothesis: none (an estimator). Caveat: the model assumes that uncounted places of
a stratum are like the counted places of that stratum, up to the stratum's random effect;
within-stratum selection that the covariates do not explain remains a bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-12


@dataclass
class _Level:
    codes: np.ndarray  # node code per place
    parent: np.ndarray  # parent node code per node (into the next coarser level)
    m: np.ndarray  # nodes x C data estimate of the node mean (NaN where no data)
    v: np.ndarray  # nodes x C its sampling variance (inf where no data)
    tau2: np.ndarray  # C: variance of this level's nodes around their parent
    df: int  # groups-with-data degrees of freedom behind tau2
    corr: np.ndarray  # C x C correlation of standardised deviations


def _codes(keys: list[np.ndarray]) -> np.ndarray:
    """Dense integer codes of the row tuples of several integer arrays."""
    if not keys:
        return np.zeros(0, np.int64)
    stack = np.stack(keys, 1)
    _, inv = np.unique(stack, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


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
        cc = np.corrcoef(z, rowvar=False)
        if np.all(np.isfinite(cc)):
            corr = _psd_corr(cc)
    return tau2, df, corr


def _psd_corr(c: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh((c + c.T) / 2)
    c = (V * np.clip(w, 1e-6, None)) @ V.T
    d = np.sqrt(np.diag(c))
    return c / d[:, None] / d[None, :]


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


@dataclass
class MultilevelFit:
    """Everything the simulation needs, plus what the summary reports."""

    levels: list[_Level]  # coarse -> fine, the last is the polling place
    names: list[str]
    root_m: np.ndarray
    root_v: np.ndarray
    phi: np.ndarray  # C: table-level variance per registered voter
    table_corr: np.ndarray
    U: np.ndarray  # uncounted registered voters per place
    xU: np.ndarray  # places x C: U * previous rate (0 without)
    beta: np.ndarray  # C
    beta_boot: np.ndarray | None  # B x C bootstrap slopes (None without a previous election)
    x_ref: np.ndarray  # places x C: the counted mean of x in the place's top stratum


def fit(place_keys: list[np.ndarray], names: list[str], counted_R: np.ndarray, counted_V: np.ndarray,
        uncounted_R: np.ndarray, table_place: np.ndarray, table_R: np.ndarray, table_V: np.ndarray,
        x: np.ndarray | None, rng: np.random.Generator, boot: int = 1000) -> MultilevelFit:
    """Fit the hierarchy on place-level data.

    ``place_keys``: per stratum level (coarse -> fine), an integer code per place; the
    polling place itself is the finest node and is added here. ``counted_R`` / ``counted_V``:
    per place, counted registered voters and votes (C channels). ``uncounted_R``: per place,
    registered voters of its uncounted tables. ``table_*``: counted tables (place index,
    registered, votes), for the within-place variance. ``x``: places x C previous rates.
    """
    P, C = counted_V.shape
    has_p = counted_R > 0
    y = np.where(has_p[:, None], counted_V / np.where(has_p, counted_R, 1)[:, None], np.nan)
    # previous-election slope, within top strata, weighted by counted registered voters
    beta = np.zeros(C)
    beta_boot = None
    x_ref = np.zeros((P, C))
    top = place_keys[0] if place_keys else np.zeros(P, np.int64)
    if x is not None:
        ntop = int(top.max()) + 1
        cl = place_keys[1] if len(place_keys) > 1 else top
        ncl = int(cl.max()) + 1
        w = np.where(has_p, counted_R, 0.0)
        sxx = np.zeros((ncl, C))
        sxy = np.zeros((ncl, C))
        for c in range(C):
            sw = np.bincount(top, w, ntop)
            xb = np.bincount(top, w * x[:, c], ntop) / np.where(sw > 0, sw, 1)
            x_ref[:, c] = xb[top]
            yb = np.bincount(top, w * np.nan_to_num(y[:, c]), ntop) / np.where(sw > 0, sw, 1)
            xc, yc = x[:, c] - xb[top], np.nan_to_num(y[:, c]) - yb[top]
            sxx[:, c] = np.bincount(cl, w * xc * xc, ncl)
            sxy[:, c] = np.bincount(cl, w * xc * yc, ncl)
        den = sxx.sum(axis=0)
        beta = np.where(den > EPS, sxy.sum(axis=0) / np.where(den > EPS, den, 1), 0.0)
        # cluster Poisson bootstrap (Hanley & MacGibbon 2006) over second-level strata
        wb = rng.poisson(1.0, size=(boot, ncl)).astype(np.float64)
        dd = wb @ sxx
        beta_boot = np.where(dd > EPS, (wb @ sxy) / np.where(dd > EPS, dd, 1), beta)
        y = y - beta * x
    # table level: phi = within-place variance per registered voter (Var u_t = phi / R_t)
    tp, tR = table_place, table_R.astype(np.float64)
    e_t = table_V / np.where(tR > 0, tR, 1)[:, None] - (beta * x[tp] if x is not None else 0.0)
    ok_t = tR > 0
    nt = np.bincount(tp[ok_t], minlength=P)
    resid = e_t[ok_t] - np.nan_to_num(y[tp[ok_t]])
    dof = int(ok_t.sum() - (nt > 0).sum())
    phi = (tR[ok_t, None] * resid**2).sum(axis=0) / max(dof, 1)
    if dof < 1:
        phi = np.full(C, np.nanvar(y, axis=0).mean() * np.nanmean(counted_R[has_p]) if has_p.any() else 1.0)
    table_corr = _psd_corr(np.corrcoef(resid * np.sqrt(tR[ok_t, None]), rowvar=False)) \
        if dof > C + 2 and np.all(resid.std(axis=0) > 0) else np.eye(C)
    # bottom-up: places -> strata -> root
    keys = [np.asarray(k, np.int64) for k in place_keys]
    node_codes = []  # per level: code per place, nested (a finer code implies its parents)
    for i in range(len(keys)):
        node_codes.append(_codes(keys[: i + 1]))
    node_codes.append(np.arange(P, dtype=np.int64))  # the place level
    m = y
    v = np.where(has_p[:, None], phi[None, :] / np.where(has_p, counted_R, 1)[:, None], np.inf)
    levels: list[_Level] = []
    # iterate from the place level upwards
    for i in range(len(node_codes) - 1, -1, -1):
        codes = node_codes[i]
        nn = int(codes.max()) + 1 if codes.size else 0
        if i == len(node_codes) - 1:
            mi, vi = m, v
        if i > 0:
            pc = node_codes[i - 1]
            npar = int(pc.max()) + 1
            parent = np.zeros(nn, np.int64)
            parent[codes] = pc
        else:
            npar = 1
            parent = np.zeros(nn, np.int64)
        has = np.isfinite(vi[:, 0])
        tau2, df, corr = _pooled_tau2(mi, vi, parent, has, npar)
        levels.append(_Level(codes=codes, parent=parent, m=mi, v=vi, tau2=tau2, df=df, corr=corr))
        mi, vi = _combine(mi, vi, has, tau2, parent, npar)
    levels.reverse()
    names = list(names) + ["polling place"]
    return MultilevelFit(levels=levels, names=names, root_m=mi[0], root_v=vi[0], phi=phi, table_corr=table_corr,
                         U=uncounted_R.astype(np.float64), xU=(x * uncounted_R[:, None]) if x is not None else np.zeros((P, C)),
                         beta=beta, beta_boot=beta_boot, x_ref=x_ref)


def _corr_normal(rng: np.random.Generator, shape: tuple, corr: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(corr)
    return rng.standard_normal(shape) @ L.T


def simulate(f: MultilevelFit, S: int, rng: np.random.Generator, chunk: int = 100) -> np.ndarray:
    """S x C simulated votes of the uncounted tables (in chunks of simulations)."""
    C = f.phi.size
    if f.U.sum() <= 0:
        return np.zeros((S, C))
    return np.vstack([_simulate(f, min(chunk, S - s0), rng) for s0 in range(0, S, chunk)])


def _simulate(f: MultilevelFit, S: int, rng: np.random.Generator) -> np.ndarray:
    C = f.phi.size
    root_m = np.nan_to_num(f.root_m)
    root_v = np.where(np.isfinite(f.root_v), f.root_v, 0.0)
    theta = root_m[None, None, :] + np.sqrt(root_v)[None, None, :] * _corr_normal(rng, (S, 1, C), np.eye(C))
    for lev in f.levels:
        # tau^2 per simulation: scaled inverse chi-square with the level's df
        if lev.df >= 1:
            scale = lev.df / rng.chisquare(lev.df, size=(S, 1, 1))
        else:
            scale = np.ones((S, 1, 1))
        tau2 = lev.tau2[None, None, :] * scale
        has = np.isfinite(lev.v)
        v = np.where(has, lev.v, 0.0)[None]
        B = np.where(has[None], tau2 / (tau2 + np.maximum(v, EPS)), 0.0)
        mean = theta[:, lev.parent, :] * (1 - B) + B * np.nan_to_num(lev.m)[None]
        var = np.where(has[None], B * v, tau2)
        z = _corr_normal(rng, (S, lev.parent.size, C), lev.corr)
        theta = mean + np.sqrt(var) * z
    # theta: S x places x C, place means of the residual; table noise on the uncounted
    tot = np.einsum("p,spc->sc", f.U, theta)
    tot += np.sqrt(f.phi * f.U.sum())[None, :] * _corr_normal(rng, (S, C), f.table_corr)
    if f.beta_boot is not None:
        bb = f.beta_boot[rng.integers(0, f.beta_boot.shape[0], S)]
        # beta x U, plus the slope's uncertainty where uncounted places' x differs from
        # the counted places' of their stratum (the residual means were fitted at beta)
        tot += f.xU.sum(axis=0)[None, :] * f.beta[None, :]
        tot += (bb - f.beta) * (f.xU - f.x_ref * f.U[:, None]).sum(axis=0)[None, :]
    return tot


def extrapolation(stratum: np.ndarray, counted_tables: np.ndarray, uncounted_R: np.ndarray, k: int) -> dict:
    """Share of uncounted registered voters in strata with no / fewer than ``k`` counted
    tables (per table rows: stratum code, counted flag, registered if uncounted)."""
    n = int(stratum.max()) + 1 if stratum.size else 0
    ct = np.bincount(stratum, counted_tables.astype(np.float64), n)
    U = uncounted_R.sum()
    few = ct[stratum] < k
    none = ct[stratum] == 0
    return {"k": k, "share_few": float(uncounted_R[few].sum() / U) if U > 0 else 0.0,
            "share_none": float(uncounted_R[none].sum() / U) if U > 0 else 0.0,
            "strata": n, "strata_few": int((ct < k).sum())}
