"""The audit's use cases in `escrutinio.app.audit`: the command line prints exactly what
they return, and they run on a workspace object as well as on a path."""
import json

from click.testing import CliRunner

from escrutinio.app import audit as app
from escrutinio.audit import workflow
from escrutinio.cli import main

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "audit"))
from test_audit_workflow import _hand_counts, _write_results  # noqa: E402


def cli(*args):
    r = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_direct_commands_print_what_the_use_cases_return():
    a = app.sample(seed="314159", ids="A-1,A-2,A-3,B-1,B-2,B-3", n=4)
    assert cli("sample", "--seed", "314159", "--ids", "A-1,A-2,A-3,B-1,B-2,B-3", "--n", "4") == a.summary() + "\n"
    assert app.sample(seed="314159", ids=["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"], n=4).to_dict() == a.to_dict()
    r = app.risk("bravo", tallies=[1000, 800, 60, 40], risk_limit=0.1)
    assert json.loads(cli("risk", "--method", "bravo", "--tallies", "1000,800,60,40", "--risk-limit", "0.1",
                          "--format", "json")) == r.to_dict()
    s = app.sample_size("bravo", 0.1, shares=[0.55, 0.45])
    assert cli("sample-size", "--method", "bravo", "--shares", "0.55,0.45", "--risk-limit", "0.1") == s.summary() + "\n"


def test_workflow_on_a_path_and_on_a_workspace_object(tmp_path):
    results = _write_results(tmp_path / "computo.csv")
    wsp = str(tmp_path / "ws.duckdb")
    p = app.plan(results, risk_limit=0.1, assertion_kind="bolivia", workspace=wsp)
    assert p.summary().startswith("Audit default: 60 tables")
    d = app.sample(seed="99", workspace=wsp)
    counts = _hand_counts(results, d.to_dict()["tables_to_count"], tmp_path / "hc.csv")
    assert app.record(counts, workspace=wsp).to_dict()["recorded"] == len(d.to_dict()["tables_to_count"])
    s = app.status(wsp)
    assert s.decision == "stop"
    assert cli("status", "--workspace", wsp) == s.summary() + "\n"
    rep = app.report(wsp)
    assert json.loads(cli("report", "--workspace", wsp, "--format", "json"))["status"] == rep.to_dict()["status"]
    assert rep.summary().startswith("# Audit default")

    mem = workflow.MemoryWorkspace()
    app.plan(results, risk_limit=0.1, assertion_kind="bolivia", workspace=mem)
    app.draw(mem, seed="99")
    app.record(counts, workspace=mem)
    assert app.status(mem).to_dict() == s.to_dict()


def test_python_api_audit_calls_equal_the_commands():
    """`escrutinio.audit_risk` / `audit_sample_size` are the commands' use cases: the same JSON."""
    import json as _json

    from click.testing import CliRunner

    import escrutinio
    from escrutinio.cli import main as cli

    run = CliRunner().invoke
    r = run(cli, ["audit", "risk", "--method", "bravo", "--tallies", "600,400,60,40", "--risk-limit", "0.1",
                  "--format", "json"])
    assert escrutinio.audit_risk("bravo", tallies="600,400,60,40", risk_limit=0.1).to_dict() == _json.loads(r.stdout)
    r = run(cli, ["audit", "sample-size", "--method", "bravo", "--risk-limit", "0.1", "--shares", "0.6,0.4",
                  "--format", "json"])
    assert escrutinio.audit_sample_size("bravo", 0.1, shares=[0.6, 0.4]).to_dict() == _json.loads(r.stdout)
