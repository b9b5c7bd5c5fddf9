"""The block-by-block digit classes and the column hit probabilities (issue 29's speed
work) against the cell-by-cell computation they replace, and the placebo copies run beside
the battery giving the answers of one run after the other."""
import numpy as np
import pytest

from escrutinio.forensics.binomial import HitCache, merge_sorted, pmf_chunks, pmf_columns, split_keys, unique_pairs
from escrutinio.forensics.digits import _class_probabilities, _classes
from escrutinio.forensics.integer_percentages import hit_coarse, hit_integer_percent, hit_p05


def _pairs(seed=0):
    rng = np.random.default_rng(seed)
    n = np.concatenate([rng.integers(1, 3000, 4000), rng.integers(3000, 200_000, 40),
                        [1, 5, 10, 11, 99, 100, 101, 999, 1000, 1001, 10_000, 12]])
    c = (rng.random(len(n)) ** 2 * n).astype(np.int64)
    c[:20] = n[:20]          # c = n: a point mass at n
    c[20:30] = 0             # and at 0
    c[-12:] = [0, 3, 9, 10, 95, 99, 100, 500, 995, 1000, 9_999, 12]
    return n, c


@pytest.mark.parametrize("twice", [False, True])
def test_block_classes_equal_cell_by_cell(twice):
    n, c = _pairs()
    classes = _classes(int(n.max()), 10)
    cells = _class_probabilities(n, c, classes, twice=twice)                  # cell by cell
    blocks = _class_probabilities(n, c, classes, twice=twice, min_count=10)   # ten counts at a time
    # the same windows and sums; the pmfs differ by the rounding of log factorials (the
    # cell-by-cell path, ~1e-10 relative at 200,000 voters) against running products
    assert np.abs(cells - blocks).max() < 1e-9
    assert np.allclose(blocks.sum(axis=1), cells.sum(axis=1), rtol=0, atol=1e-9)


def test_pmf_columns_are_the_binomial_pmf():
    from scipy.stats import binom

    for n, c in [(800, 120), (3000, 1500), (170_000, 20_000), (37, 36), (12, 1)]:
        (_, start, prob), = list(pmf_columns([n], [c]))
        k = start[0] + np.arange(prob.shape[0])
        inside = prob[:, 0] > 0
        exact = binom.pmf(k[inside], n, c / n)
        assert np.abs(prob[inside, 0] / exact - 1).max() < 1e-9
        (_, kk, old), = list(pmf_chunks([n], [c]))
        assert set(kk[0][old[0] > 0]) == set(k[inside])   # the same window


def test_column_hits_equal_cell_by_cell():
    n, c = _pairs(1)
    keys, _ = unique_pairs(n, c)
    cache = HitCache([hit_integer_percent, hit_coarse, hit_p05])
    got = cache._hits_of(keys)
    un, uc = split_keys(keys)
    want = np.zeros_like(got)
    for rows, kk, prob in pmf_chunks(un, uc):
        nn = np.maximum(un[rows], 1)[:, None]
        for j, hit in enumerate(cache.hits):
            want[j, rows] = (prob * hit(kk, nn)).sum(axis=1)
    assert np.abs(got - np.clip(want, 0, 1)).max() < 1e-10


def test_merge_sorted_places_rows_like_a_sort():
    rng = np.random.default_rng(2)
    keys = np.unique(rng.integers(0, 10**6, 500))
    new = np.setdiff1d(np.unique(rng.integers(0, 10**6, 300)), keys)
    t_old, t_new = rng.random((len(keys), 3)), rng.random((len(new), 3))
    merged, (table,) = merge_sorted(keys, new, [t_old], [t_new])
    order = np.argsort(np.concatenate([keys, new]))
    assert (merged == np.concatenate([keys, new])[order]).all()
    assert (table == np.concatenate([t_old, t_new])[order]).all()


def test_placebo_beside_the_battery_gives_the_sequential_answer(tmp_path):
    """The copies start once the national tests are done and share the pmf tables with the
    areas: the result is the one of the battery and then the placebo."""
    from escrutinio.app.forensics import forensics, station_data
    from escrutinio.forensics.battery import NullCache, run_battery
    from escrutinio.forensics.placebo import mark_uninformative, placebo_simulated
    from test_forensics_russia_shape import write_protocols   # the generated Russia-shaped protocols

    path = tmp_path / "2021.csv.zip"
    write_protocols(path, n_regions=3, tiks=2, uiks=120)
    run = forensics([str(path)], by="region", placebo_sims=4, draws=200, min_tables=100).to_dict()
    data = station_data([str(path)])
    cache = NullCache().prepare(data)
    alone = run_battery(data, by="region", seed=0, draws=200, cache=cache, min_area_units=100)
    mark_uninformative(alone, placebo_simulated(data, n_sims=4, seed=2, cache=cache), "simulated")
    a, b = run["tests"], alone.to_dict()["tests"]
    assert [t["name"] for t in a] == [t["name"] for t in b]
    assert all(x["p_value"] == y["p_value"] or abs(x["p_value"] - y["p_value"]) < 1e-9
               for x, y in zip(a, b) if x["p_value"] is not None)
    assert run["placebo"]["simulated"]["tests"] == alone.to_dict()["placebo"]["simulated"]["tests"]
