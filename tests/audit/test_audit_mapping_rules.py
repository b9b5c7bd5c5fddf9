"""Audits of any country's files (issue 14, item 6): the results are read through a
mapping, and the assertion set follows the rule in force, said in the output, instead of
silently auditing Bolivia's rule."""
from fractions import Fraction
from pathlib import Path

import pytest

from escrutinio.audit import assertions as A
from escrutinio.audit import workflow
from escrutinio.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
RURITANIA = ROOT / "examples" / "ruritania"
FREEDONIA = ROOT / "examples" / "forensics_demo"


def test_plan_reads_through_a_mapping(tmp_path):
    with Workspace(str(tmp_path / "ws.duckdb")) as ws:
        out = workflow.plan(ws, RURITANIA / "ruritania_2024.csv", mapping=str(RURITANIA / "ruritania.toml"),
                            risk_limit=0.05)
        state = ws.get("audit", "default")
    assert out["tables"] == 2400
    # Ruritania's mapping declares an absolute-majority rule; the count gives a runoff
    assert out["assertion_kind"] == "rule:majority"
    assert "ruritania-2024" in out["assertion_source"]
    names = [a["name"] for a in out["assertions"]]
    assert names[0] == "share Partido Azul <= 50%"
    assert state["mapping"]["name"] == "ruritania-2024" and len(state["mapping"]["sha256"]) == 64


def test_without_a_declared_rule_plurality_is_said(tmp_path):
    m = tmp_path / "m.toml"
    text = (FREEDONIA / "freedonia.toml").read_text(encoding="utf-8").replace('[law]\npreset = "majority"\n', "")
    m.write_text(text, encoding="utf-8")
    e = workflow.estimate_plan(FREEDONIA / "freedonia_2025.csv", mapping=str(m), risk_limit=0.05)
    assert e["summary"]["assertion_kind"] == "plurality"
    assert "no presidential rule declared" in e["summary"]["assertion_source"]


def test_bundled_bolivia_layout_keeps_bolivia_rule():
    kind, source = workflow.assertion_kind_in_force(None, "bolivia-2019")
    assert kind == "bolivia" and "bolivia" in source


def test_from_rule_first_round_win_and_runoff():
    # Costa Rica: more than 40% of valid votes wins in the first round
    win = A.from_rule({"A": 45, "B": 35, "C": 20}, "costa_rica")
    assert [a.name for a in win] == [A.share_above("A", Fraction(2, 5)).name]
    runoff = A.from_rule({"A": 38, "B": 35, "C": 27}, "costa_rica")
    assert all(a.holds({"A": 38, "B": 35, "C": 27}) for a in runoff)
    assert runoff[0].name == "share A <= 40%"
    assert {a.name for a in runoff[1:]} == {"A beats C", "B beats C"}
    # the Bolivian preset keeps its own assertion set
    totals = {"A": 47, "B": 36, "C": 17}
    assert [a.name for a in A.from_rule(totals, "bolivia")] == [a.name for a in A.first_round(totals, "bolivia")]
    assert [a.name for a in A.from_rule(totals, "plurality")] == ["A beats B", "A beats C"]


def test_bad_input_leaves_no_workspace(tmp_path):
    """A results file the reader refuses fails before the workspace is opened."""
    from click.testing import CliRunner

    from escrutinio.cli import main

    ws = tmp_path / "ws.duckdb"
    unknown = ROOT / "examples" / "protocols_ru" / "protocols_ru_2024-03-18T09-00-00.csv"
    r = CliRunner().invoke(main, ["audit", "plan", "--results", str(unknown), "--risk-limit", "0.05",
                                  "--workspace", str(ws)])
    assert r.exit_code == 2 and "unknown layout" in r.output and not ws.exists()
    r = CliRunner().invoke(main, ["audit", "status", "--workspace", str(ws)])
    assert r.exit_code == 2 and "audit plan" in r.output and not ws.exists()
