"""Apportionment core: textbook cases checked by hand, and the US House after the 2020
census (Huntington–Hill on the Census Bureau's apportionment populations)."""
from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pytest

from escrutinio.errors import InputError, UsageError
from escrutinio.law.apportionment import METHODS, Threshold, apportion, method

DATA = Path(__file__).parent / "data"
TEXTBOOK = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}


def test_dhondt_textbook():
    r = apportion(TEXTBOOK, 8, "dhondt")
    assert r.seats == {"A": 4, "B": 3, "C": 1, "D": 0}
    # By hand: quotients A 100000 50000 33333 25000 | B 80000 40000 26667 | C 30000 | D 20000.
    # The 8th seat is A's 25,000; B's next quotient is 80000/4 = 20000, so B needs
    # 4 * 25000 + 1 - 80000 = 20,001 more votes.
    assert r.last_seat["party"] == "A" and r.last_seat["quotient"] == "25000"
    assert r.last_seat["runner_up"]["party"] == "B"
    assert r.last_seat["runner_up"]["votes_needed"] == 20_001
    assert "8th seat went to A" in r.explanation()
    assert [s.party for s in r.steps] == ["A", "B", "A", "B", "A", "C", "B", "A"]


def test_sainte_lague_textbook_by_hand():
    # Divisors 1, 3, 5, 7: A 100000 33333 20000 14286 | B 80000 26667 16000 |
    # C 30000 10000 | D 20000 6667. The eight largest: 100000 A, 80000 B, 33333 A,
    # 30000 C, 26667 B, 20000 A, 20000 D, 16000 B  ->  A 3, B 3, C 1, D 1.
    r = apportion(TEXTBOOK, 8, "sainte_lague")
    assert r.seats == {"A": 3, "B": 3, "C": 1, "D": 1}
    assert r.last_seat["party"] == "B" and r.last_seat["quotient"] == "16000"
    assert method("webster").key == "sainte_lague"


def test_hare_textbook_by_hand():
    # Quota 230000 / 8 = 28750. A 3.478, B 2.783, C 1.043, D 0.696: whole quotas 3+2+1+0 = 6,
    # remainders (votes) A 13750, B 22500, C 1250, D 20000 -> the 2 seats left go to B, D.
    r = apportion(TEXTBOOK, 8, "hare")
    assert r.quota == Fraction(28750)
    assert r.automatic == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert r.remainders["B"] == 22500 and r.remainders["D"] == 20000
    assert r.seats == {"A": 3, "B": 3, "C": 1, "D": 1}


def test_other_methods_textbook():
    assert apportion(TEXTBOOK, 8, "droop").seats == {"A": 4, "B": 3, "C": 1, "D": 0}
    assert apportion(TEXTBOOK, 8, "imperiali").seats == {"A": 5, "B": 3, "C": 0, "D": 0}
    assert apportion(TEXTBOOK, 8, "adams").seats == {"A": 3, "B": 3, "C": 1, "D": 1}
    assert apportion(TEXTBOOK, 8, "danish").seats == {"A": 3, "B": 3, "C": 1, "D": 1}


def test_modified_sainte_lague_exact_tie_is_reported():
    # First divisor 1.4: A's 4th quotient 100000/7 equals D's first 20000/1.4 = 100000/7
    # exactly. Floats would decide it silently; we report it.
    r = apportion(TEXTBOOK, 8, "modified_sainte_lague")
    assert not r.decided
    assert r.tie.parties == ["A", "D"] and r.tie.seats_at_stake == 1
    assert sum(r.seats.values()) == 7
    lot = apportion(TEXTBOOK, 8, "modified_sainte_lague", tie="lot", seed=1)
    assert lot.decided and sum(lot.seats.values()) == 8
    assert lot.to_dict() == apportion(TEXTBOOK, 8, "modified_sainte_lague", tie="lot", seed=1).to_dict()


