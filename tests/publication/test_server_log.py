"""The server's log routes and checkpoints, verified end to end on the embedded database
and PostgreSQL: untouched logs verify and their totals equal the results API at every
level; an altered vote, a deleted entry, a reordered pair and a replaced checkpoint are
each caught and named."""
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from escrutinio.cli.publication import run_verification
from escrutinio.publication.checkpoint import generate_key
from escrutinio.server.storage import publication as repo
from escrutinio.server.testing import database_url, head_of, server_client  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
TREP = ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz"


def _headers(sc, name):
    if name not in sc._tokens or sc._tokens[name] is None:
        sc._tokens[name] = sc.token("typist", name)
    return {"Authorization": f"Bearer {sc._tokens[name]}"}


@pytest.fixture
def with_copies(server_client, tmp_path):
    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(head_of(TREP, tmp_path / "trep_2019-10-20T19-40-57.csv.gz", 120))
    sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 200))
    c = sc.client
    entries = [json.loads(x) for x in c.get("/api/v1/log").text.splitlines()]
    sid = max(e["payload"]["snapshot_id"] for e in entries if e["kind"] == "official_record")
    rows = [e["payload"] for e in entries if e["kind"] == "official_record" and e["payload"]["snapshot_id"] == sid][:6]
    a, b = _headers(sc, "typist-a"), _headers(sc, "typist-b")
    for i, p in enumerate(rows):
        first = dict(p["values"])
        second = dict(first, CC=first["CC"] + 1) if i == 0 else first
        for h, v, who in ((a, first, "a"), (b, second, "b")):
            r = c.post("/api/v1/entries", headers=h, json={"unit": p["unit"], "contest": p["contest"], "values": v,
                                                             "client_id": f"{who}-{i}"})
            assert r.status_code == 200, r.text
    r = c.post(f"/api/v1/entries/{rows[0]['unit']}/resolve", headers=sc.headers("coordinator"),
               json={"contest": rows[0]["contest"], "values": rows[0]["values"]})
    assert r.status_code == 200, r.text
    from escrutinio.server import checkpointing
    with sc.app.state.db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, force=True)
    assert out["signed"], out
    return sc


def verify(sc, **kw):
    return run_verification("http://testserver", client=sc.client, **kw)


def test_untouched_log_verifies_and_totals_match_the_results_api(with_copies, tmp_path):
    sc = with_copies
    doc = verify(sc, save=str(tmp_path / "saved"))
    assert doc["ok"], doc["summary"]
    # what was saved verifies offline, with the key pinned
    from click.testing import CliRunner
    from escrutinio.cli import main
    r = CliRunner().invoke(main, ["verify-log", str(tmp_path / "saved"), "--public-key",
                                  str(sc.settings.signing_key) + ".pub"])
    assert r.exit_code == 0, r.output
    kinds = doc["kinds"]
    assert kinds["official_snapshot"] == 2 and kinds["official_record"] == 320
    assert kinds.get("copy_agreed", 0) == 5 and kinds.get("copy_resolved", 0) == 1
    levels = {(c["source"], c["level"]) for c in doc["comparisons"]}
    assert ("official", None) in levels and ("copies", None) in levels
    for lv in ("country", "department", "province", "municipality"):
        assert ("official", lv) in levels and ("copies", lv) in levels
    assert all(c["ok"] for c in doc["comparisons"]), [c for c in doc["comparisons"] if not c["ok"]]
    assert doc["checkpoints_checked"] >= 3  # one per snapshot, one forced after the copies


