import numpy as np
from scipy.stats import binom

from escrutinio.forensics.core import StationFilter, from_arrays
from escrutinio.forensics.integer_percentages import (
    hit_coarse, hit_integer_percent, hit_probability, integer_percentages, round_number_tests)
from escrutinio.forensics.simulate import simulate_fair


def test_integer_hit_is_exact():
    k = np.array([1, 1, 3, 2, 201, 1999])
    n = np.array([2, 3, 4, 3, 400, 2000])
    # 50 %, 33.33 %, 75 %, 66.67 %, 50.25 %, 99.95 % (within 0.05 of 100: a hit)
    assert hit_integer_percent(k, n).tolist() == [True, False, True, False, False, True]


def test_coarse_hit():
    k = np.array([1, 1, 3, 7, 0, 5])
    n = np.array([2, 3, 4, 10, 5, 5])
    assert hit_coarse(k, n).tolist() == [True, True, True, True, False, False]


def test_hit_probability_matches_brute_force():
    rng = np.random.default_rng(0)
    n = rng.integers(100, 400, 40)
    k = rng.binomial(n, rng.uniform(0.2, 0.95, 40))
    q = hit_probability(n, k, hit_integer_percent)
    for i in range(40):
        ks = np.arange(n[i] + 1)
        exact = (binom.pmf(ks, n[i], k[i] / n[i]) * hit_integer_percent(ks, np.full_like(ks, n[i]))).sum()
        assert abs(q[i] - exact) < 1e-8


def test_null_mean_matches_exact_and_clean_data_is_not_flagged():
    rng = np.random.default_rng(1)
    d = simulate_fair(rng.integers(100, 360, 5000), seed=2)
    r = integer_percentages(d, draws=1000, seed=3)
    for s in (r.turnout, r.leader, r.either):
        assert abs(s.expected - s.expected_exact) < 4 * s.sd_exact / np.sqrt(1000) + 1
        assert s.p_value > 0.001
    assert r.filter == StationFilter().to_dict()
    assert sum(r.excluded.values()) + r.n_units == d.n


def test_written_in_integer_turnouts_are_detected():
    rng = np.random.default_rng(4)
    d = simulate_fair(rng.integers(100, 360, 5000), seed=5)
    reg, emi = d.registered.copy(), d.emitted.copy()
    # 8 % of tables report a turnout that is an exact integer percentage of registered
    idx = rng.choice(d.n, 400, replace=False)
    reg[idx] = 200
    emi[idx] = 2 * rng.integers(60, 95, 400)
    val = np.minimum(d.valid, emi)
    votes = d.votes.copy()
    scale = val / np.maximum(d.valid, 1)
    votes = np.floor(votes * scale[:, None]).astype(np.int64)
    val = votes.sum(axis=1)
    x = from_arrays(reg, emi, val, votes, d.choices)
    r = round_number_tests(x, draws=1000, seed=6)["integer"]
    assert r.turnout.p_value < 0.01 and r.turnout.excess > 200
