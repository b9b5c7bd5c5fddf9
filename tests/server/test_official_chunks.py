"""An official load is encoded, hashed and logged a chunk of actas at a time (so that a
1,000,000-acta file does not hold a million Python strings at once): what it stores and
logs is what one chunk would."""
import hashlib
import json

import polars as pl
import pytest

from escrutinio.publication.entry import canonical_json, entry_hash, make_entry
from escrutinio.server.storage import log, official, publication
from escrutinio.server.storage.db import Database
from escrutinio.server.storage.tables import snapshot_contests
from escrutinio.server.storage.users import add_user, User


def _admin(s) -> User:
    return add_user(s, "admin-chunks", "admin")[0]


def test_a_load_in_chunks_logs_what_one_chunk_logs(database_url, small_computo, monkeypatch):
    from escrutinio.io import read_snapshots

    (snap,) = read_snapshots(small_computo)
    whole = official.record_payloads(official._PLACEHOLDER_ID, snap)  # one chunk (400 actas)
    monkeypatch.setattr(official, "CHUNK_ROWS", 37)  # 11 chunks, the last one short
    assert official.record_payloads(official._PLACEHOLDER_ID, snap) == whole
    db = Database(database_url)
    try:
        with db.session(write=True) as s:
            out = official.store(s, file_sha256="ab" * 32, source="computo.csv.gz", mapping=None, snaps=[snap],
                                 presets={snap.contest: None}, user=_admin(s))
        with db.session() as s:
            stored = log.entries(s)
            content = s.execute(snapshot_contests.select()).one().content_sha256
            cached_root = publication.tree(s).root(len(stored))
            publication._trees.clear()  # the tree the chunks extended, against one hashed afresh
            assert publication.tree(s).root(len(stored)) == cached_root
    finally:
        db.dispose()
    records = [e for e in stored if e["kind"] == "official_record"]
    sid = out["snapshot_id"]
    assert [canonical_json(e["payload"]).decode() for e in records] == official.record_payloads(sid, snap)
    assert len(records) == snap.frame.height == out["units"]
    assert content == official.content_sha256(whole)
    prev = None
    for e in stored:  # one unbroken chain across the chunks
        assert prev is None or e["prev"] == prev
        assert entry_hash(make_entry(e["seq"], e["role"], e["kind"], e["payload"], e["prev"], e["time"])) == e["hash"]
        prev = e["hash"]
    assert [e["seq"] for e in stored] == list(range(len(stored)))


def test_the_content_hash_of_a_column_is_the_hash_of_the_sorted_strings(monkeypatch):
    monkeypatch.setattr(official, "CHUNK_ROWS", 3)
    texts = ['{"unit":"b"}', '{"unit":"a"}', '{"unit":"é"}', '{"unit":"\U0001f600"}', '{"unit":"\ue000"}',
             '{"unit":"Z"}', '{"unit":"a"}', '{"unit":"\u2028"}', '{"unit":"ñandú"}', '{"unit":"~"}']
    assert official._content_sha256(pl.Series(texts, dtype=pl.Utf8)) == official.content_sha256(texts)
    assert official._content_sha256(pl.Series([], dtype=pl.Utf8)) == hashlib.sha256().hexdigest()


def test_a_payload_not_canonical_in_a_later_chunk_names_its_acta(small_computo, monkeypatch):
    from dataclasses import replace

    from escrutinio.io import read_snapshots

    (snap,) = read_snapshots(small_computo)
    monkeypatch.setattr(official, "CHUNK_ROWS", 50)
    unit = snap.frame.get_column("unit")[123]
    real = official._check_canonical

    def spoil(s, cols, sid, encoded, frame=None):  # what Polars would emit were it to err on one acta
        if frame is not None and unit in frame.get_column("unit").to_list():
            encoded = encoded.str.replace(f'"unit":{json.dumps(unit)}', f'"unit" :{json.dumps(unit)}', literal=True)
        return real(s, cols, sid, encoded, frame)

    monkeypatch.setattr(official, "_check_canonical", spoil)
    with pytest.raises(official.NotCanonical, match=f"acta {unit!r}"):
        official.record_payloads(7, replace(snap))


def test_a_load_in_chunks_verifies_with_verify_log(server_client, small_computo, monkeypatch):
    from pathlib import Path

    from click.testing import CliRunner

    from escrutinio.cli import main
    from escrutinio.publication.checkpoint import generate_key
    from escrutinio.server import checkpointing

    monkeypatch.setattr(official, "CHUNK_ROWS", 37)
    sc = server_client
    generate_key(sc.settings.signing_key)
    out = sc.load(small_computo)
    assert out["created"] and out["checkpoint"]["signed"] and out["checkpoint"]["checkpoint"]["tree_size"] == 401
    assert checkpointing.wait_published(120)
    root = Path(sc.settings.data_dir) / "publication"
    r = CliRunner().invoke(main, ["verify-log", str(root), "--public-key", str(sc.settings.signing_key) + ".pub"])
    assert r.exit_code == 0, r.output
