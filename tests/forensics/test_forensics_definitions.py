"""--definitions kobak / eftoolkit and --leader-share on small generated files whose answers
are computed by hand and differ from escrutinio's default (issue 16 item 3, issue 14 item 5)."""
import json

from click.testing import CliRunner

from escrutinio.cli import main

HEADER = "Acta,Provincia,Municipio,Escuela,Inscritos,Partido Azul,Unión Roja,Verdes,Otros,Blancos,Nulos,Votantes"
MAPPING = """name = "tiny"
{extra}
[source]
format = "csv"
encoding = "utf-8"
delimiter = ","
[election]
name = "Tiny"
contest = "President"
[law]
preset = "majority"
[columns]
unit = "Acta"
registered = "Inscritos"
blank = "Blancos"
null = "Nulos"
emitted = "Votantes"
[levels]
{levels}
[choices]
columns = ["Partido Azul", "Unión Roja", "Verdes", "Otros"]
"""
LEVELS = 'province = "Provincia"\nmunicipality = "Municipio"\npolling_place = "Escuela"'


def _write(tmp_path, rows, levels=LEVELS, extra=""):
    csv = tmp_path / "tiny.csv"
    lines = [HEADER]
    for i, (reg, a, b, c, d, blank, null) in enumerate(rows):
        emitted = a + b + c + d + blank + null
        lines.append(f"T{i:03d},P{i // 8},M{i // 4},E{i // 4},{reg},{a},{b},{c},{d},{blank},{null},{emitted}")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    toml = tmp_path / "tiny.toml"
    toml.write_text(MAPPING.format(levels=levels, extra=extra), encoding="utf-8")
    return csv, toml


