"""Issue 15: projections that stay honest when the count is not random (Bolivia 2020's
urban-first count), and issue 14 item 6 (``--mapping`` for project, diff, timeline,
compare; a roll that need not use Bolivia's column names)."""
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escrutinio.app.projection import project as app_project
from escrutinio.app.projection import roll_levels
from escrutinio.cli import main
from escrutinio.dynamics import multilevel as ml
from escrutinio.dynamics.backtest import backtest_snapshots
from escrutinio.dynamics.projection import previous_place_rates, project
from escrutinio.dynamics.sources import read_places, read_roll, read_snapshot
from escrutinio.dynamics.urban_first import (UF_CHOICES, UF_LEVELS, UF_STRATA, simulated_urban_first,
                                             urban_first_study)
from escrutinio.errors import UsageError

DATA = Path(__file__).parents[2] / "examples" / "bolivia"
RU = Path(__file__).parents[2] / "examples" / "protocols_ru"
FINAL_MAS = 55.10  # official 2020 result, MAS-IPSP share of valid votes (quoted, not in the bundled data)
EXPORTS = sorted((DATA / "2020").glob("computo_2020*"))
SIMS = 1000


@pytest.fixture(scope="module")
def projections_2020():
    """The ten acceptance projections: five exports x without / with the 2019 election,
    with the roll and the polling places (area type, municipality, density)."""
    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    ps = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    prev = previous_place_rates(ps.frame, ps.choices)
    out = {}
    for path in EXPORTS:
        snap = read_snapshot(path)
        for label, pv in (("none", None), ("previous", prev)):
            out[(path.name, label)] = app_project(snap, roll, pv, 0, places=places, simulations=SIMS).result
    return out


def _key(i, label):
    return (EXPORTS[i].name, label)


# What the multilevel model gives on the five exports (1,000 simulations, seed 0), with the
# polling places' coordinates (log voters within 5 km as a place covariate, and the prior
# of the order's selection measured net of it on the 2019 count orders). The misses are
# recorded, not hidden: strict xfail fails the suite the day they pass. Without a previous
# election the intervals from 5,000 tables are about +-8 points, and with it +-3.4 at 08:18:
# what the covariates leave of the order's selection (r about 0.12) is still a bias of
# several points at 16% counted that no model can locate.
MISSES: set = set()
TOO_WIDE = {_key(3, "none"), _key(3, "previous"), _key(4, "none")}


@pytest.mark.parametrize("i", range(5))
@pytest.mark.parametrize("label", ["none", "previous"])
def test_2020_interval_of_mas_covers_the_final(projections_2020, i, label, request):
    if _key(i, label) in MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="urban-first bias the strata do not explain"))
    s = projections_2020[_key(i, label)].shares["MAS_IPSP"]
    assert s["lo"] <= FINAL_MAS <= s["hi"]


@pytest.mark.parametrize("i", [3, 4])
@pytest.mark.parametrize("label", ["none", "previous"])
def test_2020_intervals_from_5000_tables_are_at_most_3_points(projections_2020, i, label, request):
    if _key(i, label) in TOO_WIDE:
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="the selection term: +-3.4 to +-8 points, honest for an order with r of about 0.12"))
    r = projections_2020[_key(i, label)]
    assert r.counted_units >= 5000
    s = r.shares["MAS_IPSP"]
    assert (s["hi"] - s["lo"]) / 2 <= 3.0


def test_2020_wrong_winner_never_gets_090(projections_2020):
    for key, r in projections_2020.items():
        for k, p in r.outcome_probabilities.items():
            if k.startswith("winner:") and k != "winner:MAS_IPSP":
                assert p < 0.9, (key, k, p)


