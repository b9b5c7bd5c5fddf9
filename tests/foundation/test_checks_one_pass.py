"""The per-acta checks count every rule in one pass and look up findings only for the
rules that fail (issue 28: speed); the findings are the same."""
from __future__ import annotations

import polars as pl

from escrutinio.checks import run_checks
from escrutinio.model import Snapshot


def _snap(units, emitted=(10, 10, 10, 10), registered=(100, 100, 5, 100)):
    n = len(units)
    frame = pl.DataFrame({
        "unit": units, "unit_id": [None] * n, "place_id": [None] * n, "department": ["D"] * n,
        "registered": list(registered), "A": [6] * n, "B": [2] * n, "blank": [1] * n, "null": [1] * n,
        "emitted": list(emitted), "valid_reported": [None] * n, "valid_system": [None] * n,
        "emitted_system": [None] * n, "source_row": list(range(2, n + 2)),
    }, schema_overrides={"unit_id": pl.Utf8, "place_id": pl.Utf8, "valid_reported": pl.Int64,
                         "valid_system": pl.Int64, "emitted_system": pl.Int64})
    return Snapshot(election="E", contest="C", frame=frame, levels=("department",), choices=("A", "B"), source="f.csv")


def test_duplicates_and_other_rules_are_found():
    r = run_checks([_snap(["1", "2", "2", "4"], emitted=(10, 11, 10, 10))])
    got = sorted((row["rule"], row["unit"]) for row in r.findings.iter_rows(named=True))
    assert got == [("emitted_within_registered", "2"), ("unique_unit", "2"), ("unique_unit", "2"),
                   ("valid_blank_null_sum_to_emitted", "2")]
    dup = r.findings.filter(pl.col("rule") == "unique_unit")["detail"].to_list()
    assert dup == ["table code 2 appears 2 times"] * 2


def test_a_clean_snapshot_has_no_findings():
    r = run_checks([_snap(["1", "2", "3", "4"], registered=(100,) * 4)])
    assert r.findings.height == 0 and r.units_checked == 4
