"""The integer-percentage text says which way the tables lean (issue 28: it said "more round
percentages than chance" when there were fewer)."""
import numpy as np

from escrutinio.forensics.core import StationFilter, from_arrays
from escrutinio.forensics.integer_percentages import integer_percentages


def _data(round_values: bool):
    rng = np.random.default_rng(5)
    n = 4000
    if round_values:
        # rolls that are multiples of 100 and turnouts written as whole percentages
        reg = 100 * rng.integers(3, 9, n)
        emitted = reg // 100 * rng.integers(55, 80, n)
    else:
        # turnout kept away from every whole percentage: a deficit of round values
        reg = rng.integers(300, 900, n)
        emitted = (reg * rng.integers(55, 80, n)) // 100
        whole = (200 * emitted) % (2 * reg)
        emitted = np.where((whole * 10 <= 2 * reg) | (whole * 10 >= 18 * reg), emitted + 3, emitted)
    valid = emitted - 5
    lead = (valid * 0.43).astype(np.int64) + rng.integers(0, 7, n)
    votes = np.column_stack([lead, valid - lead])
    return from_arrays(reg, emitted, valid, votes, ["A", "B"])


def test_deficit_is_called_fewer():
    r = integer_percentages(_data(False), draws=200, seed=1, station_filter=StationFilter(100, 1.0, 1.0))
    assert r.either.excess < -r.either.sd
    text = r.summary()
    assert "Fewer tables with round (integer) percentages than binomial chance" in text
    assert "More tables" not in text and "More round" not in text
    assert r.to_dict()["direction"].startswith("Fewer")


def test_excess_is_called_more():
    r = integer_percentages(_data(True), draws=200, seed=1, station_filter=StationFilter(100, 1.0, 1.0))
    assert r.either.excess > r.either.sd
    assert "More tables with round (integer) percentages than binomial chance" in r.summary()
