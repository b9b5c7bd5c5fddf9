"""Generated data of Russia's shape (precinct protocols, 14 parties, regions and their
territorial commissions, remote e-voting rows without a UIK) read through the bundled
russia-duma-2021 mapping, as the real files are (issue 29). Tests never read ../shared."""
import csv
import json
import zipfile
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import UsageError
from escrutinio.io.mapping import Mapping


def _mapping() -> Mapping:
    return Mapping.from_toml(str(resources.files("escrutinio.mappings") / "russia_duma_2021.toml"))


def write_protocols(path, n_regions=6, tiks=5, uiks=30, seed=3, zero_registered=2):
    """A zipped CSV with the 2021 file's header: regions of tiks x uiks precincts, rolls of
    100-2,500 voters, 14 parties and two remote e-voting rows with an empty UIK."""
    from escrutinio.forensics.simulate import simulate_fair

    m = _mapping()
    rng = np.random.default_rng(seed)
    n = n_regions * tiks * uiks
    reg = rng.integers(100, 2500, n)
    d = simulate_fair(reg, mu_t=0.55, sd_t=0.12, mu_v=0.5, sd_v=0.1, n_choices=14, valid_rate=0.98, seed=seed)
    issued = m.total_sums["emitted"]
    header = ["level", "region", "oik", "tik", "uik", m.totals["registered"], *issued, m.totals["null"],
              m.totals["valid"], *m.choices, "url"]
    rows = []
    for i in range(n):
        r, t, u = i // (tiks * uiks), (i // uiks) % tiks, i % uiks
        early = rng.binomial(d.emitted[i], 0.05)
        outside = rng.binomial(d.emitted[i] - early, 0.1)
        regd = 0 if i < zero_registered else int(d.registered[i])
        em = 0 if i < zero_registered else int(d.emitted[i])
        votes = [0] * 14 if i < zero_registered else d.votes[i].tolist()
        valid = sum(votes)
        rows.append(["ЦИК России", f"Регион {r}", f"ОИК №{r}", f"ТИК {r}-{t}", f"УИК №{i + 1}", regd,
                     0 if i < zero_registered else early, 0 if i < zero_registered else em - early - outside,
                     0 if i < zero_registered else outside, em - valid, valid, *votes, "http://example.org"])
    for r in range(2):   # remote e-voting: one row per district, no UIK
        votes = rng.multinomial(20000, [1 / 14] * 14).tolist()
        rows.append(["ЦИК России", f"Регион {r}", f"ОИК №{r}", "Дистанционное электронное голосование", "", 30000,
                     0, 20100, 0, 100, 20000, *votes, ""])
    with zipfile.ZipFile(path, "w") as z, z.open("2021.csv", "w") as f:
        text = [",".join(f'"{c}"' if ("," in str(c) or '"' in str(c)) and not str(c).startswith('"') else str(c)
                         for c in header)]
        import io
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        f.write(buf.getvalue().encode("utf-8"))
        del text
    return path


@pytest.fixture(scope="module")
def protocols(tmp_path_factory):
    return write_protocols(tmp_path_factory.mktemp("ru") / "2021.csv.zip")


def _run(*args):
    res = CliRunner().invoke(main, ["forensics", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


def test_bundled_mapping_reads_the_layout_as_it_is(protocols):
    from escrutinio.cli.forensics import load_data

    d = load_data([str(protocols)])   # detected from the header: no --mapping
    assert d.n == 6 * 5 * 30 + 2 and len(d.choices) == 14
    assert "Единая Россия" in d.choices
    assert set(d.groups) >= {"region", "tik", "uik"}
    # the remote e-voting rows are kept, keyed by region/district
    assert sum(u.endswith("/") for u in d.units) == 2


def test_min_tables_and_skipped_areas_are_listed(protocols):
    out = _run(protocols, "--by", "tik", "--min-tables", "40", "--placebo-sims", "0", "--no-klimek",
               "--draws", "50").output
    # 30 tiks of 30 precincts and two e-voting "tiks" of one row (in two regions: two areas,
    # not one, although they share a name): all left out, and listed
    assert "Areas (tik): 0 tested; 32 left out for having fewer than 40 tables (--min-tables)" in out
    d = json.loads(_run(protocols, "--by", "tik", "--min-tables", "30", "--placebo-sims", "0", "--no-klimek",
                        "--draws", "50", "--format", "json").output)
    assert d["min_area_tables"] == 30
    assert {a["tables"] for a in d["areas_skipped"]} == {1} and len(d["areas_skipped"]) == 2
    assert len({t["scope"] for t in d["tests"] if t["scope"] != "all"}) == 30


def test_eftoolkit_counts_tables_without_registered_voters(protocols):
    d = json.loads(_run(protocols, "--definitions", "eftoolkit", "--placebo-sims", "0", "--no-klimek",
                        "--draws", "50", "--format", "json").output)
    tests = {t["name"]: t for t in d["tests"] if t["scope"] == "all"}
    # every table's ballot count of at least 10 enters the digit tests: the two tables
    # with 0 registered voters have 0 ballots, so they are counted among the counts below 10
    assert tests["2bl_mean"]["excluded"].get("counts below 10") == 2
    assert "stations without registered voters" not in tests["2bl_mean"]["excluded"]
    # the dip test on the raw turnouts, with no seed dependence
    other = json.loads(_run(protocols, "--definitions", "eftoolkit", "--placebo-sims", "0", "--no-klimek",
                            "--draws", "50", "--seed", "7", "--format", "json").output)
    dips = {t["name"]: t["p_value"] for t in other["tests"] if t["name"].endswith("_dip")}
    assert dips == {k: tests[k]["p_value"] for k in dips}
    assert "raw ratios" in tests["turnout_dip"]["null"]


def test_python_api_bounds_are_usage_errors(protocols):
    from escrutinio.cli.forensics import load_data
    from escrutinio.forensics.battery import run_battery
    from escrutinio.forensics.placebo import placebo_simulated

    d = load_data([str(protocols)])
    for kw in ({"draws": -3}, {"seed": -1}, {"draws": 5}, {"area_draws": 0}, {"seed": 1.5}):
        with pytest.raises(UsageError):
            run_battery(d, klimek=False, outliers=False, **kw)
    with pytest.raises(UsageError):
        placebo_simulated(d, n_sims=-1)


def test_placebo_hint_names_the_option():
    from escrutinio.cli.forensics import placebo_hint

    assert placebo_hint(90.0, 100.0, 20).startswith("hint: the 20 placebo copies took 90 s of 100 s; --placebo-sims")
    assert "took 45.0 min of 50.0 min" in placebo_hint(2700.0, 3000.0, 20)
    assert placebo_hint(10.0, 100.0, 20) is None      # the placebo does not dominate
    assert placebo_hint(5.0, 6.0, 20) is None         # short runs need no hint
    assert placebo_hint(0.0, 100.0, 0) is None
