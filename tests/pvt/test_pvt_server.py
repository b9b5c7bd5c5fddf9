"""PVT on the server: attach a design (admin, logged), progress per stratum, live estimate
from the agreed copies of sampled tables. SQLite and PostgreSQL."""
import gzip
import json

import polars as pl

from escrutinio.io import read_election
from escrutinio.pvt.design import make_design


def _subset(bolivia, tmp_path, keep=("La Paz", "Oruro", "Pando")):
    """A smaller official file with the cómputo's layout: three departments."""
    src = bolivia / "2019" / "computo_2019-10-25.csv.gz"
    target = tmp_path / "computo_subset.csv.gz"
    with gzip.open(src, "rt", encoding="utf-8-sig") as f, gzip.open(target, "wt", encoding="utf-8") as out:
        for i, line in enumerate(f):
            cells = line.split(",")
            if i == 0 or (cells[1] == "Bolivia" and cells[2] in keep):
                out.write(line)
    return target


def test_pvt_on_the_server(server_client, bolivia, tmp_path):
    sc = server_client
    path = _subset(bolivia, tmp_path)
    snap = read_election([str(path)]).snapshots[0]
    design = make_design(snap.frame, 60, "2026", ["department"], list(snap.levels))
    body = json.loads(design.to_json())

    assert sc.client.get("/api/v1/pvt/design").status_code == 404
    # roles: only an admin attaches
    assert sc.client.post("/api/v1/pvt/design", json=body).status_code == 401
    r = sc.client.post("/api/v1/pvt/design", json=body, headers=sc.headers("coordinator"))
    assert r.status_code == 403 and "error" in r.json()
    r = sc.client.post("/api/v1/pvt/design", json={"kind": "something else"}, headers=sc.headers("admin"))
    assert r.status_code == 400 and "error" in r.json()
    r = sc.client.post("/api/v1/pvt/design", json=body, headers=sc.headers("admin"))
    assert r.status_code == 200, r.text
    attached = r.json()
    assert attached["design_sha256"] == design.sha256 and attached["n"] == 60

    # the public log names the design by its hash (C3 payload, integers and strings only)
    log = [json.loads(line) for line in sc.client.get("/api/v1/log").text.splitlines() if line.strip()]
    entry = [e for e in log if e["kind"] == "pvt_design_attached"]
    assert entry and entry[-1]["payload"] == {"design_sha256": design.sha256, "n": 60, "seed": "2026"}

    r = sc.client.get("/api/v1/pvt/design")
    assert r.status_code == 200 and r.json()["sample"] == design.sample

    # nothing loaded yet: the estimate says so
    assert sc.client.get("/api/v1/pvt/estimate").status_code == 404
    sc.load(path)
    p = sc.client.get("/api/v1/pvt/progress").json()
    assert p["n"] == 60 and p["reported"] == 0 and sum(s["sampled"] for s in p["strata"]) == 60
    assert sc.client.get("/api/v1/pvt/estimate").status_code == 409

    # two typists enter the same values for 40 sampled tables
    rows = {r["unit"]: r for r in snap.frame.filter(pl.col("unit").is_in(design.sample[:40])).iter_rows(named=True)}
    fields = [*snap.choices, "blank", "null", "registered", "emitted"]
    typists = [sc.headers("typist", "typist-a"), sc.headers("typist", "typist-b")]
    counted = 0
    for unit in design.sample[:40]:
        values = {f: int(rows[unit][f]) for f in fields}
        for t, headers in enumerate(typists):
            r = sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": f"{unit}-{t}"},
                               headers=headers)
            assert r.status_code == 200, r.text
        counted += r.json()["state"] == "agreed"
    assert counted >= 35
    p = sc.client.get("/api/v1/pvt/status").json()
    assert p["reported"] == counted and p["missing"] == 60 - counted
    est = sc.client.get("/api/v1/pvt/estimate")
    assert est.status_code == 200, est.text
    e = est.json()
    assert e["reported"] == counted and e["missing"] == 60 - counted
    mas = e["choices"]["MAS - IPSP"]
    assert mas["lo"] < mas["share"] < mas["hi"]
    assert {"point", "lo", "hi"} <= set(e["lead"]) and e["rule"].startswith("Bolivia")
    assert e["design_sha256"] == design.sha256
    # the answers are computed once per change of the data, and a new agreed copy is one
    assert sc.client.get("/api/v1/pvt/estimate").json() == e
    unit = design.sample[40]
    values = {f: int(v) for f, v in snap.frame.filter(pl.col("unit") == unit).select(fields).row(0, named=True).items()}
    for t, headers in enumerate(typists):
        assert sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": f"{unit}-{t}"},
                              headers=headers).status_code == 200
    assert sc.client.get("/api/v1/pvt/estimate").json()["reported"] == counted + 1
    assert sc.client.get("/api/v1/pvt/status").json()["reported"] == counted + 1
    # the public PVT page (DASH) shows the progress and the estimate from these routes
    page = sc.client.get("/pvt")
    assert page.status_code == 200 and "MAS - IPSP" in page.text
