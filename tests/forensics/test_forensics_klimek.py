import numpy as np

from escrutinio.forensics.fingerprint import fingerprint_histogram, fit_klimek
from escrutinio.forensics.simulate import inject_klimek, simulate_fair


def test_histogram_counts_every_station_including_100_percent():
    h = fingerprint_histogram(np.array([0.0, 0.5, 1.0, 1.0]), np.array([0.0, 0.5, 1.0, 0.99]), bins=10)
    assert h.sum() == 4 and h[9, 9] == 2 and h[5, 5] == 1


def test_injection_keeps_integers_and_registered():
    rng = np.random.default_rng(0)
    d = simulate_fair(rng.integers(100, 360, 2000), seed=1)
    f, cls = inject_klimek(d, 0.3, 0.05, seed=2)
    assert f.votes.dtype == np.int64 and (f.votes >= 0).all()
    assert (f.registered == d.registered).all()
    assert (f.emitted <= f.registered).all()
    assert (f.votes.sum(axis=1) == f.valid).all()
    assert abs((cls == 2).mean() - 0.05) < 0.02


def test_fit_recovers_injected_fraud_and_sees_none_in_clean_data():
    rng = np.random.default_rng(3)
    reg = rng.integers(100, 360, 12000)
    clean = simulate_fair(reg, seed=4)
    dirty, _ = inject_klimek(clean, 0.3, 0.04, seed=5)
    fit = fit_klimek(dirty, boot=30, seed=6)
    assert fit.ci_f_e[0] <= 0.04 <= fit.ci_f_e[1]
    assert fit.ci_f_i[0] <= 0.3 <= fit.ci_f_i[1]
    fit0 = fit_klimek(clean, boot=30, seed=7)
    assert fit0.f_e == 0.0 and fit0.ci_f_e[0] == 0.0
    assert fit0.f_i < 0.1
    assert "not evidence of fraud" in fit.caveat or "not evidence" in fit.summary()
