"""A PVT design records its election; an estimate from another election's reports is
refused (issue 28)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from escrutinio.errors import UsageError
from escrutinio.law.presidential import preset
from escrutinio.pvt.design import Design, check_election, election_of_file, make_design
from escrutinio.pvt.estimate import estimate

ROOT = Path(__file__).resolve().parents[2]


def _frame(n=300, seed=1):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"unit": [f"T{i:04d}" for i in range(n)], "country": ["X"] * n,
                         "department": [["North", "South", "East"][i % 3] for i in range(n)],
                         "registered": rng.integers(50, 300, n)})


def _reports(frame, seed=2):
    rng = np.random.default_rng(seed)
    a = rng.integers(10, 40, frame.height)
    b = rng.integers(10, 40, frame.height)
    return frame.with_columns(pl.Series("A", a), pl.Series("B", b), (pl.Series(a + b) + 3).alias("emitted"))


THIS = {"name": "Ruritania 2024", "date": "2024-05-12"}


def test_design_records_its_election_and_round_trips():
    d = make_design(_frame(), 40, "s", ["department"], ["country", "department"], election=THIS)
    assert d.election == THIS and len(d.sample_registered) == 40
    again = Design.from_dict(d.to_dict())
    assert again.election == THIS and again.sample_registered == d.sample_registered and again.sha256 == d.sha256
    # a design file written before these fields keeps its hash
    old = d.to_dict()
    old.pop("election"), old.pop("sample_registered")
    assert "election" not in Design.from_dict(old).to_dict()


def test_another_elections_reports_are_refused():
    f = _frame()
    d = make_design(f, 40, "s", ["department"], ["country", "department"], election=THIS)
    rep = _reports(f)
    est = estimate(d, rep, ["A", "B"], preset("plurality"), draws=200, election=THIS)
    assert "other registered voters" not in est.summary()
    with pytest.raises(UsageError, match=r"drawn for Ruritania 2024 \(2024-05-12\) and the reports are of Ruritania 2028"):
        estimate(d, rep, ["A", "B"], preset("plurality"), draws=200, election={"name": "Ruritania 2028"})
    # the same table ids with another roll: another election, whatever the names say
    other = _reports(_frame(seed=9))
    with pytest.raises(UsageError, match="other registered voters than the design's roll"):
        estimate(d, other, ["A", "B"], preset("plurality"), draws=200)


def test_a_few_changed_rolls_are_a_note():
    f = _frame()
    d = make_design(f, 40, "s", ["department"], ["country", "department"])
    changed = f.with_columns(pl.when(pl.col("unit") == d.sample[0]).then(pl.col("registered") + 1)
                             .otherwise(pl.col("registered")).alias("registered"))
    assert check_election(d, changed) == ["1 of 40 sampled tables report other registered voters than the design's roll"]


def test_bundled_count_files_name_their_election():
    assert election_of_file(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz") == \
        {"name": "Bolivia 2019", "date": "2019-10-20"}
    assert election_of_file(ROOT / "examples/bolivia/2020/roll_2020.csv.gz") is None
