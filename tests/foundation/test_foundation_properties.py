"""Property tests: totals do not depend on row order or on how a count is split into
files, and level totals add up to the national total."""
import io

import polars as pl
from hypothesis import HealthCheck, given, settings, strategies as st

from escrutinio.io import Mapping, combine, read_snapshots
from escrutinio.law.presidential import preset
from escrutinio.tabulate import tabulate

CHOICES = ["A", "B", "C"]
MAPPING = Mapping.from_dict({
    "election": {"name": "Prop", "contest": "P"},
    "columns": {"unit": "unit", "registered": "registered", "blank": "blank", "null": "null"},
    "levels": {"region": "region", "district": "district"},
    "choices": {"columns": CHOICES},
})

row = st.fixed_dictionaries({
    "region": st.sampled_from(["N", "S", "E"]),
    "district": st.sampled_from(["d1", "d2", "d1 "]),  # padded duplicate name collapses to d1
    "A": st.integers(0, 5000), "B": st.integers(0, 5000), "C": st.integers(0, 50),
    "blank": st.integers(0, 30), "null": st.integers(0, 30),
})
tables = st.lists(row, min_size=1, max_size=60)


def to_csv(rows, tmp_path, name):
    frame = pl.DataFrame(rows).with_row_index("unit").with_columns(
        pl.col("unit").cast(pl.Utf8),
        (pl.col("A") + pl.col("B") + pl.col("C") + pl.col("blank") + pl.col("null") + 7).alias("registered"))
    path = tmp_path / name
    frame.write_csv(path)
    return path


def key(tab):
    return tab.units, tab.totals, tab.choices, tab.verdict.outcome


settings_ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(tables, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(tmp_path, rows, rnd):
    (a,) = read_snapshots(to_csv(rows, tmp_path, "a.csv"), mapping=MAPPING)
    shuffled = a.frame.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 10**6))
    b = a.__class__(**{**a.__dict__, "frame": shuffled})
    rule = preset("bolivia")
    assert key(tabulate(a, rule=rule)) == key(tabulate(b, rule=rule))


@settings_
@given(tables, st.integers(0, 60))
def test_split_into_two_files(tmp_path, rows, cut):
    cut = min(cut, len(rows))
    (whole,) = read_snapshots(to_csv(rows, tmp_path, "w.csv"), mapping=MAPPING)
    frame = whole.frame
    parts = []
    for i, part in enumerate((frame.head(cut), frame.slice(cut))):
        if part.height:
            p = tmp_path / f"part{i}.csv"
            part.select(["unit", "region", "district", "registered", *CHOICES, "blank", "null"]).write_csv(p)
            parts.extend(read_snapshots(p, mapping=MAPPING))
    rule = preset("plurality")
    assert key(tabulate(combine(parts), rule=rule)) == key(tabulate(whole, rule=rule))


@settings_
@given(tables, st.sampled_from(["region", "district"]))
def test_levels_add_up(tmp_path, rows, level):
    (s,) = read_snapshots(to_csv(rows, tmp_path, "l.csv"), mapping=MAPPING)
    tab = tabulate(s, level=level)
    for col in ["registered", "valid", "blank", "null", "emitted", *CHOICES]:
        total = tab.totals[col] if col in tab.totals else tab.choices[col]
        assert int(tab.rows.get_column(col).sum()) == total
    assert int(tab.rows.get_column("units").sum()) == tab.units
    # padded names are trimmed: "d1 " and "d1" are one district
    assert set(s.frame.get_column("district").unique()) <= {"d1", "d2"}
