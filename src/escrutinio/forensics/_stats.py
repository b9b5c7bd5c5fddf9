"""The few classical tests the battery needs, on scipy.special alone.

Importing scipy.stats costs about a second of start-up (it builds the docstrings of a
hundred distributions); the battery needs six tail functions and four textbook tests, so
they are written out here from their published formulas and checked against scipy.stats
in tests/forensics/test_forensics_stats.py.

* skewness test: D'Agostino (1970), Biometrika 57, 679-681;
* kurtosis test: Anscombe & Glynn (1983), Biometrika 70, 227-234;
* exact two-sided binomial test: the usual "probabilities at most the observed one" rule
  (as R's binom.test and scipy.stats.binomtest);
* Pearson correlation and OLS slope: t tests with n - 2 degrees of freedom.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special


def norm_sf(x):
    return special.ndtr(-np.asarray(x, float))


def t_sf(x, df):
    return special.stdtr(df, -np.asarray(x, float))


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def f_sf(x, d1, d2):
    return special.fdtrc(d1, d2, x)


def skew(x) -> float:
    """Population (biased) skewness g1, as scipy.stats.skew."""
    x = np.asarray(x, float)
    d = x - x.mean()
    m2 = (d * d).mean()
    return float((d ** 3).mean() / m2 ** 1.5) if m2 > 0 else float("nan")


def kurtosis(x, excess: bool = True) -> float:
    """Population kurtosis g2 (excess, minus 3) or b2 (Pearson's, not in excess)."""
    x = np.asarray(x, float)
    d = x - x.mean()
    m2 = (d * d).mean()
    if m2 <= 0:
        return float("nan")
    b2 = float((d ** 4).mean() / m2 ** 2)
    return b2 - 3.0 if excess else b2


def skewtest(x) -> float:
    """Two-sided p-value of D'Agostino's skewness test (n >= 8)."""
    n = len(x)
    b2 = skew(x)
    y = b2 * math.sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)))
    beta2 = 3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
    w2 = -1 + math.sqrt(2 * (beta2 - 1))
    delta = 1 / math.sqrt(0.5 * math.log(w2))
    alpha = math.sqrt(2.0 / (w2 - 1))
    y = 1.0 if y == 0 else y
    z = delta * math.log(y / alpha + math.sqrt((y / alpha) ** 2 + 1))
    return float(2 * norm_sf(abs(z)))


def kurtosistest(x) -> float:
    """Two-sided p-value of Anscombe & Glynn's kurtosis test (n >= 5)."""
    n = len(x)
    b2 = kurtosis(x, excess=False)
    e = 3.0 * (n - 1) / (n + 1)
    varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    xx = (b2 - e) / math.sqrt(varb2)
    sqrtbeta1 = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9)) * math.sqrt(
        6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3)))
    a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + math.sqrt(1 + 4.0 / sqrtbeta1 ** 2))
    term1 = 1 - 2 / (9.0 * a)
    denom = 1 + xx * math.sqrt(2 / (a - 4.0))
    if denom == 0:
        return float("nan")
    term2 = math.copysign(1.0, denom) * ((1 - 2.0 / a) / abs(denom)) ** (1 / 3.0)
    z = (term1 - term2) / math.sqrt(2 / (9.0 * a))
    return float(2 * norm_sf(abs(z)))


def pearsonr(x, y) -> tuple[float, float]:
    x = np.asarray(x, float) - np.mean(x)
    y = np.asarray(y, float) - np.mean(y)
    r = float((x * y).sum() / math.sqrt((x * x).sum() * (y * y).sum()))
    r = max(-1.0, min(1.0, r))
    n = len(x)
    if abs(r) == 1.0:
        return r, 0.0
    t = r * math.sqrt((n - 2) / (1 - r * r))
    return r, float(2 * t_sf(abs(t), n - 2))


def linregress(x, y) -> tuple[float, float, float]:
    """(slope, its standard error, two-sided p-value of slope = 0)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = len(x)
    dx, dy = x - x.mean(), y - y.mean()
    sxx, sxy = (dx * dx).sum(), (dx * dy).sum()
    slope = sxy / sxx
    resid = dy - slope * dx
    se = math.sqrt((resid * resid).sum() / (n - 2) / sxx)
    if se == 0:
        return float(slope), 0.0, 0.0
    return float(slope), float(se), float(2 * t_sf(abs(slope / se), n - 2))


def binom_sf_ge(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Bin(n, p)."""
    if k <= 0:
        return 1.0
    return float(special.bdtrc(k - 1, n, p))


def binomtest_two_sided(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial p-value: the probability of every outcome no more likely
    than ``k`` (relative tolerance 1e-7, as R and scipy)."""
    if n == 0:
        return 1.0

    def logpmf(j):
        j = np.asarray(j, float)
        return (special.gammaln(n + 1) - special.gammaln(j + 1) - special.gammaln(n - j + 1)
                + special.xlogy(j, p) + special.xlog1py(n - j, -p))

    d = logpmf(k) + math.log1p(1e-7)
    mode = n * p
    if k == mode:
        return 1.0
    if k < mode:
        # the smallest j above the mode with pmf(j) <= pmf(k): pmf falls beyond the mode
        lo, hi = int(math.ceil(mode)), n
        if logpmf(hi) > d:
            return float(special.bdtr(k, n, p))
        while lo < hi:
            mid = (lo + hi) // 2
            if logpmf(mid) <= d:
                hi = mid
            else:
                lo = mid + 1
        return float(min(1.0, special.bdtr(k, n, p) + binom_sf_ge(lo, n, p)))
    lo, hi = 0, int(math.floor(mode))
    if logpmf(0) > d:
        return binom_sf_ge(k, n, p)
    # the largest j below the mode with pmf(j) <= pmf(k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if logpmf(mid) <= d:
            lo = mid
        else:
            hi = mid - 1
    return float(min(1.0, special.bdtr(lo, n, p) + binom_sf_ge(k, n, p)))
