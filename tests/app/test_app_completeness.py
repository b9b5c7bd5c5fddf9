"""Issue 14 item 1 and contract C8: a verdict on a partial count or a filtered subset says
so in its first words, and the JSON carries `final` and `completeness`."""
import json
import re
from pathlib import Path

from click.testing import CliRunner

from escrutinio import app
from escrutinio.cli import main

BOLIVIA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
FINAL_2019 = str(BOLIVIA / "2019" / "computo_2019-10-25.csv.gz")
TREP_2019 = str(BOLIVIA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
EARLY_2020 = str(BOLIVIA / "2020" / "computo_20201018T232833.csv.gz")
ROLL_2020 = str(BOLIVIA / "2020" / "roll_2020.csv.gz")


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args):
    return json.loads(run(*args, "--format", "json"))


def test_early_2020_export_is_provisional_not_a_first_round_win():
    out = run("results", EARLY_2020)
    assert "wins in the first round" not in out
    verdict_line = next(line for line in out.splitlines() if "CC leads" in line)
    assert verdict_line.startswith("Provisional, 3.0% of tables counted (1,084 of 35,600)")
    # the status comes before any figure
    assert out.splitlines()[1].startswith("PARTIAL COUNT: 1,084 of 35,600 tables (3.04%)")


def test_early_2020_export_json_carries_final_and_completeness():
    r = run_json("results", EARLY_2020)
    assert r["final"] is False
    c = r["completeness"]
    assert c["tables"] == {"counted": 1084, "expected": 35600, "share": round(1084 / 35600, 6)}
    assert c["registered"]["counted"] == 224659 and c["registered"]["expected"] == 7332926
    assert c["note"]
    v = r["verdict"]
    assert v["final"] is False and v["status"] == "provisional"
    assert v["explanation"].startswith("Provisional, 3.0% of tables counted")
    # the decision under the law on these tables is kept, with every existing key
    assert v["outcome"] == "first_round_win" and v["winner"] == "CC" and v["lead_points"] == 21.7


def test_early_2020_export_with_the_roll():
    r = run_json("results", EARLY_2020, "--roll", ROLL_2020)
    assert r["final"] is False
    assert r["completeness"]["tables"]["counted"] == 1084 and r["completeness"]["tables"]["expected"] == 35600
    assert r["completeness"]["note"].startswith("measured against the roll")
    assert r["progress"]["counted_units"] == 1084  # the existing key stays


def test_report_puts_completeness_in_the_verdict_box(tmp_path):
    out = tmp_path / "r.html"
    text = run("report", EARLY_2020, "-o", str(out))
    assert "wins in the first round" not in text
    page = out.read_text()
    box = re.search(r"<div class='verdict[^']*'>(.*?)</div>", page, re.S).group(1)
    assert box.startswith("Provisional, 3.0% of tables counted")
    assert "Partial count:" in box and "1,084 of 35,600 tables counted (3.04%)" in box
    r = run_json("report", EARLY_2020, "-o", str(out))
    assert r["final"] is False


def test_final_2019_count_is_final():
    r = run_json("results", FINAL_2019)
    assert r["final"] is True and r["verdict"]["status"] == "final"
    assert r["completeness"]["tables"] == {"counted": 34555, "expected": 34555, "share": 1.0}
    assert r["verdict"]["explanation"].startswith("MAS - IPSP wins in the first round with 47.08%")
    assert run("results", FINAL_2019).splitlines()[1].startswith("FINAL COUNT: 34,555 of 34,555 tables")


def test_trep_halt_is_provisional():
    r = run_json("results", TREP_2019)
    assert r["final"] is False
    assert r["verdict"]["explanation"].startswith("Provisional, 83.8% of tables counted (28,975 of 34,555)")


def test_filtered_subset_is_not_a_result():
    r = run_json("results", FINAL_2019, "--filter", "country=Bolivia")
    assert r["final"] is False and r["verdict"]["status"] == "not_a_result"
    assert r["verdict"]["explanation"].startswith("Not a result under the law: only the tables where country=Bolivia")
    # the whole count is complete, so the subset is too; still not a result under the law
    assert r["completeness"]["tables"] == {"counted": 33048, "expected": 33048, "share": 1.0}
    assert r["verdict"]["outcome"] == "runoff"  # what the rule gives on the subset, as before
    partial = run_json("results", TREP_2019, "--filter", "country=Bolivia")
    assert partial["final"] is False and partial["verdict"]["status"] == "not_a_result"
    assert partial["completeness"]["tables"]["expected"] is None and "roll" in partial["completeness"]["note"]


def test_each_snapshot_has_its_own_completeness():
    r = run_json("results", *sorted(str(p) for p in (BOLIVIA / "2020").glob("computo_2020*")), "--each-snapshot")
    finals = [s["final"] for s in r["snapshots"]]
    counted = [s["completeness"]["tables"]["counted"] for s in r["snapshots"]]
    assert finals == [False] * 5 and counted == sorted(counted)


