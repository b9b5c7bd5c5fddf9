"""Validity by simulation: when the reported outcome is wrong, each audit confirms it
with probability at most the risk limit (up to simulation error); when it is right, the
expected sample sizes come out finite and are reported."""
import math

import numpy as np
import pytest

from escrutinio.audit import assertions as A
from escrutinio.audit import kaplan_markov as km
from escrutinio.audit.alpha import alpha_sample_sizes
from escrutinio.audit.bravo import bravo_simulate

ALPHA = 0.10
REPS = 2000


def _bound(reps):
    # confirmation rate at most alpha, plus 3 binomial standard errors
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)


def _ballots(counts: dict, invalid: int, a: A.Assertion) -> np.ndarray:
    vals = [np.full(v, float(a.assorter(c))) for c, v in counts.items()]
    return np.concatenate(vals + [np.full(invalid, 0.5)])


TRUE = {"w": 4000, "r": 3000, "x": 3000}  # w: 40.0% share, lead exactly 10 points: both false
REPORTED = {"w": 4400, "r": 2800, "x": 2800}


@pytest.mark.parametrize("make", [
    lambda: A.share_above("w", A.Fraction(2, 5)),
    lambda: A.lead_at_least("w", "r", A.Fraction(1, 10)),
    lambda: A.pairwise("w", "r"),
])
def test_alpha_polling_wrong_outcome_confirmed_at_most_alpha(make):
    a = make()
    truth = TRUE if a.kind != "pairwise" else {"w": 3500, "r": 3500, "x": 3000}
    pop = _ballots(truth, 500, a)
    assert pop.mean() == pytest.approx(0.5)  # the null boundary: hardest case
    reported = _ballots(REPORTED, 500, a)
    n = alpha_sample_sizes(pop, eta0=float(reported.mean()), risk_limit=ALPHA, reps=REPS, u=float(a.upper_bound),
                           with_replacement=True, max_n=1500, seed=7)
    confirmed = np.mean(n <= 1500)
    assert confirmed <= _bound(REPS)


def test_bravo_wrong_outcome_confirmed_at_most_alpha():
    n = bravo_simulate(0.55, 0.45, ALPHA, reps=REPS, max_n=2000, true_winner=0.5, true_loser=0.5, seed=3)
    assert np.mean(n <= 2000) <= _bound(REPS)


def _batches(P=400, err_every=10, shift=40):
    rng = np.random.default_rng(11)
    c = np.full(P, 250)
    true = np.zeros((P, 3), dtype=np.int64)
    # every batch: 40% / 30% / 30% of 200 valid (lead exactly 10 points, share exactly 40%)
    true[:] = [80, 60, 60]
    rep = true.copy()
    bad = np.arange(P) % err_every == 0
    rep[bad, 0] += shift
    rep[bad, 1] -= shift // 2
    rep[bad, 2] -= shift // 2
    return c, true, rep, bad, rng


def test_kaplan_markov_wrong_outcome_confirmed_at_most_alpha():
    choices = ["w", "r", "x"]
    c, true, rep, bad, _ = _batches()
    asr = A.first_round({k: int(v) for k, v in zip(choices, rep.sum(axis=0))}, "bolivia")
    assert any(a.kind == "lead" for a in asr)
    model = km.build_batches(asr, [str(i) for i in range(len(c))], rep, choices, c)
    actual = np.column_stack([a.batch_totals(true.astype(float), choices, model.slots) for a in asr])
    t = km.taints(model, np.arange(len(c)), actual).max(axis=1)
    n, _ = km.km_simulate(model.bounds, t, ALPHA, reps=REPS, max_n=3000, seed=5)
    assert np.mean(n <= 3000) <= _bound(REPS)
    # and the risk function itself: taints of 1 make the P-value infinite (-> 1)
    assert km.km_risk(np.array([[1.0]]), 10.0)[0] == 1.0


def test_kaplan_markov_right_outcome_reports_expected_size():
    choices = ["w", "r", "x"]
    c, true, rep, bad, _ = _batches(shift=2)
    truth = {k: int(v) for k, v in zip(choices, (true + [10, 0, 0]).sum(axis=0))}
    asr = A.first_round(truth, "bolivia")
    model = km.build_batches(asr, [str(i) for i in range(len(c))], true + [10, 0, 0], choices, c)
    est = km.estimate(model, ALPHA, np.zeros(len(c)), reps=200, max_n=20000)
    assert est.expected == est.zero_discrepancy
    assert est.zero_discrepancy == math.ceil(math.log(ALPHA) / math.log(1 - 1 / est.total_bound))
    assert "draws" in est.summary() and est.to_dict()["escalation_rate"] == 0.0


def test_alpha_ballot_comparison_wrong_outcome_and_right_outcome():
    from escrutinio.audit.comparison import alpha_comparison_sample_sizes, comparison_population

    # two-vote overstatements in 5% of ballots wipe out a 10% margin exactly
    assert comparison_population(20_000, 0.1, o2=0.05).mean() == pytest.approx(0.5)
    n = alpha_comparison_sample_sizes(20_000, 0.1, ALPHA, o2=0.05, reps=REPS, with_replacement=True, seed=4,
                                      max_n=3000)
    assert np.mean(n <= 3000) <= _bound(REPS)
    # right outcome, no errors: close to super-simple's 48 at diluted margin 10%
    n = alpha_comparison_sample_sizes(20_000, 0.1, ALPHA, reps=50, seed=4)
    assert 40 <= n.mean() <= 70
