"""Two exports of the same count are the same document: areas in the order they first
appear in the file, whatever polars' threads do (a group_by without maintain_order
listed them in a different order at each run)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from escrutinio import app
from escrutinio.publication.export import election_report

ROOT = Path(__file__).resolve().parents[2]
FINAL_2019 = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
AT = datetime(2019, 10, 25, 12, tzinfo=timezone.utc)


def test_the_export_is_the_same_bytes_each_time():
    snap = app.read([FINAL_2019]).latest("PRESIDENTE")
    first = json.dumps(election_report([snap], generated=AT, units=False))
    for _ in range(4):
        assert json.dumps(election_report([snap], generated=AT, units=False)) == first
