"""A file read by the fast CSV path keeps every column of the snapshot in the reader's own
chunks: one column in a single chunk beside the others made polars re-align the whole
frame at every later step (issue 28, 1,000,000 tables)."""
from __future__ import annotations

from escrutinio.io import read_snapshots

MAPPING = """
[election]
name = "Generated"
contest = "President"
[columns]
unit = "table"
registered = "registered"
blank = "blank"
null = "null"
[levels]
department = "department"
[choices]
columns = ["A", "B"]
"""


def test_every_column_is_in_the_same_chunks(tmp_path):
    rows = ["table,department,registered,A,B,blank,null"]
    rows += [f"{i},D{i % 7},{300 + i % 50},{i % 90},{i % 80},{i % 3},{i % 5}" for i in range(1, 400_001)]
    data = tmp_path / "big.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    (snap,) = read_snapshots(str(data), mapping=str(mapping))
    chunks = {c: snap.frame.get_column(c).n_chunks() for c in snap.frame.columns}
    assert len(set(chunks.values())) == 1, chunks  # 7 chunks each here, with 1 or 2 threads
    # the columns the file does not publish are nulls, not zeros, and row numbers are the file's
    assert snap.frame.get_column("valid_reported").null_count() == snap.frame.height
    assert snap.frame.get_column("unit_id").null_count() == snap.frame.height
    assert snap.frame.get_column("source_row").to_list()[:2] == [2, 3]
    assert snap.frame.get_column("emitted").to_list()[:1] == [1 + 1 + 1 + 1]
