"""The audit workflow end to end on a small synthetic count, and on Bolivia 2019."""
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.audit import sampling, workflow
from escrutinio.cli import main
from escrutinio.errors import InputError, UsageError
from escrutinio.workspace import Workspace

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
PARTIES = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"]
HEADER = ["Número Mesa", "País", "Departamento", "Provincia", "Municipio", "Localidad", "Distrito", "Zona",
          "Recinto", "lat", "lon", "Inscritos", *PARTIES, "Blancos", "Nulos"]


def _write_results(path: Path, n=60, seed=1):
    rng = np.random.default_rng(seed)
    lines = [",".join(HEADER)]
    for i in range(n):
        mas, cc, pdc = 100 + rng.integers(0, 20), 60 + rng.integers(0, 10), 20
        row = [str(1000 + i), "Bolivia", "La Paz", "Murillo", "La Paz", "La Paz", "D1", "Z1", "Escuela",
               "-16.5", "-68.1", "250", str(cc), "1", "1", "1", str(mas), "5", str(pdc), "1", "1", "3", "4"]
        lines.append(",".join(row))
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path):
    results = _write_results(tmp_path / "computo.csv")
    ws = Workspace(tmp_path / "ws.duckdb")
    yield tmp_path, results, ws
    ws.close()


def _hand_counts(results: Path, units, out: Path, change=None):
    from escrutinio.io import read_snapshots

    s = read_snapshots(results)[0]
    f = s.frame.filter(pl.col("unit").is_in(list(units))).select(["unit", *s.choices])
    if change:
        unit, party, delta = change
        f = f.with_columns(pl.when(pl.col("unit") == unit).then(pl.col(party) + delta).otherwise(pl.col(party)).alias(party))
    f.write_csv(out)
    return out


def test_plan_sample_record_status_stop(setup):
    tmp, results, ws = setup
    out = workflow.plan(ws, results, risk_limit=0.1, assertion_kind="bolivia")
    assert out["zero_discrepancy"] > 0 and out["assertions"][0]["name"].startswith("share MAS - IPSP")
    with pytest.raises(UsageError):
        workflow.draw(ws, "default")  # the first sample needs a seed
    d = workflow.draw(ws, "default", seed="271828", ceremony="10 dice, public")
    assert len(d["draws"]) == out["zero_discrepancy"]
    # reproducible: same seed, same stream
    again = Workspace(tmp / "ws2.duckdb")
    workflow.plan(again, results, risk_limit=0.1)
    assert [x["id"] for x in workflow.draw(again, "default", seed="271828")["draws"]] == [x["id"] for x in d["draws"]]
    again.close()
    hc = _hand_counts(results, d["tables_to_count"], tmp / "hc.csv")
    workflow.record(ws, "default", hc)
    s = workflow.status(ws, "default")
    assert s.decision == "stop" and s.discrepancies == 0
    js = s.to_dict()
    assert set(["risk_limit", "assertions", "sampled_units", "discrepancies"]) <= set(js)
    assert all(set(a) >= {"name", "risk", "confirmed"} for a in js["assertions"])
    rep = workflow.report(ws, "default")
    assert rep["seed"] == "271828" and rep["draws"][0]["counter"] == 0
    assert "Decision" in workflow.report_markdown(rep)
    assert len(rep["status"]["risk_by_draw"]) == len(d["draws"])
    assert rep["status"]["risk_by_draw"][-1] == pytest.approx(max(a["risk"] for a in js["assertions"]))
    assert "<svg" in workflow.report_markdown(rep, plot=True)


def test_discrepancy_escalates_and_missing_box_means_full_count(setup):
    tmp, results, ws = setup
    workflow.plan(ws, results, risk_limit=0.1)
    d = workflow.draw(ws, "default", seed="1")
    first = d["draws"][0]["id"]
    hc = _hand_counts(results, d["tables_to_count"], tmp / "hc.csv", change=(first, "CC", 30))
    workflow.record(ws, "default", hc)
    s = workflow.status(ws, "default")
    assert s.discrepancies == 1 and s.decision == "escalate" and s.next_round >= 1
    (tmp / "missing.csv").write_text(f"unit,status\n{first},missing\n")
    workflow.record(ws, "default", tmp / "missing.csv")
    assert workflow.status(ws, "default").decision == "full hand count"


