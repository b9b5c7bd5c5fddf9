"""Publishing a risk-limiting audit's report on the server (admin), its status for
everyone, the audit page in Spanish and English, and what a document that is not a report
gets."""
import json

from escrutinio.app.audit_status import summarise
from escrutinio.server.testing import sample_audit_report

from server_data import COMPUTO, head_of


def _report(tmp_path, change=None) -> dict:
    """A real audit of 300 tables of the 2019 count."""
    return sample_audit_report(head_of(COMPUTO, tmp_path / "computo.csv.gz", 300), tmp_path, change)


def test_publish_an_audit_report_and_read_its_status(server_client, tmp_path):
    sc, c = server_client, server_client.client
    assert c.get("/api/v1/audit/status").status_code == 404
    assert "No audit is running on this server" in c.get("/audit", params={"lang": "en"}).text
    rep = _report(tmp_path)
    assert c.post("/api/v1/audit/report", json=rep, headers=sc.headers("typist")).status_code == 403
    assert c.post("/api/v1/audit/report", json=rep).status_code in (401, 403)
    r = c.post("/api/v1/audit/report", json=rep, headers=sc.headers("admin"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"] == rep["status"]["decision"] == "stop" and len(out["report_sha256"]) == 64
    st = c.get("/api/v1/audit/status").json()  # public
    assert st["p_value"] == rep["status"]["risk"] <= 0.1 and st["sampled"] == len(rep["draws"])
    assert st["confirmed"] and st["seed"] == "20191020" and st["published"]["report_sha256"] == out["report_sha256"]
    assert c.get("/api/v1/audit/report").json() == rep
    # the results log says which report was published
    with sc.app.state.db.session() as s:
        from sqlalchemy import text

        kinds = [r[0] for r in s.execute(text("SELECT kind FROM log_entries ORDER BY seq")).all()]
    assert kinds[-1] == "audit_report_published"
    es = c.get("/audit", params={"lang": "es"}).text
    assert "Todas las afirmaciones están confirmadas" in es and "Límite de riesgo" in es
    assert "no son evidencia de fraude" in es
    en = c.get("/audit", params={"lang": "en"}).text
    assert "Every assertion is confirmed" in en and out["report_sha256"][:16] in en


def test_a_discrepancy_is_published_as_not_confirmed(server_client, tmp_path):
    sc, c = server_client, server_client.client
    rep = _report(tmp_path, change=("CC", 150))  # more votes than the box can hold
    assert rep["status"]["decision"] == "full hand count"
    assert c.post("/api/v1/audit/report", json=rep, headers=sc.headers("admin")).status_code == 200
    st = c.get("/api/v1/audit/status").json()
    assert not st["confirmed"] and st["discrepancies"] == 1 and st["p_value"] == 1.0
    assert "Solo un recuento manual completo puede zanjar el resultado" in c.get("/audit", params={"lang": "es"}).text


def test_a_document_that_is_not_a_report_is_refused_and_nothing_is_written(server_client, tmp_path):
    sc, c = server_client, server_client.client
    rep = _report(tmp_path)
    bad = {k: v for k, v in rep.items() if k != "status"}
    r = c.post("/api/v1/audit/report", json=bad, headers=sc.headers("admin"))
    assert r.status_code == 400 and "'status' is missing" in r.json()["error"]
    worse = json.loads(json.dumps(rep))
    worse["status"]["risk"] = "0.01"
    r = c.post("/api/v1/audit/report", json=worse, headers=sc.headers("admin"))
    assert r.status_code == 400 and "status.'risk'" in r.json()["error"]
    assert c.get("/api/v1/audit/status").status_code == 404
    assert not (sc.settings.data_dir / "audit").exists() or not any((sc.settings.data_dir / "audit").iterdir())


def test_summarise_checks_the_report_against_itself(tmp_path):
    rep = _report(tmp_path)
    s = summarise(rep)
    assert s["sampled"] == len(rep["draws"]) and s["risk_limit"] == 0.1
    rep["status"]["draws"] += 1
    try:
        summarise(rep)
    except Exception as exc:
        assert "disagree" in str(exc)
    else:
        raise AssertionError("a report whose draws disagree was accepted")
