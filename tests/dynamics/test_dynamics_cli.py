"""Machine contracts of `escrutinio diff` and `escrutinio project`."""
import json
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
T1940 = str(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
T1829 = str(DATA / "2019" / "trep_2019-10-21T18-29-53.csv.gz")
FINAL = str(DATA / "2019" / "computo_2019-10-25.csv.gz")


def test_diff_json_contract():
    res = CliRunner().invoke(main, ["diff", T1940, FINAL, "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert (d["added"], d["removed"], d["changed"]) == (5580, 0, 549)
    assert len(d["changed_units"]) == 549
    assert set(d["changed_units"][0]) == {"unit", "before", "after"}
    assert d["net"]["MAS - IPSP"] == 533715 and d["net"]["CC"] == 290920


def test_project_json_contract():
    res = CliRunner().invoke(main, ["project", T1829, "--roll", FINAL, "--simulations", "200", "--seed", "1",
                                    "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["counted_units"] == 32806 and d["expected_units"] == 34555
    assert set(d["choices"]["CC"]) == {"share", "lo", "hi"}
    assert d["choices"]["CC"]["lo"] <= d["choices"]["CC"]["share"] <= d["choices"]["CC"]["hi"]
    assert {"point", "lo", "hi"} <= set(d["lead_points"])
    assert {"first_round_win", "runoff"} <= set(d["outcome_probabilities"])


def test_bad_paths_and_options_exit_2(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    res = CliRunner().invoke(main, ["diff", str(bad), FINAL])
    assert res.exit_code == 2
    res = CliRunner().invoke(main, ["compare", FINAL, FINAL, "--by", "department", "--group-by", "area"])
    assert res.exit_code == 2