def test_transcription_layer_is_reported(setup):
    tmp, results, ws = setup
    workflow.plan(ws, results, risk_limit=0.1)
    d = workflow.draw(ws, "default", seed="1")
    first = d["draws"][0]["id"]
    acta = _hand_counts(results, [first], tmp / "acta.csv", change=(first, "MAS - IPSP", 1))
    workflow.record(ws, "default", acta, layer="acta")
    assert workflow.status(ws, "default").transcription_discrepancies == 1


def test_bad_inputs_are_clear_errors(setup):
    tmp, results, ws = setup
    workflow.plan(ws, results, risk_limit=0.1)
    workflow.draw(ws, "default", seed="1")
    (tmp / "bad.csv").write_text("unit,CC\n1000,x\n")
    with pytest.raises(InputError):
        workflow.record(ws, "default", tmp / "bad.csv")
    (tmp / "unknown.csv").write_text("unit,status\nZZZ,missing\n")
    with pytest.raises(InputError):
        workflow.record(ws, "default", tmp / "unknown.csv")
    with pytest.raises(UsageError):
        workflow.draw(ws, "default", seed="2", n=3)  # the seed cannot change
    with pytest.raises(UsageError):
        workflow.plan(ws, results, risk_limit=0.1)  # exists
    (tmp / "manifest.csv").write_text("unit,ballots\n1000,250\n")
    with pytest.raises(InputError):  # results for tables not in the manifest
        workflow.plan(ws, results, risk_limit=0.1, manifest=tmp / "manifest.csv", name="m")


