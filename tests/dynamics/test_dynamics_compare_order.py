"""Compare 2019 with 2020, counting-order analysis and backtest on the bundled data."""
from pathlib import Path

import pytest

from escrutinio.dynamics.backtest import backtest, simulated_election, SIM_CHOICES, SIM_LEVELS
from escrutinio.dynamics.compare import compare
from escrutinio.dynamics.projection import canonical
from escrutinio.dynamics.counting_order import counting_order, cumulative_lead
from escrutinio.dynamics.sources import read_places_2020, read_snapshot

DATA = Path(__file__).parents[2] / "examples" / "bolivia"


@pytest.fixture(scope="module")
def linked():
    return read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")


@pytest.fixture(scope="module")
def latest_2020():
    return read_snapshot(DATA / "2020" / "computo_20201019T123834.xlsx")


def test_compare_by_department_and_area(linked, latest_2020):
    r = compare(linked, latest_2020, by="department")
    cv = r.coverage
    assert cv["places_before"] == 5297
    assert 0 < cv["places"] <= cv["places_after"]
    assert "MASIPSP" in r.choices and "CC" in r.choices
    allp = r.groups[-1]
    assert allp["group"] == "all shared places" and allp["places"] == cv["places"]
    assert sum(g["places"] for g in r.groups[:-1]) == cv["places"]
    # shares are of all valid votes of each election, so MAS + CC stay below 100
    assert 0 < allp["shares_before"]["MASIPSP"] + allp["shares_before"]["CC"] < 100
    places = read_places_2020(DATA / "2020" / "polling_places_2020.csv.gz")
    a = compare(linked, latest_2020, by="area", places=places)
    groups = {g["group"] for g in a.groups}
    assert {"metropol", "exterior"} <= groups
    assert a.coverage["places"] == cv["places"]


def test_cumulative_lead_ends_at_the_final(linked):
    f = linked.counted()
    c = cumulative_lead(f, "trep_arrival_pct", linked.counted_choices, bins=20)
    assert [canonical(x) for x in c.lead_pair] == ["MASIPSP", "CC"]  # 'MAS - IPSP' or 'MAS_IPSP' by reader
    assert round(c.lead[-1], 2) == 10.56 and len(c.bins) == 20
    assert sum(b["tables"] for b in c.bins) == 34555


def test_counting_order_with_placebos(linked):
    f = linked.counted()
    r = counting_order(f, "trep_arrival_pct", linked.counted_choices, levels=linked.levels, cut=83.85,
                       placebo_cuts=(60, 90), simulations=100, seed=1, bins=10)
    assert r.test.cut == 83.85 and r.test.late_tables == 34555 - round(34555 * 0.8385)
    assert [p.cut for p in r.placebos] == [60, 90]
    assert round(r.test.actual_final_lead, 2) == 10.56
    # with slow places allowed to differ (tested in the counted data), the tables after the
    # halt are what their places predicted: no break at the halt (Idrobo et al. 2022)
    assert r.test.p_value > 0.1
    assert r.test.lo <= r.test.actual_late_lead <= r.test.hi
    assert r.test.final_lo <= 10.5649 <= r.test.final_hi
    assert "NAIVE" in r.naive.label
    d = r.to_dict()
    assert set(d) >= {"cumulative", "test", "placebos", "naive"}


def test_backtest_2019_both_orders(linked):
    f = linked.counted()
    for order in ("trep_arrival_pct", "computo_arrival_pct"):
        b = backtest(f, linked.counted_choices, levels=linked.levels, order=order, fractions=(50, 90),
                     simulations=100, seed=0)
        assert [r.counted_pct for r in b.rows] == [50, 90]
        assert round(b.final_lead, 2) == 10.56
        assert all(r.lo <= r.projected_lead <= r.hi for r in b.rows)


def test_backtest_random_order_on_simulated_election():
    f = simulated_election(5)
    b = backtest(f, SIM_CHOICES, levels=SIM_LEVELS, random_seed=1, fractions=(30, 70), simulations=100)
    assert b.order.startswith("random") and len(b.rows) == 2
    assert b.rows[1].counted_tables == round(f.height * 0.7)
