import numpy as np

from escrutinio.forensics import _dip_table
from escrutinio.forensics.dip import dip_statistic, dip_test


def test_minimum_dip_for_tiny_samples():
    # Hartigan & Hartigan (1985): the dip of n <= 3 points is 1/(2n)
    for x in ([1.0], [1.0, 2.0], [1.0, 2.0, 5.0]):
        assert abs(dip_statistic(x) - 1 / (2 * len(x))) < 1e-12


def test_two_equal_atoms_have_the_maximal_dip():
    assert abs(dip_statistic([0, 0, 1, 1]) - 0.25) < 1e-12


def test_uniform_reference_and_power():
    rng = np.random.default_rng(0)
    d, p, n = dip_test(rng.random(2000))
    assert p > 0.01 and n == 2000
    x = np.r_[rng.normal(0, 1, 1000), rng.normal(4, 1, 1000)]
    d2, p2, _ = dip_test(x)
    assert d2 > d and p2 < 0.01
    # sqrt(n) * dip for the uniform converges (table medians between 0.3 and 0.4)
    for row in _dip_table.SQRT_N_DIPS:
        assert 0.28 < np.median(row) < 0.42


def test_subsampling_is_reported():
    rng = np.random.default_rng(1)
    _, _, used = dip_test(rng.random(5000), max_n=1000, seed=2)
    assert used == 1000
