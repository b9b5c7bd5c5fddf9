"""The 2019 cómputo's Holm decisions must not move with the speed work (issue 16).

Recorded on commit 84d7511 (before the speed work) with the default CLI run
(``escrutinio forensics examples/bolivia/2019/computo_2019-10-25.csv.gz --format json``,
seed 0, 20 simulated placebo copies) and with ``run_battery(by="department", seed=0)``:
no test of the multiple-testing family passes Holm at 5 %, nationally or in any
department (smallest adjusted p: leader_share_dip in Chuquisaca and Potosí, 0.17).
The observed counts below are deterministic (no Monte-Carlo), so they must match exactly.
"""
import json
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main

COMPUTO_2019 = Path(__file__).parents[2] / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"

FAMILY_2019 = {"2bl_mean", "2bl_distribution", "last_digit_distribution", "last_digit_mean", "last_digit_zero_five",
               "last_pair_repeated", "last_pair_adjacent", "turnout_dip", "leader_share_dip", "p05_turnout",
               "p05_leader", "integer_pct_turnout", "integer_pct_leader", "integer_pct_either",
               "coarse_spikes_turnout", "coarse_spikes_leader", "coarse_spikes_either"}
HOLM_SIGNIFICANT_2019: set[str] = set()   # recorded before the speed work: none
AREA_HOLM_SIGNIFICANT_2019: set[tuple[str, str]] = set()
OBSERVED_INTEGER = (3277, 3438, 6363)   # turnout, leader, either


def test_default_cli_decisions_on_2019_are_unchanged():
    res = CliRunner().invoke(main, ["forensics", str(COMPUTO_2019), "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    national = [t for t in d["tests"] if t["scope"] == "all"]
    assert {t["name"] for t in national if t["in_family"]} == FAMILY_2019
    significant = {t["name"] for t in national if t["in_family"] and t["p_adjusted"] < 0.05}
    assert significant == HOLM_SIGNIFICANT_2019
    # exact counts, no Monte-Carlo involved (recorded before the speed work)
    ip = d["integer_percentages"]
    assert (ip["turnout"]["observed"], ip["leader"]["observed"], ip["either"]["observed"]) == OBSERVED_INTEGER
    assert set(d["placebo"]) == {"simulated"} and d["placebo"]["simulated"]["runs"] == 20


def test_area_decisions_on_2019_are_unchanged():
    from escrutinio.cli.forensics import load_data
    from escrutinio.forensics.battery import run_battery

    data = load_data([str(COMPUTO_2019)], "PRESIDENTE")
    r = run_battery(data, by="department", seed=0, klimek=False, outliers=False)
    area = [t for t in r.tests if t.scope != "all"]
    assert len({t.scope for t in area}) == 10   # nine departments and Buenos Aires
    assert {(t.name, t.scope) for t in area if t.p_adjusted is not None and t.p_adjusted < 0.05} \
        == AREA_HOLM_SIGNIFICANT_2019
