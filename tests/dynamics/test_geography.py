"""Voters within a radius of each polling place (escrutinio.dynamics.geography), and the
projection's use of it as a measure of how remote a place is."""
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from escrutinio.app.projection import roll_levels
from escrutinio.dynamics import multilevel as ml
from escrutinio.dynamics.geography import EARTH_KM_PER_DEGREE, REMOTENESS_COVARIATE, voters_within, with_voters_within
from escrutinio.dynamics.order_selection import order_selection
from escrutinio.dynamics.sources import read_places, read_roll
from escrutinio.dynamics.urban_first import simulated_urban_first, urban_first_study, with_remoteness

DATA = Path(__file__).resolve().parents[2] / "examples" / "bolivia"


def test_voters_within_counts_the_place_itself_and_its_neighbours():
    # three places on the equator: 0 and 3 km apart, a third 50 km away; one without coordinates
    km = 1 / EARTH_KM_PER_DEGREE
    lat = np.array([0.0, 0.0, 0.0, np.nan])
    lon = np.array([0.0, 3 * km, 50 * km, 0.0])
    v = voters_within(lat, lon, np.array([100.0, 200.0, 400.0, 800.0]), (5.0, 60.0))
    assert v[:3, 0].tolist() == [300.0, 300.0, 400.0]
    assert v[:3, 1].tolist() == [700.0, 700.0, 700.0]
    assert np.isnan(v[3]).all()


def test_voters_within_counts_places_at_the_same_spot_and_any_step_size():
    # two places in one school (same coordinates), and a dense cluster done in steps of
    # a few pairs gives the same sums as in one step
    rng = np.random.default_rng(0)
    lat = np.r_[0.0, 0.0, rng.normal(0, 0.02, 300)]
    lon = np.r_[0.0, 0.0, rng.normal(0, 0.02, 300)]
    R = rng.integers(100, 3000, lat.size).astype(float)
    one = voters_within(lat, lon, R, (1.0, 5.0))
    steps = voters_within(lat, lon, R, (1.0, 5.0), max_pairs=50)
    assert np.array_equal(one, steps)
    assert one[0, 0] == one[1, 0] >= R[0] + R[1]
    d = np.hypot(lat[:, None] - lat[None, :], lon[:, None] - lon[None, :]) * EARTH_KM_PER_DEGREE
    assert np.allclose(one[:, 1], (d <= 5.0) @ R, rtol=1e-12)


def test_voters_within_at_a_bolivian_latitude_uses_real_distances():
    # at 17 degrees south a degree of longitude is cos(17) of a degree of latitude: two
    # places 0.05 degrees of longitude apart are 5.3 km apart, not 5.6
    lat = np.array([-17.0, -17.0])
    lon = np.array([-65.0, -65.05])
    d = 0.05 * EARTH_KM_PER_DEGREE * np.cos(np.radians(17))
    assert 5.2 < d < 5.4
    assert voters_within(lat, lon, np.array([1.0, 1.0]), (d - 0.05,)).tolist() == [[1.0], [1.0]]
    assert voters_within(lat, lon, np.array([1.0, 1.0]), (d + 0.05,)).tolist() == [[2.0], [2.0]]


def test_roll_gets_voters_within_5_km_from_the_polling_places():
    roll, _ = roll_levels(read_roll(DATA / "2020" / "roll_2020.csv.gz"),
                          read_places(DATA / "2020" / "polling_places_2020.csv.gz"))
    v = roll[REMOTENESS_COVARIATE]
    assert v.null_count() == 0
    # a place's own voters are within 5 km of it
    own = roll.group_by("place_id").agg(pl.col("registered").sum(), pl.col(REMOTENESS_COVARIATE).first())
    assert (own[REMOTENESS_COVARIATE] >= own["registered"]).all()
    by_area = roll.group_by("area").agg(pl.col(REMOTENESS_COVARIATE).median()).sort("area")
    med = dict(by_area.iter_rows())
    assert med["metropol"] > 20 * med["ruralaislado"]


