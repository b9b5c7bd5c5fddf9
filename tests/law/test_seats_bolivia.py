"""Bolivia preset: 2019 Senate from the final count (domestic votes only), the 2020
partial Chamber and Senate with coverage, and the Chamber rules on synthetic districts."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from escrutinio.errors import UsageError
from escrutinio.io import read_roll, read_snapshots
from escrutinio.law.bolivia_seats import (
    LEY_421_2013,
    BoliviaOptions,
    DepartmentSeats,
    DepartmentVotes,
    DistrictWinner,
    chamber_of_deputies,
    department_votes,
    seats_from_election,
    senate,
    uninominal_numbers,
)

DATA = Path(__file__).parents[2] / "examples" / "bolivia"

# 2019 Senate, D'Hondt 4 seats per department on presidential votes cast inside Bolivia
# (final count of 25 Oct 2019). National: MAS 21, CC 14, 21F 1.
SENATE_2019 = {
    "Beni": {"MAS - IPSP": 2, "CC": 1, "21F": 1},
    "Chuquisaca": {"MAS - IPSP": 2, "CC": 2},
    "Cochabamba": {"MAS - IPSP": 3, "CC": 1},
    "La Paz": {"MAS - IPSP": 3, "CC": 1},
    "Oruro": {"MAS - IPSP": 2, "CC": 2},
    "Pando": {"MAS - IPSP": 2, "CC": 2},
    "Potosí": {"MAS - IPSP": 3, "CC": 1},
    "Santa Cruz": {"MAS - IPSP": 2, "CC": 2},
    "Tarija": {"MAS - IPSP": 2, "CC": 2},
}


@pytest.fixture(scope="module")
def result_2019():
    snaps = read_snapshots(DATA / "2019" / "computo_2019-10-25.csv.gz")
    return seats_from_election(snaps)


def test_senate_2019(result_2019):
    sen = result_2019.chambers["senate"]
    assert sen.total == {"MAS - IPSP": 21, "CC": 14, "21F": 1}
    for dep, expected in SENATE_2019.items():
        assert sen.district_seats(dep) == expected, dep
    # Beni's 4th seat: 21F's 149,412 / 1 = 37,353 against CC's 74,643 / 2 = 37,321.5.
    beni = sen.by_district["Beni"]
    assert beni.last_seat["party"] == "21F" and beni.last_seat["runner_up"]["party"] == "CC"
    assert beni.last_seat["runner_up"]["votes_needed"] == 64


def test_senate_2019_uses_domestic_votes_only(result_2019):
    cov = result_2019.coverage["president"]
    assert cov["tables_counted"] == 33_048 and cov["tables_abroad"] == 34_555 - 33_048
    # The Argentine province "Santa Cruz" does not leak into the Bolivian department.
    snap = read_snapshots(DATA / "2019" / "computo_2019-10-25.csv.gz")[0]
    votes = department_votes(snap)
    assert votes.tables["Santa Cruz"] == 8_621
    assert sum(votes.national.values()) + sum(votes.abroad.values()) == 6_137_671


def test_json_contract_2019(result_2019):
    d = json.loads(json.dumps(result_2019.to_dict()))
    ch = d["chambers"]["senate"]
    assert ch["total"] == {"MAS - IPSP": 21, "CC": 14, "21F": 1}
    assert ch["by_district"]["La Paz"] == {"MAS - IPSP": 3, "CC": 1}
    assert "explanation" in ch and "coverage" in ch


@pytest.fixture(scope="module")
def result_2020():
    snaps = read_snapshots(DATA / "2020" / "computo_20201019T123834.xlsx")
    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    return seats_from_election(snaps, roll=roll)


def test_2020_partial_chamber_and_senate_state_coverage(result_2020):
    cov = result_2020.coverage
    assert cov["president"]["tables_counted"] == 7_164
    assert cov["president"]["tables_counted_all"] == 7_636
    assert cov["president"]["tables_expected_all"] == 35_600
    assert cov["uninominal"]["districts_expected"] == 63
    assert cov["uninominal"]["districts_with_data"] == 39
    assert "Potosí" in cov["uninominal"]["districts_without_data"]
    assert cov["special"]["districts_with_data"] == 2  # Beni and Pando only
    sen = result_2020.chambers["senate"]
    assert sen.assigned == 36
    dep = result_2020.chambers["deputies"]
    assert dep.assigned <= 130
    # Assigned: the 39 uninominal winners with data, the 2 specials with data, and the list
    # seats that the 24 undecided districts cannot move (issue 28); every other seat is named.
    assert dep.assigned == 77 and dep.not_assigned == 53
    assert sum(u["seats"] for items in dep.unassigned.values() for u in items if u["kind"] == "uninominal") == 24
    assert dep.unassigned["Potosí"][0]["districts"] == ["35", "36", "37", "38", "39"]
    assert any("partial count" in n for n in result_2020.notes)
    json.dumps(result_2020.to_dict())
    assert "Uninominal districts with data: 39 of 63" in result_2020.summary()


def test_seat_table_ley_421():
    assert sum(s.total for s in LEY_421_2013.values()) == 130
    assert sum(s.uninominal for s in LEY_421_2013.values()) == 63
    assert sum(s.plurinominal for s in LEY_421_2013.values()) == 60
    assert sum(s.special for s in LEY_421_2013.values()) == 7
    nums = uninominal_numbers(LEY_421_2013)
    assert nums["Chuquisaca"] == ["1", "2", "3", "4", "5"] and nums["Pando"] == ["62", "63"]


def _votes(by_dep: dict[str, dict[str, int]], abroad=None) -> DepartmentVotes:
    parties = sorted({p for v in by_dep.values() for p in v})
    return DepartmentVotes({d: {p: v.get(p, 0) for p in parties} for d, v in by_dep.items()},
                           abroad or {p: 0 for p in parties}, {d: 1 for d in by_dep}, 0, parties)


def _winners(dep, parties):
    return {dep: {str(i + 1): DistrictWinner(dep, str(i + 1), p, {}, 1) for i, p in enumerate(parties)}}


def test_chamber_wins_cancel_highest_quotients_and_overhang_keeps_seats():
    table = {"X": DepartmentSeats(3, 3, 0)}
    opts = BoliviaOptions(seat_table=table)
    votes = _votes({"X": {"A": 600, "B": 280, "C": 100}})
    # D'Hondt on 6: A 600 300 200 150 | B 280 140 | C 100 -> entitlement A 4, B 2, C 0.
    # Walk: 600 A cancelled by A's win, 300 A list, 280 B cancelled, 200 A list, 150 A list.
    # C's district win is overhang: C keeps it, and B (lowest quotient, 140) loses a seat.
    ch = chamber_of_deputies(votes, _winners("X", ["A", "C", "B"]), None, opts)
    res = ch.by_district["X"]
    assert res.wins == {"A": 1, "B": 1, "C": 1}
    assert res.entitlement == {"A": 4, "B": 2, "C": 0}
    assert res.list_seats == {"A": 3, "B": 0, "C": 0}
    assert ch.district_seats("X") == {"A": 4, "B": 1, "C": 1}
    assert res.overhang == {"C": 1}
    assert sum(ch.district_seats("X").values()) == 6
    steps = [(s.party, s.kind) for s in res.steps]
    assert steps[0] == ("A", "cancelled") and ("B", "cancelled") in steps


def test_national_threshold_vs_department_threshold_and_abroad():
    table = {"X": DepartmentSeats(0, 4, 0), "Y": DepartmentSeats(0, 4, 0)}
    # D is 10% in X but 2% nationally.
    votes = _votes({"X": {"A": 450, "D": 50}, "Y": {"A": 2000, "D": 0}}, abroad={"A": 0, "D": 100})
    nat = chamber_of_deputies(votes, None, None, BoliviaOptions(seat_table=table))
    assert nat.district_seats("X") == {"A": 4}
    per_dep = chamber_of_deputies(votes, None, None,
                                  BoliviaOptions(seat_table=table, threshold_base="department"))
    # Per department D has 10% in X: D'Hondt on 4, A 450 225 150 112.5 | D 50 -> A 4 still,
    # but D is now eligible.
    assert "D" in per_dep.by_district["X"].eligible and "D" not in nat.by_district["X"].eligible
    abroad = chamber_of_deputies(votes, None, None,
                                 BoliviaOptions(seat_table=table, threshold_include_abroad=True))
    # With 100 votes abroad D has 150 / 2600 = 5.8% nationally and passes.
    assert "D" in abroad.by_district["X"].eligible


def test_special_seat_in_base_option():
    table = {"X": DepartmentSeats(1, 2, 1)}
    votes = _votes({"X": {"A": 500, "B": 400}})
    uni = _winners("X", ["A"])
    spe = {"X": {"1": DistrictWinner("X", "1", "B", {}, 1)}}
    out = chamber_of_deputies(votes, uni, spe, BoliviaOptions(seat_table=table))
    assert sum(out.district_seats("X").values()) == 4
    inside = chamber_of_deputies(votes, uni, spe, BoliviaOptions(seat_table=table, special_in_base=True))
    assert sum(inside.district_seats("X").values()) == 4
    # Outside the base: D'Hondt on 3 (A 2, B 1) minus A's win -> list A 1, B 1; + special B.
    assert out.district_seats("X") == {"A": 2, "B": 2}
    # Inside: D'Hondt on 4 (A 2, B 2) minus A's and B's wins -> list A 1, B 1.
    assert inside.district_seats("X") == {"A": 2, "B": 2}


def test_department_without_votes_is_reported_not_invented():
    table = {"X": DepartmentSeats(0, 2, 0), "Y": DepartmentSeats(0, 2, 0)}
    votes = _votes({"X": {"A": 10, "B": 6}})
    sen = senate(votes, BoliviaOptions(seat_table=table))
    assert sen.by_district["Y"] is None
    assert any("Y" in n for n in sen.notes)
    ch = chamber_of_deputies(votes, None, None, BoliviaOptions(seat_table=table))
    assert ch.by_district["Y"] is None and ch.assigned == 2


def test_options_parsing():
    o = BoliviaOptions.from_pairs(["threshold=5%", "threshold_base=department", "special_in_base=true", "seed=3"])
    assert o.threshold == Fraction(5, 100) and o.special_in_base and o.seed == 3
    with pytest.raises(UsageError):
        BoliviaOptions.from_pairs(["nonsense=1"])
    with pytest.raises(UsageError):
        BoliviaOptions.from_pairs(["threshold_base=galaxy"])
    with pytest.raises(UsageError):
        BoliviaOptions.from_pairs(["special_in_base=maybe"])


def test_missing_presidential_contest_is_a_usage_error():
    snaps = [s for s in read_snapshots(DATA / "2020" / "computo_20201018T213655.csv.gz")
             if s.contest != "PRESIDENTE"]
    with pytest.raises(UsageError, match="PRESIDENTE"):
        seats_from_election(snaps)


def test_seat_probabilities_2020_partial():
    from escrutinio.app.seats import seat_probabilities

    snap = next(s for s in read_snapshots(DATA / "2020" / "computo_20201019T123834.xlsx") if s.contest == "PRESIDENTE")
    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    p = seat_probabilities(snap, roll, simulations=20, seed=1)
    sen = p.chambers["senate"]
    assert sen["seats"] == 36 and sen["majority"] == 19
    # Every simulation apportions all 36 senators: the means add up exactly.
    assert abs(sum(d["mean"] for d in sen["total"].values()) - 36) < 1e-9
    for d in sen["total"].values():
        assert abs(sum(d["distribution"].values()) - 1) < 1e-9 and d["lo"] <= d["hi"]
    assert p.chambers["deputies_proportional"]["seats"] == 123
    assert p.coverage == {"tables_counted": 7_164, "tables_expected": 34_157,
                          "departments_projected": list(LEY_421_2013)}
    json.dumps(p.to_dict())
    again = seat_probabilities(snap, roll, simulations=20, seed=1)
    assert again.to_dict() == p.to_dict()


def test_districts_without_a_winner_leave_named_seats_unassigned_and_the_rest_exact():
    """Issue 28: with uninominal districts still undecided, the seats each party holds
    whoever wins them are assigned, and the others are named with the reason. The
    guaranteed list seats are the minimum over every way the undecided districts can
    go (checked by enumerating them all)."""
    import itertools

    table = {"X": DepartmentSeats(4, 4, 0)}
    opts = BoliviaOptions(seat_table=table)
    votes = _votes({"X": {"A": 500, "B": 350, "C": 120, "D": 20}})
    known = _winners("X", ["A"])
    ch = chamber_of_deputies(votes, known, None, opts)
    held = ch.district_seats("X")
    items = ch.unassigned["X"]
    assert [u["kind"] for u in items] == ["uninominal", "list"]
    assert items[0]["seats"] == 3
    assert sum(held.values()) + sum(u["seats"] for u in items) == 8
    lists = {p: [] for p in "ABCD"}
    for combo in itertools.product("ABCD", repeat=3):
        full = _winners("X", ["A", *combo])
        out = chamber_of_deputies(votes, full, None, opts)
        assert "X" not in out.unassigned and sum(out.district_seats("X").values()) == 8
        for p in "ABCD":
            lists[p].append(out.by_district["X"].list_seats.get(p, 0))
    wins = {"A": 1}
    for p in "ABCD":
        assert held.get(p, 0) - wins.get(p, 0) == min(lists[p]), p
    assert ch.assigned == sum(held.values()) and ch.not_assigned == 8 - ch.assigned
    text = ch.summary()
    assert "not assigned: 3 uninominal seat(s)" in text and "Rule: CPE art. 146" in text


def test_2020_exports_name_every_seat_they_cannot_assign():
    """Every 2020 export is partial: the Chamber assigns what the counted tables settle
    and names every other seat, department by department, with its reason."""
    for name in ["computo_20201018T213655.csv.gz", "computo_20201019T123834.xlsx"]:
        res = seats_from_election(read_snapshots(DATA / "2020" / name), roll=read_roll(DATA / "2020" / "roll_2020.csv.gz"))
        dep = res.chambers["deputies"]
        named = sum(u["seats"] for items in dep.unassigned.values() for u in items)
        assert dep.assigned + named == 130, name
        d = dep.to_dict()
        assert d["not_assigned"] == named and d["assigned"] + d["not_assigned"] == 130
        for items in dep.unassigned.values():
            assert all(u["why"] for u in items)


def test_a_tie_left_open_in_the_walk_is_named():
    table = {"X": DepartmentSeats(1, 2, 0)}
    votes = _votes({"X": {"A": 300, "B": 100, "C": 100}})
    # D'Hondt on 3: A 300 150 100 | B 100 | C 100: A's win cancels 300; list: A 150, then
    # A 100, B 100, C 100 tie for the last list seat.
    ch = chamber_of_deputies(votes, _winners("X", ["A"]), None, BoliviaOptions(seat_table=table))
    items = ch.unassigned["X"]
    assert items[0]["kind"] == "list" and items[0]["seats"] == 1 and "tie" in items[0]["why"]
    assert ch.assigned + ch.not_assigned == 3 and ch.assigned == 2
