"""Multilevel (empirical-Bayes) imputation of uncounted tables by stratum.

Why: the hot deck of :mod:`escrutinio.dynamics.projection` imputes an uncounted table
from counted tables near it. When the count is not random *between* areas (Bolivia 2020:
cities and abroad first, rural areas last), a rural place whose department has no counted
rural table is imputed from urban tables of its department: the point is biased and the
interval, made from urban tables, is narrow. What is known about every uncounted table
(its area type, department and municipality, from the roll and the polling places) says
where the uncounted voters are; this model uses it.

Model (per channel: each choice, blank and null, as votes per registered voter):

    y_t = beta . z_p + mu + alpha_area + delta_dept + gamma c_cell + e_cell + m_muni + e_p + u_t

* ``z_p``: covariates of the polling place known for every place: its rate in a previous
  election (same channel), log size (registered voters in the roll), log density when
  the polling-place list has it. beta is fitted by weighted least squares within
  departments; a cluster Poisson bootstrap (Hanley & MacGibbon 2006) gives its
  uncertainty, redrawn in every simulation, so extrapolating in z widens the interval.
  With a previous election this generalises the swing model (beta = 1).
* **Crossed top level.** Area type and department are crossed factors: a cell (area x
  department) has mean mu + alpha_area + delta_dept + gamma c_cell + e_cell, with
  alpha, delta, e normal (ridge / BLUP, variances by EM; Searle, Casella & McCulloch
  1992) and c_cell the cell's completion (slow cells differ; a cell with nothing counted
  sits at completion 0). Rural La Paz is then like urban La Paz *and* like rural Potosí.
* **Nested below**: municipality (within its cell), polling place, table (variance phi /
  registered, binomial-like). Each level's between-node variance is the pooled
  DerSimonian-Laird moment estimator (DerSimonian & Laird 1986), and a node's mean is
  shrunk toward its parent by B = tau^2 / (tau^2 + v) (empirical Bayes; Efron & Morris
  1975; Fay & Herriot 1979 for small areas). Within-parent completion slopes (as the hot
  deck's slow-place adjustment) shift nodes with nothing counted, shrunk by James-Stein.
* **Widening when extrapolating.** A stratum with nothing counted draws its effect from
  N(parent, tau^2): its uncertainty is the between-stratum variation, not the spread of
  a borrowed point. tau^2 is itself uncertain when few strata are counted, so each
  simulation draws it from its Q-profile confidence distribution (Viechtbauer 2007) as
  a generalised pivotal quantity. The area-type variance is drawn likewise, and the crossed
  posterior is redrawn given each draw (:func:`_area_redraw`), so an area type with only a
  few counted tables is as uncertain as the variation between types allows. The count's
  order is not random (cities first), so an
  area type's or department's prior variance is at least the whole between-cell
  variation of the counted cells.
* channels are correlated (a vote for one party is not a vote for another): each level's
  normal draws share the correlation of that level's standardised deviations.
* **Selection of the order inside strata** (:class:`_Selection`): strata do not make an
  urban-first count random; the places counted first in a cell are not its average place.
  A latent-propensity form of Meng's (2018) data defect correlation, with a prior scale
  measured on real count orders (:mod:`escrutinio.dynamics.order_selection`), moves the
  uncounted voters of every cell, and its bias propagates exactly through the crossed fit.

Simulation is top-down (crossed cells, then each nested level given its parent's draw),
the exact conditional of a Gaussian hierarchy: theta_child | theta_parent, data ~
N(theta_parent + B (m_child - theta_parent), B v_child). Everything is vectorised over
strata and simulations; the only loops are over levels, channels and chunks. The
justification is a simulation study on urban-first counts (:mod:`escrutinio.dynamics.urban_first`).

Null hypothesis: none (an estimator). Caveat: the model assumes that uncounted places of
a stratum are like the counted places of that stratum, up to the stratum's random effect
and a selection of the order as strong as real count orders have shown; a more selective
order, in a direction the covariates do not show, remains a bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escrutinio.dynamics.geography import REMOTENESS_COVARIATE

EPS = 1e-12
SLOPES_WITHIN = "cross"
FLOOR_FACTOR_VARIANCE = True
MAX_CROSSED_LEVELS = 300
MIN_PARTIAL = 10
# A rate per registered voter lies in [0, 1], so the means of area types or departments
# cannot vary by more than 1/4 (Popoviciu's inequality on variances). This bounds the
# draws of a factor's variance from its scaled inverse chi-square, which with one or two
# counted levels has no finite mean; a tighter, data-scaled cap (four times the counted
# cells' spread) made unseen area types look like the seen ones and covered 43% at 95%
# in simulated urban-first counts at 10% counted.
MAX_RATE_VARIANCE = 0.25
# Prior scale of the selection correlation r of the count order within a top stratum
# (the latent-propensity form of Meng's data defect correlation, against the spread of
# place means; see _Selection and order_selection). SELECTION_R is the root mean square of
# r_place in Bolivia's two 2019 count orders (TREP and final-count arrival), within area
# type x department, against the 2019 result, at 2.5% to 76% counted:
# a measured property of real count orders, from a different election than the 2020
# exports it is applied to (``benchmarks/bench_dynamics.py --urban-first`` prints them).
SELECTION_R = 0.21
# The same measurement net of the place covariates the model then uses (log place size,
# log density and log registered voters within 5 km, :mod:`escrutinio.dynamics.geography`):
# root mean square of r_place over both orders and the two leading parties, MAS and CC
# (0.100, 0.114, 0.117, 0.156: 0.124). What the covariates explain is no longer selection
# the order can hide; what they leave is this. (Net of log size and log density alone,
# the covariates of a model without coordinates, the same figure is 0.206: SELECTION_R.)
SELECTION_R_GIVEN_REMOTENESS = 0.12
# Without a polling-place file the strata are the settlement size class (decades of the
# registered voters of each polling place's locality, from the roll alone; see
# escrutinio.dynamics.representativeness) x department. The same measurement within those
# strata, net of log place size (the model's only place covariate then), over both 2019
# orders and MAS and CC: 0.116, 0.179, 0.137, 0.206, root mean square 0.164
# (benchmark 4d). Used when the projection builds those strata itself.
SELECTION_R_SETTLEMENT = 0.16


def selection_prior(covariates) -> float:
    """The prior scale of the order's selection for a model with these place covariates."""
    return SELECTION_R_GIVEN_REMOTENESS if REMOTENESS_COVARIATE in tuple(covariates or ()) else SELECTION_R


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
    wb = rng.poisson(1.0, size=(2 * boot, nparents)).astype(np.float64)
    dd = wb @ sxx
    okb = np.all(dd > EPS, axis=1)
    if okb.sum() < boot // 2:
        return None
    bs = (wb[okb] @ sxy) / dd[okb]
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
    DU: np.ndarray  # C x K: sum over places of U x covariates
    DrefU: np.ndarray  # C x K: the same with each place's stratum's counted mean covariates
    beta: np.ndarray  # C x K covariate slopes
    beta_boot: np.ndarray | None  # B x C x K bootstrap slopes (None without covariates)
    crossed: _Crossed | None = None
    selection: "_Selection | None" = None


