"""One election per database; exports by export time, not load time; the same count
under new bytes adds nothing (issue 22). On SQLite and PostgreSQL."""
import gzip
import json
from pathlib import Path

from escrutinio.publication.totals import recompute_totals
from escrutinio.server.testing import database_url, head_of, server_client  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
TREP = ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz"
EXPORTS_2020 = sorted((ROOT / "examples/bolivia/2020").glob("computo_2020*"))


def _log(sc) -> list[dict]:
    return [json.loads(x) for x in sc.client.get("/api/v1/log").text.splitlines()]


def _post(sc, path: Path):
    with open(path, "rb") as f:
        return sc.client.post("/api/v1/official", files={"file": (path.name, f)}, headers=sc.headers("admin"))


def _served(sc, contest="PRESIDENTE") -> dict:
    r = sc.client.get("/api/v1/results", params={"contest": contest})
    assert r.status_code == 200, r.text
    return r.json()


def test_an_earlier_export_loaded_later_is_history(server_client, tmp_path):
    sc = server_client
    final = sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 300))
    before = _served(sc)
    r = _post(sc, head_of(TREP, tmp_path / "trep_2019-10-20T19-40-57.csv.gz", 200))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] is True and body["in_force"] == [] and "history" in body["note"]
    contests = {c["contest"]: c for c in sc.client.get("/api/v1/contests").json()}
    assert contests["PRESIDENTE"]["snapshot_id"] == final["snapshot_id"]
    assert _served(sc) == before  # the public page keeps the final count
    # anyone recomputing from the log applies the same rule
    totals = recompute_totals(_log(sc))
    assert totals.official["PRESIDENTE"].snapshot.snapshot_id == final["snapshot_id"]
    assert sum(1 for e in _log(sc) if e["kind"] == "official_record" and e["payload"]["snapshot_id"] == body["snapshot_id"]) \
        == body["units"]


def test_a_later_export_loaded_after_replaces(server_client, tmp_path):
    sc = server_client
    sc.load(head_of(TREP, tmp_path / "trep_2019-10-20T19-40-57.csv.gz", 200))
    final = sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 300))
    assert final["in_force"] == ["PRESIDENTE"] and final["note"] is None
    assert recompute_totals(_log(sc)).official["PRESIDENTE"].snapshot.snapshot_id == final["snapshot_id"]


def test_same_count_under_new_bytes_adds_nothing(server_client, tmp_path):
    sc = server_client
    first = sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 300))
    size = len(_log(sc))
    again = tmp_path / "again" / "computo_2019-10-25.csv.gz"
    again.parent.mkdir()
    again.write_bytes(gzip.compress(gzip.decompress((tmp_path / "computo_2019-10-25.csv.gz").read_bytes()), 1, mtime=7))
    assert again.read_bytes() != (tmp_path / "computo_2019-10-25.csv.gz").read_bytes()
    r = _post(sc, again)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is False and r.json()["same_content_as"] == first["snapshot_id"]
    assert len(_log(sc)) == size
    assert len(sc.client.get("/api/v1/snapshots", headers=sc.headers("admin")).json()) == 1


def test_another_election_is_refused_and_nothing_written(server_client, tmp_path):
    sc = server_client
    sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 300))
    size = len(_log(sc))
    r = _post(sc, EXPORTS_2020[1])
    assert r.status_code == 409, r.text
    detail = r.json()["error"]
    assert "Bolivia 2020" in detail and "Bolivia 2019" in detail and "\n" not in detail
    assert len(_log(sc)) == size
    assert len(sc.client.get("/api/v1/snapshots", headers=sc.headers("admin")).json()) == 1
    audit = sc.client.get("/api/v1/audit", headers=sc.headers("admin")).json()
    assert not any(a["action"] == "official_loaded" and "2020" in a["detail"].get("source", "") for a in audit)


def test_2020_exports_out_of_order(server_client):
    sc = server_client
    csvs = [p for p in EXPORTS_2020 if p.name.endswith(".csv.gz")]  # 21:36, 23:28, 01:38
    loaded = {p.name: sc.load(p) for p in (csvs[1], csvs[2], csvs[0])}
    assert loaded[csvs[0].name]["in_force"] == []
    contests = {c["contest"]: c for c in sc.client.get("/api/v1/contests").json()}
    for name in ("PRESIDENTE", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL"):
        assert contests[name]["snapshot_id"] == loaded[csvs[2].name]["snapshot_id"]
    totals = recompute_totals(_log(sc))
    assert totals.official["PRESIDENTE"].snapshot.snapshot_id == loaded[csvs[2].name]["snapshot_id"]
