"""Issue 14 items 2 and 3: several files are never silently reduced to one, and a filter
that matches nothing is an error with the closest names, never 0 tables and exit 0."""
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio import app
from escrutinio.cli import main
from escrutinio.errors import UsageError

BOLIVIA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
FINAL_2019 = str(BOLIVIA / "2019" / "computo_2019-10-25.csv.gz")
EARLY_2020 = BOLIVIA / "2020" / "computo_20201018T232833.csv.gz"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok_json(*args):
    r = invoke(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def refused(*args) -> str:
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.output


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    """The 2019 final count split into two undated files by department."""
    folder = tmp_path_factory.mktemp("regions")
    lines = gzip.open(FINAL_2019, "rt", encoding="utf-8-sig").read().splitlines()
    header, rows = lines[0], lines[1:]
    la_paz = [r for r in rows if ",La Paz," in r]
    rest = [r for r in rows if ",La Paz," not in r]
    a, b = folder / "north.csv", folder / "rest.csv"
    a.write_text("\n".join([header, *la_paz]) + "\n", encoding="utf-8")
    b.write_text("\n".join([header, *rest]) + "\n", encoding="utf-8")
    return str(a), str(b), len(la_paz), len(rest)


def test_two_regional_files_without_combine_are_refused(regions):
    a, b, _, _ = regions
    out = refused("results", a, b)
    assert "--combine" in out and "--each-snapshot" in out and "rest.csv" in out


def test_two_regional_files_with_combine_add_up(regions):
    a, b, na, nb = regions
    r = ok_json("results", a, b, "--combine")
    whole = ok_json("results", FINAL_2019)
    assert r["units"] == na + nb == whole["units"] == 34555
    assert r["choices"] == whole["choices"] and r["verdict"]["outcome"] == "first_round_win"


def test_two_regional_files_each_snapshot_lists_both(regions):
    a, b, na, nb = regions
    r = ok_json("results", a, b, "--each-snapshot")
    assert [s["units"] for s in r["snapshots"]] == [na, nb]


def test_two_elections_are_refused():
    out = refused("results", FINAL_2019, EARLY_2020)
    assert "Bolivia 2019" in out and "Bolivia 2020" in out and "--each-snapshot" in out
    r = ok_json("results", FINAL_2019, EARLY_2020, "--each-snapshot")
    assert [s["election"] for s in r["snapshots"]] == ["Bolivia 2019", "Bolivia 2020"]


def test_dated_files_that_are_parts_are_refused(tmp_path):
    """Two exports with export times but no tables in common are parts, not successive."""
    first, second = _dated_halves(tmp_path)
    out = refused("results", first, second)
    assert "--combine" in out and "not successive exports" in out


def test_successive_exports_still_use_the_latest():
    paths = sorted(str(p) for p in (BOLIVIA / "2020").glob("computo_2020*"))
    r = ok_json("results", *paths)
    assert r["snapshot"].startswith("computo_20201019T123834.xlsx")


def test_check_never_compares_files_of_different_elections():
    r = ok_json("check", FINAL_2019, EARLY_2020)
    rules = {f["rule"] for f in r["findings"]}
    assert "present_in_later_snapshot" not in rules and "unchanged_between_snapshots" not in rules


def test_check_says_when_undated_files_cannot_be_ordered(regions):
    a, b, _, _ = regions
    r = ok_json("check", a, b)
    assert not [f for f in r["findings"] if f["rule"] == "present_in_later_snapshot"]
    assert any("no export time" in n for n in r["notes"])


# ------------------------------------------------------------------ filters
def test_filter_ignores_case_and_accents():
    exact = ok_json("results", FINAL_2019, "--filter", "department=Potosí")
    for spelling in ("Potosi", "potosi", "POTOSÍ", " potosí "):
        r = ok_json("results", FINAL_2019, "--filter", f"department={spelling}")
        assert r["units"] == exact["units"] > 2000
        assert r["filters"] == {"department": "Potosí"}


def test_filter_path_ignores_case_and_accents():
    r = ok_json("results", FINAL_2019, "--filter", "department=bolivia / santa cruz")
    assert r["filters"] == {"department": "Bolivia / Santa Cruz"} and r["units"] > 5000


def test_filter_that_matches_nothing_gives_exit_2_with_closest_names():
    out = refused("results", FINAL_2019, "--filter", "department=Potossi")
    assert "matches no table" in out and "Potosí" in out
    out = refused("report", FINAL_2019, "--filter", "department=Cochabamba x", "-o", "/dev/null")
    assert "Cochabamba" in out


def test_filters_that_match_nothing_together_give_exit_2():
    out = refused("results", FINAL_2019, "--filter", "country=Argentina", "--filter", "department=Potosí")
    assert "no table matches all of them" in out


def test_filter_on_an_unknown_level_gives_exit_2():
    out = refused("results", FINAL_2019, "--filter", "departamento=Potosí")
    assert "levels are" in out


def test_app_filters_accept_a_dict():
    res = app.results(app.read(FINAL_2019), filters={"department": "potosi"}, level=None)
    assert res.to_dict()["filters"] == {"department": "Potosí"}
    with pytest.raises(UsageError, match="closest"):
        app.results(app.read(FINAL_2019), filters={"department": "Potosu"})


def test_check_does_not_compare_dated_parts_as_successive_exports(tmp_path):
    first, second = _dated_halves(tmp_path)
    r = ok_json("check", first, second)
    assert not [f for f in r["findings"] if f["rule"] == "present_in_later_snapshot"]
    assert any("not successive exports" in n for n in r["notes"])


def _dated_halves(tmp_path):
    """The 23:28 export cut in two files with export times and no table in common."""
    lines = gzip.open(EARLY_2020, "rt", encoding="latin-1").read().splitlines()
    header, rows = lines[0], lines[1:]
    half = len(rows) // 2
    first, second = tmp_path / "computo_20201018T232833.csv", tmp_path / "computo_20201018T232900.csv"
    first.write_text("\n".join([header, *rows[:half]]) + "\n", encoding="latin-1")
    second.write_text("\n".join([header, *rows[half:]]) + "\n", encoding="latin-1")
    return first, second
