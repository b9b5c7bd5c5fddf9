"""Properties of the apportionment core (hypothesis): house monotonicity of divisor
methods, quota for Hare largest remainders, totals, and exact ties never decided silently.
References: Balinski & Young (2001), Fair Representation, ch. 6 and appendix A."""
from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings, strategies as st

from escrutinio.law.apportionment import METHODS, apportion

DIVISOR = [k for k, m in METHODS.items() if m.kind == "divisor"]
QUOTA = [k for k, m in METHODS.items() if m.kind == "quota"]

votes_st = st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=7).filter(
    lambda v: sum(v) > 0).map(lambda v: {f"P{i}": x for i, x in enumerate(v)})


@settings(max_examples=60, deadline=None)
@given(votes=votes_st, seats=st.integers(0, 25), m=st.sampled_from(DIVISOR + QUOTA))
def test_total_equals_house_size_unless_a_tie_is_reported(votes, seats, m):
    r = apportion(votes, seats, m)
    if r.decided:
        assert sum(r.seats.values()) == seats
    else:
        # The tied seats stay unassigned, and the tie says how many.
        assert sum(r.seats.values()) + r.tie.seats_at_stake == seats
        assert len(r.tie.parties) > r.tie.seats_at_stake
    lot = apportion(votes, seats, m, tie="lot", seed=7)
    assert lot.decided and sum(lot.seats.values()) == seats


@settings(max_examples=60, deadline=None)
@given(votes=votes_st, seats=st.integers(0, 20), m=st.sampled_from(DIVISOR))
def test_divisor_methods_are_house_monotone(votes, seats, m):
    small = apportion(votes, seats, m)
    big = apportion(votes, seats + 1, m)
    if small.decided and big.decided:
        assert all(big.seats[p] >= small.seats[p] for p in votes)


@settings(max_examples=80, deadline=None)
@given(votes=votes_st, seats=st.integers(1, 25))
def test_hare_largest_remainder_satisfies_quota(votes, seats):
    r = apportion(votes, seats, "hare", tie="lot", seed=0)
    total = sum(votes.values())
    for p, v in votes.items():
        q = Fraction(v * seats, total)
        assert math.floor(q) <= r.seats[p] <= math.ceil(q)


@settings(max_examples=60, deadline=None)
@given(base=st.integers(1, 500), k=st.integers(2, 4), seats=st.integers(1, 6),
       m=st.sampled_from(DIVISOR + QUOTA))
def test_exact_ties_are_reported(base, k, seats, m):
    # k parties with identical votes competing for fewer seats than parties: whichever
    # method, some seat is an exact tie, and it must be reported, never decided silently.
    votes = {f"P{i}": base for i in range(k)}
    if seats % k == 0:
        seats += 1
    r = apportion(votes, seats, m)
    assert not r.decided
    assert sorted(r.tie.parties) == sorted(votes)
    assert all(s.rule != "tie decided by lot" for s in r.steps)


def test_quota_overflow_tie_is_reported():
    # Imperiali quota 200/4 = 50 hands out 2 + 2 whole quotas for 3 seats; who gives one
    # back is an exact tie.
    r = apportion({"A": 100, "B": 100}, 3, "imperiali_quota")
    assert not r.decided and r.tie.seats_at_stake == 1
    assert sum(r.seats.values()) + r.tie.seats_at_stake == 3
    lot = apportion({"A": 100, "B": 100}, 3, "imperiali_quota", tie="lot", seed=2)
    assert lot.decided and sum(lot.seats.values()) == 3
