"""Issue 24: `escrutinio check`, `report`, `load` and `mappings` are one app function each,
whose result prints exactly what the command prints; /api/v1/pvt/progress counts with
app.pvt.sample_progress."""
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.app.pvt import sample_progress
from escrutinio.app.results import check_findings, mappings, write_report
from escrutinio.app.workspace_load import load
from escrutinio.cli import main
from escrutinio.errors import UsageError
from escrutinio.pvt.design import make_design

BOLIVIA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
TREP_2019 = str(BOLIVIA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_mappings_prints_what_the_function_returns():
    m = mappings()
    assert invoke("mappings").output == m.summary() + "\n"
    assert json.loads(invoke("mappings", "--format", "json").output) == m.to_dict()


def test_check_findings_writes_whole_file_and_says_how_many(tmp_path):
    out = tmp_path / "findings.csv"
    run = check_findings([TREP_2019], fmt="csv", output=out)
    assert out.read_text() == run.text and run.output == str(out)
    assert pl.read_csv(out).height == run.count
    again = invoke("check", TREP_2019, "--format", "csv", "-o", tmp_path / "cli.csv")
    assert again.exit_code == 0 and (tmp_path / "cli.csv").read_text() == run.text


def test_check_findings_refuses_an_unwritable_output_before_reading(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        check_findings([str(tmp_path / "no-such-file.csv")], output=tmp_path / "missing" / "f.csv")


def test_write_report_refuses_a_pdf_before_reading(tmp_path):
    with pytest.raises(UsageError, match="the report is HTML"):
        write_report([str(tmp_path / "no-such-file.csv")], tmp_path / "r.pdf")


def test_write_report_matches_the_command(tmp_path):
    out = write_report([TREP_2019], tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text().startswith("<!")
    assert out.to_dict()["report"] == str(tmp_path / "r.html")
    cli = invoke("report", TREP_2019, "-o", tmp_path / "r2.html")
    assert cli.exit_code == 0
    assert cli.output == out.summary().replace(str(tmp_path / "r.html"), str(tmp_path / "r2.html")) + "\n"


def test_load_stores_every_snapshot_and_calls_back(tmp_path):
    seen = []
    done = load([TREP_2019], tmp_path / "ws.duckdb", on_stored=lambda i, s: seen.append(i))
    assert seen == [1] and [i for i, _ in done.stored] == [1]
    assert done.summary().startswith("snapshot 1: PRESIDENTE")
    assert invoke("load", TREP_2019, "--workspace", tmp_path / "ws.duckdb").output.startswith("snapshot 2: ")


def test_sample_progress_counts_reported_sampled_tables_per_stratum():
    rng = np.random.default_rng(3)
    n = 90
    f = pl.DataFrame({"unit": [f"T{i:04d}" for i in range(n)], "country": ["X"] * n,
                      "department": [["North", "South", "East"][i % 3] for i in range(n)],
                      "registered": rng.integers(50, 300, n)})
    d = make_design(f, 30, "42", ["department"], ["country", "department"])
    reported = d.sample[:7] + ["T9999"]  # a table outside the sample is not counted
    out = sample_progress(d, pl.DataFrame({"unit": reported}))
    assert (out["n"], out["reported"], out["missing"]) == (30, 7, 23)
    assert sum(s["reported"] for s in out["strata"]) == 7
    assert sum(s["sampled"] for s in out["strata"]) == 30
    assert sample_progress(d, reported) == out


def test_python_api_report_load_and_mappings(tmp_path):
    """`escrutinio.report`, `escrutinio.load` and `escrutinio.bundled_mappings` are the commands' use cases."""
    import escrutinio

    computo = str(Path(__file__).resolve().parents[2] / "examples/bolivia/2019/computo_2019-10-25.csv.gz")
    out = tmp_path / "r.html"
    r = escrutinio.report(computo, str(out))
    assert out.exists() and r.to_dict()["report"] == str(out) and "report written to" in r.summary()
    loaded = escrutinio.load(computo, str(tmp_path / "w.duckdb"))
    assert loaded.to_polars().get_column("tables").to_list() == [34555]
    assert "bolivia-2019" in escrutinio.bundled_mappings().to_dict()
    from escrutinio.report import colours  # the drawing package is still a package

    assert colours.__name__ == "escrutinio.report.colours"