def test_public_key_checkpoints_and_proofs(with_copies):
    from escrutinio.publication.checkpoint import load_public_key
    from escrutinio.publication.inclusion import check_proof
    from escrutinio.publication.merkle import verify_consistency

    c = with_copies.client
    key = load_public_key(c.get("/api/v1/log/public-key").content)
    cps = c.get("/api/v1/checkpoints").json()["checkpoints"]
    unit = c.get("/api/v1/log/inclusion", params={"seq": 130}).json()["unit"]
    proof = c.get("/api/v1/log/inclusion", params={"unit": unit}).json()
    assert proof["record"] == "official" and proof["entry"]["payload"]["unit"] == unit
    assert check_proof(proof, key) == []
    a, b = cps[0], cps[-1]
    cons = c.get("/api/v1/log/consistency", params={"first": a["tree_size"], "second": b["tree_size"]}).json()
    assert verify_consistency(a["tree_size"], b["tree_size"], bytes.fromhex(a["root_hash"]), bytes.fromhex(b["root_hash"]),
                              [bytes.fromhex(h) for h in cons["proof"]])
    assert c.get("/api/v1/log/inclusion", params={"unit": "no-such-acta"}).status_code == 404
    doc = verify(with_copies, inclusion=unit)
    assert doc["ok"], doc["summary"]
    assert doc["inclusion"][0]["seq"] == proof["seq"]


