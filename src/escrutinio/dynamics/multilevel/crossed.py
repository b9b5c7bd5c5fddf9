"""The crossed top level (area type x department): ridge / BLUP fit with EM variances, its bias
propagation and its draws, with the area-type variance redrawn per simulation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escrutinio.dynamics.multilevel.shared import EPS, _corr_normal, _psd_corr

FLOOR_FACTOR_VARIANCE = True
# A rate per registered voter lies in [0, 1], so the means of area types or departments
# cannot vary by more than 1/4 (Popoviciu's inequality on variances). This bounds the
# draws of a factor's variance from its scaled inverse chi-square, which with one or two
# counted levels has no finite mean; a tighter, data-scaled cap (four times the counted
# cells' spread) made unseen area types look like the seen ones and covered 43% at 95%
# in simulated urban-first counts at 10% counted.
MAX_RATE_VARIANCE = 0.25


@dataclass
class _Crossed:
    """Two crossed factors at the top (area type x department): cell mean = mu + alpha_a +
    delta_d + e_cell, alpha ~ N(0, tau_a^2), delta ~ N(0, tau_d^2), e ~ N(0, tau_cell^2).
    Why crossed: rural La Paz is like urban La Paz *and* like rural Potosí; a nested
    hierarchy can use only one of the two when a rural cell has nothing counted."""

    a: np.ndarray  # cell -> area code
    d: np.ndarray  # cell -> department code
    comp: np.ndarray  # cell -> completion (share of its registered voters counted)
    coef: np.ndarray  # C x p posterior means (intercept, areas, departments)
    nodata: np.ndarray  # p bool: a factor level with no counted cell (its draw is the prior)
    tau2_a: np.ndarray  # C
    tau2_d: np.ndarray  # C
    df_a: int
    df_d: int
    corr: np.ndarray
    # the posterior, redrawn under each simulation's area-type variance (_area_redraw)
    cov: np.ndarray  # C x p x p posterior covariance at the fitted variances
    rhs: np.ndarray  # C x p: X' W y
    b_half: np.ndarray  # C x p x p: a square root of the precision less the area prior
    lam_a: np.ndarray  # C: the area prior precision 1 / tau_a^2 the posterior was computed at
    hat: np.ndarray | None = None  # C x p x (cells with data): coefficients' weights on the cell means


def _crossed_fit(m, v, has, a, d, na, nd, tau2_cell0, comp, iterations: int = 50):
    """Posterior (ridge / BLUP) of the crossed effects with variance components by EM
    (Dempster, Laird & Rubin 1977; Searle, Casella & McCulloch, *Variance Components*,
    1992, ch. 8). Returns (_Crossed, tau2_cell C, residual m - prediction)."""
    C = m.shape[1]
    n = int(has.sum())
    # columns: intercept, areas, departments, completion (slow cells differ: a cell with
    # nothing counted is at completion 0, so an urban-first count extrapolates along it)
    p = 1 + na + nd + 1
    X = _crossed_design(a[has], d[has], comp[has], na, p)
    colhas = X.any(axis=0)
    nodata = ~colhas
    coef = np.zeros((C, p))
    hat = np.zeros((C, p, n))
    ta, td, tc = np.zeros(C), np.zeros(C), np.zeros(C)
    covs, rhss, halves, lam_as = np.zeros((C, p, p)), np.zeros((C, p)), np.zeros((C, p, p)), np.zeros(C)
    resid = np.zeros((n, C))
    ia, idd = np.arange(1, 1 + na), np.arange(1 + na, p - 1)
    comp_varies = n > 2 and float(np.ptp(comp[has])) > 1e-6
    for c in range(C):
        y, vv = m[has, c], np.maximum(v[has, c], EPS)
        spread = max(float(np.var(y)), 1e-8)
        t_a, t_d, t_c = spread, spread, max(float(tau2_cell0[c]), spread * 1e-3)
        for _ in range(iterations):
            w = 1.0 / (t_c + vv)
            # small matrices: einsum, not BLAS, which oversubscribes threads on a busy machine
            XtWX = np.einsum("ij,ik->jk", X * w[:, None], X)
            ridge = 1e-9 * max(float(np.diag(XtWX).max()), 1e-12)  # intercept and slope: almost flat priors
            lam = np.concatenate([[ridge], np.full(na, 1 / max(t_a, 1e-12)), np.full(nd, 1 / max(t_d, 1e-12)),
                                  # the completion slope: a prior N(0, (2 x the cells' spread)^2),
                                  # so a slope the cells barely inform cannot run away when a cell
                                  # with nothing counted is extrapolated to completion 0
                                  [1 / (4 * spread) if comp_varies else 1e12]])
            A = XtWX + np.diag(lam)
            cov = np.linalg.inv(A)
            b = np.einsum("jk,k->j", cov, np.einsum("ik,i->k", X, w * y))
            r = y - np.einsum("ij,j->i", X, b)
            old = (t_a, t_d, t_c)
            fa, fd = colhas[ia], colhas[idd]
            t_a = float((b[ia][fa] ** 2 + np.diag(cov)[ia][fa]).mean()) if fa.any() else spread
            t_d = float((b[idd][fd] ** 2 + np.diag(cov)[idd][fd]).mean()) if fd.any() else spread
            lev = (np.einsum("ij,jk->ik", X, cov) * X).sum(axis=1)  # variance of the fitted cell means
            t_c = max(0.0, float((w**2 * (r**2 + lev - vv)).sum() / (w**2).sum()))
            if np.allclose(old, (t_a, t_d, t_c), rtol=1e-4, atol=1e-10):
                break
        # b and cov were computed with the prior precisions ``lam`` of the last iteration;
        # the precision without the area prior, B = X'WX + the other priors, is PSD
        covs[c], rhss[c], lam_as[c] = cov, np.einsum("ik,i->k", X, w * y), lam[1]
        Bm = A.copy()
        Bm[ia, ia] -= lam[ia]
        ev, Q = np.linalg.eigh((Bm + Bm.T) / 2)
        halves[c] = Q * np.sqrt(np.clip(ev, 0.0, None))[None, :]
        # Which levels are counted first is not random (cities before rural areas), so
        # the spread of the levels seen so far understates the levels not seen: the
        # prior variance of a level is at least the whole between-cell variation of the
        # counted cells. An area type with nothing counted is then uncertain by as much
        # as cells differ, not by the small differences among the urban types seen first.
        if FLOOR_FACTOR_VARIANCE:
            t_a = max(t_a, spread)
            t_d = max(t_d, spread)
        coef[c] = b
        hat[c] = cov @ (X * w[:, None]).T  # b = hat @ y: how a bias in the cell means moves b
        ta[c], td[c], tc[c] = t_a, t_d, t_c
        resid[:, c] = r
    corr = np.eye(C)
    if n > C + 2:
        z = resid / np.sqrt(tc + np.maximum(v[has], EPS))
        with np.errstate(invalid="ignore", divide="ignore"):  # a channel always 0 (no blank column)
            cc = np.atleast_2d(np.corrcoef(z, rowvar=False))
        if np.all(np.isfinite(cc)):
            corr = _psd_corr(cc)
    cr = _Crossed(a=a, d=d, comp=comp, coef=coef, nodata=nodata, tau2_a=ta, tau2_d=td,
                  df_a=max(int(colhas[ia].sum()) - 1, 1), df_d=max(int(colhas[idd].sum()) - 1, 1), corr=corr,
                  hat=hat, cov=covs, rhs=rhss, b_half=halves, lam_a=lam_as)
    return cr, tc


def _crossed_design(a: np.ndarray, d: np.ndarray, comp: np.ndarray, na: int, p: int) -> np.ndarray:
    """Design of the crossed fit, a row per cell: intercept, area, department, completion."""
    X = np.zeros((a.size, p))
    X[:, 0] = 1
    X[np.arange(a.size), 1 + a] = 1
    X[np.arange(a.size), 1 + na + d] = 1
    X[:, -1] = comp
    return X


def _crossed_bias(cr: _Crossed, has: np.ndarray):
    """``pred_bias`` for :func:`_selection`: the crossed prediction is linear in the cell
    means (b = hat @ m), so a bias lam in the counted cells' means moves every cell's
    prediction by X (hat @ lam), per channel."""
    def pred_bias(lam: np.ndarray) -> np.ndarray:
        X = _crossed_design(cr.a, cr.d, cr.comp, int(cr.a.max()) + 1, cr.hat.shape[1])
        return np.einsum("kp,cp->kc", X, np.einsum("cpn,n->cp", cr.hat, lam[has]))
    return pred_bias


def _crossed_draw(cr: _Crossed, S: int, rng: np.random.Generator) -> np.ndarray:
    """S x cells x C draws of the cells' prior means mu + alpha_a + delta_d."""
    C, p = cr.coef.shape
    na = cr.a.max() + 1 if cr.a.size else 0
    b = np.empty((S, p, C))
    # factor variances uncertain (scaled inverse chi-square on the number of counted
    # levels minus one), channels correlated
    zz = _corr_normal(rng, (S, p, C), cr.corr)
    # (capped at MAX_RATE_VARIANCE: with one or two degrees of freedom the draw has no
    # finite mean, but no variance of rates in [0, 1] exceeds 1/4)
    sa = np.sqrt(np.minimum(cr.df_a / rng.chisquare(cr.df_a, size=(S, 1, 1)) * cr.tau2_a[None, None, :],
                            np.maximum(MAX_RATE_VARIANCE, cr.tau2_a)[None, None, :]))
    sd = np.sqrt(np.minimum(cr.df_d / rng.chisquare(cr.df_d, size=(S, 1, 1)) * cr.tau2_d[None, None, :],
                            np.maximum(MAX_RATE_VARIANCE, cr.tau2_d)[None, None, :]))
    isa = np.zeros(p, bool)
    isa[1:1 + na] = True
    isd = ~isa
    isd[0] = isd[-1] = False  # the intercept and the completion slope are not factor levels
    # the whole posterior under each simulation's area-type variance (unseen area types
    # included: their columns are empty, so the redraw is their prior draw); departments
    # with nothing counted are independent of the rest and take their own prior draw
    z1 = _corr_normal(rng, (S, p, C), cr.corr)
    for c in range(C):
        b[:, :, c] = _area_redraw(cr, c, sa[:, 0, c] ** 2, z1[:, :, c], zz[:, 1:1 + na, c])
    nd_d = cr.nodata & isd
    b[:, nd_d, :] = (zz * sd)[:, nd_d, :]
    return b[:, :1, :] + b[:, 1 + cr.a, :] + b[:, 1 + na + cr.d, :] + b[:, -1:, :] * cr.comp[None, :, None]


