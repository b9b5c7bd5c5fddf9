"""Calibration (issue 12): 500 seeded designs on the 2019 count, and Neyman against
proportional allocation on simulated elections with strong stratum effects."""
import pytest

from escrutinio.io import read_election
from escrutinio.pvt.calibration import allocation_comparison, count_coverage

SEEDS = range(1, 501)


@pytest.mark.slow
def test_coverage_on_the_2019_count(bolivia):
    snap = read_election([str(bolivia / "2019" / "computo_2019-10-25.csv.gz")]).snapshots[0]
    cov = count_coverage(snap, "MAS - IPSP", "CC", 1500, SEEDS, ["department"])
    print(cov.summary())
    assert round(cov.truth[0], 2) == 47.08 and round(cov.truth[1], 2) == 10.56
    assert 0.93 <= cov.rate("MAS - IPSP share") <= 0.97
    assert 0.93 <= cov.rate("lead MAS - IPSP - CC") <= 0.97
    assert 0.8 < cov.mean_halfwidth[0] < 1.2  # "about ±1 point"


@pytest.mark.slow
def test_neyman_is_narrower_than_proportional_with_strong_stratum_effects():
    out = allocation_comparison(0, 1000, SEEDS)
    (dp, cp), (dn, cn) = out["proportional"], out["neyman"]
    assert dp.n == dn.n == 1000
    assert [s["sample"] for s in dp.strata.values()] != [s["sample"] for s in dn.strata.values()]
    print(cp.summary(), cn.summary(), sep="\n")
    for c in (cp, cn):
        assert 0.93 <= c.rate("A share") <= 0.97 and 0.93 <= c.rate("lead A - B") <= 0.97
    assert cn.mean_halfwidth[0] < cp.mean_halfwidth[0]
    assert cn.mean_halfwidth[1] < cp.mean_halfwidth[1]
    # the design's expected margin (from the previous election) is close to the realised one
    assert dn.expected_moe["A"] == pytest.approx(cn.mean_halfwidth[0], rel=0.15)
