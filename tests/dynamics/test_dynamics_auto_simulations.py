"""Issue 25, "Seed stability": without a number of simulations the projection sizes them
from a pilot's stated Monte Carlo error (projection.auto); an explicit number is kept."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.dynamics.projection import auto, project
from escrutinio.dynamics.projection.auto import simulations_needed
from escrutinio.dynamics.projection.result import SEED_RANGE_10

from test_dynamics_seed_stability import CHOICES, LEVELS, _election

RU = Path(__file__).parents[2] / "examples" / "protocols_ru"


def _project(part, roll, simulations):
    return project(part, roll, CHOICES, levels=LEVELS, model="multilevel", simulations=simulations, seed=3)


def test_the_rule_follows_the_stated_error():
    # S = S0 (1.5 x 3.08 x se / 0.05)^2, rounded up to a thousand
    assert simulations_needed(0.031, 2000) == 17000  # 16,410 -> 17,000 (H3 from the roll alone)
    assert simulations_needed(0.031, 2000, safety=1.0) == 8000  # the stated simulations_for_0.05
    assert simulations_needed(0.002, 2000) == 2000  # the pilot is enough: it is kept (run_auto)
    assert simulations_needed(0.0, 2000) == 2000
    se = 0.05 / (1.5 * SEED_RANGE_10)  # exactly the target at the pilot
    assert simulations_needed(se, 2000) == 2000


def test_auto_runs_what_the_pilot_asks_and_reports_it(monkeypatch):
    part, roll = _election()
    pilot = _project(part, roll, 200)  # what the pilot of the automatic run is
    se0 = pilot.monte_carlo["max_bound_se"]
    need = simulations_needed(se0, 200)
    assert need > 600  # this small election needs more than the bounds below allow
    runs = []
    orig = auto.run_auto

    def spy(run, **kw):
        return orig(lambda S: runs.append(S) or run(S), **kw)

    monkeypatch.setattr(auto, "run_auto", spy)
    monkeypatch.setattr(auto, "PILOT_SIMULATIONS", 200)
    # the target met below the cap: the count is the pilot's figure, seed unchanged
    monkeypatch.setattr(auto, "MAX_SIMULATIONS", 10 ** 6)
    monkeypatch.setattr(auto, "SEED_RANGE_TARGET", 0.05 * (need / 600) ** 0.5)
    r = _project(part, roll, None)
    a = r.monte_carlo["auto"]
    assert a["pilot_max_bound_se"] == pytest.approx(se0)
    assert a["needed"] == simulations_needed(se0, 200) and 200 < a["needed"] <= 1000
    assert runs == [200, a["needed"]] and r.simulations == a["needed"] and not a["capped"]
    assert r.seed == 3 and "CAP" not in r.summary() and "chosen automatically" in r.summary()
    # the cap binds: said plainly in the note, the summary and the JSON
    runs.clear()
    monkeypatch.setattr(auto, "SEED_RANGE_TARGET", 0.05)
    monkeypatch.setattr(auto, "MAX_SIMULATIONS", 400)
    r = _project(part, roll, None)
    a = r.monte_carlo["auto"]
    assert runs == [200, 400] and r.simulations == 400 and a["capped"] and a["needed"] == need
    assert "THE CAP OF 400 BINDS" in r.summary() and any("CAP OF 400 BINDS" in n for n in r.notes)
    assert a["expected_range_over_10_seeds_with_safety"] > 0.05
    assert json.loads(json.dumps(r.to_dict()["monte_carlo"]["auto"]))["capped"] is True
    # a pilot that is enough is the result: no second run
    runs.clear()
    monkeypatch.setattr(auto, "SEED_RANGE_TARGET", 100.0)
    r = _project(part, roll, None)
    assert runs == [200] and r.simulations == 200 and r.monte_carlo["auto"]["simulations"] == 200


def test_an_explicit_number_is_kept(monkeypatch):
    part, roll = _election()
    monkeypatch.setattr(auto, "run_auto", lambda *a, **k: pytest.fail("explicit simulations ran the pilot"))
    r = _project(part, roll, 300)
    assert r.simulations == 300 and "auto" not in r.monte_carlo
    assert not any("chosen automatically" in n for n in r.notes)


def test_the_command_without_simulations_chooses_them(monkeypatch):
    partial, final = RU / "protocols_ru_2024-03-17T21-00-00.csv", RU / "protocols_ru_2024-03-18T09-00-00.csv"
    mapping = RU / "protocols_ru.toml"
    monkeypatch.setattr(auto, "PILOT_SIMULATIONS", 100)
    monkeypatch.setattr(auto, "MAX_SIMULATIONS", 300)
    args = ["project", str(partial), "--mapping", str(mapping), "--roll", str(final), "--format", "json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    a = d["monte_carlo"]["auto"]
    assert a["pilot_simulations"] == 100 and d["simulations"] == a["simulations"] <= 300
    assert any("chosen automatically" in n for n in d["notes"])
    res = CliRunner().invoke(main, args + ["--simulations", "150"])
    d = json.loads(res.stdout)
    assert d["simulations"] == 150 and "auto" not in d["monte_carlo"]
    res = CliRunner().invoke(main, args[:-2])  # the text summary says it too
    assert "chosen automatically" in res.stdout and "were chosen from a pilot of 100" in res.stdout
