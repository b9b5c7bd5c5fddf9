"""The forensics use case is the command's (issue 24): its ``.to_dict()`` is `escrutinio
forensics --format json` and its ``.summary()`` the command's text; it reports progress
through a callback and writes the same HTML report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.app.forensics import definitions_of, forensics, progress_steps
from escrutinio.cli import main
from escrutinio.errors import UsageError

SMALL_2020 = Path(__file__).resolve().parents[2] / "examples/bolivia/2020/computo_20201018T232833.csv.gz"
OPTIONS = dict(contest="PRESIDENTE", seed=4, draws=50, placebo_sims=2, klimek=False)
ARGS = ["--contest", "PRESIDENTE", "--seed", "4", "--draws", "50", "--placebo-sims", "2", "--no-klimek"]


def _without_timings(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "timings"}


def test_use_case_is_the_command(tmp_path):
    steps = []
    run = forensics([str(SMALL_2020)], report=str(tmp_path / "r.html"),
                    progress=lambda advance=1, label_text=None: steps.append(advance), **OPTIONS)
    assert sum(steps) == progress_steps((), 2)
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!")
    as_json = CliRunner().invoke(main, ["forensics", str(SMALL_2020), *ARGS, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert set(doc["timings"]) == set(run.to_dict()["timings"])
    assert json.dumps(_without_timings(doc)) == json.dumps(_without_timings(run.to_dict()))
    as_text = CliRunner().invoke(main, ["forensics", str(SMALL_2020), *ARGS])
    assert as_text.output == run.summary() + "\n"
    assert run.n_units == run.battery.n_units      # the battery's fields stay reachable


def test_bounds_are_checked_before_reading(tmp_path):
    with pytest.raises(UsageError, match="--max-turnout and --max-share must be in"):
        forensics(["no-such-file.csv"], max_turnout=2)
    with pytest.raises(UsageError, match="definitions 'x'"):
        definitions_of("x")
    assert definitions_of(None) == definitions_of("escrutinio")
