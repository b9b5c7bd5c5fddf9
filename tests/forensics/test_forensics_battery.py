import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import InputError
from escrutinio.forensics.battery import run_battery
from escrutinio.forensics.core import StationFilter, from_snapshot
from escrutinio.forensics.placebo import calibration, mark_uninformative, placebo_reference, placebo_simulated
from escrutinio.forensics.simulate import simulate_fair, simulate_like
from escrutinio.io import read_snapshots
from escrutinio.model import Snapshot

BOLIVIA = Path(__file__).parents[2] / "examples" / "bolivia"


@pytest.fixture(scope="module")
def bolivia_2019():
    return from_snapshot(read_snapshots(BOLIVIA / "2019" / "computo_2019-10-25.csv.gz")[0])


def test_adapter_reproduces_official_2019_totals(bolivia_2019):
    d = bolivia_2019
    # examples/bolivia/README.md: valid 6,137,671; emitted 6,460,515; registered 7,315,364; MAS 2,889,359
    assert d.n == 34555
    assert int(d.valid.sum()) == 6_137_671
    assert int(d.emitted.sum()) == 6_460_515
    assert int(d.registered.sum()) == 7_315_364
    assert d.leader == "MAS - IPSP" and int(d.votes[:, d.leader_index].sum()) == 2_889_359
    assert {"department", "polling_place"} <= set(d.groups)


def test_adapter_applies_2020_withdrawal_rule():
    snaps = read_snapshots(BOLIVIA / "2020" / "computo_20201019T013833.csv.gz")
    pres = next(s for s in snaps if s.contest == "PRESIDENTE")
    d = from_snapshot(pres)
    assert not {"ADN", "LIBRE_21", "JUNTOS"} & set(d.choices)
    assert (d.votes.sum(axis=1) == d.valid).all()


def test_adapter_refuses_unreadable_rows():
    frame = pl.DataFrame({"unit": ["1", "2"], "unit_id": [None, None], "place_id": [None, None],
                          "registered": [100, None], "A": [10, 20], "blank": [0, 0], "null": [0, 0],
                          "emitted": [10, 20], "source_row": [2, 3]},
                         schema_overrides={"registered": pl.Int64, "unit_id": pl.Utf8, "place_id": pl.Utf8})
    snap = Snapshot("X", "P", frame, (), ("A",), source="x.csv")
    with pytest.raises(InputError, match="registered"):
        from_snapshot(snap)


def test_battery_json_contract_and_bolivia_run(bolivia_2019):
    r = run_battery(bolivia_2019, seed=1, draws=200, klimek=False, digit_sims=19)
    d = json.loads(json.dumps(r.to_dict()))
    assert {"tests", "integer_percentages", "outliers"} <= set(d)
    for t in d["tests"]:
        assert {"name", "scope", "statistic", "p_value", "p_adjusted", "null", "n_units", "caveat"} <= set(t)
    for key in ("turnout", "leader", "either"):
        assert {"observed", "expected", "excess", "sd"} <= set(d["integer_percentages"][key])
    assert all({"unit", "reason"} <= set(o) for o in d["outliers"])
    fam = [t for t in d["tests"] if t["in_family"]]
    desc = [t for t in d["tests"] if not t["in_family"]]
    assert fam and all(t["p_adjusted"] is not None for t in fam)
    assert desc and all(t["p_adjusted"] is None for t in desc)
    assert d["integer_percentages"]["filter"] == StationFilter().to_dict()
    assert "not fraud" in r.summary()


def test_by_area_adjusts_across_area_tests():
    rng = np.random.default_rng(0)
    d = simulate_fair(rng.integers(100, 360, 3000), seed=1)
    r = run_battery(d, by="department", seed=2, draws=100, klimek=False, digit_sims=19, min_area_units=200)
    area = [t for t in r.tests if t.scope.startswith("department=")]
    assert len({t.scope for t in area}) == 9
    assert all(t.p_adjusted_areas is not None for t in area if t.details.get("in_family", True))


def test_small_calibration_family_wise_rate():
    rng = np.random.default_rng(5)
    c = calibration(rng.integers(100, 360, 2500), n_elections=20, seed=6, draws=200, digit_sims=19)
    assert c["runs"] == 20
    assert c["family_wise_holm"]["rate"] <= 0.15
    assert c["tests"]["turnout_skewness"]["in_family"] is False
    for name, v in c["tests"].items():
        assert 0 <= v["lo"] <= v["rate"] <= v["hi"] <= 1


def test_placebos_mark_tests(bolivia_2019):
    small = bolivia_2019.subset(np.arange(bolivia_2019.n) < 4000)
    r = run_battery(small, seed=1, draws=100, klimek=False, digit_sims=19)
    sim = placebo_simulated(small, n_sims=3, seed=2, draws=100, digit_sims=19)
    assert sim["runs"] == 3 and "integer_pct_either" in sim["tests"]
    ref = placebo_reference(simulate_like(small, seed=3), seed=4, draws=100, digit_sims=19)
    mark_uninformative(r, ref, "reference")
    mark_uninformative(r, sim, "simulated")
    assert set(r.placebo) == {"reference", "simulated"}
    assert "Placebo" in r.summary()


def test_cli_json_and_report(tmp_path):
    out = tmp_path / "f.html"
    res = CliRunner().invoke(main, ["forensics", str(BOLIVIA / "2020" / "computo_20201018T232833.csv.gz"),
                                    "--contest", "PRESIDENTE", "--draws", "100", "--placebo-sims", "2",
                                    "--no-klimek", "--format", "json", "--report", str(out), "--seed", "3"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["tests"] and "either" in d["integer_percentages"]
    text = out.read_text()
    assert "<svg" in text and "Fingerprint" in text and "acta-" in text


def test_cli_rejects_bad_options():
    res = CliRunner().invoke(main, ["forensics", str(BOLIVIA / "2020" / "computo_20201018T213655.csv.gz"),
                                    "--max-turnout", "1.5"])
    assert res.exit_code == 2
