"""Acceptance of the foundation through the CLI machine contract: official figures of
Bolivia 2019 and 2020 reproduced exactly."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main

BOLIVIA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
FINAL = str(BOLIVIA / "2019" / "computo_2019-10-25.csv.gz")
TREP_83 = str(BOLIVIA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
TREP_95 = str(BOLIVIA / "2019" / "trep_2019-10-21T18-29-53.csv.gz")
EXPORTS_2020 = sorted(str(p) for p in (BOLIVIA / "2020").glob("computo_2020*"))


def run_json(*args):
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def pct(part, whole):
    return round(100 * part / whole, 2)


def test_2019_final_national():
    r = run_json("results", FINAL)
    assert r["units"] == 34555
    assert (r["valid"], r["blank"], r["null"], r["emitted"], r["registered"]) == (6137671, 93507, 229337, 6460515, 7315364)
    assert r["choices"]["MAS - IPSP"] == 2889359 and r["choices"]["CC"] == 2240920
    assert pct(r["choices"]["MAS - IPSP"], r["valid"]) == 47.08
    assert pct(r["choices"]["CC"], r["valid"]) == 36.51
    assert round(100 * r["emitted"] / r["registered"], 2) == 88.31
    v = r["verdict"]
    assert v["outcome"] == "first_round_win" and v["winner"] == "MAS - IPSP"
    assert v["lead_points"] == 10.56 and v["lead_votes"] == 648439
    lead_line = [c for c in v["conditions"] if c["name"] == "lead"][0]
    # 648,439 - ceil(0.10 * 6,137,671) = 648,439 - 613,768
    assert lead_line["margin_votes"] == 34671 and lead_line["holds"]


def test_2019_final_inside_bolivia():
    r = run_json("results", FINAL, "--filter", "country=Bolivia")
    assert r["units"] == 33048
    assert r["verdict"]["lead_points"] == 9.81
    assert r["verdict"]["outcome"] == "runoff"


def test_2019_trep_halt():
    r = run_json("results", TREP_83, "--roll", FINAL)
    assert r["units"] == 28975
    assert pct(r["choices"]["MAS - IPSP"], r["valid"]) == 45.71
    assert pct(r["choices"]["CC"], r["valid"]) == 37.84
    assert r["verdict"]["lead_points"] == 7.87 and r["verdict"]["outcome"] == "runoff"
    assert round(r["progress"]["units_pct"], 2) == 83.85
    inside = run_json("results", TREP_83, "--roll", FINAL, "--filter", "country=Bolivia")
    assert inside["units"] == 27684 and inside["progress"]["expected_units"] == 33048
    assert pct(inside["choices"]["MAS - IPSP"], inside["valid"]) == 45.28
    assert pct(inside["choices"]["CC"], inside["valid"]) == 38.16
    assert inside["verdict"]["lead_points"] == 7.12


def test_2019_trep_resumed():
    r = run_json("results", TREP_95, "--roll", FINAL)
    assert r["units"] == 32806 and round(r["progress"]["units_pct"], 2) == 94.94
    assert pct(r["choices"]["MAS - IPSP"], r["valid"]) == 46.87
    assert pct(r["choices"]["CC"], r["valid"]) == 36.72
    assert r["verdict"]["lead_points"] == 10.15


def test_2019_departments_by_full_path():
    r = run_json("results", FINAL, "--level", "department")
    rows = {row["path"]: row for row in r["rows"]}
    expected = {"Bolivia / La Paz": (53.16, 29.83), "Bolivia / Cochabamba": (57.52, 32.21), "Bolivia / Santa Cruz": (34.76, 46.85)}
    for path, (mas, cc) in expected.items():
        row = rows[path]
        assert (row["shares"]["MAS - IPSP"], row["shares"]["CC"]) == (mas, cc)
    # the Argentine "Santa Cruz" is a different area, never merged with the Bolivian one
    assert "Argentina / Santa Cruz - Argentina" in rows
    assert sum(row["valid"] for row in r["rows"]) == r["valid"]


def test_2019_filter_by_path():
    r = run_json("results", FINAL, "--filter", "department=Bolivia / Santa Cruz")
    assert r["units"] == 8621


def test_2020_one_election_with_contests():
    r = run_json("results", *EXPORTS_2020, "--each-snapshot")
    snaps = r["snapshots"]
    assert len(snaps) == 5
    assert [s["units"] for s in snaps] == [172, 1084, 2609, 5652, 7636]
    times = [s["exported_at"] for s in snaps]
    assert times == sorted(times)
    last = snaps[-1]
    assert last["withdrawn_rule"] is True
    assert set(last["choices"]) == {"CREEMOS", "MAS_IPSP", "FPV", "PAN_BOL", "CC"}
    assert last["valid"] == sum(last["choices"].values())
    off = run_json("results", *EXPORTS_2020, "--each-snapshot", "--count-withdrawn")["snapshots"][-1]
    assert {"ADN", "LIBRE_21", "JUNTOS"} <= set(off["choices"])
    moved = off["choices"]["ADN"] + off["choices"]["LIBRE_21"] + off["choices"]["JUNTOS"]
    assert off["valid"] - last["valid"] == moved and last["null"] - off["null"] == moved
    assert off["emitted"] == last["emitted"]


def test_2020_contests_listed():
    from escrutinio.io import read_election

    e = read_election(EXPORTS_2020)
    assert e.contests[:2] == ["PRESIDENTE", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL"]
    uni = run_json("results", *EXPORTS_2020, "--contest", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL", "--level", "constituency")
    assert uni["contest"] == "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL" and len(uni["rows"]) > 10


def test_2020_check_lists_failing_actas():
    r = run_json("check", *EXPORTS_2020)
    rules = {c["rule"]: c for c in r["rules"]}
    # 01:38 export: 8 polling tables (16 records, both contests) with an unquoted comma in the place name
    repaired = [f for f in r["findings"] if f["rule"] == "record_repaired"]
    assert len(repaired) == 16 and all("013833" in f["source"] for f in repaired)
    assert rules["present_in_later_snapshot"]["failing_units"] >= 1
    for f in r["findings"]:
        assert f["source_row"] >= 2 and f["unit"]


def test_2019_trep_vs_final_changes_flagged():
    r = run_json("check", TREP_95, FINAL, "--rule-name", "unchanged_between_snapshots")
    assert r["rules"][-1]["failing_units"] > 0
    assert all(f["rule"] == "unchanged_between_snapshots" for f in r["findings"])


def test_report_writes_html(tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", FINAL, "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    text = out.read_text()
    for needle in ("Verdict", "By department", "Acta checks", "<svg", "Polling places", "10.56"):
        assert needle in text
    assert "first round" in result.output


def test_csv_format():
    result = CliRunner().invoke(main, ["results", FINAL, "--level", "department", "--format", "csv"], catch_exceptions=False)
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("path,units,registered,valid")
    assert any(line.startswith("Bolivia / La Paz,8988,") for line in lines)
