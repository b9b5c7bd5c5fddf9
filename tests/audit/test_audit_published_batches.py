"""Audits published as their sampled batches only (issue 25): Lindeman's CA-CD3 file read
with mappings for its draws (``times_drawn``) and hand counts (``audit_*`` columns), the
contest described by its margins or totals and U. Without them the file is refused:
the risk is never computed as if the sample were the contest.

The paper prints U = 20.47; its Kaplan-Markov factor for a batch without discrepancy,
0.951148308 = 1 - 1/U, gives U = 20.47012, and with it our P is the paper's 0.098616
(its factors' product, 0.0986165). With U = 20.47 as printed, P = 0.0986151.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from escrutinio.audit import workflow
from escrutinio.cli import main
from escrutinio.errors import InputError, UsageError

D = Path(__file__).parent / "data"
CSV = D / "ca_cd3_2008_lindeman.csv"
MARGINS = "Durston=17453,Tuma=148100,Padilla=141930"
# Lungren 155,424 and Durston 137,971 (the paper's 17,453 margin); Tuma and Padilla from
# the margins inferred in test_audit_macro_cd3.py
TOTALS = "Lungren=155424,Durston=137971,Tuma=7324,Padilla=13494"
U_PAPER = 1 / (1 - 0.951148308)


def cli(*extra):
    args = ["audit", "risk", "--method", "macro", "--results", str(CSV), "--mapping", str(D / "ca_cd3_results.toml"),
            "--draws", str(CSV), "--draws-mapping", str(D / "ca_cd3_draws.toml"), "--counts", str(CSV),
            "--counts-mapping", str(D / "ca_cd3_counts.toml"), "--risk-limit", "0.1", *extra]
    return CliRunner().invoke(main, args)


def test_cd3_from_its_published_file_and_margins_gives_the_papers_p():
    r = cli("--margins", MARGINS, "--total-bound", "20.47012", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert round(out["risk"], 6) == 0.098616
    assert out["decision"] == "stop"
    assert out["draws"] == 47 and out["sampled_units"] == 42 and out["discrepancies"] == 9
    assert out["contest"]["total_bound"] == pytest.approx(20.47012)
    assert out["contest"]["batches_in_file"] == 42 and out["contest"]["draw_order_known"] is False
    assert out["risk_by_draw"] == []  # the order of the draws is unknown


def test_cd3_with_the_printed_u_and_with_totals():
    a = json.loads(cli("--margins", MARGINS, "--total-bound", "20.47", "--format", "json").output)
    assert a["risk"] == pytest.approx(0.0986151, abs=1e-7)
    b = json.loads(cli("--totals", TOTALS, "--total-bound", "20.47", "--format", "json").output)
    assert b["risk"] == pytest.approx(a["risk"], rel=1e-12)
    assert b["contest"]["described_by"].startswith("the contest's totals")
    text = cli("--margins", MARGINS, "--total-bound", str(U_PAPER)).output
    assert "0.0986165" in text and "not the contest" in text and "times_drawn" in text


def test_sample_only_file_without_the_contest_is_refused_in_one_line():
    r = cli()
    assert r.exit_code != 0
    line = r.output.strip()
    assert "\n" not in line and "times_drawn column" in line and "not the contest" in line and "--totals" in line
    assert "Traceback" not in r.output


@pytest.mark.parametrize("extra, message", [
    (["--total-bound", "20.47"], "does not give the margins"),
    (["--totals", TOTALS], "U is unknown"),
    (["--totals", "Lungren=155424,Durston=137971"], "lacking"),
    (["--totals", "Lungren=100,Durston=10,Tuma=1,Padilla=1", "--total-bound", "20.47"], "less than the file's own"),
    (["--margins", "Durston=17453", "--total-bound", "20.47"], "every choice of the file"),
    (["--margins", MARGINS, "--total-bound", "1.2"], "smaller than the error bounds"),
    (["--margins", MARGINS, "--totals", TOTALS, "--total-bound", "20.47"], "not both"),
    (["--margins", "Durston=x", "--total-bound", "20.47"], "not a whole number"),
    (["--margins", MARGINS, "--total-bound", "0.5"], "above 1"),
])
def test_bad_contest_descriptions_are_one_line_errors(extra, message):
    r = cli(*extra)
    assert r.exit_code != 0 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def _write_contest(tmp_path, n=40):
    lines = ["unit,registered,A,B,blank,null"]
    rng = np.random.default_rng(3)
    for i in range(n):
        a = int(rng.integers(200, 260))
        b = int(rng.integers(120, 180))
        lines.append(f"T{i:03d},500,{a},{b},3,2")
    path = tmp_path / "contest.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('name = "m"\n[columns]\nunit = "unit"\nregistered = "registered"\nblank = "blank"\n'
                       'null = "null"\n[choices]\ncolumns = ["A", "B"]\n', encoding="utf-8")
    return path, mapping


def test_totals_with_ballots_give_a_conservative_u(tmp_path):
    """A contest of 40 tables; the published file holds the 6 drawn ones. With the
    contest's totals and ballots, U is an upper bound: P is at least the P computed
    from the whole contest, and equal to it when the file is the whole contest."""
    path, mapping = _write_contest(tmp_path)
    rows = path.read_text().splitlines()
    drawn = [1, 5, 5, 9, 17, 30, 33]
    sample = tmp_path / "sample.csv"
    sample.write_text("\n".join([rows[0]] + sorted({rows[1 + k] for k in drawn})) + "\n", encoding="utf-8")
    draws = tmp_path / "draws.csv"
    draws.write_text("unit\n" + "\n".join(f"T{k:03d}" for k in drawn) + "\n", encoding="utf-8")
    counts = tmp_path / "counts.csv"
    hand = ["unit,A,B"]
    for line in sorted({rows[1 + k] for k in drawn}):
        u, _, a, b, *_ = line.split(",")
        hand.append(f"{u},{int(a) - (2 if u == 'T005' else 0)},{b}")
    counts.write_text("\n".join(hand) + "\n", encoding="utf-8")
    tot = {"A": 0, "B": 0}
    for line in rows[1:]:
        _, _, a, b, *_ = line.split(",")
        tot["A"] += int(a)
        tot["B"] += int(b)
    whole = workflow.recheck(path, draws, counts, risk_limit=0.1, mapping=str(mapping))
    part = workflow.recheck(sample, draws, counts, risk_limit=0.1, mapping=str(mapping),
                            totals=tot | {"ballots": 500 * 40})
    U = workflow.estimate_plan(path, risk_limit=0.1, assertion_kind="plurality", mapping=str(mapping))["model"].total_bound
    assert part.contest["total_bound"] >= U * (1 - 1e-12)  # one assertion: the bound is exact
    assert "upper bound" in part.contest["total_bound_source"]
    assert part.risk >= whole.risk * (1 - 1e-12)
    assert whole.discrepancies == 1 and part.discrepancies == 1
    same = workflow.recheck(path, draws, counts, risk_limit=0.1, mapping=str(mapping),
                            totals=tot | {"ballots": 500 * 40})
    assert same.contest["total_bound"] == pytest.approx(U, rel=1e-12)
    assert same.risk == pytest.approx(whole.risk, rel=1e-9)
    with pytest.raises(UsageError, match="holds the sample"):
        workflow.recheck(sample, draws, counts, risk_limit=0.1, mapping=str(mapping))


def test_draws_with_times_drawn_and_mapping_errors(tmp_path):
    bad = tmp_path / "d.csv"
    bad.write_text("unit,times_drawn\nA,1\nB,-1\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 3.*negative"):
        workflow._read_draws(bad)
    bad.write_text("unit,times_drawn\nA,1\nA,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="listed twice"):
        workflow._read_draws(bad)
    ok = tmp_path / "ok.csv"
    ok.write_text("batch,n\nA,2\nB,0\nC,1\n", encoding="utf-8")
    m = tmp_path / "m.toml"
    m.write_text('[columns]\nunit = "batch"\ntimes_drawn = "n"\n', encoding="utf-8")
    assert [d["id"] for d in workflow._read_draws(ok, m)] == ["A", "A", "C"]
    m.write_text('[columns]\nunit = "nope"\n', encoding="utf-8")
    with pytest.raises(InputError, match="nope"):
        workflow._read_draws(ok, m)
    m.write_text('[columns]\nunit = "batch"\nweight = "n"\n', encoding="utf-8")
    from escrutinio.errors import MappingError
    with pytest.raises(MappingError, match="weight"):
        workflow._read_draws(ok, m)


def test_a_results_file_with_times_drawn_is_refused_even_when_not_every_batch_was_drawn(tmp_path):
    """A published file may list batches drawn 0 times too; its times_drawn column says
    what it is."""
    lines = CSV.read_text(encoding="utf-8").splitlines()
    extra = lines[1].split(",")
    extra[0], extra[6] = "EXTRA", "0"
    path = tmp_path / "with_undrawn.csv"
    path.write_text("\n".join([*lines, ",".join(extra)]) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="times_drawn column"):
        workflow.recheck(path, path, path, risk_limit=0.1, mapping=str(D / "ca_cd3_results.toml"),
                         draws_mapping=str(D / "ca_cd3_draws.toml"), counts_mapping=str(D / "ca_cd3_counts.toml"))
    s = workflow.recheck(path, path, path, risk_limit=0.1, mapping=str(D / "ca_cd3_results.toml"),
                         draws_mapping=str(D / "ca_cd3_draws.toml"), counts_mapping=str(D / "ca_cd3_counts.toml"),
                         margins={"Durston": 17453, "Tuma": 148100, "Padilla": 141930}, total_bound=U_PAPER)
    assert round(s.risk, 6) == 0.098616 and s.contest["batches_in_file"] == 43


def test_planning_on_a_file_of_sampled_batches_is_refused():
    r = CliRunner().invoke(main, ["audit", "sample-size", "--method", "macro", "--results", str(CSV), "--mapping",
                                  str(D / "ca_cd3_results.toml"), "--risk-limit", "0.1"])
    assert r.exit_code == 2 and "cannot be planned on it" in r.output
    assert len(r.output.strip().splitlines()) == 1
