from pathlib import Path

import polars as pl
import pytest

from escrutinio.io import read_snapshots
from escrutinio.observers.discrepancies import compare, comparable_fields, only_in, summarize

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


@pytest.fixture(scope="module")
def computo():
    return read_snapshots(COMPUTO)[0]


def _copies(snap):
    return snap.frame.select("unit", *snap.choices, "blank", "null", "registered", "emitted")


def test_equal_copies_give_zero_discrepancies(computo):
    out = compare(computo.frame, _copies(computo))
    assert out.height == 0
    assert out.schema == {"unit": pl.Utf8, "field": pl.Utf8, "official": pl.Int64, "copy": pl.Int64}
    assert only_in(computo.frame, _copies(computo)).height == 0


def test_default_fields_are_the_actas_numbers(computo):
    fields = comparable_fields(computo.frame, computo.frame)
    assert set(fields) == {*computo.choices, "blank", "null", "registered", "emitted"}


def test_one_changed_field_gives_exactly_that_field(computo):
    copies = _copies(computo)
    unit = copies.get_column("unit")[1234]
    before = copies.filter(pl.col("unit") == unit).get_column("MAS - IPSP").item()
    copies = copies.with_columns(
        pl.when(pl.col("unit") == unit).then(pl.col("MAS - IPSP") + 7).otherwise(pl.col("MAS - IPSP")).alias("MAS - IPSP"))
    out = compare(computo.frame, copies)
    assert out.to_dicts() == [{"unit": unit, "field": "MAS - IPSP", "official": before, "copy": before + 7}]


def test_several_fields_in_field_order_and_nulls_differ():
    official = pl.DataFrame({"unit": ["a", "b", "c"], "X": [1, 2, 3], "Y": [4, 5, 6], "blank": [0, 0, 0]})
    copies = pl.DataFrame({"unit": ["b", "a", "d"], "Y": [50, 4, 1], "X": [2, None, 1], "blank": [1, 0, 0]})
    out = compare(official, copies)
    assert out.rows() == [("a", "X", 1, None), ("b", "Y", 5, 50), ("b", "blank", 0, 1)]
    assert compare(official, copies, fields=["Y"]).rows() == [("b", "Y", 5, 50)]
    assert only_in(official, copies).rows() == [("c", "official"), ("d", "copies")]
    with pytest.raises(ValueError, match="not in both"):
        compare(official, copies.drop("Y"), fields=["Y"])


def test_summary_by_area():
    d = pl.DataFrame({"unit": ["a", "a", "b"], "field": ["X", "Y", "X"], "official": [1, 2, 3], "copy": [0, 0, 0]})
    units = pl.DataFrame({"unit": ["a", "b"], "department": ["La Paz", "La Paz"]})
    assert summarize(d, units, "department").rows() == [("La Paz", 2, 3)]
