"""PVT against the official count: plain statements, joint test, table-by-table (C2)."""
import gzip
import json
from dataclasses import replace

import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.io import read_election
from escrutinio.law.presidential import preset
from escrutinio.pvt.compare import compare
from escrutinio.pvt.design import make_design
from escrutinio.pvt.estimate import estimate

MAS = "MAS - IPSP"


@pytest.fixture(scope="module")
def setup(bolivia):
    snap = read_election([str(bolivia / "2019" / "computo_2019-10-25.csv.gz")]).snapshots[0]
    d = make_design(snap.frame, 1500, 7, ["department"], list(snap.levels))
    est = estimate(d, snap.counted(), list(snap.counted_choices), preset("bolivia"))
    return snap, d, est


def test_the_count_against_its_own_pvt_is_consistent(setup):
    snap, d, est = setup
    res = compare(d, est, snap, snap)
    assert res.consistent
    assert all(v["statement"] == "consistent" for v in res.choices.values())
    assert res.tables_compared == 1500 and res.differences.height == 0
    assert res.choices[MAS]["official"] == pytest.approx(47.0758, abs=1e-4)
    assert res.lead["official"] == pytest.approx(10.5649, abs=1e-4) and res.lead["status"] == "consistent"
    assert res.joint_test["df"] == 8 and res.joint_test["p_value"] > 0.01


def test_a_shifted_official_count_is_outside(setup):
    snap, d, est = setup
    # move 12% of CC's votes to MAS in every table of the official count
    moved = (pl.col("CC") * 0.12).floor().cast(pl.Int64)
    official = replace(snap, frame=snap.frame.with_columns((pl.col(MAS) + moved).alias(MAS), (pl.col("CC") - moved).alias("CC")))
    res = compare(d, est, official, snap)
    assert not res.consistent
    st = res.choices[MAS]
    assert st["status"] == "outside" or res.choices["CC"]["status"] == "outside"
    cc = res.choices["CC"]
    assert cc["statement"].startswith("outside the 99% interval by ") and cc["outside_by"] == pytest.approx(cc["lo"] - cc["official"], abs=1e-3)
    assert res.joint_test["p_value"] < 1e-6
    # every sampled table where CC had 9+ votes now differs in MAS and CC
    assert res.tables_with_differences > 1000
    assert set(res.differences["field"].unique()) == {MAS, "CC"}


def test_table_differences_and_missing(setup):
    snap, d, est = setup
    changed = d.sample[:3]
    dropped = d.sample[3:5]
    reports = replace(snap, frame=snap.frame.filter(~pl.col("unit").is_in(dropped)).with_columns(
        pl.when(pl.col("unit").is_in(changed)).then(pl.col("PDC") + 5).otherwise(pl.col("PDC")).alias("PDC")))
    est2 = estimate(d, reports.counted(), list(reports.counted_choices), preset("bolivia"))
    res = compare(d, est2, snap, reports)
    assert res.differences["unit"].to_list() == sorted(changed)
    assert res.differences["field"].unique().to_list() == ["PDC"]
    assert (res.differences["copy"] - res.differences["official"]).to_list() == [5, 5, 5]
    assert sorted(res.sampled_only_official) == sorted(dropped)
    assert res.to_dict()["tables"]["with_differences"] == 3


def test_cli_compare(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    design = tmp_path / "d.json"
    assert runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "1500", "--seed", "3", "--strata",
                                "department", "-o", str(design)]).exit_code == 0
    # a reports file with one sampled table miscopied
    d = json.loads(design.read_text())
    with gzip.open(computo, "rt", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    target = d["sample"][0]
    out = []
    for line in lines:
        cells = line.split(",")
        if cells[0] == target:
            cells[16] = str(int(cells[16]) + 1)  # MAS - IPSP
        out.append(",".join(cells))
    reports = tmp_path / "reports.csv"
    reports.write_text("\n".join(out) + "\n", encoding="utf-8")
    res = runner.invoke(main, ["pvt", "compare", "--design", str(design), str(reports), computo, "--format", "json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    # the count file has no emitted column: emitted is derived, so it differs too
    assert [(x["unit"], x["field"], x["copy"] - x["official"]) for x in r["tables"]["differences"]] == [
        (target, MAS, 1), (target, "emitted", 1)]
    assert set(r["choices"][MAS]) >= {"official", "share", "lo", "hi", "statement"}
    res = runner.invoke(main, ["pvt", "compare", "--design", str(design), str(reports), computo])
    assert res.exit_code == 0 and "consistent" in res.output and f"table {target}" in res.output