def test_manifest_tables_without_results_are_worst_case(setup):
    tmp, results, ws = setup
    rows = ["unit,ballots"] + [f"{1000 + i},250" for i in range(60)] + ["9999,300"]
    (tmp / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = workflow.plan(ws, results, risk_limit=0.1, manifest=tmp / "manifest.csv")
    assert out["missing_tables"] == 1
    model = workflow._load(ws, "default").model()
    j = model.index()["9999"]
    assert model.reported[j].tolist() == [0.0] * len(model.assertions)  # all 300 slots against the winner
    assert model.bounds[j] == 0.0  # a hand count can only help: never drawn


def test_too_many_missing_tables_is_a_clear_error(setup):
    tmp, results, ws = setup
    rows = ["unit,ballots"] + [f"{1000 + i},250" for i in range(60)] + [f"{5000 + i},250" for i in range(60)]
    (tmp / "manifest.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(UsageError, match="count those tables first"):
        workflow.plan(ws, results, risk_limit=0.1, manifest=tmp / "manifest.csv")


def test_cli_workflow_json_contract(setup):
    tmp, results, ws = setup
    ws.close()
    r = CliRunner()
    wsp = str(tmp / "cli.duckdb")
    out = r.invoke(main, ["audit", "plan", "--results", str(results), "--risk-limit", "0.1",
                          "--workspace", wsp, "--format", "json"])
    assert out.exit_code == 0, out.output
    out = r.invoke(main, ["audit", "sample", "--seed", "99", "--workspace", wsp, "--format", "json"])
    units = json.loads(out.output)["tables_to_count"]
    _hand_counts(results, units, tmp / "hc.csv")
    assert r.invoke(main, ["audit", "record", "--counts", str(tmp / "hc.csv"), "--workspace", wsp]).exit_code == 0
    out = r.invoke(main, ["audit", "status", "--workspace", wsp, "--format", "json"])
    st = json.loads(out.output)
    assert st["risk_limit"] == 0.1 and st["discrepancies"] == 0 and st["sampled_units"] == len(units)
    assert all(a["confirmed"] for a in st["assertions"])
    out = r.invoke(main, ["audit", "report", "--workspace", wsp])
    assert out.exit_code == 0 and "Seed: `99`" in out.output
    out = r.invoke(main, ["audit", "status", "--workspace", wsp, "--name", "nope"])
    assert out.exit_code == 2


def test_bolivia_2019_plan_first_round_win():
    """Acceptance: MAS's first-round win (share >= 40% and lead >= 10 points), batch
    comparison at risk limit 5%: zero-discrepancy size and TREP-like discrepancies."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ws = Workspace(Path(d) / "ws.duckdb")
        out = workflow.plan(ws, DATA / "2019" / "computo_2019-10-25.csv.gz", risk_limit=0.05,
                            discrepancies=DATA / "2019" / "trep_2019-10-21T18-29-53.csv.gz", reps=300)
        ws.close()
    names = [a["name"] for a in out["assertions"]]
    assert names[:2] == ["share MAS - IPSP > 40%", "lead MAS - IPSP over CC > 10 pts"]
    assert out["tables"] == 34555
    assert out["zero_discrepancy"] == 697
    w = out["with_discrepancies"]
    assert w["tables_differing"] == 546
    assert 697 < w["expected"] < 1000


def test_pps_and_counter_mode_are_reproducible():
    a = sampling.sample_pps(["a", "b", "c"], [1, 0, 3], "seed", 50)
    assert a == sampling.sample_pps(["a", "b", "c"], [1, 0, 3], "seed", 50)
    assert "b" not in {x.id for x in a}
    g = sampling.SHA256Counter("x")
    vals = [g.randbelow(6) for _ in range(600)]
    assert set(vals) == set(range(6))
    assert sampling.sha256_int("x,0") == int(sampling.sha256_hex("x,0"), 16)
    # consistency: a stratum's sample is the stratum's part of the whole sample
    whole = [t.id for t in sampling.consistent_sample([f"A-{i}" for i in range(20)] + [f"B-{i}" for i in range(20)], 7)]
    part = [t.id for t in sampling.consistent_sample([f"B-{i}" for i in range(20)], 7)]
    assert [i for i in whole if i.startswith("B")] == part
    with pytest.raises(UsageError):
        sampling.consistent_sample(["a", "a"], 1)


def test_strata_report_and_macro_sample_size_cli(setup):
    tmp, results, ws = setup
    out = workflow.plan(ws, results, risk_limit=0.1, strata="department")
    assert [s["stratum"] for s in out["strata"]] == ["La Paz"]
    assert out["strata"][0]["expected_draws"] == pytest.approx(out["zero_discrepancy"])
    with pytest.raises(UsageError):
        workflow.estimate_plan(results, risk_limit=0.1, strata="nope")
    r = CliRunner().invoke(main, ["audit", "sample-size", "--method", "macro", "--results", str(results),
                                  "--risk-limit", "0.1", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["expected"] == out["zero_discrepancy"]


def test_hand_count_above_the_ballot_bound_forces_full_count(setup):
    tmp, results, ws = setup
    workflow.plan(ws, results, risk_limit=0.1)
    d = workflow.draw(ws, "default", seed="5")
    first = d["draws"][0]["id"]
    hc = _hand_counts(results, d["tables_to_count"], tmp / "hc.csv", change=(first, "CC", 500))
    workflow.record(ws, "default", hc)
    s = workflow.status(ws, "default")
    assert s.decision == "full hand count" and "premise" in s.note


def test_bolivia_2020_partial_count_against_the_roll_is_refused():
    """7,636 of 35,600 tables counted: the rest are worst case, and no plurality
    assertion survives, so the plan says to count them first (matching on unit_id)."""
    with pytest.raises(UsageError, match="27964 tables without a usable tally"):
        workflow.estimate_plan(DATA / "2020" / "computo_20201019T123834.xlsx", contest="PRESIDENTE",
                               manifest=DATA / "2020" / "roll_2020.csv.gz", risk_limit=0.05,
                               assertion_kind="plurality")
