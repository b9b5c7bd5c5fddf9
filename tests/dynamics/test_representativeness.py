"""Issue 25: `project` without a polling-place file measures how unlike the uncounted
tables the counted ones are, and uses the model that accounts for it; seed stability is
stated; issue 28: a roll of another election is a one-line error."""
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
from click.testing import CliRunner

from escrutinio.app.projection import project as app_project
from escrutinio.cli import main
from escrutinio.dynamics.multilevel import SELECTION_R_SETTLEMENT
from escrutinio.dynamics.projection import project
from escrutinio.dynamics.representativeness import SETTLEMENT_LABELS, imbalance, settlement_classes
from escrutinio.model import Snapshot

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
CHOICES = ["A", "B"]


def _election(seed=0):
    """A country of towns and villages: towns (big localities) vote B, villages A; the
    count reaches towns first. Levels department / locality / polling_place, no area type."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(3):
        for loc in range(12):
            town = loc < 3
            for p in range(12 if town else 2):
                for t in range(4 if town else 1):
                    reg = int(rng.integers(150, 250))
                    a = rng.binomial(reg, 0.25 if town else 0.6)
                    b = rng.binomial(reg - a, 0.8)
                    rows.append({"unit": f"{d}-{loc}-{p}-{t}", "department": f"D{d}", "locality": f"D{d}L{loc}",
                                 "polling_place": f"D{d}L{loc}P{p}", "registered": reg, "A": a, "B": b,
                                 "blank": 0, "null": 0, "town": town})
    return pl.DataFrame(rows)


def test_settlement_classes_are_decades_of_the_locality_voters():
    roll = pl.DataFrame({"locality": ["x", "x", "y", "z"], "polling_place": ["p", "q", "r", "s"],
                         "registered": [600, 500, 20_000, 150_000]})
    out = settlement_classes(roll, ("locality", "polling_place"))
    assert out["settlement_voters"].to_list() == [1100, 1100, 20_000, 150_000]
    assert out["settlement"].to_list() == [SETTLEMENT_LABELS[1], SETTLEMENT_LABELS[1], SETTLEMENT_LABELS[2],
                                           SETTLEMENT_LABELS[3]]
    assert settlement_classes(roll.select("polling_place", "registered"), ("polling_place",)) is None


def test_imbalance_sees_a_town_first_count_and_not_a_random_one():
    f = _election()
    roll = settlement_classes(f, ("department", "locality", "polling_place"))
    first = imbalance(roll, f["town"].to_numpy(), place="polling_place", classes=["settlement"])
    assert first.unrepresentative and first.tvd["settlement"] > 0.5
    rng = np.random.default_rng(1)
    rand = imbalance(roll, rng.random(f.height) < 0.5, place="polling_place", classes=["settlement"])
    assert not rand.unrepresentative, rand.to_dict()
    assert "unlike the uncounted ones" in first.text() and "like the uncounted ones" in rand.text()


def _snapshot(frame):
    return Snapshot(election="test", contest="president", frame=frame.drop("town"), choices=tuple(CHOICES),
                    levels=("department", "locality", "polling_place"))


def test_without_places_a_town_first_count_gets_the_model_by_settlement_size():
    f = _election()
    roll = f.select("unit", "department", "locality", "polling_place", "registered")
    truth = 100 * f["A"].sum() / (f["A"].sum() + f["B"].sum())
    part = f.filter(pl.col("town") | (pl.col("locality").str.ends_with("L3")))
    r = app_project(_snapshot(part), roll, None, 0, simulations=400)
    res = r.result
    assert res.multilevel is not None and res.multilevel["strata"][0] == "settlement"
    w = res.representativeness["within_strata"]
    # the prior measured in these strata, or the selection the roll itself shows when the
    # strata leave more of it (here they do: the village counted is its locality's big place)
    expected = max(SELECTION_R_SETTLEMENT, w["implied_r"]) if abs(w["smd"]) >= 0.1 else SELECTION_R_SETTLEMENT
    assert res.multilevel["selection"]["r_scale"] == expected
    assert res.representativeness["unrepresentative"]
    assert any("no area type is known" in n for n in res.notes)
    s = res.shares["A"]
    assert s["lo"] <= truth <= s["hi"]
    d = r.to_dict()
    assert {"counted_units", "expected_units", "choices", "lead_points", "outcome_probabilities"} <= set(d)
    assert d["representativeness"]["class_distances"]["settlement"] > 0.1
    # the hot deck, forced, is the one that misses
    hd = app_project(_snapshot(part), roll, None, 0, simulations=400, model="hotdeck").result
    assert not hd.shares["A"]["lo"] <= truth <= hd.shares["A"]["hi"]


def test_a_random_count_keeps_the_hot_deck():
    f = _election()
    roll = f.select("unit", "department", "locality", "polling_place", "registered")
    part = f.sample(fraction=0.5, seed=3)
    res = app_project(_snapshot(part), roll, None, 0, simulations=200).result
    assert res.multilevel is None and not res.representativeness["unrepresentative"]
    assert any("no meaningful imbalance" in n for n in res.notes)


def test_no_level_to_account_by_withholds_the_probabilities():
    f = _election()
    roll = f.select("unit", "polling_place", "registered")
    part = f.filter(pl.col("town"))
    snap = Snapshot(election="test", contest="president", frame=part.drop("town", "department", "locality"),
                    choices=tuple(CHOICES), levels=("polling_place",))
    r = app_project(snap, roll, None, 0, simulations=200)
    res = r.result
    assert res.multilevel is None and res.representativeness["unrepresentative"]
    assert all(math.isnan(p) for p in res.outcome_probabilities.values())
    assert any("withheld" in n for n in res.notes) and "withheld" in res.summary()
    assert all(v is None for v in r.to_dict()["outcome_probabilities"].values())


def test_monte_carlo_error_of_the_bounds_is_stated_and_shrinks():
    f = _election()
    roll = f.select("unit", "department", "locality", "polling_place", "registered")
    part = f.sample(fraction=0.5, seed=3)
    few = project(part, roll, CHOICES, levels=("department", "locality", "polling_place"), simulations=200, seed=0)
    many = project(part, roll, CHOICES, levels=("department", "locality", "polling_place"), simulations=3200, seed=0)
    assert 0 < many.monte_carlo["max_bound_se"] < few.monte_carlo["max_bound_se"]
    assert few.monte_carlo["simulations_for_0.05"] >= 200
    assert "Monte Carlo" in few.summary()


def test_roll_of_another_election_is_a_one_line_error():
    """Issue 28: the 2019 TREP with the 2020 roll said "the roll lists table None more than once"."""
    res = CliRunner().invoke(main, ["project", str(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz"),
                                    "--roll", str(DATA / "2020" / "roll_2020.csv.gz"), "--simulations", "50"])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and "None" not in line
    assert line.startswith("error: roll_2020.csv.gz: the roll has no table identifier 'unit'")


def test_a_roll_row_without_its_table_is_named():
    f = _election()
    roll = f.select("unit", "department", "locality", "polling_place", "registered").with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col("unit")).alias("unit"))
    part = f.head(50).drop("town")
    try:
        project(part, roll, CHOICES, levels=("department", "locality", "polling_place"), simulations=10)
    except Exception as e:  # UsageError
        assert str(e) == "the roll, row 6, column unit: no table identifier"
    else:
        raise AssertionError("no error")
    _ = json  # (json kept for symmetry with the other CLI tests)


def _big_places_first():
    """Big places (more tables, another vote) counted first inside every locality, which
    settlement size cannot see: the projection of the count so far, from the roll alone."""
    rng = np.random.default_rng(5)
    rows = []
    for d in range(3):
        for loc in range(10):
            for p in range(8):
                for t in range(p + 1):
                    reg = int(rng.integers(150, 250))
                    a = rng.binomial(reg, 0.3 if p >= 4 else 0.6)
                    rows.append({"unit": f"{d}-{loc}-{p}-{t}", "department": f"D{d}", "locality": f"D{d}L{loc}",
                                 "polling_place": f"D{d}L{loc}P{p}", "registered": reg, "A": a,
                                 "B": rng.binomial(reg - a, 0.8), "blank": 0, "null": 0, "town": p >= 4})
    f = pl.DataFrame(rows)
    roll = f.select("unit", "department", "locality", "polling_place", "registered")
    return app_project(_snapshot(f.filter(pl.col("town"))), roll, None, 0, simulations=200).result


def test_strata_that_leave_the_selection_withhold_the_probabilities():
    """Big places counted first inside every locality: settlement size cannot see it, the
    projection says that the roll cannot account for it and gives no probability."""
    res = _big_places_first()
    assert res.multilevel is not None and res.representativeness["within_strata"]["smd"] >= 0.1
    assert all(math.isnan(p) for p in res.outcome_probabilities.values())
    assert any("the roll cannot account for the order's selection" in n for n in res.notes)
    # a town-first count that the settlement sizes do see keeps its probabilities
    g = _election()
    ok = app_project(_snapshot(g.filter(pl.col("town"))), g.select("unit", "department", "locality", "polling_place",
                                                                   "registered"), None, 0, simulations=200).result
    assert not abs(ok.representativeness["within_strata"]["smd"]) >= 0.1  # (nan: no stratum has both)
    assert all(0 <= p <= 1 for p in ok.outcome_probabilities.values())


def test_implied_selection_r_recovers_a_known_propensity_correlation():
    """Tables counted in the order of a normal propensity that correlates r with an
    attribute: the standardized difference it leaves gives r back, at any share counted."""
    from escrutinio.dynamics.representativeness import _smd, implied_selection_r

    rng = np.random.default_rng(3)
    n = 400_000
    x = rng.standard_normal(n)
    for r in (0.1, 0.3):
        eta = r * x + np.sqrt(1 - r**2) * rng.standard_normal(n)
        for f in (0.03, 0.2, 0.6):
            counted = eta > np.quantile(eta, 1 - f)
            got = implied_selection_r(_smd(x, np.ones(n), counted), f)
            assert abs(got - r) < 0.02 * (1 + 10 * r), (r, f, got)
    assert math.isnan(implied_selection_r(float("nan"), 0.2)) and math.isnan(implied_selection_r(0.3, 0.0))


def test_a_roll_only_count_more_selective_than_the_prior_widens_the_selection_term():
    """When the strata leave selection on the roll's attribute and it implies r above the
    prior, the selection term takes that scale, and says so."""
    res = _big_places_first()
    w = res.representativeness["within_strata"]
    assert w["implied_r"] > SELECTION_R_SETTLEMENT
    assert res.multilevel["selection"]["r_scale"] == w["implied_r"]
    assert any("implies a correlation" in n for n in res.notes)
