"""`escrutinio seats`: ad hoc and Bolivia preset, JSON contract, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main

DATA = Path(__file__).parents[2] / "examples" / "bolivia"


def run(*args):
    return CliRunner().invoke(main, ["seats", *map(str, args)])


def test_ad_hoc_json_contract():
    r = run("--method", "dhondt", "--seats", 8, "--votes", "A=100000,B=80000,C=30000,D=20000", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["chambers"]["ad hoc"]["total"] == {"A": 4, "B": 3, "C": 1}
    assert d["chambers"]["ad hoc"]["by_district"]["all"] == {"A": 4, "B": 3, "C": 1}


def test_ad_hoc_table_explains_last_seat():
    r = run("--method", "hare", "--seats", 8, "--votes", "A=100000,B=80000,C=30000,D=20000")
    assert r.exit_code == 0 and "A 3, B 3, C 1, D 1" in r.output and "remainder" in r.output


def test_ad_hoc_tie_is_visible():
    r = run("--seats", 1, "--votes", "A=10,B=10")
    assert r.exit_code == 0 and "UNDECIDED" in r.output
    r = run("--seats", 1, "--votes", "A=10,B=10", "--tie", "lot", "--seed", 4, "--format", "json")
    assert json.loads(r.output)["chambers"]["ad hoc"]["details"]["tie"]["resolved_by"] == "lot"


def test_bad_cli_input():
    assert run("--seats", 3, "--votes", "A=1.5,B=2").exit_code == 2
    assert run("--seats", 3, "--votes", "A=-1,B=2").exit_code == 2
    assert run("--seats", 3, "--votes", "A=0,B=0").exit_code == 2
    assert run("--votes", "A=1").exit_code == 2
    assert run("--method", "nope", "--seats", 1, "--votes", "A=1").exit_code == 2
    assert run("--preset", "bolivia").exit_code == 2


def test_preset_bolivia_2019_json():
    r = run(DATA / "2019" / "computo_2019-10-25.csv.gz", "--preset", "bolivia", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["chambers"]["senate"]["total"] == {"MAS - IPSP": 21, "CC": 14, "21F": 1}
    assert d["chambers"]["senate"]["by_district"]["Beni"] == {"MAS - IPSP": 2, "CC": 1, "21F": 1}
    assert set(d["chambers"]) == {"senate", "deputies"}
    bad = run(DATA / "2019" / "computo_2019-10-25.csv.gz", "--preset", "bolivia", "--option", "threshold=abc")
    assert bad.exit_code == 2


def test_seats_with_another_elections_roll_is_a_one_line_error():
    """Issue 28: the 2019 count with the 2020 roll shares no table."""
    from pathlib import Path

    from click.testing import CliRunner

    from escrutinio.cli import main

    data = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
    r = CliRunner().invoke(main, ["seats", str(data / "2019" / "computo_2019-10-25.csv.gz"), "--preset", "bolivia",
                                  "--roll", str(data / "2020" / "roll_2020.csv.gz")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "not this count's roll" in r.output and "roll_2020.csv.gz" in r.output


def test_python_api_seats_equal_the_command():
    """`escrutinio.seats` and `escrutinio.apportion` give the command's JSON (one use case, app/seats.py)."""
    import json

    from click.testing import CliRunner

    import escrutinio
    from escrutinio.cli import main

    computo = str(DATA / "2019/computo_2019-10-25.csv.gz")
    api = escrutinio.seats(computo).to_dict()
    cli = json.loads(CliRunner().invoke(main, ["seats", computo, "--preset", "bolivia", "--format", "json"]).stdout)
    assert api == cli
    frame = escrutinio.seats(computo).to_polars()
    assert set(frame.columns) == {"chamber", "choice", "seats"} and frame.height > 0
    adhoc = escrutinio.apportion({"A": 100000, "B": 80000, "C": 30000, "D": 20000}, 8)
    assert adhoc.to_dict()["chambers"]["ad hoc"]["total"] == {"A": 4, "B": 3, "C": 1}
