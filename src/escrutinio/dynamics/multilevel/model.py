"""The model fit: place covariates' slopes, the crossed and nested levels and the selection term
assembled into a :class:`MultilevelFit`; and the extrapolation measure."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escrutinio.dynamics.multilevel.crossed import _Crossed, _crossed_bias, _crossed_fit
from escrutinio.dynamics.multilevel.levels import _Level, _combine, _completion_slope, _pooled_tau2, _q_grid
from escrutinio.dynamics.multilevel.selection import SELECTION_R, _Selection, _selection
from escrutinio.dynamics.multilevel.shared import BOOT_CHUNK, EPS, _codes, _psd_corr

SLOPES_WITHIN = "cross"
MAX_CROSSED_LEVELS = 300


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
    DU: np.ndarray  # C x K: sum over places of U x covariates
    DrefU: np.ndarray  # C x K: the same with each place's stratum's counted mean covariates
    beta: np.ndarray  # C x K covariate slopes
    beta_boot: np.ndarray | None  # B x C x K bootstrap slopes (None without covariates)
    crossed: _Crossed | None = None
    selection: "_Selection | None" = None


def _design(x, Z, P, C) -> np.ndarray:
    """Places x channels x K covariates: the channel's own previous rate, then Z."""
    parts = []
    if x is not None:
        parts.append(x[:, :, None])
    if Z is not None and Z.shape[1]:
        parts.append(np.broadcast_to(Z[:, None, :], (P, C, Z.shape[1])))
    return np.concatenate(parts, axis=2) if parts else np.zeros((P, C, 0))


def _slopes(D, y, w, group, rng, boot):
    """Within-group weighted least squares of y (places x C) on D (places x C x K), per
    channel, with a cluster (group) Poisson bootstrap (Hanley & MacGibbon 2006) for the
    slopes' uncertainty. Returns (beta C x K, draws B x C x K, group means of D per place)."""
    P, C, K = D.shape
    ng = int(group.max()) + 1
    has = w > 0
    yy = np.nan_to_num(y)
    sw = np.bincount(group, w, ng)
    safe = np.where(sw > 0, sw, 1)
    Dbar = np.stack([np.stack([np.bincount(group, w * D[:, c, k], ng) / safe for k in range(K)], 1)
                     for c in range(C)], 1)  # ng x C x K
    ybar = np.stack([np.bincount(group, w * yy[:, c], ng) / safe for c in range(C)], 1)
    Dc = D - Dbar[group]
    yc = yy - ybar[group]
    Wd = (w * has)[:, None, None] * Dc
    # per-group sufficient statistics: ng x C x K x K and ng x C x K
    Sxx = np.zeros((ng, C, K, K))
    Sxy = np.zeros((ng, C, K))
    for c in range(C):
        for k in range(K):
            Sxy[:, c, k] = np.bincount(group, Wd[:, c, k] * yc[:, c], ng)
            for j in range(k, K):
                Sxx[:, c, k, j] = Sxx[:, c, j, k] = np.bincount(group, Wd[:, c, k] * Dc[:, c, j], ng)
    ridge = 1e-9 * np.maximum(np.einsum("gckk->ck", Sxx), 1e-12)[:, :, None] * np.eye(K)[None]

    def solve(A, b):
        return np.linalg.solve(A + ridge[(None,) * (A.ndim - 3)], b[..., None])[..., 0]

    beta = solve(Sxx.sum(axis=0), Sxy.sum(axis=0))
    # the replicates in chunks: their normal equations (B x C x K x K) would otherwise take
    # gigabytes at the automatic simulations' cap (B = 8 x 64,000); the Poisson weights are
    # drawn in the same order, so the replicates are those of one draw
    bb = np.empty((boot, C, K))
    for b0 in range(0, boot, BOOT_CHUNK):
        wb = rng.poisson(1.0, size=(min(BOOT_CHUNK, boot - b0), ng)).astype(np.float64)
        bb[b0:b0 + wb.shape[0]] = solve(np.einsum("bg,gckj->bckj", wb, Sxx), np.einsum("bg,gck->bck", wb, Sxy))
    # a group mean of D for places whose group has no counted place: the overall counted mean
    Dref = Dbar[group]
    none = sw[group] <= 0
    if none.any():
        tot = np.einsum("p,pck->ck", w, D) / max(w.sum(), EPS)
        Dref[none] = tot
    return beta, bb, Dref