def test_roll_whose_places_are_mostly_unknown_has_no_remoteness():
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    roll, _ = roll_levels(read_roll(DATA / "2020" / "roll_2020.csv.gz"), places.head(1000))
    assert REMOTENESS_COVARIATE not in roll.columns


def test_with_voters_within_takes_coordinates_from_the_frame_or_a_place_file():
    frame = pl.DataFrame({"place": ["a", "a", "b", "c"], "registered": [100, 200, 400, 800],
                          "lat": [0.0, 0.0, 0.0, None], "lon": [0.0, 0.0, 3 / EARTH_KM_PER_DEGREE, None]})
    own = with_voters_within(frame, "place", radii_km=(5.0, 1.0))
    assert own["voters_5km"].to_list() == [700.0, 700.0, 700.0, None]
    assert own["voters_1km"].to_list() == [300.0, 300.0, 400.0, None]
    coords = pl.DataFrame({"place": ["a", "b", "c"], "lat": [0.0, 0.0, 0.0], "lon": [0.0, 50 / EARTH_KM_PER_DEGREE, 0.0]})
    other = with_voters_within(frame.drop("lat", "lon"), "place", coordinates=coords)
    assert other[REMOTENESS_COVARIATE].to_list() == [1100.0, 1100.0, 400.0, 1100.0]


def test_roll_without_coordinates_has_no_remoteness():
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz").with_columns(
        pl.lit(None, pl.Float64).alias("lat"), pl.lit(None, pl.Float64).alias("lon"))
    roll, _ = roll_levels(read_roll(DATA / "2020" / "roll_2020.csv.gz"), places)
    assert REMOTENESS_COVARIATE not in roll.columns


def test_selection_prior_follows_the_covariates():
    assert ml.selection_prior(["density"]) == ml.SELECTION_R
    assert ml.selection_prior(["density", REMOTENESS_COVARIATE]) == ml.SELECTION_R_GIVEN_REMOTENESS
    assert ml.SELECTION_R_GIVEN_REMOTENESS < ml.SELECTION_R


def test_order_selection_net_of_several_covariates():
    """Two covariates that together drive the order and the vote: net of both, the
    selection is gone; net of one, half of it is left."""
    rng = np.random.default_rng(3)
    n = 20000
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = 0.5 + 0.05 * a + 0.05 * b + rng.normal(0, 0.05, n)
    frame = pl.DataFrame({"order": a + b + rng.normal(0, 0.5, n), "registered": np.full(n, 200),
                          "votes": np.round(200 * y), "a": a, "b": b, "stratum": np.zeros(n, np.int64)})
    alone = order_selection(frame, "order", "votes", ["stratum"], cuts=(25,))
    one = order_selection(frame, "order", "votes", ["stratum"], cuts=(25,), given="a")
    both = order_selection(frame, "order", "votes", ["stratum"], cuts=(25,), given=["a", "b"])
    assert abs(alone.rows[0]["r"]) > 0.5
    assert 0.2 < abs(one.rows[0]["r"]) < abs(alone.rows[0]["r"])
    assert abs(both.rows[0]["r"]) < 0.03
    assert both.outcome == "votes net of a, b"


def test_simulated_positions_leave_the_votes_and_the_order_unchanged():
    f = simulated_urban_first(7)
    assert {"lat", "lon"} <= set(f.columns)
    g = with_remoteness(f)
    assert g.drop(REMOTENESS_COVARIATE).equals(f)
    # urban places are closer together than rural ones
    med = dict(g.group_by("area").agg(pl.col(REMOTENESS_COVARIATE).median()).iter_rows())
    assert med["metropol"] > med["ruralaislado"]


