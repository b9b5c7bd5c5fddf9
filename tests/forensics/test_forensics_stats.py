"""The battery's own classical tests (no scipy.stats at run time) agree with scipy.stats."""
import numpy as np
import pytest
from scipy import stats

from escrutinio.forensics import _stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moment_tests_match_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0 + seed, size=500 + 300 * seed)
    y = 0.3 * x + rng.normal(size=len(x))
    assert _stats.skew(x) == pytest.approx(stats.skew(x), rel=1e-10)
    assert _stats.kurtosis(x) == pytest.approx(stats.kurtosis(x), rel=1e-10)
    assert _stats.kurtosis(x, excess=False) == pytest.approx(stats.kurtosis(x, fisher=False), rel=1e-10)
    assert _stats.skewtest(x) == pytest.approx(stats.skewtest(x).pvalue, rel=1e-8, abs=1e-300)
    assert _stats.kurtosistest(x) == pytest.approx(stats.kurtosistest(x).pvalue, rel=1e-8, abs=1e-300)
    r, p = _stats.pearsonr(x, y)
    ref = stats.pearsonr(x, y)
    assert r == pytest.approx(ref.statistic, rel=1e-10) and p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    slope, se, p = _stats.linregress(x, y)
    ref = stats.linregress(x, y)
    assert (slope, se) == pytest.approx((ref.slope, ref.stderr), rel=1e-10)
    assert p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("k,n,p", [(3, 20, 0.2), (9, 20, 0.2), (0, 10, 0.3), (10, 10, 0.3), (21000, 100000, 0.2),
                                   (19000, 100000, 0.2), (500, 5000, 0.1), (2, 5, 0.5), (130, 1000, 0.1)])
def test_binomial_tests_match_scipy(k, n, p):
    assert _stats.binomtest_two_sided(k, n, p) == pytest.approx(stats.binomtest(k, n, p).pvalue, rel=1e-6, abs=1e-300)
    assert _stats.binom_sf_ge(k, n, p) == pytest.approx(
        stats.binomtest(k, n, p, alternative="greater").pvalue, rel=1e-8, abs=1e-300)


def test_tails_match_scipy():
    assert _stats.norm_sf(1.7) == pytest.approx(stats.norm.sf(1.7))
    assert _stats.t_sf(2.1, 28) == pytest.approx(stats.t.sf(2.1, 28))
    assert _stats.chi2_sf(15.2, 9) == pytest.approx(stats.chi2.sf(15.2, 9))
    assert _stats.f_sf(1.4, 20, 600) == pytest.approx(stats.f.sf(1.4, 20, 600))
