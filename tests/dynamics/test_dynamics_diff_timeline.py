"""Snapshot diffs and timelines, on synthetic frames and on the bundled Bolivia counts."""
from pathlib import Path

import polars as pl
import pytest

from escrutinio.dynamics.diff import diff
from escrutinio.dynamics.sources import read_roll, read_snapshot
from escrutinio.dynamics.timeline import timeline
from escrutinio.errors import UsageError

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
T1940 = DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz"
T1829 = DATA / "2019" / "trep_2019-10-21T18-29-53.csv.gz"
FINAL = DATA / "2019" / "computo_2019-10-25.csv.gz"


def _frame(rows):
    return pl.DataFrame(rows, schema={"unit": pl.Utf8, "registered": pl.Int64, "A": pl.Int64, "B": pl.Int64,
                                      "blank": pl.Int64, "null": pl.Int64}, orient="row")


def test_diff_synthetic():
    a = _frame([("1", 100, 50, 30, 1, 1), ("2", 100, 40, 40, 0, 0), ("3", 100, 10, 60, 0, 0)])
    b = _frame([("1", 100, 50, 30, 1, 1), ("2", 100, 45, 35, 0, 0), ("4", 100, 70, 10, 0, 0)])
    d = diff(a, b, choices=["A", "B"])
    assert (d.added, d.removed, d.changed, d.unchanged) == (1, 1, 1, 1)
    assert d.changed_units == [{"unit": "2", "fields": ["A", "B"],
                                "before": {"registered": 100, "A": 40, "B": 40, "blank": 0, "null": 0},
                                "after": {"registered": 100, "A": 45, "B": 35, "blank": 0, "null": 0}}]
    assert d.net == {"A": 165 - 100, "B": 75 - 130}
    assert d.net_changed == {"A": 5, "B": -5} and d.lead_votes_from_changed == 10
    assert d.added_units == ["4"] and d.removed_units == ["3"]


def test_diff_rejects_duplicate_tables():
    a = _frame([("1", 100, 50, 30, 1, 1), ("1", 100, 50, 30, 1, 1)])
    with pytest.raises(UsageError):
        diff(a, a, choices=["A", "B"])


@pytest.fixture(scope="module")
def trep_final():
    return read_snapshot(T1940), read_snapshot(FINAL)


def test_diff_2019_trep_vs_final(trep_final):
    d = diff(*trep_final)
    assert (d.added, d.removed, d.changed) == (34555 - 28975, 0, 549)
    assert len(d.changed_units) == 549
    # net effect of the changed tables alone, on MAS, CC and the lead
    assert d.net_changed["MAS - IPSP"] == 2697 and d.net_changed["CC"] == 1903
    assert d.lead_votes_from_changed == 794
    assert round(d.lead_before, 2) == 7.87 and round(d.lead_after, 2) == 10.56
    assert d.net["MAS - IPSP"] == 2889359 - sum(trep_final[0].frame["MAS - IPSP"])


def test_timeline_2019_published_figures(trep_final):
    t = timeline([trep_final[1], read_snapshot(T1829), trep_final[0]])  # any load order
    rows = t.rows
    assert [r["units"] for r in rows] == [28975, 32806, 34555]
    assert [round(r["lead"], 2) for r in rows] == [7.87, 10.15, 10.56]
    assert [round(r["shares"]["MAS - IPSP"], 2) for r in rows] == [45.71, 46.87, 47.08]
    assert round(rows[0]["share_counted"], 2) == 83.85 and round(rows[1]["share_counted"], 2) == 94.94
    assert [r["new_units"] for r in rows] == [28975, 32806 - 28975, 34555 - 32806]
    assert t.first_seen.height == 34555


def test_timeline_2020_five_exports():
    snaps = [read_snapshot(p) for p in sorted((DATA / "2020").glob("computo_2020*"))]
    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    t = timeline(snaps, roll=roll)
    assert len(t.rows) == 5 and t.expected_units == 35600
    times = [r["time"] for r in t.rows]
    assert times == sorted(times) and times[0] == "2020-10-18T21:36:55"
    units = [r["units"] for r in t.rows]
    assert units == sorted(units) and units[-1] == 7636
    # withdrawn candidacies (ADN, LIBRE_21, JUNTOS) are not valid under the law
    assert "ADN" not in t.choices
    assert sum(r["new_units"] for r in t.rows) == t.first_seen.height