def test_static_publication_verifies_offline(with_copies, tmp_path):
    from click.testing import CliRunner
    from escrutinio.cli import main

    from escrutinio.server import checkpointing

    assert checkpointing.wait_published(120)  # written in the background, after the answer
    pub = Path(with_copies.settings.data_dir) / "publication"
    folders = sorted(p for p in pub.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(folders) >= 3
    last = folders[-1]
    for name in ("checkpoint.json", "public-key.pem", "log-segment.jsonl", "actas.parquet", "MANIFEST.json"):
        assert (last / name).exists(), name
    assert list((last / "results").rglob("official-department.json"))
    r = CliRunner().invoke(main, ["verify-log", str(pub), "--public-key", str(last / "public-key.pem")])
    assert r.exit_code == 0, r.output


def _tamper(sc, sql: str, params=None, table="log_entries"):
    """Alter the stored log directly, as someone with database access would: the
    append-only guard has to be removed first."""
    db = sc.app.state.db
    with db.session(write=True) as s:
        if db.postgresql:
            s.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for (name,) in s.execute(text("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=:t"), {"t": table}):
                s.execute(text(f'DROP TRIGGER "{name}"'))
        s.execute(text(sql), params or {})
        if db.postgresql:
            s.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def _record_seq(sc, n=0):
    with sc.app.state.db.session() as s:
        return s.execute(text("SELECT seq FROM log_entries WHERE kind='official_record' ORDER BY seq DESC LIMIT 1 OFFSET :n"),
                         {"n": n}).scalar()


def test_changed_vote_is_named(with_copies):
    sc = with_copies
    seq = _record_seq(sc, 10)
    _tamper(sc, "UPDATE log_entries SET payload = replace(payload, :a, :b) WHERE seq = :s",
            {"a": '"CC":', "b": '"CC":1', "s": seq})
    doc = verify(sc)
    assert not doc["ok"]
    assert doc["first_bad_entry"] == seq
    assert "altered" in doc["problems"][0]["what"]
    # the published totals still come from the untouched snapshot tables: the log disagrees
    assert any("differ from the totals recomputed" in p["what"] for p in doc["problems"])


def test_changed_vote_with_rewritten_hash_is_named(with_copies):
    # Whoever also fixes the row's own hash column is caught by the next entry's prev.
    from escrutinio.publication.log import entry_bytes_from_row
    import hashlib
    sc = with_copies
    seq = _record_seq(sc, 20)
    with sc.app.state.db.session() as s:
        r = s.execute(text("SELECT * FROM log_entries WHERE seq=:s"), {"s": seq}).first()
    payload = r.payload.replace('"CC":', '"CC":9', 1)
    h = hashlib.sha256(entry_bytes_from_row(r.seq, r.time, r.role, r.kind, payload, r.prev)).hexdigest()
    _tamper(sc, "UPDATE log_entries SET payload=:p, hash=:h WHERE seq=:s", {"p": payload, "h": h, "s": seq})
    doc = verify(sc)
    assert doc["first_bad_entry"] == seq


def test_deleted_entry_is_named(with_copies):
    sc = with_copies
    seq = _record_seq(sc, 5)
    _tamper(sc, "DELETE FROM log_entries WHERE seq = :s", {"s": seq})
    doc = verify(sc)
    assert not doc["ok"] and doc["first_bad_entry"] == seq
    assert "missing" in doc["problems"][0]["what"]


def test_reordered_pair_is_named(with_copies):
    sc = with_copies
    a = _record_seq(sc, 31)
    _tamper(sc, "UPDATE log_entries SET seq = 999999999 WHERE seq = :a", {"a": a})
    _tamper(sc, "UPDATE log_entries SET seq = :a WHERE seq = :b", {"a": a, "b": a + 1})
    _tamper(sc, "UPDATE log_entries SET seq = :b WHERE seq = 999999999", {"b": a + 1})
    doc = verify(sc)
    assert not doc["ok"] and doc["first_bad_entry"] == a


def test_replaced_checkpoint_is_named(with_copies):
    sc = with_copies
    with sc.app.state.db.session() as s:
        cid, size = s.execute(text("SELECT id, tree_size FROM checkpoints ORDER BY id LIMIT 1")).first()
    _tamper(sc, "UPDATE checkpoints SET root_hash = :r WHERE id = :i", {"r": "ab" * 32, "i": cid}, table="checkpoints")
    doc = verify(sc)
    assert not doc["ok"]
    assert any(p["checkpoint"] == cid and "signature" in p["what"] for p in doc["problems"])


def test_demo_tamper_check(with_copies):
    from escrutinio.server.checkpointing import tamper_check

    said = []
    out = tamper_check(with_copies.settings, echo=said.append)
    assert out["before"]["ok"] and not out["after"]["ok"]
    assert out["after"]["first_bad_entry"] == out["altered_seq"]
    assert any("verify-log" in line and "FAILED" in line for line in said)
    # the real database is untouched
    assert verify(with_copies)["ok"]


def test_empty_server_answers_without_errors(server_client):
    c = server_client.client
    assert c.get("/api/v1/log").text == ""
    assert c.get("/api/v1/checkpoints").json()["checkpoints"] == []
    assert c.get("/api/v1/log/public-key").status_code == 404
    assert c.get("/api/v1/log/head").json()["tree_size"] == 0
    assert c.get("/api/v1/log/inclusion", params={"seq": 2**53}).status_code == 404
    assert c.get("/api/v1/log/inclusion", params={"seq": 2**63}).status_code == 422
    assert c.get("/api/v1/log/inclusion").status_code == 400
    assert c.get("/api/v1/log/consistency", params={"first": 3}).status_code == 400
    # a role that may do more still reads the public log
    assert c.get("/api/v1/log", headers=server_client.headers("typist")).status_code == 200


def test_maybe_sign_rules(server_client, tmp_path):
    from dataclasses import replace

    from escrutinio.server import checkpointing
    from escrutinio.server.storage import log as results_log

    sc = server_client
    db = sc.app.state.db

    def append():
        with db.session(write=True) as s:
            results_log.append(s, "coordinator", "discrepancy_explained",
                               {"unit": "1", "contest": "P", "field": "MAS", "note": "seen"})

    def sign(settings=sc.settings, force=False):
        with db.session(write=True) as s:
            return checkpointing.maybe_sign(s, settings, force=force)

    append()
    assert "keygen" in sign()["reason"]  # no key yet: reported, not raised
    generate_key(sc.settings.signing_key)
    assert sign()["signed"]              # the first checkpoint
    append()
    assert not sign()["signed"]          # within the interval
    assert sign(replace(sc.settings, checkpoint_interval=0))["signed"]
    append()
    assert sign(force=True)["signed"]    # a snapshot forces it
    assert sign(force=True)["reason"] == "no new entries since the last checkpoint"
    sizes = [c["tree_size"] for c in sc.client.get("/api/v1/checkpoints").json()["checkpoints"]]
    assert sizes == [1, 2, 3]
