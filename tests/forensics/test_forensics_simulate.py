import numpy as np

from escrutinio.forensics.fingerprint import fit_klimek
from escrutinio.forensics.placebo import power
from escrutinio.forensics.simulate import inject_klimek, inject_round_numbers, simulate_fair, simulate_like


def _valid_counts(d):
    assert d.votes.dtype == np.int64 and (d.votes >= 0).all()
    assert (d.votes.sum(axis=1) == d.valid).all()
    assert (d.valid <= d.emitted).all() and (d.emitted <= d.registered).all()


def test_simulate_like_keeps_electorate_and_totals_close():
    rng = np.random.default_rng(0)
    d = simulate_fair(rng.integers(100, 360, 4000), seed=1)
    s = simulate_like(d, seed=2)
    _valid_counts(s)
    assert (s.registered == d.registered).all()
    assert abs(s.emitted.sum() / d.emitted.sum() - 1) < 0.01
    share = s.votes.sum(axis=0) / s.votes.sum()
    assert np.allclose(share, d.votes.sum(axis=0) / d.votes.sum(), atol=0.01)


def test_round_number_injection_keeps_counts_consistent():
    rng = np.random.default_rng(3)
    d = simulate_fair(rng.integers(100, 360, 4000), seed=4)
    f, mask = inject_round_numbers(d, 0.1, seed=5)
    _valid_counts(f)
    assert 300 < mask.sum() < 500


def test_klimek_intervals_cover_the_truth_in_most_runs():
    # modest version of the benchmark's power study (benchmarks/bench_forensics.py power)
    rng = np.random.default_rng(6)
    reg = rng.integers(100, 360, 8000)
    covered = 0
    for r in range(4):
        dirty, _ = inject_klimek(simulate_fair(reg, seed=10 + r), 0.2, 0.03, seed=20 + r)
        fit = fit_klimek(dirty, boot=30, seed=30 + r)
        covered += (fit.ci_f_i[0] <= 0.2 <= fit.ci_f_i[1]) and (fit.ci_f_e[0] <= 0.03 <= fit.ci_f_e[1])
    assert covered >= 3


def test_power_study_shape():
    rng = np.random.default_rng(7)
    p = power(rng.integers(100, 360, 2000), 0.0, 0.0, runs=2, draws=100, digit_sims=19, round_fraction=0.2, seed=8)
    assert p["runs"] == 2 and p["rejection_rate"]["integer_pct_either"]["rate"] == 1.0
