"""NIST SP 1500-100 v2 and CSV exports, validated against the published schema."""
import gzip
import hashlib
import json
from importlib import resources
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio import app
from escrutinio.cli import main
from escrutinio.publication.export import election_report, level_tables, schema

ROOT = Path(__file__).resolve().parents[2]
RURITANIA = ROOT / "examples/ruritania"
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


@pytest.fixture(scope="module")
def bolivia_head(tmp_path_factory):
    target = tmp_path_factory.mktemp("nist") / "computo_2019-10-25.csv.gz"
    with gzip.open(COMPUTO, "rb") as f, gzip.open(target, "wb") as out:
        for i, line in enumerate(f):
            if i > 400:
                break
            out.write(line)
    return target


def validator():
    return jsonschema.Draft4Validator(schema())


def test_shipped_schema_is_the_published_file():
    data = (resources.files("escrutinio.publication") / "schemas" / "NIST_V2_election_results_reporting.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "b1e1c53f4f7d72c82893728e331f572b3496726bc3282d3b732c9a4e2058f1bd"
    notice = (resources.files("escrutinio.publication") / "schemas" / "NOTICE.md").read_text()
    assert "usnistgov/ElectionResultsReporting" in notice


def _root_counts(report):
    contest = report["Election"][0]["Contest"][0]
    cands = {c["@id"]: c["BallotName"]["Text"][0]["Content"] for c in report["Election"][0]["Candidate"]}
    votes = {cands[s["CandidateIds"][0]]: next(v["Count"] for v in s["VoteCounts"] if v["GpUnitId"] == "gpu-root")
             for s in contest["BallotSelection"]}
    summary = next(s for s in contest["SummaryCounts"] if s["GpUnitId"] == "gpu-root")
    return votes, summary


def test_bolivia_export_validates_and_keeps_every_vote(bolivia_head):
    election = app.read([bolivia_head])
    snap = election.latest(election.contests[0])
    report = election_report([snap], election_date="2019-10-20")
    errors = [e.message for e in validator().iter_errors(report)]
    assert errors == []
    res = app.results(election, level=None).to_dict()
    votes, summary = _root_counts(report)
    assert votes == res["choices"]
    assert summary["BallotsCast"] == res["emitted"] and summary["Undervotes"] == res["blank"]
    assert summary["BallotsRejected"] == res["null"]
    units = [g for g in report["GpUnit"] if g.get("OtherType") == "polling table (acta)"]
    assert len(units) == snap.n_units
    # every acta belongs to exactly one polling place, every area to one parent
    children = [c for g in report["GpUnit"] for c in g.get("ComposingGpUnitIds", [])]
    assert len(children) == len(set(children)) == len(report["GpUnit"]) - 1


def test_cli_nist_and_csv(tmp_path):
    csv = RURITANIA / "ruritania_2024.csv"
    mapping = RURITANIA / "ruritania.toml"
    out = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["export", str(csv), "--mapping", str(mapping), "--format", "nist-1500-100", "-o", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert list(validator().iter_errors(report)) == []
    r = CliRunner().invoke(main, ["export", str(csv), "--mapping", str(mapping), "--format", "csv", "-o", str(tmp_path / "csv")])
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert "president-total.csv" in files and len(files) >= 3
    total = pl.read_csv(tmp_path / "csv" / "president-total.csv")
    for f in files:
        t = pl.read_csv(tmp_path / "csv" / f)
        assert int(t["valid"].sum()) == int(total["valid"][0])
        assert int(t["units"].sum()) == int(total["units"][0])
    votes, _ = _root_counts(report)
    assert sum(votes.values()) == int(total["valid"][0])


def test_csv_needs_a_folder_and_date_is_checked():
    csv = str(RURITANIA / "ruritania_2024.csv")
    mapping = str(RURITANIA / "ruritania.toml")
    r = CliRunner().invoke(main, ["export", csv, "--mapping", mapping, "--format", "csv"])
    assert r.exit_code == 2 and "--output" in r.output
    r = CliRunner().invoke(main, ["export", csv, "--mapping", mapping, "--format", "nist-1500-100", "--election-date", "20/10/2019"])
    assert r.exit_code == 2


def test_withdrawn_choices_are_listed_without_votes():
    election = app.read([RURITANIA / "ruritania_2024.csv"], mapping=str(RURITANIA / "ruritania.toml"))
    snap = election.latest(election.contests[0])
    from dataclasses import replace
    first = snap.choices[0]
    withdrawn = replace(snap, withdrawn=(first,), withdrawn_rule=True)
    report = election_report([withdrawn])
    assert list(validator().iter_errors(report)) == []
    cand = [c for c in report["Election"][0]["Candidate"] if c["BallotName"]["Text"][0]["Content"] == first][0]
    assert cand["PreElectionStatus"] == "withdrawn"
    votes, summary = _root_counts(report)
    assert first not in votes
    moved = int(snap.frame[first].sum())
    assert summary["BallotsRejected"] == int(snap.frame["null"].sum()) + moved