def _run(csv, toml, *args):
    res = CliRunner().invoke(main, ["forensics", str(csv), "--mapping", str(toml), "--draws", "50", "--placebo-sims",
                                    "0", "--no-klimek", "--format", "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _integer_rows():
    # 40 tables of 200 registered voters; A leads. Turnout, valid share and ballot share:
    #  0- 9: 100 ballots (50 %), valid 90, A 40: 44.4 % of valid, 40.0 % of ballots
    # 10-19: 120 ballots (60 %), valid 120, A 60: 50.0 % of both
    # 20-29: 133 ballots (66.5 %), valid 127, A 57: 44.9 % and 42.9 %
    # 30-39: 200 ballots (100 %), valid 196, A 98: 50.0 % of valid, 49.0 % of ballots
    return ([(200, 40, 30, 20, 0, 5, 5)] * 10 + [(200, 60, 40, 20, 0, 0, 0)] * 10
            + [(200, 57, 40, 30, 0, 3, 3)] * 10 + [(200, 98, 60, 38, 0, 2, 2)] * 10)


def _observed(d, key="integer_percentages"):
    ip = d[key]
    return ip["turnout"]["observed"], ip["leader"]["observed"], ip["either"]["observed"]


def test_kobak_definitions_change_integer_percentages_by_hand(tmp_path):
    csv, toml = _write(tmp_path, _integer_rows())
    default = _run(csv, toml)
    # default: tables 30-39 are dropped (turnout above 99 %); integer turnout: 0-19;
    # integer share of valid votes: 10-19 only
    assert _observed(default) == (20, 10, 20)
    assert default["integer_percentages"]["n_units"] == 30
    kobak = _run(csv, toml, "--definitions", "kobak")
    # kobak: >= 100 registered and Kobak's cap (turnout and share at most 99 %): tables
    # 30-39 (100 %) are left out; turnout 0-19; share of ballots: 0-9 (40 %), 10-19 (50 %)
    assert _observed(kobak) == (20, 20, 20)
    assert kobak["integer_percentages"]["n_units"] == 30
    assert kobak["definitions"]["share_of"] == "valid+invalid"
    assert kobak["filter"] == {"min_registered": 100, "max_turnout": 0.99, "max_share": 0.99}
    # without the cap, tables 30-39 come back: turnout 100 %, share of ballots 49 %
    uncapped = _run(csv, toml, "--definitions", "kobak", "--max-turnout", "1", "--max-share", "1")
    assert _observed(uncapped) == (30, 30, 30)
    assert uncapped["integer_percentages"]["n_units"] == 40
    # the denominator alone, with the default filter: 0-9 (40 % of ballots) and 10-19
    only_share = _run(csv, toml, "--leader-share", "valid+invalid")
    assert _observed(only_share) == (20, 20, 20)


def test_eftoolkit_definitions_by_hand(tmp_path):
    # 40 tables of 200 registered voters, turnout 50.5 %, 54.5 %, 75 % and 100 %:
    # R's round(50.5) = 50 (ends in 0), round(54.5) = 54; half-up gives 51 and 55.
    rows = ([(200, 50, 30, 20, 0, 1, 0)] * 10 + [(200, 54, 33, 21, 0, 1, 0)] * 10
            + [(200, 74, 45, 30, 0, 1, 0)] * 10 + [(200, 98, 60, 40, 0, 2, 0)] * 10)
    csv, toml = _write(tmp_path, rows)
    default = _run(csv, toml)
    eft = _run(csv, toml, "--definitions", "eftoolkit")
    p05 = {d["definitions"]["name"]: next(t for t in d["tests"] if t["name"] == "p05_turnout")["statistic"]
           for d in (default, eft)}
    # default (half-up, tables 0-29): 55 % and 75 % -> 20 of 30; eftoolkit (half-even, all
    # 40): 50 %, 75 % and 100 % -> 30 of 40. A share of tables, as last_digit_zero_five is
    # a share of counts
    assert p05 == {"escrutinio": 20 / 30, "eftoolkit": 30 / 40}
    units = {t["name"]: t["unit"] for t in eft["tests"]}
    assert units["p05_turnout"] == "share of tables" and units["last_digit_zero_five"] == "share of counts"
    # 2BL on each table's ballot count: second digits of 101, 109, 150, 200 are 0, 0, 5, 0
    two_bl = next(t for t in eft["tests"] if t["name"] == "2bl_mean")
    assert two_bl["statistic"] == (0 * 10 + 0 * 10 + 5 * 10 + 0 * 10) / 40 and two_bl["n_units"] == 40
    assert next(t for t in default["tests"] if t["name"] == "2bl_mean")["n_units"] > 40   # (table, choice) counts
    # kurtosis not in excess, on all 40 turnouts: deviations from the mean 0.7 are
    # -0.195, -0.155, 0.05, 0.3 (ten tables each)
    dev = [-0.195, -0.155, 0.05, 0.3]
    m2 = sum(x ** 2 for x in dev) / 4
    m4 = sum(x ** 4 for x in dev) / 4
    kurt = next(t for t in eft["tests"] if t["name"] == "turnout_kurtosis")["statistic"]
    assert abs(kurt - m4 / m2 ** 2) < 1e-9
    skew = next(t for t in eft["tests"] if t["name"] == "turnout_skewness")["statistic"]
    assert abs(skew - sum(x ** 3 for x in dev) / 4 / m2 ** 1.5) < 1e-9     # population skewness


def test_outlier_levels_come_from_the_mapping(tmp_path):
    # identical tallies in one "site" (not a level name forensics knew before): found when
    # the mapping declares place_level; when nothing is known, the output says they were skipped
    rows = [(200, 60 + i, 40, 20, 5, 2, 1) for i in range(16)]
    rows[5] = rows[4]
    levels = 'region = "Provincia"\ncommune = "Municipio"\nsite = "Escuela"'
    csv, toml = _write(tmp_path, rows, levels=levels, extra='place_level = "site"\narea_level = "commune"')
    d = _run(csv, toml)
    kinds = {(o["unit"], o["kind"]) for o in d["outliers"]}
    assert ("T004", "identical_tally") in kinds and ("T005", "identical_tally") in kinds
    assert d["outlier_note"] is None
    (tmp_path / "undeclared").mkdir()
    csv, toml = _write(tmp_path / "undeclared", rows, levels=levels)
    d = _run(csv, toml)
    assert not any(o["kind"] == "identical_tally" for o in d["outliers"])
    assert "skipped" in d["outlier_note"] and "place_level" in d["outlier_note"]
    res = CliRunner().invoke(main, ["forensics", str(csv), "--mapping", str(toml), "--draws", "50", "--placebo-sims",
                                    "0", "--no-klimek"])
    assert res.exit_code == 0 and "were skipped" in res.output
