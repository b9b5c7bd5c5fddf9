"""Projection: the 2019 acceptance from the 19:40:57 TREP snapshot, the vectorised law,
reproducibility, bad input, and calibration on simulated elections."""
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from escrutinio.dynamics.backtest import SIM_CHOICES, SIM_LEVELS, calibration, simulated_election
from escrutinio.dynamics.projection import bolivia_outcomes, project, project_snapshot, rule_outcomes
from escrutinio.dynamics.sources import read_roll, read_snapshot
from escrutinio.errors import UsageError

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
FINAL_LEAD = 10.56  # published: 648,439 votes of 6,137,671 valid


@pytest.fixture(scope="module")
def trep_2019():
    trep = read_snapshot(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
    roll = read_roll(DATA / "2019" / "computo_2019-10-25.csv.gz")  # only identity, geography, registered
    return trep, roll


def test_2019_projection_from_1940_snapshot(trep_2019):
    trep, roll = trep_2019
    r = project_snapshot(trep, roll, simulations=2000, seed=7)
    assert r.counted_units == 28975 and r.expected_units == 34555
    assert r.lead_pair == ["MAS - IPSP", "CC"]
    assert round(r.counted_lead, 2) == 7.87
    assert abs(r.lead["point"] - FINAL_LEAD) <= 0.5
    assert "lead_ge_10_points" in r.outcome_probabilities
    assert r.outcome_probabilities["first_round_win"] + r.outcome_probabilities["runoff"] == pytest.approx(1)
    # the snapshot alone (no arrival times): the 95% interval covers the final 10.56
    assert r.lead["lo"] <= 10.5649 <= r.lead["hi"]
    ct = r.completion_test
    assert ct["applied"] and ct["p_value"] < 1e-4 and ct["area_level"] == "municipality"
    assert ct["uncounted_places"] == 604


def test_2019_projection_without_the_completion_adjustment_misses(trep_2019):
    """Geography alone under-projects the late places: the interval that only assumes
    missing-at-random within areas does not reach the final lead. Kept as a record of why
    the adjustment exists."""
    trep, roll = trep_2019
    r = project_snapshot(trep, roll, simulations=1000, seed=7, completion_adjustment=False)
    assert r.completion_test is None
    assert r.lead["hi"] < 10.5649 and abs(r.lead["point"] - FINAL_LEAD) <= 0.5


def test_completion_adjustment_stays_off_when_arrival_is_random():
    """Tables counted in a random order: slow places are not different, the test does
    not reject, and the projection is the geography-only one."""
    f = simulated_election(5, arrival_effect=0.0)
    f = f.with_columns(pl.Series("arrival", np.random.default_rng(5).permutation(f.height))).sort("arrival")
    part, roll = f.head(int(0.6 * f.height)), f.select("unit", *SIM_LEVELS, "registered")
    a = project(part, roll, list(SIM_CHOICES), levels=SIM_LEVELS, simulations=300, seed=1)
    b = project(part, roll, list(SIM_CHOICES), levels=SIM_LEVELS, simulations=300, seed=1, completion_adjustment=False)
    assert a.completion_test is not None and not a.completion_test["applied"]
    assert a.completion_test["p_value"] >= 0.01
    assert a.lead == b.lead


def test_2019_projection_with_arrival_order_covers_final(trep_2019):
    """Widening by the imputation's own errors on the counted tables' arrival order (known
    on election night from the TREP site) makes the 95% interval cover the final 10.56."""
    trep, roll = trep_2019
    link = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz").frame.select("unit", "trep_arrival_pct")
    f = trep.counted().join(link, on="unit", how="left")
    assert f["trep_arrival_pct"].null_count() == 0
    r = project(f, roll, trep.counted_choices, levels=trep.levels, simulations=2000, seed=7,
                arrival="trep_arrival_pct")
    assert abs(r.lead["point"] - FINAL_LEAD) <= 0.5
    assert r.lead["lo"] <= 10.5649 <= r.lead["hi"]
    assert r.outcome_probabilities["lead_ge_10_points"] > 0.9


def test_seeded_and_reproducible(trep_2019):
    trep, roll = trep_2019
    a = project_snapshot(trep, roll, simulations=300, seed=3)
    b = project_snapshot(trep, roll, simulations=300, seed=3)
    assert a.to_dict() == b.to_dict()


def test_vectorised_rule_matches_the_law_preset():
    from escrutinio.law import presidential

    rule = presidential.preset("bolivia")
    rng = np.random.default_rng(0)
    t = rng.integers(0, 1000, (400, 4))
    t[:, 0] *= 2
    # exact boundaries: 40% with exactly 10 points; 50% exactly (not a majority)
    t = np.vstack([t, [[40, 30, 30, 0]], [[50, 50, 0, 0]], [[50, 20, 30, 0]], [[40, 31, 29, 0]]])
    got = rule_outcomes(rule, t)
    want = [rule.decide({str(i): int(v) for i, v in enumerate(row)}).outcome for row in t]
    want = ["runoff" if w != "first_round_win" else w for w in want]
    assert list(got) == want
    assert list(bolivia_outcomes(t)) == want


def _tiny():
    roll = pl.DataFrame({"unit": ["1", "2", "3", "4"], "department": ["d"] * 4, "polling_place": ["p", "p", "q", "q"],
                         "registered": [100, 100, 100, 100]})
    counted = pl.DataFrame({"unit": ["1", "3"], "registered": [100, 100], "A": [60, 20], "B": [20, 60],
                            "blank": [0, 0], "null": [0, 0]})
    return roll, counted


def test_place_matching_on_a_tiny_count():
    roll, counted = _tiny()
    r = project(counted, roll, ["A", "B"], levels=["department", "polling_place"], simulations=50, seed=0,
                min_donors=1)
    # each uncounted table copies the only counted table of its own place
    assert r.point_totals["A"] == pytest.approx(160) and r.point_totals["B"] == pytest.approx(160)
    assert r.imputed_at_level == {"polling_place": 2}


def test_bad_input_is_an_error():
    roll, counted = _tiny()
    with pytest.raises(UsageError):
        project(counted, pl.concat([roll, roll]), ["A", "B"], levels=["department", "polling_place"])
    with pytest.raises(UsageError):
        project(counted.with_columns(pl.lit(None, dtype=pl.Int64).alias("A")), roll, ["A", "B"],
                levels=["department", "polling_place"])
    with pytest.raises(UsageError):
        project(counted.head(0), roll, ["A", "B"], levels=["department", "polling_place"])
    with pytest.raises(UsageError):
        project(counted, roll, ["A", "C"], levels=["department", "polling_place"])


def test_uncounted_areas_use_their_own_area():
    f = simulated_election(3)
    late_dep = f.filter(pl.col("department") == "D0")
    counted = f.filter((pl.col("department") != "D0") | (pl.col("arrival") < late_dep["arrival"].median()))
    r = project(counted, f.select("unit", *SIM_LEVELS, "registered"), SIM_CHOICES, levels=SIM_LEVELS,
                simulations=200, seed=1)
    assert r.counted_units == counted.height and r.expected_units == f.height
    assert set(r.imputed_at_level) <= {"department", "municipality", "locality", "polling_place", "country(all)"}


def test_calibration_on_simulated_elections():
    """90% intervals cover the true lead 85-95% of the time when late areas differ between
    areas (municipality remoteness delays tables and tilts the vote)."""
    c = calibration(80, seed=2, cut=60, level=0.9, simulations=200, arrival_effect=0.5)
    print(c.summary())
    assert 0.85 <= c.coverage <= 0.95


def test_completion_slope_and_shift_by_hand():
    """Three municipalities of four counted places (4 tables of 100 voters each) whose rate
    for choice A falls linearly with completion x: rate = 0.5 - 0.2 x, so the slope is
    -0.2; choice B is flat at 0.5. Each municipality also has one place with 2 uncounted
    tables. By hand: the hot deck gives an uncounted place the mean counted-place rate,
    (0.45 + 0.40 + 0.35 + 0.30) / 4 = 0.375, while at completion 0 the line gives 0.5:
    0.125 more votes per voter, over 6 x 100 uncounted voters = +75 votes for A, 0 for B."""
    from escrutinio.dynamics.projection import _completion_shift

    rows = []
    for m in ("M1", "M2", "M3"):
        for k in range(1, 5):  # place k has k of its 4 tables counted
            x = k / 4
            for t in range(4):
                rows.append((m, f"{m}P{k}", t < k, 0.5 - 0.2 * x, 0.5))
        rows += [(m, f"{m}D", False, 0.0, 0.0)] * 2
    joined = pl.DataFrame({"m": [r[0] for r in rows], "l": [r[0] for r in rows], "p": [r[1] for r in rows]})
    is_c = np.array([r[2] for r in rows])
    rates = np.array([[r[3], r[4]] for r in rows])
    reg = np.full(len(rows), 100.0)
    shift, info = _completion_shift(joined, ["m", "l", "p"], is_c, rates, reg, reg, 200, np.random.default_rng(0))
    assert info["slope"] == pytest.approx([-0.2, 0.0], abs=1e-12)
    assert info["registered_weighted_completion"] == pytest.approx(3 * 200 * 0.625)
    assert info["applied"] and info["uncounted_places"] == 3
    assert shift.mean(axis=0) == pytest.approx([75.0, 0.0], abs=1e-9)


def test_completion_adjustment_on_simulated_slow_places():
    """Elections that are not Bolivia: 128 municipalities in which the slow places lean to
    choice A (``place_effect``). Geography alone misses the truth every time; the
    slow-place adjustment brings the 90% intervals back to most of the truths."""
    kw = dict(seed=3, cut=60, level=0.9, simulations=200, arrival_effect=0.5, place_effect=1.0, municipalities=32)
    geo = calibration(12, completion_adjustment=False, **kw)
    adj = calibration(12, **kw)
    assert geo.covered <= 1 and geo.mean_abs_error > 2.5
    assert adj.covered >= 8 and adj.mean_abs_error < geo.mean_abs_error / 3
