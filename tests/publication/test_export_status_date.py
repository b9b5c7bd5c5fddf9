"""NIST export: Status from the count's completeness and the election day from the
mapping, not the export date (issue 28)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio import app
from escrutinio.cli import main
from escrutinio.errors import MappingError
from escrutinio.publication.export import election_report

ROOT = Path(__file__).resolve().parents[2]
RURITANIA = ROOT / "examples/ruritania"


def _snap():
    election = app.read([RURITANIA / "ruritania_2024.csv"], mapping=str(RURITANIA / "ruritania.toml"))
    return election.latest(election.contests[0])


def test_the_mapping_date_is_the_election_day():
    snap = replace(_snap(), election_date="2024-05-05")
    report = election_report([snap])
    assert report["Election"][0]["StartDate"] == "2024-05-05"
    assert "Election date unknown" not in report["Notes"]
    with pytest.raises(ValueError, match="different election days"):
        election_report([snap, replace(snap, election_date="2024-06-01")])


def test_bundled_bolivia_mappings_declare_their_day():
    from escrutinio.io import builtin_mappings

    days = {name: m.election_date for name, m in builtin_mappings().items()}
    assert days["bolivia-2019"] == "2019-10-20" and days["bolivia-2020-oep"] == "2020-10-18"


def _mapping(tmp_path, extra: str) -> Path:
    text = (RURITANIA / "ruritania.toml").read_text(encoding="utf-8")
    text = text.replace('name = "Ruritania 2024"\n', 'name = "Ruritania 2024"\n' + extra, 1)
    p = tmp_path / "m.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_date_in_a_mapping(tmp_path):
    with pytest.raises(MappingError, match="date must be YYYY-MM-DD"):
        app.read([RURITANIA / "ruritania_2024.csv"], mapping=str(_mapping(tmp_path, 'date = "5 May"\n')))


def test_status_follows_completeness(tmp_path):
    snap = _snap()
    regs = int(snap.frame["registered"].sum())
    complete = _mapping(tmp_path, "date = 2024-05-05\n").read_text(encoding="utf-8") + (
        f"\n[expected]\ntables = {snap.n_units}\nregistered = {regs}\nsource = \"test\"\n")
    (tmp_path / "complete.toml").write_text(complete, encoding="utf-8")
    partial = complete.replace(f"tables = {snap.n_units}", f"tables = {snap.n_units * 2}")
    (tmp_path / "partial.toml").write_text(partial, encoding="utf-8")
    out = {}
    for name in ("complete", "partial"):
        r = CliRunner().invoke(main, ["export", str(RURITANIA / "ruritania_2024.csv"), "--mapping",
                                      str(tmp_path / f"{name}.toml"), "--format", "nist-1500-100", "--no-actas"])
        assert r.exit_code == 0, r.output
        out[name] = json.loads(r.output[r.output.index("{"):])
    assert out["complete"]["Status"] == "unofficial-complete"
    assert out["partial"]["Status"] == "unofficial-partial"
    assert out["complete"]["Election"][0]["StartDate"] == "2024-05-05"
    r = CliRunner().invoke(main, ["export", str(RURITANIA / "ruritania_2024.csv"), "--mapping",
                                  str(tmp_path / "complete.toml"), "--format", "nist-1500-100", "--no-actas",
                                  "--status", "certified"])
    assert json.loads(r.output[r.output.index("{"):])["Status"] == "certified"