@dataclass
class _Selection:
    """Within-stratum selection of the count order. Meng (2018, "Statistical paradises and
    paradoxes in big data (I)", Ann. Appl. Stat. 12) shows that the counted mean of a
    stratum differs from its mean by rho sigma sqrt((1 - f) / f): rho, the correlation
    between being counted and the vote (the data defect correlation), times the spread
    sigma of table rates, times the data quantity term. A random order has rho of order
    1 / sqrt(N); an urban-first order does not. If tables are counted in the order of a
    latent propensity correlated r with the vote (a Heckman 1979 selection model), the
    bias is r sigma lambda(f), lambda(f) = phi(Phi^-1(1 - f)) / f the mean of a normal's
    top f tail: it is bounded as f -> 0, where Meng's form with a fixed rho is not. r is
    unknown, so each simulation draws it from N(0, r_scale^2), channels correlated (a
    vote counted early for one party is not one for another). Strata with nothing
    counted inherit the counted strata's bias through the crossed prediction, so their
    uncounted voters move with the counted-weighted mean bias.

    Null: r = 0 (tables arrive at random within strata), under which the term is noise
    of scale r_scale; with ``r_scale=0`` it is off. Caveat: a symmetric prior widens the
    interval; it does not say which way the order leans."""

    sigma: np.ndarray  # C: pooled within-stratum sd of place means (per registered voter)
    weights: np.ndarray  # C: registered voters x lambda, summed over strata (see _selection)
    corr: np.ndarray  # C x C
    r_scale: float

    def draw(self, S: int, rng: np.random.Generator) -> np.ndarray:
        """S x C votes to add to the uncounted tables' totals."""
        if self.r_scale <= 0:
            return np.zeros((S, self.sigma.size))
        r = self.r_scale * _corr_normal(rng, (S, self.sigma.size), self.corr)  # S x C
        # counted mean - stratum mean = r sigma lambda: the uncounted voters are the other way
        return -r * (self.sigma * self.weights)[None, :]

    def per_sd(self, U: float) -> np.ndarray:
        """Per channel: sd of the bias of the uncounted voters' mean rate, in rate units."""
        return self.r_scale * self.sigma * self.weights / max(U, EPS)


