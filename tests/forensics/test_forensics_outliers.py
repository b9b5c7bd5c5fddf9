import numpy as np

from escrutinio.forensics.core import from_arrays
from escrutinio.forensics.outliers import find_outliers


def _data():
    n = 12
    reg = np.full(n, 200)
    emi = np.full(n, 150)
    votes = np.tile([80, 60, 5], (n, 1))
    votes[:, 0] += np.arange(n)          # all tables distinct ...
    votes[:, 1] -= np.arange(n)
    votes[3] = votes[2]                  # ... except tables 2 and 3 (same place)
    emi[5] = 200                         # 100 % turnout
    votes[5] = [195, 0, 0]               # unanimity
    emi[7] = 210                         # more ballots than registered
    votes[9] = [20, 120, 5]              # leader share far from its place
    valid = votes.sum(axis=1)
    place = np.array(["P1"] * 6 + ["P2"] * 6)
    return from_arrays(reg, emi, valid, votes, ("A", "B", "C"), units=np.array([f"T{i}" for i in range(n)]),
                       source_rows=np.arange(2, n + 2), groups={"polling_place": place})


def test_each_kind_of_flag_names_its_table_and_reason():
    out = find_outliers(_data())
    kinds = {(o["unit"], o["kind"]) for o in out}
    assert ("T5", "high_turnout") in kinds
    assert ("T5", "single_choice") in kinds
    assert ("T7", "over_registered") in kinds
    assert ("T2", "identical_tally") in kinds and ("T3", "identical_tally") in kinds
    assert ("T9", "leader_share_outlier") in kinds
    rec = next(o for o in out if o["unit"] == "T7")
    assert rec["source_row"] == 9 and "210" in rec["reason"]
    assert all(o["reason"] for o in out)


def test_thresholds_are_configurable():
    out = find_outliers(_data(), turnout_level=0.7)
    assert sum(o["kind"] == "high_turnout" for o in out) >= 10
