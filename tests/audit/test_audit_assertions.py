"""Assertion algebra: exact, and equivalent to the rule it encodes."""
from fractions import Fraction

import numpy as np
import pytest

from escrutinio.audit import assertions as A
from escrutinio.errors import UsageError

BOLIVIA_2019 = {"CC": 2240920, "FPV": 23725, "MTS": 76827, "UCS": 25283, "MAS - IPSP": 2889359,
                "21F": 260316, "PDC": 539081, "MNR": 42334, "PAN-BOL": 39826}


def test_invalid_ballots_are_neutral():
    for a in (A.pairwise("w", "l"), A.share_above("w", 0.4), A.lead_at_least("w", "r", 0.1), A.majority("w")):
        assert a.assorter(None) == Fraction(1, 2)


def test_share_assorter_is_shangrla_supermajority():
    a = A.share_above("w", Fraction(2, 5))
    assert a.assorter("w") == Fraction(5, 4)  # 1 / (2 t)
    assert a.assorter("x") == 0
    assert a.upper_bound == Fraction(5, 4)


def test_lead_assorter_bounds():
    a = A.lead_at_least("w", "r", Fraction(1, 10))
    assert a.assorter("r") == 0
    assert a.upper_bound == Fraction(10, 11)  # 1 / (1 + d)
    assert a.assorter("other") == Fraction(1, 2) - Fraction(1, 10) / (2 * Fraction(11, 10))


@pytest.mark.parametrize("votes", [
    {"w": 40, "r": 30, "x": 30}, {"w": 40, "r": 29, "x": 31}, {"w": 41, "r": 30, "x": 29},
    {"w": 50, "r": 40, "x": 10}, {"w": 39, "r": 20, "x": 41},
])
def test_mean_above_half_iff_rule_holds_exactly(votes):
    invalid = 17
    V = sum(votes.values())
    for a, truth in [
        (A.share_above("w", Fraction(2, 5)), Fraction(votes["w"], V) > Fraction(2, 5)),
        (A.lead_at_least("w", "r", Fraction(1, 10)), Fraction(votes["w"] - votes["r"], V) > Fraction(1, 10)),
        (A.pairwise("w", "r"), votes["w"] > votes["r"]),
    ]:
        total = sum(a.assorter(c) * v for c, v in votes.items()) + invalid * a.assorter(None)
        assert (total / (V + invalid) > Fraction(1, 2)) == truth == a.holds(votes)


def test_bolivia_2019_first_round_assertions():
    asr = A.first_round(BOLIVIA_2019, "bolivia")
    names = [a.name for a in asr]
    assert names[0] == "share MAS - IPSP > 40%"
    assert "lead MAS - IPSP over CC > 10 pts" in names
    assert len(asr) == 1 + 8  # share, and the lead over each of the eight others
    lead_cc = next(a for a in asr if a.params.get("rival") == "CC")
    V = sum(BOLIVIA_2019.values())
    # exact: lead 648,439 votes over 6,137,671 valid = 10.56 points
    assert lead_cc.score_total(BOLIVIA_2019) == Fraction(648439) - Fraction(1, 10) * V
    assert all(a.holds(BOLIVIA_2019) for a in asr)


def test_runoff_outcome_is_audited_too():
    trep = {"MAS": 4571, "CC": 3784, "X": 1645}  # 45.71 / 37.84: lead 7.87 points
    asr = A.first_round(trep, "bolivia")
    assert all(a.holds(trep) for a in asr)
    names = [a.name for a in asr]
    assert any("lead MAS over CC <=" in n for n in names)
    assert "MAS beats X" in names and "CC beats X" in names


def test_argentina_45_percent_rule():
    votes = {"A": 46, "B": 40, "C": 14}
    asr = A.first_round(votes, "argentina")
    assert [a.name for a in asr] == ["share A > 45%"]
    # 42% with an 11-point lead also wins in Argentina and in Ecuador
    votes = {"A": 42, "B": 31, "C": 27}
    assert A.first_round(votes, "argentina")[0].name == "share A > 40%"
    assert A.first_round(votes, "ecuador")[0].name == "share A > 40%"


def test_dhondt_assertions_hold_on_reported():
    votes = {"A": 100, "B": 80, "C": 30}
    asr = A.dhondt(votes, 5)
    assert asr and all(a.holds(votes) for a in asr)


def test_negation_and_errors():
    a = A.share_above("w", 0.5)
    assert a.negated().holds({"w": 4, "x": 6})
    with pytest.raises(UsageError):
        A.share_above("w", 1.5)
    with pytest.raises(UsageError):
        A.build("nonsense", {"a": 1, "b": 0})
    assert A.Assertion.from_dict(a.to_dict()) == a


def test_batch_totals_vectorised():
    a = A.lead_at_least("w", "r", 0.1)
    votes = np.array([[10, 5, 3], [0, 0, 0]])
    tot = a.batch_totals(votes, ["w", "r", "x"], np.array([20, 7]))
    expect0 = float(10 * a.assorter("w") + 5 * a.assorter("r") + 3 * a.assorter("x") + 2 * Fraction(1, 2))
    assert tot[0] == pytest.approx(expect0)
    assert tot[1] == 3.5