def _place_spread(top, tp, tR, e_t):
    """Pooled within-stratum sd of place means (C): the table spread less the
    within-place variance. The order selects places, not tables (within a place, tables
    arrive together or at random), so this is the spread the selection acts on."""
    ok = tR > 0
    K = int(top.max()) + 1
    kt, pt = top[tp[ok]], tp[ok]
    w, e = tR[ok], e_t[ok]
    C = e.shape[1]

    def centred_ss(group, n):
        sw = np.bincount(group, w, n)
        mean = np.stack([np.bincount(group, w * e[:, c], n) for c in range(C)], 1) / np.maximum(sw, EPS)[:, None]
        return (w[:, None] * (e - mean[group]) ** 2).sum(axis=0) / max(float(w.sum()), EPS)

    P = int(pt.max()) + 1
    nt, npl = int(ok.sum()), int((np.bincount(pt, minlength=P) > 0).sum())
    # counted tables sample their place: n / (n - 1)
    v_within = centred_ss(pt, P) * nt / max(nt - npl, 1)
    return np.sqrt(np.maximum(centred_ss(kt, K) - v_within, 0.0))


def _mills(f: np.ndarray) -> np.ndarray:
    """lambda(f) = phi(Phi^-1(1 - f)) / f: the mean of a standard normal's top f tail."""
    from scipy.stats import norm

    f = np.clip(f, 1e-12, 1.0)
    return np.where(f < 1, norm.pdf(norm.ppf(np.clip(1 - f, 0, 1 - 1e-12))) / f, 0.0)


