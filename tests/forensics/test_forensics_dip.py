import numpy as np
import pytest

from escrutinio.forensics import _dip_table
from escrutinio.forensics.dip import _hull, dip_p_value, dip_statistic, dip_test

# Hartigan & Hartigan (1985)'s statistics-faculty example as R's diptest ships it
# (data(statfaculty), 63 values), written as counts of the consecutive values 30, 31, ...:
# Maechler's vignette "Dip Test Distributions, P-values, and other Explorations" prints
# dip.test(statfaculty): D = 0.059524, p-value = 0.08672.
STATFACULTY_COUNTS = [int(c) for c in "1001011205411322223121252002013441001000102"]


def _statfaculty():
    return np.repeat(30 + np.arange(len(STATFACULTY_COUNTS)), STATFACULTY_COUNTS).astype(float)


def test_minimum_dip_for_tiny_samples():
    # Hartigan & Hartigan (1985): the dip of n <= 3 points is 1/(2n)
    for x in ([1.0], [1.0, 2.0], [1.0, 2.0, 5.0]):
        assert abs(dip_statistic(x) - 1 / (2 * len(x))) < 1e-12
    # diptest's tests/ex1.R: cumsum(0:3) gives exactly 1/(2n), and two equal atoms 1/4
    assert dip_statistic(np.cumsum(np.arange(4))) == 1 / 8
    assert abs(dip_statistic([0, 0, 1, 1]) - 0.25) < 1e-12


def test_published_statfaculty_dip_and_p_value():
    x = _statfaculty()
    assert len(x) == 63
    d = dip_statistic(x)
    assert round(d, 8) == 0.05952381            # R: dip(statfaculty) = 0.05952381
    assert round(dip_statistic(-x), 8) == 0.05952381
    p = dip_p_value(d, 63)
    assert abs(p - 0.08672) < 0.005, p          # R: dip.test p-value 0.08672 (10^6-sample table); ours 0.0858


def _monotone_chain(x, y, lower):
    h = []
    for i in range(len(x)):
        while len(h) >= 2:
            a, b = h[-2], h[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if (cross <= 0) if lower else (cross >= 0):
                h.pop()
            else:
                break
        h.append(i)
    return np.array(h)


@pytest.mark.parametrize("kind", ["uniform", "normal", "bimodal", "ties"])
def test_numpy_hull_equals_monotone_chain(kind):
    rng = np.random.default_rng(3)
    x = {"uniform": rng.random(3000), "normal": rng.normal(size=3000),
         "bimodal": np.r_[rng.normal(0, 1, 1500), rng.normal(4, 1, 1500)],
         "ties": rng.integers(0, 40, 3000) / 40}[kind]
    x = np.sort(x)
    for y in (np.arange(len(x), dtype=float), np.arange(1, len(x) + 1, dtype=float)):
        for lower in (True, False):
            assert np.array_equal(_hull(x, y, lower), _monotone_chain(x, y, lower))


def test_null_table_and_interpolation():
    q = np.asarray(_dip_table.SQRT_N_QUANTILES)
    assert q.shape == (len(_dip_table.SIZES), len(_dip_table.PROBS))
    assert (np.diff(q, axis=1) >= 0).all()      # quantiles increase with probability
    # sqrt(n) * dip converges (Hartigan & Hartigan 1985): medians between 0.25 and 0.42
    assert (0.24 < q[:, _dip_table.PROBS.index(0.5)]).all() and (q[:, _dip_table.PROBS.index(0.5)] < 0.42).all()
    assert dip_p_value(0.3, 3) == 1.0
    ps = [dip_p_value(d, 500) for d in np.linspace(0.005, 0.05, 10)]
    assert all(a >= b for a, b in zip(ps, ps[1:])) and ps[-1] == pytest.approx(0.001)


def test_uniform_reference_and_power():
    rng = np.random.default_rng(0)
    d, p, n = dip_test(rng.random(2000))
    assert p > 0.01 and n == 2000
    x = np.r_[rng.normal(0, 1, 1000), rng.normal(4, 1, 1000)]
    d2, p2, _ = dip_test(x)
    assert d2 > d and p2 < 0.01


def test_subsampling_is_reported():
    rng = np.random.default_rng(1)
    _, _, used = dip_test(rng.random(5000), max_n=1000, seed=2)
    assert used == 1000
