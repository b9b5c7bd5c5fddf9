"""The observer network's API on both databases: official load, double entry,
discrepancies, results, events, photos, limits."""
import json

import polars as pl
import pytest
from sqlalchemy import text

from escrutinio import app as escrutinio_app
from escrutinio.io import read_snapshots
from escrutinio.publication.entry import GENESIS_PREV, entry_hash

from server_data import COMPUTO


def _values(snap, unit):
    row = snap.frame.filter(pl.col("unit") == unit).row(0, named=True)
    return {f: int(row[f]) for f in (*snap.choices, "blank", "null", "registered", "emitted")}


def _log(sc):
    with sc.app.state.db.session() as s:
        rows = s.execute(text("SELECT seq, time, role, kind, payload, prev, hash FROM log_entries ORDER BY seq")).all()
    return [dict(r._mapping) for r in rows]


def test_official_load_is_atomic_idempotent_and_logged(server_client, small_computo):
    sc = server_client
    first = sc.load(small_computo)
    assert first["units"] == 400 and first["created"]
    again = sc.load(small_computo)
    assert again["snapshot_id"] == first["snapshot_id"] and not again["created"]
    entries = _log(sc)
    assert [e["kind"] for e in entries[:2]] == ["official_snapshot", "official_record"]
    assert len(entries) == 1 + 400
    prev = GENESIS_PREV
    for e in entries:  # the stored chain is exactly publication.entry's hashing
        entry = {k: e[k] for k in ("seq", "time", "role", "kind", "prev")} | {"payload": json.loads(e["payload"])}
        assert e["prev"] == prev and e["hash"] == entry_hash(entry)
        prev = e["hash"]
    snap = read_snapshots(small_computo)[0]
    rec = json.loads(entries[1]["payload"])
    assert rec["unit"] == snap.frame["unit"][0] and rec["values"] == _values(snap, rec["unit"])
    assert rec["levels"]["department"] == snap.frame["department"][0] and entries[1]["role"] == "admin"
    with sc.app.state.db.session(write=True) as s, pytest.raises(Exception):
        s.execute(text("UPDATE log_entries SET kind = 'x' WHERE seq = 0"))
    with sc.app.state.db.session(write=True) as s, pytest.raises(Exception):
        s.execute(text("DELETE FROM log_entries"))
    assert len(_log(sc)) == 401


