"""Issue 24: the PVT's use cases are one function each in escrutinio.app.pvt, which the
commands call; the Python API gives the same JSON as `escrutinio pvt ... --format json`."""
import json

from click.testing import CliRunner

import escrutinio as es
from escrutinio.cli import main

MAS = "MAS - IPSP"


def test_python_api_gives_the_commands_json(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    design_file = tmp_path / "d.json"
    r = runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "600", "--seed", "11", "--strata", "department",
                             "-o", str(design_file), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = es.pvt_design(computo, 600, "11", strata="department")
    assert d.to_dict() == json.loads(r.output) == json.loads(design_file.read_text())
    assert d.to_polars().height == 600 and d.to_json() == design_file.read_text()

    r = runner.invoke(main, ["pvt", "estimate", "--design", str(design_file), computo, "--draws", "2000",
                             "--format", "json"])
    assert r.exit_code == 0, r.output
    est = es.pvt_estimate(computo, d, draws=2000)
    assert est.to_dict() == json.loads(r.output)
    assert est.to_dict() == es.pvt_estimate([computo], str(design_file), draws=2000).to_dict()
    assert MAS in est.to_polars()["choice"].to_list()

    r = runner.invoke(main, ["pvt", "compare", "--design", str(design_file), computo, computo, "--draws", "2000",
                             "--format", "json"])
    assert r.exit_code == 0, r.output
    res = es.pvt_compare(computo, computo, design_file, draws=2000)
    assert res.to_dict() == json.loads(r.output)
    assert res.consistent and res.to_dict()["tables"]["with_differences"] == 0


def test_verify(bolivia):
    from escrutinio.app import pvt

    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    d = pvt.design(computo, 300, "5", "department")
    assert pvt.verify(d.to_dict(), computo)["ok"] is True


def test_python_api_pvt_verify_equals_the_command(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    design_file = tmp_path / "d.json"
    design_file.write_text(es.pvt_design(computo, 300, "5", strata="department").to_json())
    r = CliRunner().invoke(main, ["pvt", "verify", "--design", str(design_file), "--roll", computo, "--format", "json"])
    assert r.exit_code == 0, r.output
    v = es.pvt_verify(str(design_file), computo)
    assert v.to_dict() == json.loads(r.output) and v.to_dict()["ok"] is True
    assert "the sample is exactly what the seed and the roll give" in v.summary()