def fit(place_keys: list[np.ndarray], names: list[str], counted_R: np.ndarray, counted_V: np.ndarray,
        uncounted_R: np.ndarray, table_place: np.ndarray, table_R: np.ndarray, table_V: np.ndarray,
        x: np.ndarray | None, rng: np.random.Generator, boot: int = 1000, completion: bool = True,
        cross: np.ndarray | None = None, Z: np.ndarray | None = None,
        selection_r: float = SELECTION_R, slope_boot: int | None = None) -> MultilevelFit:
    """Fit the hierarchy on place-level data.

    ``place_keys``: per stratum level (coarse -> fine), an integer code per place; the
    polling place itself is the finest node and is added here. ``counted_R`` / ``counted_V``:
    per place, counted registered voters and votes (C channels). ``uncounted_R``: per place,
    registered voters of its uncounted tables. ``table_*``: counted tables (place index,
    registered, votes), for the within-place variance. ``x``: places x C previous rates.
    ``boot``: bootstrap replicates of the slopes; as many as the simulations, so that each
    simulation has its own (see :func:`escrutinio.dynamics.multilevel.simulate`).
    ``slope_boot``: replicates of the covariates' slopes alone (default ``boot``): a
    multiple of the simulations gives each simulation partners in the conditional bounds.
    ``selection_r``: prior scale of the within-stratum data defect correlation (0: the
    count is taken as random within the top strata).
    """
    P, C = counted_V.shape
    has_p = counted_R > 0
    y = np.where(has_p[:, None], counted_V / np.where(has_p, counted_R, 1)[:, None], np.nan)
    # covariate slopes (previous-election rate of the same channel, place covariates such
    # as log size), within second-level strata, weighted by counted registered voters
    D = _design(x, Z, P, C)
    beta = np.zeros((C, D.shape[2]))
    beta_boot = None
    D_ref = np.zeros_like(D)
    if D.shape[2]:
        cell = (np.asarray(cross, np.int64) if cross is not None and SLOPES_WITHIN == "cross" else _codes(place_keys[:2])) if place_keys else np.zeros(P, np.int64)
        beta, beta_boot, D_ref = _slopes(D, y, np.where(has_p, counted_R, 0.0), cell, rng, slope_boot or boot)
        y = y - np.einsum("pck,ck->pc", D, beta)
    # table level: phi = within-place variance per registered voter (Var u_t = phi / R_t)
    tp, tR = table_place, table_R.astype(np.float64)
    e_t = table_V / np.where(tR > 0, tR, 1)[:, None] - np.einsum("pck,ck->pc", D[tp], beta)
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
    # the top stratum (area x department, or the two coarsest levels) of each place, for
    # the within-stratum selection of the count order
    top = _codes(keys[:2]) if keys else np.zeros(P, np.int64)
    node_codes = []  # per level: code per place, nested (a finer code implies its parents)
    # the crossed fit inverts a (levels x levels) matrix per iteration: with hundreds of
    # levels (strata chosen too fine) the nested hierarchy is used instead
    crossed = (cross is not None and len(keys) >= 2
               and len(np.unique(keys[0])) + len(np.unique(cross)) <= MAX_CROSSED_LEVELS)
    for i in range(1 if crossed else 0, len(keys)):
        node_codes.append(_codes(keys[: i + 1]))
    node_codes.append(np.arange(P, dtype=np.int64))  # the place level
    if crossed:
        names = [f"{names[0]} x {names[1]}", *names[2:]]
    m = y
    v = np.where(has_p[:, None], phi[None, :] / np.where(has_p, counted_R, 1)[:, None], np.inf)
    levels: list[_Level] = []
    totR = counted_R + uncounted_R
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
        grid, qg = _q_grid(mi, vi, parent, has, npar, df)
        if crossed and i == 0:
            ca = np.zeros(nn, np.int64)
            ca[codes] = keys[0]
            cd = np.zeros(nn, np.int64)
            cd[codes] = _codes([np.asarray(cross, np.int64)])
            comp_c = np.bincount(codes, counted_R, nn) / np.maximum(np.bincount(codes, totR, nn), EPS)
            cr, tc = _crossed_fit(mi, vi, has, ca, cd, int(ca.max()) + 1, int(cd.max()) + 1, tau2, comp_c)
            # Q-profile of the cells' residual variance around the crossed prediction, so
            # that with few counted cells tau_cell^2 is drawn with its uncertainty
            pred = cr.coef[:, 0][None, :] + np.stack([cr.coef[c, 1 + ca] + cr.coef[c, 1 + cr.a.max() + 1 + cd]
                                                      + cr.coef[c, -1] * comp_c for c in range(C)], 1)
            dfc = int(has.sum()) - int((~cr.nodata).sum())
            g0, q0 = _q_grid(mi - pred, vi, np.zeros(nn, np.int64), has, 1, dfc) if dfc >= 1 else (None, None)
            lev = _Level(codes=codes, parent=np.arange(nn), m=mi, v=vi, tau2=tc, df=max(dfc, 1),
                         corr=cr.corr, grid=g0, qgrid=q0)
            levels.append(lev)
            levels.reverse()
            return MultilevelFit(levels=levels, names=list(names) + ["polling place"], root_m=np.zeros(C),
                                 root_v=np.zeros(C), phi=phi, table_corr=table_corr, U=uncounted_R.astype(np.float64),
                                 DU=np.einsum("p,pck->ck", uncounted_R, D), DrefU=np.einsum("p,pck->ck", uncounted_R, D_ref),
                                 beta=beta, beta_boot=beta_boot, crossed=cr,
                                 selection=_selection(top, counted_R, uncounted_R, tp, tR, e_t, cr.corr, selection_r,
                                                      B=np.where(has[:, None], tc / (tc + np.where(has[:, None], vi, 1.0)), 0.0),
                                                      pred_bias=_crossed_bias(cr, has)))
        lev = _Level(codes=codes, parent=parent, m=mi, v=vi, tau2=tau2, df=df, corr=corr, grid=grid, qgrid=qg)
        if completion:
            cR_n = np.bincount(codes, counted_R, nn)
            comp = cR_n / np.maximum(np.bincount(codes, totR, nn), EPS)
            sl = _completion_slope(mi, vi, tau2, comp, parent, has, npar, rng, boot=boot)
            if sl is not None:
                lev.slope, lev.slope_boot, lev.slope_info = sl
                # a node with nothing counted sits at completion 0; its parent's data mean
                # is at the mean completion of its counted children
                wsum = np.bincount(parent[has], np.ones(has.sum()), npar)
                cbar = np.bincount(parent[has], comp[has], npar) / np.where(wsum > 0, wsum, 1)
                lev.shift_base = np.where(has, 0.0, cbar[parent])
        levels.append(lev)
        mi, vi = _combine(mi, vi, has, tau2, parent, npar)
    levels.reverse()
    names = list(names) + ["polling place"]
    return MultilevelFit(levels=levels, names=names, root_m=mi[0], root_v=vi[0], phi=phi, table_corr=table_corr,
                         U=uncounted_R.astype(np.float64), DU=np.einsum("p,pck->ck", uncounted_R, D),
                         DrefU=np.einsum("p,pck->ck", uncounted_R, D_ref), beta=beta, beta_boot=beta_boot,
                         # (nested strata: a stratum's own bias, and for strata with nothing
                         # counted the counted strata's mean bias)
                         selection=_selection(top, counted_R, uncounted_R, tp, tR, e_t, levels[0].corr, selection_r,
                                              B=1.0, pred_bias=lambda lam: np.broadcast_to(
                                                  (np.bincount(top, counted_R) @ lam) / max(float(counted_R.sum()), EPS),
                                                  (lam.size, C))))


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