def _area_redraw(cr: _Crossed, c: int, t: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """S x p draws of the crossed coefficients of channel ``c``, each from the posterior
    under its own area-type variance t[s] (Gelman 2006: the group-level variance is
    uncertain with few groups, and the effects are drawn given each draw of it).

    Why: an area type with one or two counted tables is otherwise shrunk by a variance
    fixed at its point estimate, and is as certain as a well-measured type, while an unseen
    type draws its variance from the scaled inverse chi-square; the issue's rule is that a
    stratum with nothing *or only a few* counted tables takes its uncertainty from the
    variation between strata. The redraw is joint: the intercept and the area effects are
    confounded (only cell means are identified), so a level-by-level correction would move
    cells the data pin down; this one does not.

    The precision under t is A_t = A_0 + (1/t - 1/t_0) P, with P the area columns'
    indicator, so A_t^-1 follows from the fitted covariance by Woodbury on a few columns. A
    draw is x = A_t^-1 (X'Wy + e), e ~ N(0, A_t) = B^1/2 z1 + t^-1/2 P z2 (B: the precision
    without the area prior), whose mean is the posterior mean and covariance A_t^-1."""
    na = int(cr.a.max()) + 1
    ia = np.arange(1, 1 + na)
    cov = cr.cov[c]
    e = np.einsum("sq,pq->sp", z1, cr.b_half[c])
    e[:, ia] += z2 / np.sqrt(np.maximum(t, EPS))[:, None]
    y = np.einsum("sp,pq->sq", cr.rhs[c][None, :] + e, cov)
    delta = 1.0 / np.maximum(t, EPS) - cr.lam_a[c]  # S
    M = cov[np.ix_(ia, ia)]
    K = np.eye(na)[None] + delta[:, None, None] * M[None]
    wv = np.linalg.solve(K, y[:, ia][..., None])[..., 0]
    return y - np.einsum("sk,kp->sp", delta[:, None] * wv, cov[ia, :])
