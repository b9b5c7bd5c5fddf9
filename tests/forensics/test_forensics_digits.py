import numpy as np

from escrutinio.forensics.core import from_arrays
from escrutinio.forensics.digits import BENFORD2, digit_tests
from escrutinio.forensics.simulate import simulate_fair


def test_benford_second_digit_law():
    # Mebane (2006): the 2BL second-digit mean is 4.187; P(0) = 0.11968
    assert abs(BENFORD2.sum() - 1) < 1e-12
    assert abs((BENFORD2 * np.arange(10)).sum() - 4.187) < 5e-4
    assert abs(BENFORD2[0] - 0.11968) < 5e-5


def _by_name(tests):
    return {t.name: t for t in tests}


def test_clean_counts_pass_the_simulated_null_but_fail_classical_2bl():
    rng = np.random.default_rng(0)
    d = simulate_fair(rng.integers(100, 360, 6000), seed=1)
    t = _by_name(digit_tests(d, sims=99, seed=2))
    for name in ("2bl_mean", "last_digit_mean", "last_digit_zero_five", "last_pair_repeated"):
        assert t[name].p_value_simulated > 0.01, name
        assert t[name].recommended == "simulated"
    # small counts are not Benford: the classical 2BL null rejects a clean election
    assert t["2bl_distribution"].p_value_classical < 1e-6


def test_fabricated_last_digits_are_detected():
    rng = np.random.default_rng(3)
    d = simulate_fair(rng.integers(100, 360, 6000), seed=4)
    votes = d.votes.copy()
    fake = (rng.random(votes.shape) < 0.3) & (votes >= 20)
    votes[fake] = (votes[fake] // 5) * 5  # rounded down to a multiple of 5
    val = votes.sum(axis=1)
    x = from_arrays(d.registered, d.emitted - (d.valid - val), val, votes, d.choices)
    t = _by_name(digit_tests(x, sims=49, seed=5))
    assert t["last_digit_zero_five"].p_value_simulated <= 0.02
    assert t["last_digit_zero_five"].statistic > 0.3
