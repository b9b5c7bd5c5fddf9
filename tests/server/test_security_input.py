"""Issue 23, bounded input: counts with declared bounds, units of the official count
only, no control characters, bounded headers; on SQLite and PostgreSQL alike."""
import json

import polars as pl
import pytest
from sqlalchemy import text

from escrutinio.io import read_snapshots


def _values(snap, unit):
    row = snap.frame.filter(pl.col("unit") == unit).row(0, named=True)
    return {f: int(row[f]) for f in (*snap.choices, "blank", "null", "registered", "emitted")}


def _count(sc, table):
    with sc.app.state.db.session() as s:
        return s.execute(text(f"SELECT count(*) FROM {table}")).scalar()


@pytest.fixture
def loaded(server_client, small_computo):
    server_client.load(small_computo)
    snap = read_snapshots(small_computo)[0]
    return server_client, snap


@pytest.mark.parametrize("huge", [2**62, 2**63, 2**64 + 5, 10**30])
def test_a_count_beyond_any_table_is_refused_not_agreed(loaded, huge):
    sc, snap = loaded
    c = sc.client
    unit = snap.frame.get_column("unit")[3]
    values = {**_values(snap, unit), snap.choices[0]: huge}
    for typist, cid in (("t1", "a"), ("t2", "b")):
        r = c.post("/api/v1/entries", headers=sc.headers("typist", typist), json={"unit": unit, "values": values, "client_id": cid})
        assert r.status_code == 422, r.text
    assert _count(sc, "entries") == 0
    r = c.get("/api/v1/results", params={"source": "copies"})
    assert r.status_code == 200, r.text


def test_a_count_over_the_tables_registered_voters_is_refused(loaded):
    sc, snap = loaded
    unit = snap.frame.get_column("unit")[5]
    values = _values(snap, unit)
    # over the roll: accepted, and the acta checks quarantine it once both typists agree
    values[snap.choices[0]] = values["registered"] + 1
    values["emitted"] = sum(values[f] for f in (*snap.choices, "blank", "null"))
    for typist, cid in (("t1", "x1"), ("t2", "x2")):
        r = sc.client.post("/api/v1/entries", headers=sc.headers("typist", typist), json={"unit": unit, "values": values, "client_id": cid})
        assert r.status_code == 200, r.text
    assert r.json()["state"] == "quarantined"
    # beyond twice the roll (plus 10) no acta can be right: refused
    unit = snap.frame.get_column("unit")[6]
    values = _values(snap, unit)
    values[snap.choices[0]] = 2 * values["registered"] + 11
    r = sc.client.post("/api/v1/entries", headers=sc.headers("typist"), json={"unit": unit, "values": values, "client_id": "x"})
    assert r.status_code == 422 and "registered voters" in r.json()["error"]
    # a resolution is bounded alike
    sc.settings.max_count = 100
    values = _values(snap, unit)
    values["registered"] = 101
    r = sc.client.post("/api/v1/entries", headers=sc.headers("typist"), json={"unit": unit, "values": values, "client_id": "y"})
    assert r.status_code == 422 and "ceiling" in r.json()["error"]


def test_a_copy_of_a_unit_not_in_the_official_count_is_refused(loaded):
    sc, snap = loaded
    c = sc.client
    values = _values(snap, snap.frame.get_column("unit")[0])
    for typist, cid in (("t1", "p1"), ("t2", "p2")):
        r = c.post("/api/v1/entries", headers=sc.headers("typist", typist), json={"unit": "PHANTOM-1", "values": values, "client_id": cid})
        assert r.status_code == 422 and "not in the official count" in r.json()["error"], r.text
    assert _count(sc, "entries") == 0 and _count(sc, "actas") == 0
    with sc.app.state.db.session() as s:
        kinds = s.execute(text("SELECT kind FROM log_entries")).scalars().all()
    assert "copy_agreed" not in kinds


BAD = ["a\x00b", "\x00", "x\x01", "line\nbreak", "del\x7f", "c1\x85", "\ud800"]


@pytest.mark.parametrize("bad", BAD)
def test_control_characters_are_refused_with_422_and_nothing_is_stored(loaded, bad):
    sc, snap = loaded
    c = sc.client
    unit = snap.frame.get_column("unit")[1]
    values = _values(snap, unit)
    body = {"unit": unit, "values": values, "client_id": "ok"}
    for role in ("typist", "coordinator", "admin"):
        sc.token(role)
    before = {t: _count(sc, t) for t in ("entries", "audit_log", "users")}
    for key in ("unit", "client_id", "contest"):
        r = c.post("/api/v1/entries", headers={**sc.headers("typist"), "content-type": "application/json"},
                   content=json.dumps({**body, key: bad}))
        assert r.status_code == 422, (key, r.status_code, r.text)
    for path, params in (("/api/v1/results", {"contest": bad}), ("/api/v1/results", {"municipio": bad}),
                         ("/api/v1/discrepancies", {"area": bad}), ("/api/v1/log/records", {"unit": bad}),
                         ("/api/v1/entries/states", {"contest": bad})):
        if bad == BAD[-1]:  # a URL carries UTF-8: a lone surrogate is the JSON bodies' case
            continue
        r = c.get(path, params=params)  # without a token, too
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
    r = c.get("/api/v1/units/" + "a%00b")
    assert r.status_code == 422
    r = c.post("/api/v1/users", headers={**sc.headers("admin"), "content-type": "application/json"},
               content=json.dumps({"name": f"eve{bad}", "role": "typist"}))
    assert r.status_code == 422, r.text
    r = c.post(f"/api/v1/entries/{unit}/resolve", headers={**sc.headers("coordinator"), "content-type": "application/json"},
               content=json.dumps({"values": values, "note": f"n{bad}"}))
    assert r.status_code == (404 if bad == "line\nbreak" else 422), r.text  # a note may hold line breaks
    assert {t: _count(sc, t) for t in ("entries", "audit_log", "users")} == before


def test_headers_and_query_strings_are_bounded(loaded):
    sc, _ = loaded
    c = sc.client
    assert c.get("/api/v1/results", params={"contest": "x" * 5000}).status_code == 414
    assert c.get("/api/v1/results", headers={"X-Big": "y" * 9000}).status_code == 431
    assert c.get("/api/v1/results", headers={"Authorization": "Bearer " + "z" * 9000}).status_code == 431


@pytest.mark.parametrize("last", ["9" * 5000, "99999999999999999999", "-1", "1e9", "12abc"])
def test_a_huge_last_event_id_is_refused_not_a_dead_stream(loaded, last):
    sc, _ = loaded
    r = sc.client.get("/api/v1/events", headers={"Last-Event-ID": last})
    assert r.status_code == 422, r.text[:200]
    with sc.client.stream("GET", "/api/v1/events", headers={"Last-Event-ID": "0"}) as ok:
        assert ok.status_code == 200
        assert "retry:" in next(ok.iter_text())