def test_2020_summary_says_where_the_uncounted_voters_are(projections_2020):
    r = projections_2020[_key(1, "none")]
    e = r.extrapolation
    assert e["stratum"] == "area x department" and e["k"] == 10
    assert 0.2 < e["share_few"] < 0.4 and e["by"]["ruralaislado"]["share_none"] == 1.0
    text = r.summary()
    assert "of uncounted voters are in area x department strata with fewer than 10 counted tables" in text
    assert "ruralaislado 100%" in text
    assert r.multilevel["strata"] == ["area", "department", "municipality"]
    assert r.multilevel["selection"]["r_scale"] == ml.SELECTION_R_GIVEN_REMOTENESS and "--selection-r 0" in text
    assert r.multilevel["covariates"] == ["log place size", "log density", "log voters_5km"]
    assert 0 < r.multilevel["selection"]["sd_uncounted_rate"]["MAS_IPSP"] < 0.2
    d = r.to_dict()
    assert set(d["choices"]["MAS_IPSP"]) == {"share", "lo", "hi"} and {"point", "lo", "hi"} <= set(d["lead"])


def test_2019_without_area_types_is_measured_and_gets_the_settlement_model():
    """2019's roll has no area type. Issue 25: the counted tables at 19:40 are measured
    against the uncounted ones on what the roll holds; they are unlike them (the late
    tables are in small settlements), so the default is the multilevel model by
    settlement size, whose interval covers the final lead of 10.56. The hot deck, asked
    for, is the one documented in docs/dynamics.md (tests in test_dynamics_projection)."""
    trep = read_snapshot(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
    roll = read_roll(DATA / "2019" / "computo_2019-10-25.csv.gz")
    r = app_project(trep, roll, simulations=200, seed=7).result
    assert r.representativeness["unrepresentative"]
    assert r.multilevel is not None and r.multilevel["strata"] == ["settlement", "department", "municipality"]
    assert r.lead["lo"] <= 10.5649 <= r.lead["hi"]
    hd = app_project(trep, roll, simulations=200, seed=7, model="hotdeck").result
    assert hd.method.startswith("hierarchical hot-deck") and hd.multilevel is None
    assert hd.extrapolation["stratum"] == "municipality"
    # the hot deck borrows donors: its summary does not claim the strata's variation widens it
    assert "the hot deck imputes them from counted tables of a wider area" in hd.extrapolation_text()
    assert "variation between strata" not in hd.extrapolation_text()


def test_probability_from_under_one_percent_of_tables_says_how_few():
    f = simulated_urban_first(3).sort("arrival")
    roll = f.select("unit", *UF_LEVELS, "area", "registered")
    part = f.head(8)  # 0.5% of the tables
    r = project(part, roll, list(UF_CHOICES), levels=UF_LEVELS, simulations=300, seed=0, model="hotdeck")
    assert r.counted_units / r.expected_units < 0.01
    big = [k for k, p in r.outcome_probabilities.items() if p > 0.99]
    note = r.few_tables_note()
    assert note.startswith(f"from only {r.counted_units} of {r.expected_units:,} tables")
    if big:
        assert any("come from only" in n for n in r.notes)
        assert note in r.summary()


def test_unseen_stratum_draws_between_stratum_variation():
    """A stratum with nothing counted is uncertain by the variation between strata: the
    same election projected with one area type unseen gives a wider interval than with it
    seen, and the wider interval covers the truth."""
    f = simulated_urban_first(5)
    roll = f.select("unit", *UF_LEVELS, "area", "registered")
    rng = np.random.default_rng(0)
    counted = f.filter(pl.Series(rng.random(f.height) < 0.4))
    # the count here is random within strata: the selection term is off, to see the
    # between-stratum draw alone
    seen = project(counted, roll, list(UF_CHOICES), levels=UF_LEVELS, strata=list(UF_STRATA), simulations=400, seed=1,
                   selection_r=0)
    unseen = project(counted.filter(pl.col("area") != "ruralaislado"), roll, list(UF_CHOICES), levels=UF_LEVELS,
                     strata=list(UF_STRATA), simulations=400, seed=1, selection_r=0)
    width = lambda r: r.shares["A"]["hi"] - r.shares["A"]["lo"]  # noqa: E731
    assert width(unseen) > 1.5 * width(seen)
    assert unseen.extrapolation["by"]["ruralaislado"]["share_none"] == 1.0
    truth = 100 * f["A"].sum() / f.select(list(UF_CHOICES)).sum().to_numpy().sum()
    assert unseen.shares["A"]["lo"] <= truth <= unseen.shares["A"]["hi"]


def test_order_selection_recovers_a_known_propensity_correlation():
    """Tables counted in the order of a normal propensity correlated r = -0.3 with the
    vote: the measured r is -0.3 at every cut (Meng's rho is not: it shrinks as f -> 0)."""
    from escrutinio.dynamics.order_selection import order_selection

    rng = np.random.default_rng(0)
    n = 200_000
    z = rng.standard_normal(n)
    propensity = -0.3 * z + np.sqrt(1 - 0.09) * rng.standard_normal(n)
    frame = pl.DataFrame({"stratum": rng.integers(0, 20, n), "registered": np.full(n, 200),
                          "votes": (200 * (0.5 + 0.1 * z)).round(6), "order": -propensity})
    o = order_selection(frame, "order", "votes", ["stratum"], cuts=(2.5, 16, 50, 90))
    assert all(abs(x["r"] + 0.3) < 0.02 for x in o.rows), o.summary()
    assert abs(o.rows[0]["rho"]) < abs(o.rows[2]["rho"]) and abs(o.r_rms - 0.3) < 0.02
    # places of 50 tables whose vote is the place's plus table noise of the same variance:
    # r against table rates halves the spread's share, r_place against place means does not
    place = np.arange(n) // 50
    zp = z[place]
    noisy = frame.with_columns(pl.Series("votes", (200 * (0.5 + 0.1 * (zp + rng.standard_normal(n)) / np.sqrt(2))).round(6)),
                               pl.Series("place", place), pl.Series("stratum", rng.integers(0, 20, n // 50)[place]),
                               pl.Series("order", -(-0.3 * zp + np.sqrt(1 - 0.09) * rng.standard_normal(n // 50)[place])))
    o = order_selection(noisy, "order", "votes", ["stratum"], cuts=(16, 50), place="place")
    # within-place variance is half the table variance: r ~ -0.3 / sqrt(2), r_place ~ -0.3
    assert all(abs(x["r"] + 0.3 / np.sqrt(2)) < 0.03 and abs(x["r_place"] + 0.3) < 0.03 for x in o.rows), o.summary()


def test_order_selection_net_of_a_covariate_sees_only_what_the_covariate_does_not_explain():
    """The vote is a previous vote plus a swing; the order selects on the previous vote
    only. Alone the order is selective (r = -0.3 on the previous part's share of the
    variance); net of the previous vote it is random (r ~ 0)."""
    from escrutinio.dynamics.order_selection import order_selection

    rng = np.random.default_rng(1)
    n = 200_000
    before, swing = rng.standard_normal(n), rng.standard_normal(n)
    frame = pl.DataFrame({"stratum": rng.integers(0, 10, n), "registered": np.full(n, 100),
                          "before": 0.5 + 0.1 * before, "votes": (100 * (0.5 + 0.1 * before + 0.1 * swing)).round(6),
                          "order": -(-0.3 * before + np.sqrt(1 - 0.09) * rng.standard_normal(n))})
    alone = order_selection(frame, "order", "votes", ["stratum"], cuts=(16, 50))
    net = order_selection(frame, "order", "votes", ["stratum"], cuts=(16, 50), given="before")
    assert all(abs(x["r"] + 0.3 / np.sqrt(2)) < 0.02 for x in alone.rows), alone.summary()
    assert all(abs(x["r"]) < 0.02 for x in net.rows), net.summary()
    assert net.outcome == "votes net of before"
    # a covariate constant within strata explains nothing; a missing value is an error, not a NaN
    flat = order_selection(frame.with_columns(pl.col("stratum").cast(pl.Float64).alias("flat")), "order", "votes",
                           ["stratum"], cuts=(16,), given="flat")
    assert abs(flat.rows[0]["r"] - alone.rows[0]["r"]) < 1e-9
    with pytest.raises(UsageError, match="2 tables have no value of 'before'"):
        order_selection(frame.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise(pl.col("before"))
                                           .alias("before")), "order", "votes", ["stratum"], given="before")


def test_selection_term_widens_with_less_counted_and_is_off_at_zero():
    """The selection term: off with selection_r=0 (the interval is the model's alone); on,
    the interval widens, more from 10% counted than from 60%."""
    f = simulated_urban_first(2)
    roll = f.select("unit", *UF_LEVELS, "area", "registered")
    rng = np.random.default_rng(3)
    u = pl.Series(rng.random(f.height))
    width = lambda r: r.shares["A"]["hi"] - r.shares["A"]["lo"]  # noqa: E731
    widen = {}
    for share in (0.1, 0.6):
        counted = f.filter(u < share)
        kw = dict(levels=UF_LEVELS, strata=list(UF_STRATA), simulations=600, seed=1)
        off = project(counted, roll, list(UF_CHOICES), selection_r=0, **kw)
        on = project(counted, roll, list(UF_CHOICES), **kw)
        assert width(on) > width(off)
        widen[share] = width(on) - width(off)
    assert widen[0.1] > widen[0.6]


def test_crossed_model_recovers_additive_effects():
    """Cells = area x department with additive effects: a cell with nothing counted is
    predicted from its area's and its department's effects (the crossed fit)."""
    rng = np.random.default_rng(1)
    na, nd = 3, 6
    alpha, delta = np.array([0.0, 0.1, 0.25]), rng.normal(0, 0.05, nd)
    a, d = np.repeat(np.arange(na), nd), np.tile(np.arange(nd), na)
    m = (0.3 + alpha[a] + delta[d] + rng.normal(0, 0.005, a.size))[:, None]
    v = np.full_like(m, 1e-6)
    has = np.ones(a.size, bool)
    has[(a == 2) & (d == 4)] = False  # one rural cell uncounted
    cr, tc = ml._crossed_fit(np.where(has[:, None], m, np.nan), np.where(has[:, None], v, np.inf), has, a, d, na, nd,
                             np.array([1e-4]), np.zeros(a.size))
    draws = ml._crossed_draw(cr, 400, np.random.default_rng(2))[:, :, 0]
    target = 0.3 + alpha[2] + delta[4]
    assert abs(draws[:, (a == 2) & (d == 4)].mean() - target) < 0.02


def test_q_profile_draws_widen_with_few_strata():
    rng = np.random.default_rng(0)
    ratios = {}
    for k in (4, 200):
        m = rng.normal(0, 0.1, (k, 1))
        v = np.full((k, 1), 1e-4)
        group = np.zeros(k, np.int64)
        has = np.ones(k, bool)
        tau2, df, corr = ml._pooled_tau2(m, v, group, has, 1)
        grid, q = ml._q_grid(m, v, group, has, 1, df)
        lev = ml._Level(codes=np.arange(k), parent=group, m=m, v=v, tau2=tau2, df=df, corr=corr, grid=grid, qgrid=q)
        draws = ml._tau2_draws(lev, 4000, rng)[:, 0]
        assert (draws >= 0).all()
        ratios[k] = np.quantile(draws, 0.975) / max(np.quantile(draws, 0.5), 1e-12)
    # few strata: a long right tail (tau^2 poorly known); many strata: tight
    assert ratios[4] > 1.8 * ratios[200] and ratios[200] < 1.5


def _crossed_example(weak_area: int | None = None):
    """4 area types x 9 departments, every cell measured precisely, or one area type's
    cells barely measured (a table or two)."""
    rng = np.random.default_rng(0)
    na, nd = 4, 9
    a, d = np.repeat(np.arange(na), nd), np.tile(np.arange(nd), na)
    alpha, delta = np.array([0.0, 0.05, 0.15, 0.25]), rng.normal(0, 0.05, nd)
    m = (0.3 + alpha[a] + delta[d] + rng.normal(0, 0.01, a.size))[:, None]
    v = np.full((a.size, 1), 1e-6)
    if weak_area is not None:
        v[a == weak_area] = 1.0
    has = np.ones(a.size, bool)
    cr, _ = ml._crossed_fit(m, v, has, a, d, na, nd, np.array([1e-4]), np.zeros(a.size))
    return cr, a, d, na


def _cell_draws(cr, a, d, na, t, S=40_000, seed=1):
    rng = np.random.default_rng(seed)
    p = cr.coef.shape[1]
    b = ml._area_redraw(cr, 0, np.full(S, t), rng.standard_normal((S, p)), rng.standard_normal((S, na)))
    return b[:, 0][:, None] + b[:, 1 + a] + b[:, 1 + na + d]


def test_area_redraw_moves_only_what_the_data_leave_open():
    """The crossed posterior redrawn under a drawn area-type variance t: at the fitted
    variance it is the fitted posterior; cells the data pin down do not move whatever t
    (the intercept and the area effects are confounded, so a level-by-level rescaling
    would move them: the first version of this code did); an area type whose cells are
    barely measured spreads with t."""
    cr, a, d, na = _crossed_example()
    t0 = 1.0 / cr.lam_a[0]
    X = ml._crossed_design(a, d, cr.comp, na, cr.coef.shape[1])
    at_fit = _cell_draws(cr, a, d, na, t0)
    assert np.allclose(at_fit.mean(axis=0), X @ cr.coef[0], atol=2e-4)
    for t in (0.3 * t0, 3 * t0, 100 * t0):
        cells = _cell_draws(cr, a, d, na, t)
        assert np.abs(cells.mean(axis=0) - at_fit.mean(axis=0)).max() < 2e-3, t
        assert cells.std(axis=0).max() < 2 * at_fit.std(axis=0).max() + 1e-3, t
    cr, a, d, na = _crossed_example(weak_area=3)
    t0 = 1.0 / cr.lam_a[0]
    weak = a == 3
    narrow, wide = _cell_draws(cr, a, d, na, t0), _cell_draws(cr, a, d, na, 25 * t0)
    assert wide[:, weak].std(axis=0).min() > 2 * narrow[:, weak].std(axis=0).max()
    assert abs(wide[:, ~weak].std(axis=0).max() - narrow[:, ~weak].std(axis=0).max()) < 2e-3


def test_urban_first_study_multilevel_beats_the_hot_deck():
    """The justification, in small: on simulated urban-first elections the multilevel
    model covers far more often than the geographic hot deck (docs/dynamics.md has the
    benchmark's full figures)."""
    ml_ = urban_first_study(6, cuts=(25, 50), model="multilevel", simulations=200, seed=4)
    hd = urban_first_study(6, cuts=(25, 50), model="hotdeck", simulations=200, seed=4)
    cov = lambda s: np.mean([v["share95"] for v in s.coverage.values()])  # noqa: E731
    assert cov(ml_) >= cov(hd) + 0.3
    assert ml_.brier < hd.brier
    assert set(ml_.to_dict()) >= {"coverage", "brier", "reliability", "wrong_winner_p90"}


def test_2019_in_its_final_count_order_is_covered_by_the_multilevel_model():
    """A whole count in its real order (2019's final-count arrival, area types from the 2020
    polling places): at 25% counted MAS is far below its final 47.08 and the interval
    still covers; at 75% it is about +-3 wide and covers (benchmark 4e has all cuts)."""
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    ps = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    f = ps.frame.join(places.select("place_id", "area").unique("place_id"), on="place_id", how="left").with_columns(
        pl.col("area").fill_null("desconocido"))
    lv = ["department", "municipality", "polling_place"]
    roll = f.select("unit", *lv, "area", "registered")
    order = f.filter(pl.col("computo_arrival_pct").is_not_null()).sort("computo_arrival_pct")
    for cut, width in ((25, 12), (75, 3.5)):
        r = project(order.head(order.height * cut // 100), roll, list(ps.choices), levels=lv,
                    strata=["area", "department", "municipality"], model="multilevel", simulations=500, seed=0)
        s = r.shares["MAS - IPSP"]
        assert s["lo"] <= 47.08 <= s["hi"] and (s["hi"] - s["lo"]) / 2 < width, (cut, s)


def test_backtest_in_the_real_2020_order():
    roll, levels = roll_levels(read_roll(DATA / "2020" / "roll_2020.csv.gz"),
                               read_places(DATA / "2020" / "polling_places_2020.csv.gz"))
    snaps = [read_snapshot(p) for p in EXPORTS]
    b = backtest_snapshots(snaps, roll, levels, choice="MAS_IPSP", strata=["area", "department", "municipality"],
                           simulations=300, covariates=["density", "voters_5km"])
    assert b.final_tables == 7636 and [r["new"] for r in b.rows] == [170, 913, 1522, 3047]
    assert round(b.final_share, 2) == 37.74
    assert set(b.coverage) == {"cover90", "cover95", "lead_cover90", "lead_cover95"}


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_app_projection_to_dict_equals_cli_json():
    """Contract C1: escrutinio.app.projection.project(...).to_dict() == project --format json."""
    partial, final, mapping = RU / "protocols_ru_2024-03-17T21-00-00.csv", RU / "protocols_ru_2024-03-18T09-00-00.csv", RU / "protocols_ru.toml"
    cli = json.loads(run("project", partial, "--mapping", mapping, "--roll", final, "--simulations", 200, "--format", "json"))
    app = app_project(str(partial), str(final), None, 0, mapping=str(mapping), simulations=200).to_dict()
    assert cli == json.loads(json.dumps(app, ensure_ascii=False))
    assert {"choices", "lead_points", "lead", "counted_units", "expected_units", "outcome_probabilities"} <= set(cli)


def test_mapping_through_project_diff_timeline_compare():
    """A layout that is not Bolivia's (Russia-like protocols) through every dynamics
    command; the roll's levels keep the mapping's names (region, tik, uik)."""
    partial, final, mapping = RU / "protocols_ru_2024-03-17T21-00-00.csv", RU / "protocols_ru_2024-03-18T09-00-00.csv", RU / "protocols_ru.toml"
    out = json.loads(run("project", partial, "--mapping", mapping, "--roll", final, "--roll-mapping", mapping,
                         "--strata", "region,tik", "--simulations", 200, "--format", "json"))
    assert out["counted_units"] == 340 and out["expected_units"] == 600
    assert out["multilevel"]["strata"] == ["region", "tik"]
    d = json.loads(run("diff", partial, final, "--mapping", mapping, "--format", "json"))
    assert d["added"] == 260 and d["changed"] == 0
    t = json.loads(run("timeline", partial, final, "--mapping", mapping, "--roll", final, "--roll-mapping", mapping,
                       "--format", "json"))
    assert [row["units"] for row in t["snapshots"]] == [340, 600]
    c = json.loads(run("compare", partial, final, "--mapping", mapping, "--by", "region", "--format", "json"))
    assert c["coverage"]["places"] == 340


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), share=st.floats(0.02, 0.95), urban_first=st.booleans(),
       empty=st.integers(0, 3), zero_registered=st.integers(0, 3))
def test_multilevel_draws_are_votes_whatever_is_counted(seed, share, urban_first, empty, zero_registered):
    """Whatever subset is counted (urban-first or random, an area type wholly uncounted,
    tables with no registered voters), the multilevel draws are finite, non-negative
    votes, never more than the uncounted tables' registered voters, and the shares are
    finite intervals around their point."""
    f = simulated_urban_first(seed, departments=2 + seed % 2, municipalities=3, places=4)
    rng = np.random.default_rng(seed)
    if zero_registered:
        f = f.with_columns(pl.when(pl.int_range(pl.len()) < zero_registered).then(0).otherwise(pl.col("registered"))
                           .alias("registered"))
    f = f.sort("arrival") if urban_first else f.sample(fraction=1.0, shuffle=True, seed=seed)
    counted = f.head(max(3, int(f.height * share)))
    if empty:  # an area type with nothing counted at all
        counted = counted.filter(pl.col("area") != ("metropol", "periurbano", "ruralconect", "ruralaislado")[empty])
    roll = f.select("unit", *UF_LEVELS, "area", "registered")
    r = project(counted, roll, list(UF_CHOICES), levels=UF_LEVELS, strata=list(UF_STRATA), model="multilevel",
                simulations=120, seed=int(rng.integers(1000)))
    uncounted_registered = float(f["registered"].sum() - counted["registered"].sum())
    assert np.isfinite(r.draws).all() and (r.draws >= 0).all()
    assert (r.draws.sum(axis=1) <= uncounted_registered * (1 + 1e-9) + 1e-6).all()
    for c in UF_CHOICES:
        s = r.shares[c]
        assert all(np.isfinite([s["point"], s["lo"], s["hi"]])) and 0 <= s["lo"] <= s["hi"] <= 100