@pytest.mark.parametrize("cut", [25])
def test_urban_first_study_with_remoteness_runs_and_says_so(cut):
    st = urban_first_study(4, cuts=(cut,), simulations=100, seed=2, remoteness=True)
    assert st.model == "multilevel, voters within 5 km"
    assert 0 <= st.coverage[f"{cut}"]["share95"] <= 1


def test_2019_in_its_final_count_order_with_remoteness_is_covered_and_narrower():
    """The whole 2019 count in its final-count arrival order (benchmark 4e), with log
    density and log voters within 5 km as place covariates and the prior measured net of
    them: it covers 47.08 at 25% and 75% counted, and is narrower than with size alone
    (+-10.2 and +-3.0 there). Caveat: the prior was measured on this same order."""
    from escrutinio.dynamics.projection import project
    from escrutinio.dynamics.sources import read_snapshot

    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    ps = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    f = ps.frame.join(places.select("place_id", "area", "density").unique("place_id"), on="place_id",
                      how="left").with_columns(pl.col("area").fill_null("desconocido"))
    f = with_voters_within(f, "place_id")
    lv = ["department", "municipality", "polling_place"]
    roll = f.select("unit", *lv, "area", "registered", "density", REMOTENESS_COVARIATE)
    order = f.filter(pl.col("computo_arrival_pct").is_not_null()).sort("computo_arrival_pct")
    for cut, width in ((25, 8), (75, 2.6)):
        r = project(order.head(order.height * cut // 100), roll, list(ps.choices), levels=lv,
                    strata=["area", "department", "municipality"], model="multilevel", simulations=500, seed=0,
                    covariates=["density", REMOTENESS_COVARIATE])
        s = r.shares["MAS - IPSP"]
        assert r.multilevel["selection"]["r_scale"] == ml.SELECTION_R_GIVEN_REMOTENESS
        assert s["lo"] <= 47.08 <= s["hi"] and (s["hi"] - s["lo"]) / 2 < width, (cut, s)


def test_simulated_previous_election_is_a_swing_of_the_same_places():
    f = simulated_urban_first(5)
    chans = ["A", "B", "C", "blank", "null"]
    prev = [f"prev_{c}" for c in chans]
    per_place = f.group_by("polling_place").agg(*[pl.col(c).n_unique().alias(c) for c in prev],
                                                (pl.col("A").sum() / pl.col("registered").sum()).alias("now_A"),
                                                pl.col("prev_A").first().alias("then_A"))
    assert all((per_place[c] == 1).all() for c in prev)  # one previous result per place
    rates = f.select(prev).to_numpy()
    assert (rates >= 0).all() and (rates.sum(axis=1) <= 1).all()
    assert np.corrcoef(per_place["now_A"], per_place["then_A"])[0, 1] > 0.5
    st = urban_first_study(3, cuts=(25,), simulations=100, seed=1, previous=True, remoteness=True)
    assert st.model == "multilevel, voters within 5 km, previous election"


def test_projection_says_when_the_coordinates_cannot_be_used():
    from escrutinio.app.projection import project as app_project
    from escrutinio.dynamics.sources import read_snapshot

    snap = read_snapshot(DATA / "2020" / "computo_20201018T232833.csv.gz")
    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    # coordinates for a third of the places only: no remoteness, said, prior 0.21
    few = places.with_columns(pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.col("lat")).alias("lat"))
    r = app_project(snap, roll, None, 0, places=few, simulations=100).result
    assert r.multilevel["selection"]["r_scale"] == ml.SELECTION_R
    assert any("does not adjust for how remote places are" in n for n in r.notes), r.notes
    # coordinates for all but some: the rest take the mean, said with the count
    most = places.with_columns(pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("lat")).alias("lat"))
    r = app_project(snap, roll, None, 0, places=most, simulations=100).result
    assert r.multilevel["selection"]["r_scale"] == ml.SELECTION_R_GIVEN_REMOTENESS
    assert any("have no coordinates for their polling place" in n for n in r.notes), r.notes