def _us():
    rows = [r for r in csv.DictReader(l for l in (DATA / "us_apportionment_2020.csv").open() if not l.startswith("#"))]
    pop = {r["state"]: int(r["apportionment_population"]) for r in rows}
    seats = {r["state"]: int(r["representatives"]) for r in rows}
    return pop, seats


def test_us_house_2020_huntington_hill():
    pop, official = _us()
    assert len(pop) == 50 and sum(pop.values()) == 331_108_434 and sum(official.values()) == 435
    r = apportion(pop, 435, "huntington_hill")
    assert r.seats == official
    # The Census Bureau: seat 435 went to Minnesota; New York was next in line and
    # would have needed 89 more people.
    assert r.last_seat["party"] == "Minnesota"
    assert r.last_seat["runner_up"]["party"] == "New York"
    assert r.last_seat["runner_up"]["votes_needed"] == 89


def test_threshold_district_and_national():
    th = Threshold(Fraction(3, 100))
    r = apportion({"A": 970, "B": 29, "C": 1}, 10, "dhondt", threshold=th)
    assert r.seats == {"A": 10, "B": 0, "C": 0}
    assert "B" in r.excluded and "C" in r.excluded  # 2.9% < 3%
    nat = Threshold(Fraction(3, 100), base="national", include_abroad=False)
    r2 = apportion({"A": 50, "B": 50}, 2, "dhondt", threshold=nat,
                   national_votes={"A": 980, "B": 20}, abroad_votes={"B": 1000})
    assert r2.seats == {"A": 2, "B": 0}
    nat_abroad = Threshold(Fraction(3, 100), base="national", include_abroad=True)
    r3 = apportion({"A": 50, "B": 50}, 2, "dhondt", threshold=nat_abroad,
                   national_votes={"A": 980, "B": 20}, abroad_votes={"B": 1000})
    assert r3.seats == {"A": 1, "B": 1}
    alt = Threshold(Fraction(5, 100), seats_alternative=3)
    r4 = apportion({"A": 960, "B": 40}, 10, "dhondt", threshold=alt, seats_won={"B": 3})
    assert "B" in r4.eligible


def test_bad_input():
    with pytest.raises(InputError, match="negative"):
        apportion({"A": -1, "B": 3}, 2)
    with pytest.raises(InputError, match="integers"):
        apportion({"A": 1.5, "B": 3}, 2)
    with pytest.raises(InputError, match="integers"):
        apportion({"A": 2.0, "B": 3}, 2)
    with pytest.raises(InputError, match="no party"):
        apportion({"A": 0, "B": 0}, 2, district="Pando")
    with pytest.raises(UsageError):
        apportion({"A": 1}, -1)
    with pytest.raises(UsageError):
        apportion({"A": 1}, 1, "no-such-method")
    # More seats than parties with votes: documented — divisor methods give several seats each.
    r = apportion({"A": 10, "B": 6, "C": 0}, 5, "dhondt")
    assert r.seats == {"A": 3, "B": 2, "C": 0}
    assert r.decided and not r.notes
    # A party absent from a district simply is not in the result (no KeyError, no seat).
    assert "Z" not in apportion({"A": 10}, 1).seats
    # Zero seats is a valid (empty) apportionment.
    assert sum(apportion({"A": 10}, 0).seats.values()) == 0


def test_all_methods_registered_and_json_safe():
    import json

    for key in METHODS:
        r = apportion(TEXTBOOK, 7, key, tie="lot", seed=0)
        assert sum(r.seats.values()) == 7, key
        json.dumps(r.to_dict(), allow_nan=False)
        assert r.summary()


def test_hare_tie_without_whole_quotas_reads_plainly():
    """Issue 28: no party reaching a whole quota read "whole quotas give ." with an empty list."""
    r = apportion({"A": 10, "B": 10, "C": 10, "D": 10, "E": 10}, 2, "hare")
    text = r.explanation()
    assert "whole quotas give ." not in text and "give ," not in text
    assert "no party reaches a whole quota, so every seat goes by largest remainder" in text
    assert "whole quotas give A 1" in apportion({"A": 60, "B": 40}, 2, "hare").explanation()
