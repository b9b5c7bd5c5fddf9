"""Issue 24: the count-dynamics use cases are one function each in escrutinio.app.dynamics;
their ``.to_dict()`` is the command's JSON and their ``.summary()`` its text."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.app import dynamics
from escrutinio.cli import main
from escrutinio.dynamics.sources import read_snapshot
from escrutinio.errors import UsageError

DATA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"
T1940 = str(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
FINAL = str(DATA / "2019" / "computo_2019-10-25.csv.gz")
LINKED = str(DATA / "2019" / "mesas_2019_linked.csv.gz")
C2020 = str(DATA / "2020" / "computo_20201018T213655.csv.gz")


def _cli(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("command, call", [
    (["diff", T1940, FINAL], lambda: dynamics.diff(T1940, FINAL)),
    (["timeline", T1940, FINAL], lambda: dynamics.timeline([T1940, FINAL])),
    (["compare", LINKED, C2020], lambda: dynamics.compare(LINKED, C2020)),
    (["calibrate", "--elections", "5", "--simulations", "10"],
     lambda: dynamics.calibrate(elections=5, simulations=10)),
])
def test_answer_is_the_commands_json_and_text(command, call):
    answer = call()
    assert _cli(*command, "--format", "json") == json.dumps(answer.to_dict(), ensure_ascii=False) + "\n"
    assert _cli(*command) == answer.summary() + "\n"


def test_a_snapshot_already_read_gives_the_same_answer():
    a, b = read_snapshot(T1940), read_snapshot(FINAL)
    assert dynamics.diff(a, b).to_dict() == dynamics.diff(T1940, FINAL).to_dict()


def test_usage_errors_before_any_work():
    with pytest.raises(UsageError, match="--by or --group-by"):
        dynamics.compare(LINKED, C2020, by="department", group_by="area")
    with pytest.raises(UsageError, match="needs --places"):
        dynamics.compare(LINKED, C2020, group_by="area")
    with pytest.raises(UsageError, match="replays one file"):
        dynamics.timeline([T1940, FINAL], arrival="trep_arrival_pct")
    with pytest.raises(UsageError, match="no arrival-order column"):
        dynamics.backtest(T1940)


def test_python_api_dynamics_calls_equal_the_commands():
    """`escrutinio.diff` and `escrutinio.timeline` give the commands' JSON (app/dynamics.py)."""
    import json as _json
    from pathlib import Path as _Path

    from click.testing import CliRunner

    import escrutinio
    from escrutinio.cli import main as cli

    ex = _Path(__file__).resolve().parents[2] / "examples/bolivia/2020"
    a, b = str(ex / "computo_20201018T213655.csv.gz"), str(ex / "computo_20201019T013833.csv.gz")
    r = CliRunner().invoke(cli, ["diff", a, b, "--contest", "PRESIDENTE", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert escrutinio.diff(a, b, contest="PRESIDENTE").to_dict() == _json.loads(r.stdout)
    t = escrutinio.timeline([a, b], contest="PRESIDENTE")
    assert t.to_dict() and t.summary() and t.to_polars().height >= 1
