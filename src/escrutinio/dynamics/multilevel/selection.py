"""The selection prior: a count order correlated with the vote inside strata (Meng 2018's data
defect correlation in a latent-propensity form), its prior scales measured on real count orders,
and the term it adds to the uncounted tables' totals."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from escrutinio.dynamics.geography import REMOTENESS_COVARIATE
from escrutinio.dynamics.multilevel.shared import EPS, _corr_normal

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

    def cov(self) -> np.ndarray:
        """C x C covariance of the term :meth:`draw` adds (it is normal, mean 0)."""
        w = self.r_scale * self.sigma * self.weights
        return w[:, None] * w[None, :] * self.corr

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
