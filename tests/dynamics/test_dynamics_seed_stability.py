"""Issue 25: the multilevel projection's bounds come from the draws' conditional normal
parts (projection.result._conditional): the same distribution as the draws, less Monte
Carlo error, and a stated error that is honest."""
import numpy as np
import polars as pl
import pytest

from escrutinio.dynamics import multilevel as ml
from escrutinio.dynamics.projection import project, stratified

CHOICES = ["A", "B", "C"]
LEVELS = ("department", "locality", "polling_place")


def _election(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(4):
        for loc in range(8):
            p_a = 0.3 + 0.05 * d + 0.03 * rng.standard_normal()
            for p in range(4):
                for t in range(3):
                    reg = int(rng.integers(150, 250))
                    a = rng.binomial(reg, np.clip(p_a + 0.04 * rng.standard_normal(), 0.05, 0.9))
                    b = rng.binomial(reg - a, 0.7)
                    c = rng.binomial(reg - a - b, 0.3)
                    rows.append({"unit": f"{d}-{loc}-{p}-{t}", "department": f"D{d}", "locality": f"D{d}L{loc}",
                                 "polling_place": f"D{d}L{loc}P{p}", "registered": reg, "A": a, "B": b, "C": c,
                                 "blank": 2, "null": 3})
    f = pl.DataFrame(rows)
    roll = f.select("unit", *LEVELS, "registered")
    # the first three departments, then a few tables of the last
    part = f.filter((pl.col("department") != "D3") | (pl.col("unit").str.ends_with("-0-0")))
    return part, roll


def _run(part, roll, S, seed, conditional, monkeypatch):
    monkeypatch.setattr(stratified, "CONDITIONAL_BOUNDS", conditional)
    return project(part, roll, CHOICES, levels=LEVELS, model="multilevel", simulations=S, seed=seed)


def _bounds(r):
    return np.array([r.shares[c][k] for c in CHOICES for k in ("lo", "hi")] + [r.lead["lo"], r.lead["hi"]])


def _se(r):
    mc = r.monte_carlo
    return np.array([x for pair in zip(mc["bound_se"]["lo"], mc["bound_se"]["hi"]) for x in pair]
                    + [mc["lead_se"]["lo"], mc["lead_se"]["hi"]])


def test_conditional_bounds_are_the_draws_bounds_with_less_error(monkeypatch):
    part, roll = _election()
    raw = _run(part, roll, 8000, 1, False, monkeypatch)
    cond = _run(part, roll, 8000, 2, True, monkeypatch)
    # the same distribution: within four standard errors of the difference
    assert np.all(np.abs(_bounds(raw) - _bounds(cond)) <= 4 * np.hypot(_se(raw), _se(cond)))
    # and a smaller stated error than the order statistics' at the same simulations
    assert _se(cond).max() < _se(raw).max()
    # the point, the probabilities and the draws are the draws' as before
    assert raw.shares["A"]["point"] == pytest.approx(cond.shares["A"]["point"], abs=0.3)


def test_the_stated_error_matches_the_spread_between_seeds(monkeypatch):
    part, roll = _election()
    runs = [_run(part, roll, 500, s, True, monkeypatch) for s in range(12)]
    spread = np.std([_bounds(r) for r in runs], axis=0, ddof=1)
    stated = np.mean([_se(r) for r in runs], axis=0)
    # twelve seeds estimate a spread to about +-20%: the stated error is neither far
    # below it (dishonest) nor far above it (useless)
    ratio = spread / stated
    assert 0.5 < np.median(ratio) < 1.5 and ratio.max() < 2.2


def test_the_normal_parts_are_the_draws_normal_terms(monkeypatch):
    part, roll = _election()
    seen = {}
    orig = ml.simulate

    def spy(f, S, rng, chunk=100, parts=False):
        seen["f"] = f
        return orig(f, S, rng, chunk, parts)

    monkeypatch.setattr(ml, "simulate", spy)
    _run(part, roll, 200, 0, True, monkeypatch)
    f = seen["f"]
    # one replicate per simulation: the same draws with or without the parts
    S = f.beta_boot.shape[0]
    a = orig(f, S, np.random.default_rng(5), 100)
    b, parts = orig(f, S, np.random.default_rng(5), 100, parts=True)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-6)
    g = parts["drawn"] - parts["mean"]
    # the drawn normal terms have mean 0 and the stated covariance
    sd = np.sqrt(np.einsum("scc->c", parts["cov"]) / g.shape[0])
    assert np.all(np.abs(g.mean(axis=0)) < 4 * sd / np.sqrt(g.shape[0]) + 1e-9)
    ok = sd > 0
    ratio = g.std(axis=0)[ok] / sd[ok]
    assert np.all(np.abs(ratio - 1) < 0.08)
    # with fewer simulations, each has partners among the slopes' replicates
    _, parts = orig(f, S // 8, np.random.default_rng(5), 100, parts=True)
    assert parts["boot"].shape[:2] == (S // 8, 8)