def test_unknown_completeness_without_roll(tmp_path):
    """A file no bundled total covers: expected unknown, said so, and never final."""
    src = tmp_path / "tiny.csv"
    src.write_text("mesa,region,inscritos,A,B,blancos,nulos\n1,Norte,100,60,30,5,5\n2,Sur,100,20,70,5,5\n")
    mapping = tmp_path / "tiny.toml"
    mapping.write_text(
        'name = "tiny"\n[election]\nname = "Tiny 2024"\ncontest = "president"\n'
        '[columns]\nunit = "mesa"\nregistered = "inscritos"\nblank = "blancos"\nnull = "nulos"\n'
        '[levels]\nregion = "region"\n[choices]\ncolumns = ["A", "B"]\n')
    res = app.results(app.read([str(src)], mapping=str(mapping)), rule="majority")
    d = res.to_dict()
    assert d["final"] is False
    assert d["completeness"]["tables"] == {"counted": 2, "expected": None, "share": None}
    assert "roll" in d["completeness"]["note"]
    # issue 25: the verdict stands as the file's; completeness is said once, as unknown
    assert d["completeness"]["status"] == d["verdict"]["status"] == "completeness_unknown"
    assert d["verdict"]["final"] is False
    assert not d["verdict"]["explanation"].startswith("Provisional")
    assert d["verdict"]["outcome"] == "first_round_win" and d["verdict"]["winner"] == "B"


RURITANIA = Path(__file__).resolve().parents[2] / "examples" / "ruritania"


def test_complete_count_without_roll_is_not_called_provisional():
    """Issue 25: a complete count read without a roll or official totals is not called
    provisional or partial; "completeness unknown" is said once, and the verdict is the
    file's."""
    args = ["results", str(RURITANIA / "ruritania_2024.csv"), "--mapping", str(RURITANIA / "ruritania.toml")]
    out = run(*args)
    assert "Provisional" not in out and "PARTIAL" not in out
    assert out.lower().count("completeness unknown") == 1
    assert out.splitlines()[1].startswith("COUNT AS READ: 2,400 tables; completeness unknown")
    assert "Runoff between Partido Azul (48.08%) and Unión Roja (36.33%)" in out
    d = run_json(*args)
    assert d["final"] is False and d["verdict"]["final"] is False
    assert d["completeness"]["status"] == "completeness_unknown" == d["verdict"]["status"]
    assert d["completeness"]["tables"]["expected"] is None
    assert d["verdict"]["explanation"].startswith("Runoff between Partido Azul")


def test_final_and_provisional_statuses_are_coherent():
    final = run_json("results", FINAL_2019)
    assert final["final"] is True and final["completeness"]["status"] == "final" == final["verdict"]["status"]
    early = run_json("results", EARLY_2020)
    assert early["final"] is False and early["completeness"]["status"] == "provisional" == early["verdict"]["status"]


def test_a_roll_of_another_election_is_an_error_naming_both_files():
    """Issue 28: the 2019 count with the 2020 roll shares no table; "0.0% of tables
    counted" would be a number computed from rows that do not belong together."""
    r = CliRunner().invoke(main, ["results", FINAL_2019, "--roll", ROLL_2020])
    assert r.exit_code == 2
    line = r.output.strip()
    assert len(line.splitlines()) == 1
    assert "roll_2020.csv.gz" in line and "computo_2019-10-25.csv.gz" in line
    assert "shares 0 of the 34,555 counted tables" in line and "not this count's roll" in line
    assert "0.0%" not in r.output


def test_per_area_verdicts_say_they_are_not_results():
    r = run_json("results", FINAL_2019, "--level", "department")
    assert r["final"] is True and r["rows"][0]["verdict"]
    assert r["rows_verdict_note"].startswith("a row's verdict is what the rule would give on that area's tables alone")


def test_official_totals_come_from_the_mapping_for_any_count(tmp_path):
    """Completeness without a roll comes from the mapping's [expected] table, for any
    country: the same tiny count is unknown without it and provisional (2 of 5) with it,
    and only the contest it names gets it."""
    src = tmp_path / "tiny.csv"
    src.write_text("mesa,region,inscritos,A,B,blancos,nulos\n1,Norte,100,60,30,5,5\n2,Sur,100,20,70,5,5\n")
    mapping = tmp_path / "tiny.toml"
    mapping.write_text(
        'name = "tiny"\n[election]\nname = "Tiny 2024"\ncontest = "president"\n'
        '[expected]\ntables = 5\nregistered = 500\nsource = "electoral roll of 1 May 2024"\n'
        '[columns]\nunit = "mesa"\nregistered = "inscritos"\nblank = "blancos"\nnull = "nulos"\n'
        '[levels]\nregion = "region"\n[choices]\ncolumns = ["A", "B"]\n')
    d = app.results(app.read([str(src)], mapping=str(mapping)), rule="majority").to_dict()
    c = d["completeness"]
    assert c["tables"] == {"counted": 2, "expected": 5, "share": 0.4} and c["note_kind"] == "official"
    assert c["note"] == "measured against the official totals: 5 tables, 500 registered voters (electoral roll of 1 May 2024)"
    assert d["verdict"]["explanation"].startswith("Provisional, 40.0% of tables counted (2 of 5)")
    other = tmp_path / "other.toml"
    other.write_text(mapping.read_text().replace("[expected]\n", '[expected]\ncontest = "senate"\n'))
    d = app.results(app.read([str(src)], mapping=str(other)), rule="majority").to_dict()
    assert d["completeness"]["tables"]["expected"] is None


def test_bundled_bolivia_mappings_declare_their_official_totals():
    r = run_json("results", EARLY_2020)
    assert r["completeness"]["note_args"] == {"source": "OEP, padrón 2020", "tables": 35600, "registered": 7332926}
    assert run_json("results", TREP_2019)["completeness"]["note_args"]["tables"] == 34555
