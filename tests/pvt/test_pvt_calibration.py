"""Calibration (issue 12): 500 seeded designs on the 2019 count, and Neyman against
proportional allocation on simulated elections with strong stratum effects."""
import numpy as np
import pytest

from escrutinio.io import read_election
from escrutinio.pvt.calibration import coverage, frame_codes, samples, simulate_election
from escrutinio.pvt.design import Previous, make_design

SEEDS = range(1, 501)


def _sizes(d):
    return (np.array([v["tables"] for v in d.strata.values()]), np.array([v["sample"] for v in d.strata.values()]))


@pytest.mark.slow
def test_coverage_on_the_2019_count(bolivia):
    snap = read_election([str(bolivia / "2019" / "computo_2019-10-25.csv.gz")]).snapshots[0]
    f = snap.counted()
    levels = list(snap.levels)
    d = make_design(f, 1500, 0, ["department"], levels)
    codes = frame_codes(f, levels, d)
    N, nh = _sizes(d)
    (rows,) = samples(f["unit"].to_list(), SEEDS, codes, N, [nh])
    mas, cc, x = (f[c].to_numpy().astype(float) for c in ("MAS - IPSP", "CC", "valid"))
    truth = [100 * mas.sum() / x.sum(), 100 * (mas.sum() - cc.sum()) / x.sum()]
    assert round(truth[0], 2) == 47.08 and round(truth[1], 2) == 10.56
    cov = coverage(np.column_stack([mas, mas - cc]), x, codes, N, rows, truth, ["MAS", "lead"])
    print(cov.summary())
    assert 0.93 <= cov.rate("MAS") <= 0.97
    assert 0.93 <= cov.rate("lead") <= 0.97
    assert 0.8 < cov.mean_halfwidth[0] < 1.2  # "about ±1 point"


@pytest.mark.slow
def test_neyman_is_narrower_than_proportional_with_strong_stratum_effects():
    cur, prev = simulate_election(0)
    levels = ["country", "region"]
    previous = Previous(prev, ["A", "B", "C"])
    dp = make_design(cur, 1000, 0, ["region"], levels, previous=previous)
    dn = make_design(cur, 1000, 0, ["region"], levels, allocation="neyman", previous=previous)
    assert dp.n == dn.n == 1000
    codes = frame_codes(cur, levels, dp)
    N, nh_p = _sizes(dp)
    _, nh_n = _sizes(dn)
    assert not np.array_equal(nh_p, nh_n)
    rp, rn = samples(cur["unit"].to_list(), SEEDS, codes, N, [nh_p, nh_n])
    a, b = cur["A"].to_numpy().astype(float), cur["B"].to_numpy().astype(float)
    x = a + b + cur["C"].to_numpy().astype(float)
    truth = [100 * a.sum() / x.sum(), 100 * (a.sum() - b.sum()) / x.sum()]
    values = np.column_stack([a, a - b])
    cp = coverage(values, x, codes, N, rp, truth, ["A", "lead"])
    cn = coverage(values, x, codes, N, rn, truth, ["A", "lead"])
    print(cp.summary(), cn.summary(), sep="\n")
    for c in (cp, cn):
        assert 0.93 <= c.rate("A") <= 0.97 and 0.93 <= c.rate("lead") <= 0.97
    assert cn.mean_halfwidth[0] < cp.mean_halfwidth[0]
    assert cn.mean_halfwidth[1] < cp.mean_halfwidth[1]
    # the design's expected margin (from the previous election) is close to the realised one
    assert dn.expected_moe["A"] == pytest.approx(cn.mean_halfwidth[0], rel=0.15)
