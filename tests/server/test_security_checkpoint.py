"""Issue 23: a checkpoint is signed only after the chain up to it is re-verified; a row
slipped into the log by SQL is refused, not signed."""
import hashlib
import json

import pytest
from sqlalchemy import text

from escrutinio.publication.checkpoint import generate_key
from escrutinio.publication.entry import canonical_json
from escrutinio.publication.log import entry_bytes_from_row
from escrutinio.server import checkpointing
from escrutinio.server.storage import log, publication as repo


def _forge(s, payload, kind="copy_agreed", prev=None, good_hash=True):
    seq, last = log.head(s)
    text_ = canonical_json(payload).decode()
    prev = last if prev is None else prev
    h = hashlib.sha256(entry_bytes_from_row(seq, "2026-01-01T00:00:00.000Z", "typist", kind, text_, prev)).hexdigest()
    s.execute(text("INSERT INTO log_entries (seq, time, role, kind, payload, prev, hash) VALUES "
                   "(:seq, '2026-01-01T00:00:00.000Z', 'typist', :kind, :p, :prev, :h)"),
              {"seq": seq, "kind": kind, "p": text_, "prev": prev, "h": h if good_hash else "0" * 64})


@pytest.mark.parametrize("forgery", ["chained", "bad_hash", "bad_prev"])
def test_a_forged_entry_is_not_signed(server_client, small_computo, forgery):
    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(small_computo)
    db = sc.app.state.db
    with db.session(write=True) as s:
        first = repo.latest_checkpoint(s)
    assert first is not None
    payload = {"unit": "PHANTOM-1", "contest": first and "x", "levels": {}, "values": {"A": 10**6}, "entry_id": 999999}
    with db.session(write=True) as s:
        _forge(s, payload, prev="1" * 64 if forgery == "bad_prev" else None, good_hash=forgery != "bad_hash")
    with db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, force=True)
    assert out["signed"] is False and "does not verify" in out["reason"], out
    with db.session() as s:
        assert repo.latest_checkpoint(s).tree_size == first.tree_size


def test_an_honest_log_is_still_signed(server_client, small_computo):
    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(small_computo)
    db = sc.app.state.db
    with db.session(write=True) as s:
        log.append(s, "admin", "note", {"text": "honest"})
    with db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, force=True)
    assert out["signed"] is True, out