def _selection(top, counted_R, uncounted_R, tp, tR, e_t, corr, r_scale, B, pred_bias) -> "_Selection | None":
    """The selection term. Per top stratum k (counted registered voters c_k, uncounted u_k,
    completion f_k), the error of the projected uncounted votes, per unit of r sigma, is
    * with something counted: B_k (c_k + u_k) lambda_k + (1 - B_k) (u_k p_k + c_k lambda_k),
      where B_k is the stratum's shrinkage toward the prediction from the other strata and
      p_k that prediction's bias (both per channel);
    * with nothing counted: u_k p_k.
    ``pred_bias(lam)``: the prediction's bias per stratum (K x C) when the counted strata's
    means are biased by ``lam`` (K, 0 where nothing is counted). Returns None with too few
    tables."""
    if not top.size or (tR > 0).sum() < 3:
        return None
    K = int(top.max()) + 1
    cR = np.bincount(top, counted_R, K)
    uR = np.bincount(top, uncounted_R, K)
    seen = cR > 0
    f = cR / np.maximum(cR + uR, EPS)
    lam = np.where(seen, _mills(f), 0.0)
    pb = pred_bias(lam)  # K x C
    own = ((cR + uR) * lam)[:, None]
    borrowed = uR[:, None] * pb + (cR * lam)[:, None]
    w = np.where(seen[:, None], B * own + (1 - B) * borrowed, uR[:, None] * pb)
    return _Selection(sigma=_place_spread(top, tp, tR, e_t), weights=w.sum(axis=0), corr=corr, r_scale=r_scale)


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
    wb = rng.poisson(1.0, size=(boot, ng)).astype(np.float64)
    bb = solve(np.einsum("bg,gckj->bckj", wb, Sxx), np.einsum("bg,gck->bck", wb, Sxy))
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
        selection_r: float = SELECTION_R) -> MultilevelFit:
    """Fit the hierarchy on place-level data.

    ``place_keys``: per stratum level (coarse -> fine), an integer code per place; the
    polling place itself is the finest node and is added here. ``counted_R`` / ``counted_V``:
    per place, counted registered voters and votes (C channels). ``uncounted_R``: per place,
    registered voters of its uncounted tables. ``table_*``: counted tables (place index,
    registered, votes), for the within-place variance. ``x``: places x C previous rates.
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
        beta, beta_boot, D_ref = _slopes(D, y, np.where(has_p, counted_R, 0.0), cell, rng, boot)
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
            sl = _completion_slope(mi, vi, tau2, comp, parent, has, npar, rng)
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


def _corr_normal(rng: np.random.Generator, shape: tuple, corr: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(corr)
    # einsum, not BLAS: small inner dimension, and BLAS threads oversubscribe a busy machine
    return np.einsum("...c,dc->...d", rng.standard_normal(shape), L)


def simulate(f: MultilevelFit, S: int, rng: np.random.Generator, chunk: int = 100) -> np.ndarray:
    """S x C simulated votes of the uncounted tables (in chunks of simulations).

    The model is normal on the scale of votes per registered voter, so a draw far in a
    tail can leave that scale: votes are then truncated at 0 and, channel by channel,
    scaled so that no more votes are cast than there are registered voters."""
    C = f.phi.size
    U = float(f.U.sum())
    if U <= 0:
        return np.zeros((S, C))
    tot = np.vstack([_simulate(f, min(chunk, S - s0), rng) for s0 in range(0, S, chunk)])
    tot = np.maximum(tot, 0.0)
    over = tot.sum(axis=1) / U
    return tot / np.maximum(over, 1.0)[:, None]


def _simulate(f: MultilevelFit, S: int, rng: np.random.Generator) -> np.ndarray:
    C = f.phi.size
    root_m = np.nan_to_num(f.root_m)
    root_v = np.where(np.isfinite(f.root_v), f.root_v, 0.0)
    theta = root_m[None, None, :] + np.sqrt(root_v)[None, None, :] * _corr_normal(rng, (S, 1, C), np.eye(C))
    if f.crossed is not None:
        theta = _crossed_draw(f.crossed, S, rng)
    last = len(f.levels) - 1
    for i, lev in enumerate(f.levels):
        # tau^2 per simulation from its Q-profile confidence distribution
        tau2 = _tau2_draws(lev, S, rng)[:, None, :]
        has = np.isfinite(lev.v)
        g = lev.slope_boot[rng.integers(0, lev.slope_boot.shape[0], S)] if lev.slope_boot is not None else None
        if i == last:
            # places: only the U-weighted sum matters. Places with nothing counted take
            # their parent's draw plus N(0, tau^2): summed by parent. A sum of independent
            # normals is normal, so the place-level noise is drawn as one S x C term.
            nd, d = ~has[:, 0] & (f.U > 0), has[:, 0] & (f.U > 0)
            npar = theta.shape[1]
            Wn = np.bincount(lev.parent[nd], f.U[nd], npar)
            tot = np.einsum("q,sqc->sc", Wn, theta)
            var = tau2[:, 0, :] * (f.U[nd] ** 2).sum()
            if g is not None:
                tot -= g * float((f.U[nd] * lev.shift_base[nd]).sum())
            if d.any():
                v = lev.v[d][None]
                B = tau2 / (tau2 + np.maximum(v, EPS))
                mean = theta[:, lev.parent[d], :] * (1 - B) + B * lev.m[d][None]
                tot += np.einsum("p,spc->sc", f.U[d], mean)
                var = var + np.einsum("p,spc->sc", f.U[d] ** 2, B * v)
            tot += np.sqrt(var) * _corr_normal(rng, (S, C), lev.corr)
            break
        v = np.where(has, lev.v, 0.0)[None]
        B = np.where(has[None], tau2 / (tau2 + np.maximum(v, EPS)), 0.0)
        mean = theta[:, lev.parent, :] * (1 - B) + B * np.nan_to_num(lev.m)[None]
        if g is not None:
            mean = mean - lev.shift_base[None, :, None] * g[:, None, :]
        var = np.where(has[None], B * v, tau2)
        z = _corr_normal(rng, (S, lev.parent.size, C), lev.corr)
        theta = mean + np.sqrt(var) * z
    if f.selection is not None:
        tot += f.selection.draw(S, rng)
    # table noise on the uncounted tables
    tot += np.sqrt(f.phi * f.U.sum())[None, :] * _corr_normal(rng, (S, C), f.table_corr)
    if f.beta_boot is not None:
        bb = f.beta_boot[rng.integers(0, f.beta_boot.shape[0], S)]  # S x C x K
        # beta . D x U, plus the slopes' uncertainty where uncounted places' covariates
        # differ from the counted places' of their stratum (residual means were fitted at beta)
        tot += np.einsum("ck,ck->c", f.DU, f.beta)[None, :]
        tot += np.einsum("sck,ck->sc", bb - f.beta[None], f.DU - f.DrefU)
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
