"""Stratified batch comparison: one stratum is plain Kaplan-Markov; wrong outcomes are
confirmed at most at the risk limit; stratification costs draws, as it should."""
import numpy as np
import pytest

from escrutinio.audit import kaplan_markov as km
from escrutinio.audit import stratified as st
from escrutinio.errors import UsageError


def test_one_stratum_is_kaplan_markov():
    t = np.array([0.0, 0.0, 0.1, -0.05, 0.0])
    assert st.stratified_risk([t], [50.0]).risk == pytest.approx(km.km_risk(t[:, None], 50.0)[0], rel=1e-12)
    assert st.zero_error_sample_size([50.0], 0.05)["total"] == km.km_zero_error_size(50.0, 0.05)


def test_strata_cost_draws_and_results_are_plain_data():
    two = st.zero_error_sample_size([30.0, 20.0], 0.05)
    assert two["total"] > km.km_zero_error_size(50.0, 0.05)
    assert two["per_stratum"][0] > two["per_stratum"][1]
    res = st.stratified_risk([np.zeros(two["per_stratum"][0]), np.zeros(two["per_stratum"][1])], [30.0, 20.0],
                             risk_limit=0.05)
    assert res.confirmed and sum(res.allocation) == pytest.approx(1.0)
    assert "Fisher" in res.summary() and res.to_dict()["draws"] == two["per_stratum"]
    with pytest.raises(UsageError):
        st.stratified_risk([np.zeros(3)], [1.0, 2.0])


@pytest.mark.parametrize("split", [(20, 0), (10, 10)])
def test_wrong_outcome_confirmed_at_most_alpha(split):
    alpha, reps = 0.10, 3000
    b = [np.full(200, 0.1), np.full(200, 0.1)]  # U_s = 20 per stratum
    taints = []
    for k in split:  # k batches with taint 0.5 and bound 0.1: error 0.05 k; total exactly 1 (wrong outcome)
        t = np.zeros(200)
        t[:k] = 0.5
        taints.append(t)
    assert sum(0.05 * k for k in split) == pytest.approx(1.0)
    n = st.zero_error_sample_size([20.0, 20.0], alpha)["per_stratum"]
    risks = st.simulate([20.0, 20.0], b, taints, n, reps=reps, seed=9)
    assert np.mean(risks <= alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