def test_an_explanation_covers_the_difference_it_was_written_about(server_client, small_computo, tmp_path):
    import csv
    import gzip
    import io

    sc, c = server_client, server_client.client
    sc.load(small_computo)
    snap = read_snapshots(small_computo)[0]
    u = snap.frame["unit"][3]
    copy = _values(snap, u)
    copy["CC"] += 2
    copy["emitted"] += 2
    copy["registered"] = max(copy["registered"], copy["emitted"])
    for role_name, cid in (("ana", "e1"), ("beto", "e2")):
        c.post("/api/v1/entries", headers=sc.headers("typist", role_name), json={"unit": u, "values": copy, "client_id": cid})
    c.post("/api/v1/discrepancies/explain", headers=sc.headers("coordinator"), json={"unit": u, "field": "CC", "note": "smudge"})
    assert next(d for d in c.get("/api/v1/discrepancies").json() if d["field"] == "CC")["explained"]
    # a later official file changes that acta's CC: a new difference, not yet explained
    with gzip.open(small_computo, "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    cc = rows[0].index("CC")
    for r in rows[1:]:
        if r[0] == u:
            r[cc] = str(int(r[cc]) + 1)
    later = tmp_path / "computo_2019-10-25.csv.gz"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    with gzip.open(later, "wt", encoding="utf-8") as f:
        f.write(buf.getvalue())
    assert sc.load(later)["snapshot_id"] == 2
    d = next(d for d in c.get("/api/v1/discrepancies").json() if d["field"] == "CC")
    assert d["copy"] - d["official"] == 1 and not d["explained"] and d["note"] == "smudge"


def test_bad_file_is_refused_whole(server_client, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with open(bad, "rb") as f:
        r = server_client.client.post("/api/v1/official", files={"file": ("bad.csv", f)}, headers=server_client.headers("admin"))
    assert r.status_code == 422 and "bad.csv" in r.json()["error"]
    assert _log(server_client) == []


def test_double_entry_discrepancies_and_results(server_client, small_computo):
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    snap = read_snapshots(small_computo)[0]
    t1, t2, coord = sc.headers("typist", "ana"), sc.headers("typist", "beto"), sc.headers("coordinator")
    units = snap.frame["unit"].to_list()
    # equal copies of 20 actas: agreed, zero discrepancies
    for u in units[:20]:
        r = c.post("/api/v1/entries", headers=t1, json={"unit": u, "values": _values(snap, u), "client_id": f"a-{u}"})
        assert r.status_code == 200 and r.json()["state"] == "first_entered"
        pending = c.get("/api/v1/entries/pending", headers=t2).json()
        assert {"unit": u, "contest": "PRESIDENTE"}.items() <= pending[-1].items() and "values" not in pending[-1]
        assert c.get("/api/v1/entries/pending", headers=t1).json() == []  # not offered to its first typist
        same = c.post("/api/v1/entries", headers=t1, json={"unit": u, "values": _values(snap, u), "client_id": f"a2-{u}"})
        assert same.status_code == 409 and same.json()["error"]
        r = c.post("/api/v1/entries", headers=t2, json={"unit": u, "values": _values(snap, u), "client_id": f"b-{u}"})
        assert r.json()["state"] == "agreed"
    replay = c.post("/api/v1/entries", headers=t2, json={"unit": units[0], "values": _values(snap, units[0]), "client_id": f"b-{units[0]}"})
    assert replay.status_code == 200 and replay.json()["replayed"]
    assert c.get("/api/v1/discrepancies").json() == []
    # a copy that differs in one field gives exactly that field
    u = units[25]
    v = _values(snap, u)
    v["CC"] += 3
    v["emitted"] += 3
    v["registered"] = max(v["registered"], v["emitted"])
    fields_changed = {f for f in v if v[f] != _values(snap, u)[f]}
    for h, cid in ((t1, "x1"), (t2, "x2")):
        c.post("/api/v1/entries", headers=h, json={"unit": u, "values": v, "client_id": cid})
    d = c.get("/api/v1/discrepancies").json()
    assert {(x["unit"], x["field"]) for x in d} == {(u, f) for f in fields_changed}
    cc = next(x for x in d if x["field"] == "CC")
    assert cc["copy"] - cc["official"] == 3 and cc["since"] and not cc["explained"]
    assert len(c.get("/api/v1/discrepancies", params={"field": "CC"}).json()) == 1
    assert len(c.get("/api/v1/discrepancies", params={"min_size": 4}).json()) == 0
    r = c.post("/api/v1/discrepancies/explain", headers=coord, json={"unit": u, "field": "CC", "note": "ink smudge"})
    assert r.status_code == 200
    assert next(x for x in c.get("/api/v1/discrepancies").json() if x["field"] == "CC")["explained"]
    assert _log(sc)[-1]["kind"] == "discrepancy_explained"
    by_area = c.get("/api/v1/discrepancies/by-area", params={"level": "department"}).json()
    assert sum(a["units_with_differences"] for a in by_area["areas"]) == 1
    assert sum(a["compared"] for a in by_area["areas"]) == 21
    only = c.get("/api/v1/discrepancies/only-in").json()
    assert only["official_only"] == 400 - 21 and only["copies_only"] == []
    # different entries: the coordinator resolves
    u = units[30]
    v2 = dict(_values(snap, u))
    v2["blank"] += 1
    photo = c.post("/api/v1/photos", headers=t1, files={"file": ("acta.jpg", _image("JPEG"))}).json()["sha256"]
    nophoto = c.post("/api/v1/entries", headers=t1, json={"unit": u, "values": _values(snap, u), "client_id": "d0",
                                                            "photo_sha256": "0" * 64})
    assert nophoto.status_code == 422
    c.post("/api/v1/entries", headers=t1, json={"unit": u, "values": _values(snap, u), "client_id": "d1", "photo_sha256": photo})
    r = c.post("/api/v1/entries", headers=t2, json={"unit": u, "values": v2, "client_id": "d2"})
    assert r.json()["state"] == "different"
    diff = c.get("/api/v1/entries/different", headers=coord).json()
    assert diff[0]["unit"] == u and diff[0]["fields"] == ["blank"] and len(diff[0]["entries"]) == 2
    assert [e["photo_sha256"] for e in diff[0]["entries"]] == [photo, None]
    assert c.post(f"/api/v1/entries/{u}/resolve", headers=t1, json={"values": _values(snap, u)}).status_code == 403
    r = c.post(f"/api/v1/entries/{u}/resolve", headers=coord, json={"values": _values(snap, u), "note": "photo"})
    assert r.json()["state"] == "resolved"
    # a copy failing the checks is quarantined, not counted, until released
    u = units[31]
    bad = _values(snap, u)
    bad["emitted"] = bad["registered"] + 5
    for h, cid in ((t1, "q1"), (t2, "q2")):
        r = c.post("/api/v1/entries", headers=h, json={"unit": u, "values": bad, "client_id": cid})
    assert r.json()["state"] == "quarantined"
    copies = c.get("/api/v1/results", params={"source": "copies"}).json()
    assert copies["units"] == 22
    assert c.post(f"/api/v1/entries/{u}/release", headers=coord, json={"note": "the acta says so"}).json()["state"] == "released"
    assert c.get("/api/v1/results", params={"source": "copies"}).json()["units"] == 23
    kinds = [e["kind"] for e in _log(sc)]
    assert kinds.count("copy_agreed") == 21 and kinds.count("copy_resolved") == 1 and kinds.count("quarantine_released") == 1
    assert all(e["role"] in ("admin", "typist", "coordinator") for e in _log(sc))
    both = c.get("/api/v1/results", params={"source": "both", "level": "department"}).json()
    assert set(both) == {"official", "copies", "official_same_units"}
    assert both["official_same_units"]["units"] == 23 and both["official"]["units"] == 400
    # invalid values and unknown fields are refused with a JSON error
    r = c.post("/api/v1/entries", headers=t1, json={"unit": units[40], "values": {"CC": 1}, "client_id": "z"})
    assert r.status_code == 422 and "error" in r.json()
    r = c.post("/api/v1/entries", headers=t1, json={"unit": units[40], "values": {**_values(snap, units[40]), "CC": 1.5}, "client_id": "z"})
    assert r.status_code == 422
    audit = c.get("/api/v1/audit", headers=sc.headers("admin"), params={"limit": 1000}).json()
    assert {"official_loaded", "entry_submitted", "entry_resolved", "quarantine_released", "discrepancy_explained"} <= {a["action"] for a in audit}
    assert all(a["user_name"] and a["role"] and a["time"] for a in audit if a["action"] != "user_added")


def test_results_are_the_cli_contract(server_client, small_computo):
    sc = server_client
    sc.load(small_computo)
    expected = escrutinio_app.results(escrutinio_app.read([str(small_computo)]), level="department").to_dict()
    got = sc.client.get("/api/v1/results", params={"level": "department"}).json()
    assert got == json.loads(json.dumps(expected))
    assert got["final"] is False and got["completeness"]["tables"]["counted"] == 400
    r = sc.client.get("/api/v1/results", params={"level": "nowhere"})
    assert r.status_code == 400 and "nowhere" in r.json()["error"]
    assert sc.client.get("/api/v1/results", params={"contest": "nope"}).status_code == 404


def test_layout_places_projection_and_events(server_client, small_computo):
    sc, c = server_client, server_client.client
    assert c.get("/api/v1/results").status_code == 404
    sc.load(small_computo)
    snap = read_snapshots(small_computo)[0]
    u = snap.frame["unit"][0]
    lay = c.get(f"/api/v1/units/{u}").json()
    assert lay["choices"] == list(snap.choices) and lay["in_official"] and lay["levels"]["department"]
    places = c.get("/api/v1/places").json()["places"]
    assert sum(p["tables"] for p in places) == 400 and any(p["lat"] is not None for p in places)
    proj = c.get("/api/v1/projection").json()
    assert proj["snapshot_id"] == 1 and proj["partial"] is True
    with c.stream("GET", "/api/v1/events", params={"after": 0}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert events[0]["kind"] == "snapshot" and "seq" in events[0]
    assert all("seq" in e and "kind" in e for e in events)


def _image(fmt: str) -> bytes:
    """A small real image (photos are decoded before they are accepted)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 180, 20)).save(out, fmt)
    return out.getvalue()


def test_photos_by_content_and_size_limits(server_client):
    sc, c = server_client, server_client.client
    png = _image("PNG")
    r = c.post("/api/v1/photos", headers=sc.headers("watcher"), files={"file": ("acta.png", png)})
    assert r.status_code == 200 and len(r.json()["sha256"]) == 64 and r.json()["content_type"] == "image/png"
    r2 = c.post("/api/v1/photos", headers=sc.headers("watcher"), files={"file": ("other-name.jpg", png)})
    assert r2.json()["sha256"] == r.json()["sha256"]  # stored by content, whatever the name
    fake = c.post("/api/v1/photos", headers=sc.headers("typist"), files={"file": ("acta.jpg", b"<html>not a photo</html>")})
    assert fake.status_code == 415 and "error" in fake.json()
    got = c.get(f"/api/v1/photos/{r.json()['sha256']}", headers=sc.headers("typist"))
    assert got.status_code == 200 and got.content == png
    sc.settings.max_photo_bytes = 1000
    big = c.post("/api/v1/photos", headers=sc.headers("watcher"), files={"file": ("big.png", png + b"\x00" * 200_000)})
    assert big.status_code == 413 and "error" in big.json()
    sc.settings.max_request_bytes = 1000

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(50):
            yield b"[" + b"1," * 50 + b"1]"

    r = c.post("/api/v1/entries", content=chunks(), headers={**sc.headers("typist"), "content-type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()


def test_auth_errors_are_json(server_client):
    c = server_client.client
    r = c.post("/api/v1/entries", json={})
    assert r.status_code == 401 and r.json()["error"]
    r = c.get("/api/v1/results", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = c.post("/api/v1/entries", headers=server_client.headers("reader"), json={})
    assert r.status_code == 403 and "typist" in r.json()["error"]
    c.cookies.set("escrutinio_token", server_client.token("admin"))
    assert c.get("/api/v1/me").json()["role"] == "admin"


def test_map_keeps_the_counted_places_when_the_roll_cannot_be_read(database_url, tmp_path):
    """A roll the server cannot read (here a text file that is not one) is reported by the
    projection; the map still answers with the counted places, and says the roll was not read."""
    from pathlib import Path

    from escrutinio.server.testing import ServerClient

    data = Path(__file__).parents[2] / "examples" / "bolivia" / "2020"
    bad = tmp_path / "roll.csv"
    bad.write_text("this,is\nnot,a roll\n")
    sc = ServerClient(database_url, tmp_path, roll=bad, places=data / "polling_places_2020.csv.gz")
    try:
        sc.load(data / "computo_20201018T232833.csv.gz")
        r = sc.client.get("/pages/places.json", params={"contest": "PRESIDENTE"})
        assert r.status_code == 200
        pj = r.json()
        assert pj["coordinates_from"] == ["places: polling_places_2020.csv.gz",
                                          "roll: roll.csv not read, places not counted yet are not listed"]
        assert pj["uncounted"] == 0 and pj["counted"] > 0
        assert all(p["lat"] is not None for p in pj["places"])
        page = sc.client.get("/", params={"lang": "es", "contest": "PRESIDENTE"})
        assert page.status_code == 200
    finally:
        sc.close()


def test_projection_uses_the_servers_places_and_says_what_it_extrapolates(database_url, tmp_path):
    """With the polling places configured (``serve --places``) the server's projection is the
    multilevel model by area type, not the hot deck, and the results page says, in the
    reader's language, how many uncounted voters sit in strata with few counted tables."""
    from pathlib import Path

    from escrutinio.server.testing import ServerClient

    data = Path(__file__).parents[2] / "examples" / "bolivia" / "2020"
    sc = ServerClient(database_url, tmp_path, roll=data / "roll_2020.csv.gz",
                      places=data / "polling_places_2020.csv.gz")
    try:
        sc.load(data / "computo_20201018T232833.csv.gz")
        proj = sc.client.get("/api/v1/projection", params={"contest": "PRESIDENTE"}).json()
        assert proj["status"] == "ok" and proj["method"].startswith("multilevel"), proj.get("note")
        assert proj["multilevel"]["strata"][0] == "area"
        few = proj["extrapolation"]["share_few"]
        assert 0.2 < few < 0.4  # rural strata barely counted at 23:28
        page = sc.client.get("/", params={"lang": "es", "contest": "PRESIDENTE"}).text
        assert f"De los votantes aún no contados, {round(100 * few)}\xa0%" in page
        assert "rural aislada 100\xa0%" in page and "ruralaislado" not in page  # issue 22: area codes in words
        assert "cuán remoto es cada recinto no contado (los inscritos a menos de 5 km de él)" in page
        en = sc.client.get("/", params={"lang": "en", "contest": "PRESIDENTE"}).text
        assert "Of the voters not yet counted" in en and "how remote each uncounted polling place is" in en
        assert proj["inputs"]["places"]["file"] == "polling_places_2020.csv.gz"
        # the server's own number of simulations (Settings.projection_simulations), stated
        assert proj["simulations"] == proj["inputs"]["simulations"] == 2000
        # the places' coordinates make the remoteness covariate, and its prior is stored
        assert proj["multilevel"]["covariates"][-1] == "log voters_5km"
        assert proj["multilevel"]["selection"]["r_scale"] == proj["inputs"]["model"]["selection_r_given_remoteness"]
        # the map: the places file gives coordinates, the roll the places not counted yet
        pj = sc.client.get("/pages/places.json", params={"contest": "PRESIDENTE"}).json()
        assert pj["coordinates_from"] == ["places: polling_places_2020.csv.gz", "roll: roll_2020.csv.gz"]
        assert pj["uncounted"] > 4 * pj["counted"]  # 23:28: the cities only
        located = [p for p in pj["places"] if p["lat"] is not None]
        assert len(located) == len(pj["places"]) and all(p["path"].split(" / ")[0] for p in located)
        assert not any(p["counted"] for p in pj["places"][pj["counted"]:])
    finally:
        sc.close()
    # with the previous election (bundled layout, named): the swing covariate is in, and
    # the inputs name the mapping
    prev = Path(__file__).parents[2] / "examples" / "bolivia" / "2019" / "mesas_2019_linked.csv.gz"
    withprev = ServerClient(database_url, tmp_path, roll=data / "roll_2020.csv.gz", places=data / "polling_places_2020.csv.gz",
                            previous=prev, previous_mapping="bolivia-2019-linked")
    try:
        assert withprev.client.get("/api/v1/projection", params={"contest": "PRESIDENTE"}).json()["status"] == "pending"
        proj = withprev.client.get("/api/v1/projection", params={"contest": "PRESIDENTE"}).json()
        assert proj["status"] == "ok" and proj["multilevel"]["covariates"][0] == "previous rate"
        assert proj["inputs"]["previous_mapping"] == "bolivia-2019-linked" and proj["inputs"]["previous"]["sha256"]
    finally:
        withprev.close()
    # the same database served again without the places: the stored projection was made
    # from other inputs, so it is made again (issue 25: by the roll's settlement sizes), not served stale
    again = ServerClient(database_url, tmp_path, roll=data / "roll_2020.csv.gz")
    try:
        first = again.client.get("/api/v1/projection", params={"contest": "PRESIDENTE"}).json()
        assert first["status"] == "pending"
        proj = again.client.get("/api/v1/projection", params={"contest": "PRESIDENTE"}).json()
        assert proj["status"] == "ok" and proj["multilevel"]["strata"][0] == "settlement"
        assert "places" not in proj["inputs"] and proj["inputs"]["roll"]["sha256"]
    finally:
        again.close()
