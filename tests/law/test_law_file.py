"""Rules and chambers for any country as data (issue 14, item 6): a law TOML file (or a
mapping's [law] file) declares the presidential rule and the chambers; `seats` works for
any country's files, and a plain file's default rule is said, never silent."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import MappingError
from escrutinio.io import Mapping, read_election
from escrutinio.law import presidential
from escrutinio.law.lawfile import Law, load_law, seats_from_election

EX = Path(__file__).resolve().parents[2] / "examples" / "protocols_ru"
LAW = EX / "law_ru.toml"
MAPPING = EX / "protocols_ru.toml"
FINAL = EX / "protocols_ru_2024-03-18T09-00-00.csv"


def run(*args, code=0):
    r = CliRunner().invoke(main, [str(a) for a in args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    assert r.exit_code == code, r.output
    return r.output


def test_law_file_seats_by_cli():
    out = json.loads(run("seats", FINAL, "--mapping", MAPPING, "--preset", LAW, "--format", "json"))
    duma = out["chambers"]["duma"]
    assert sum(duma["total"].values()) == 225
    # Hare quota 498,179 / 225: whole quotas 111/50/39/22, remainders give Petrov,
    # Sidorova and Kuznetsov one more each
    assert duma["total"] == {"Иванов": 111, "Петров": 51, "Сидорова": 40, "Кузнецов": 23}
    councils = out["chambers"]["councils"]
    assert sum(councils["total"].values()) == 40
    assert councils["by_district"]["Южная область"] == {"Иванов": 5, "Петров": 2, "Сидорова": 1}
    assert out["law"]["name"] == "Protocols example law (fictional)"


def test_national_threshold_excludes_small_lists(tmp_path):
    law = Law.from_dict({"chambers": {"c": {"method": "dhondt", "seats": 100, "threshold": "11%"}}}, "t.toml")
    election = read_election([FINAL], mapping=str(MAPPING))
    res = seats_from_election(election, law)["c"]
    assert "Кузнецов" not in res.total  # 10.15% nationally
    assert sum(res.total.values()) == 100


def test_mapping_law_file_gives_rule_and_chambers(tmp_path):
    text = MAPPING.read_text(encoding="utf-8").replace('[law]\npreset = "majority"', f'[law]\nfile = "{LAW}"')
    m = tmp_path / "m.toml"
    m.write_text(text, encoding="utf-8")
    mapping = Mapping.from_toml(m)
    assert mapping.law_file == str(LAW) and mapping.preset == str(LAW)
    rule = presidential.preset(mapping.preset)
    assert rule.name == "Absolute majority of valid votes (fictional, example)"
    out = json.loads(run("seats", FINAL, "--mapping", m, "--format", "json"))
    assert set(out["chambers"]) == {"duma", "councils"}


def test_law_file_relative_to_mapping(tmp_path):
    (tmp_path / "law.toml").write_text(LAW.read_text(encoding="utf-8"), encoding="utf-8")
    text = MAPPING.read_text(encoding="utf-8").replace('[law]\npreset = "majority"', '[law]\nfile = "law.toml"')
    (tmp_path / "m.toml").write_text(text, encoding="utf-8")
    assert Mapping.from_toml(tmp_path / "m.toml").law_file == str(tmp_path / "law.toml")
    (tmp_path / "m2.toml").write_text(text.replace("law.toml", "nope.toml"), encoding="utf-8")
    with pytest.raises(MappingError, match="not found"):
        Mapping.from_toml(tmp_path / "m2.toml")


def test_plain_file_without_rules_is_told_what_to_give():
    out = run("seats", FINAL, "--mapping", MAPPING, code=2)
    assert "--preset LAW.toml" in out


@pytest.mark.parametrize("doc,needle", [
    ({}, "declares [presidential]"),
    ({"chambers": {"c": {"seats": 10}}}, "needs method"),
    ({"chambers": {"c": {"method": "dhondt"}}}, "needs seats"),
    ({"chambers": {"c": {"method": "dhondt", "district_level": "region"}}}, "needs magnitudes"),
    ({"chambers": {"c": {"method": "dhondt", "seats": 5, "district_level": "r", "magnitudes": {"a": 2}}}}, "add up to 2"),
    ({"chambers": {"c": {"method": "nope", "seats": 5}}}, "nope"),
    ({"chambers": {"c": {"method": "dhondt", "seats": 5, "threshold": "five"}}}, "threshold must look like"),
])
def test_malformed_law_files(doc, needle):
    with pytest.raises(MappingError, match=needle.replace("[", r"\[")):
        Law.from_dict(doc, "law.toml")


def test_district_without_magnitude_is_an_error(tmp_path):
    law = Law.from_dict({"chambers": {"c": {"method": "dhondt", "district_level": "region",
                                            "magnitudes": {"Западный край": 10}}}}, "t.toml")
    election = read_election([FINAL], mapping=str(MAPPING))
    with pytest.raises(Exception, match="no magnitude for districts"):
        seats_from_election(election, law)


def test_default_rule_is_said():
    rule = presidential.resolve(None, None)
    v = rule.decide({"A": 60, "B": 40})
    assert v.outcome == "winner" and "No presidential rule is declared" in v.explanation
    declared = presidential.resolve(None, "plurality").decide({"A": 60, "B": 40})
    assert "No presidential rule is declared" not in declared.explanation
    assert presidential.resolve("majority").name.startswith("Absolute majority")
    assert presidential.preset(str(LAW)).clauses[0].article == "example art. 1"


def test_results_say_when_plurality_is_only_the_default(tmp_path):
    demo = Path(__file__).resolve().parents[2] / "examples" / "forensics_demo"
    text = (demo / "freedonia.toml").read_text(encoding="utf-8").replace('[law]\npreset = "majority"\n', "")
    m = tmp_path / "m.toml"
    m.write_text(text, encoding="utf-8")
    out = run("results", demo / "freedonia_2025.csv", "--mapping", m).lower()
    assert "no presidential rule is declared" in out
    explicit = run("results", demo / "freedonia_2025.csv", "--mapping", m, "--rule", "plurality").lower()
    assert "no presidential rule is declared" not in explicit
    declared = run("results", demo / "freedonia_2025.csv", "--mapping", demo / "freedonia.toml")
    assert "no presidential rule is declared" not in declared.lower() and "Absolute majority" in declared
