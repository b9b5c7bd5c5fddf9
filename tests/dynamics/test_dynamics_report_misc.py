"""Arrival-order timeline, report sections on small inputs, and the 2020 projection CLI."""
import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.dynamics import report
from escrutinio.dynamics.backtest import SIM_CHOICES, SIM_LEVELS, backtest, simulated_election
from escrutinio.dynamics.counting_order import counting_order
from escrutinio.dynamics.diff import diff
from escrutinio.dynamics.projection import project
from escrutinio.dynamics.sources import read_snapshot
from escrutinio.dynamics.timeline import arrival_timeline

DATA = Path(__file__).parents[2] / "examples" / "bolivia"


def test_arrival_timeline_2019_trep_order():
    s = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    t = arrival_timeline(s, "trep_arrival_pct", steps=[83.85, 100], missing_above=97.81)
    # every table that arrived by the halt is in the 19:40:57 snapshot (28,975 tables)
    assert t.rows[0]["units"] == 28975
    assert t.rows[-1]["units"] == 34555 - 1512
    assert "1,512" in t.notes[0]


def test_report_sections_render_on_a_simulated_election():
    f = simulated_election(4)
    part = f.sort("arrival").head(int(f.height * 0.7))
    roll = f.select("unit", *SIM_LEVELS, "registered")
    r = project(part, roll, SIM_CHOICES, levels=SIM_LEVELS, simulations=100, seed=0)
    co = counting_order(f, "arrival", SIM_CHOICES, levels=SIM_LEVELS, cut=70, placebo_cuts=(50,), simulations=50, bins=5)
    bt = backtest(f, SIM_CHOICES, levels=SIM_LEVELS, order="arrival", fractions=(50, 80), simulations=50)
    changed = f.with_columns(pl.when(pl.col("unit") == "T000001").then(pl.col("A") + 3).otherwise(pl.col("A")).alias("A"))
    d = diff(part, changed, choices=SIM_CHOICES)
    html = "".join([
        report.projection_section("p", [("x", r)], final_lead=1.0, quote=report.CURIEL_WILLIAMS),
        report.fan_plot(co.cumulative, bt, [(70, r.counted_lead, "cut")], projection=r, at=70),
        report.counting_order_section(co), report.diff_section(d), report.backtest_section([bt]),
    ])
    assert html.count("<svg") == 4 and "10.49" in html and "NAIVE" in html
    page = report._page("t", [html])
    assert page.startswith("<!doctype html>") and "http" not in page.split("<svg")[0]


def test_project_cli_2020_with_previous_election():
    args = ["project", str(DATA / "2020" / "computo_20201019T081834.xlsx"), str(DATA / "2020" / "computo_20201019T123834.xlsx"),
            "--roll", str(DATA / "2020" / "roll_2020.csv.gz"), "--places", str(DATA / "2020" / "polling_places_2020.csv.gz"),
            "--previous", str(DATA / "2019" / "mesas_2019_linked.csv.gz"), "--simulations", "100", "--format", "json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert [p["counted_units"] for p in d["projections"]] == [5652, 7636]
    assert all(p["expected_units"] == 35600 for p in d["projections"])
    assert "ADN" not in d["projections"][0]["choices"]  # withdrawn: null under the law
    assert d["projections"][1]["lead_points"]["between"][0] == "MAS_IPSP"


def test_compare_cli_by_area():
    args = ["compare", str(DATA / "2019" / "mesas_2019_linked.csv.gz"), str(DATA / "2020" / "computo_20201019T123834.xlsx"),
            "--group-by", "area", "--places", str(DATA / "2020" / "polling_places_2020.csv.gz"), "--format", "json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["by"] == "area" and d["coverage"]["places"] > 1000
    assert {g["group"] for g in d["groups"]} >= {"metropol", "ruralaislado", "all shared places"}
