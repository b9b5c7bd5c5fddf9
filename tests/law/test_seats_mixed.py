"""Mixed-member compensation: entitlement minus single-member wins, overhang policies."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from escrutinio.errors import UsageError
from escrutinio.law.mixed import compensate

VOTES = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}
WINS = {"A": 1, "C": 2, "D": 1}


def test_fixed_house_overhang_takes_lowest_quotients():
    # D'Hondt on 8: A 4, B 3, C 1, D 0. Wins A 1, C 2, D 1 leave 4 list seats.
    # Walk: 100000 A (cancelled), 80000 B, 50000 A, 40000 B, 33333 A -> 4 list seats filled.
    r = compensate(VOTES, 8, WINS, policy="fixed")
    assert r.entitlement == {"A": 4, "B": 3, "C": 1, "D": 0}
    assert r.list_seats == {"A": 2, "B": 2, "C": 0, "D": 0}
    assert r.seats == {"A": 3, "B": 2, "C": 2, "D": 1}
    assert r.overhang == {"C": 1, "D": 1}
    assert r.house_size == 8
    json.dumps(r.to_dict())


def test_keep_overhang_grows_house():
    r = compensate(VOTES, 8, WINS, policy="keep")
    assert r.seats == {"A": 4, "B": 3, "C": 2, "D": 1}
    assert r.house_size == 10


def test_level_overhang_until_covered():
    r = compensate(VOTES, 8, WINS, policy="level")
    # Smallest D'Hondt house giving C >= 2 and D >= 1 seats: 14 (A 6, B 5, C 2, D 1).
    assert r.entitlement == {"A": 6, "B": 5, "C": 2, "D": 1}
    assert r.seats == {"A": 6, "B": 5, "C": 2, "D": 1}
    assert r.house_size == 14


def test_partial_wins_leave_undetermined_seats():
    r = compensate(VOTES, 8, {"A": 1}, list_seats=4)
    assert r.undetermined == 3 and sum(r.list_seats.values()) == 4


def test_bad_mixed_input():
    with pytest.raises(UsageError):
        compensate(VOTES, 3, {"A": 4})
    with pytest.raises(UsageError):
        compensate(VOTES, 8, WINS, method_name="hare")
    with pytest.raises(UsageError):
        compensate(VOTES, 8, WINS, policy="nonsense")


@settings(max_examples=40, deadline=None)
@given(votes=st.lists(st.integers(1, 500), min_size=2, max_size=5),
       seats=st.integers(1, 15), wins=st.lists(st.integers(0, 3), min_size=5, max_size=5))
def test_fixed_policy_keeps_house_size_and_wins(votes, seats, wins):
    v = {f"P{i}": x for i, x in enumerate(votes)}
    w = {f"P{i}": wins[i] for i in range(len(votes))}
    if sum(w.values()) > seats:
        return
    r = compensate(v, seats, w, tie="lot", seed=0)
    assert sum(r.seats.values()) == seats
    assert all(r.seats[p] >= w[p] for p in w)
