"""A snapshot stored in the workspace comes back with everything its mapping declared:
the polling-place and area levels (forensics' outlier groups) and the presidential rule
(the verdict), not only its rows."""
from pathlib import Path

from escrutinio.dynamics.sources import read_snapshot
from escrutinio.workspace import Workspace

RU = Path(__file__).parents[2] / "examples" / "protocols_ru"


def test_snapshot_round_trip_keeps_what_the_mapping_declares(tmp_path):
    snap = read_snapshot(RU / "protocols_ru_2024-03-18T09-00-00.csv", mapping=RU / "protocols_ru.toml")
    assert snap.place_level and snap.area_level and snap.presidential_rule
    with Workspace(tmp_path / "ws.duckdb") as ws:
        back = ws.get_snapshot(ws.put_snapshot(snap))
    assert (back.place_level, back.area_level, back.presidential_rule) == \
        (snap.place_level, snap.area_level, snap.presidential_rule)
    assert back.describe() == snap.describe()
    assert back.frame.equals(snap.frame)
