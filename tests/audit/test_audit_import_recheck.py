"""Re-checking a past audit (issue 14, item 9): draws made elsewhere can be imported,
and ``audit risk --method macro`` recomputes the MACRO risk from the results, the draws
and the hand counts alone, equal to what the workflow's ``status`` says."""
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.audit import workflow
from escrutinio.cli import main
from escrutinio.errors import InputError, UsageError
from escrutinio.workspace import Workspace

from test_audit_workflow import _hand_counts, _write_results


@pytest.fixture
def past_audit(tmp_path):
    results = _write_results(tmp_path / "computo.csv")
    with Workspace(tmp_path / "ws.duckdb") as ws:
        workflow.plan(ws, results, risk_limit=0.1, assertion_kind="bolivia")
        d = workflow.draw(ws, "default", seed="271828")
        first = d["draws"][0]["id"]
        hc = _hand_counts(results, d["tables_to_count"], tmp_path / "hc.csv", change=(first, "CC", 3))
        workflow.record(ws, "default", hc)
        s = workflow.status(ws, "default")
    draws = tmp_path / "draws.csv"
    pl.DataFrame({"draw": [x["draw"] for x in d["draws"]], "unit": [x["id"] for x in d["draws"]]}).write_csv(draws)
    return tmp_path, results, draws, hc, s


def test_risk_macro_rechecks_a_past_audit(past_audit):
    tmp, results, draws, hc, s = past_audit
    assert s.discrepancies == 1
    r = CliRunner().invoke(main, ["audit", "risk", "--method", "macro", "--results", str(results), "--draws",
                                  str(draws), "--counts", str(hc), "--risk-limit", "0.1", "--assertions", "bolivia",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["risk"] == pytest.approx(s.risk)
    assert out["decision"] == s.decision
    assert out["risk_method"].startswith("MACRO")


def test_import_draws_into_a_new_audit(past_audit):
    tmp, results, draws, hc, s = past_audit
    with Workspace(tmp / "other.duckdb") as ws:
        workflow.plan(ws, results, risk_limit=0.1, assertion_kind="bolivia")
        out = workflow.import_draws(ws, "default", draws, note="drawn by the electoral body, 2025-05-02")
        assert out["imported"] == s.draws
        workflow.record(ws, "default", hc)
        again = workflow.status(ws, "default")
        rep = workflow.report(ws, "default")
        with pytest.raises(UsageError, match="import the further draws"):
            workflow.draw(ws, "default", seed="1", n=3)
    assert again.risk == pytest.approx(s.risk)
    assert [d["imported"] for d in rep["draws"]] == [True] * s.draws


def test_imported_draws_must_be_in_the_manifest(past_audit, tmp_path):
    tmp, results, draws, hc, s = past_audit
    bad = tmp_path / "bad.csv"
    bad.write_text("unit\n1000\n99999\n", encoding="utf-8")
    with Workspace(tmp / "third.duckdb") as ws:
        workflow.plan(ws, results, risk_limit=0.1, assertion_kind="bolivia")
        with pytest.raises(InputError, match="not in the audit's manifest"):
            workflow.import_draws(ws, "default", bad)
    r = CliRunner().invoke(main, ["audit", "risk", "--method", "macro", "--results", str(results)])
    assert r.exit_code == 2 and "--draws" in r.output
