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


def test_the_whole_log_is_verified_before_the_lock_and_only_what_came_since_under_it(server_client, small_computo,
                                                                                     monkeypatch):
    """Re-hashing every entry under the writer lock once a minute stopped the typists
    (issue 26): the background signer verifies the log in a read session first, and under
    the lock reads only the entries appended since; a forged one among them is refused."""
    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(small_computo)
    db = sc.app.state.db
    with db.session(write=True) as s:
        signed = repo.latest_checkpoint(s).tree_size
        log.append(s, "admin", "note", {"text": "after the load"})
    sc.settings.checkpoint_interval = 0.0  # due at once
    with db.session() as s:
        ahead = checkpointing.verify_ahead(s, sc.settings)
    assert ahead is not None and ahead.signed == signed and ahead.size == signed + 1
    with db.session(write=True) as s:
        log.append(s, "admin", "note", {"text": "between the two"})
    read: list[tuple] = []
    real_rows = repo.rows
    import sys

    def rows(s, start=0, stop=None):
        if sys._getframe(1).f_code.co_name == "_verify_chain":  # not the Merkle tree's own catching up
            read.append((start, stop))
        return real_rows(s, start, stop)

    monkeypatch.setattr(repo, "rows", rows)
    with db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, verified=ahead)
    assert out["signed"] is True and out["checkpoint"]["tree_size"] == signed + 2, out
    assert read == [(signed + 1, signed + 2)]
    # a forgery slipped in after the check ahead is refused by the check under the lock
    with db.session() as s:
        ahead = checkpointing.verify_ahead(s, sc.settings)
    assert ahead is None  # nothing new: no checkpoint due
    with db.session(write=True) as s:
        log.append(s, "admin", "note", {"text": "honest"})
    with db.session() as s:
        ahead = checkpointing.verify_ahead(s, sc.settings)
    with db.session(write=True) as s:
        _forge(s, {"unit": "PHANTOM-2", "contest": "x", "levels": {}, "values": {"A": 1}, "entry_id": 999999})
    with db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, verified=ahead)
    assert out["signed"] is False and "names no stored entry" in out["reason"], out
    # and a log that does not verify ahead is checked in full under the lock
    with db.session() as s:
        assert checkpointing.verify_ahead(s, sc.settings) is None


def test_a_forged_copy_is_reported_at_the_first_entry_at_fault(server_client, small_computo):
    """The copies' references are looked up in batches: the problem named is still the
    first one in the log, not a later entry's."""
    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(small_computo)
    db = sc.app.state.db
    with db.session(write=True) as s:
        _forge(s, {"unit": "PHANTOM-3", "contest": "x", "levels": {}, "values": {"A": 1}, "entry_id": 999998})
        seq, _ = log.head(s)
        _forge(s, {"unit": "PHANTOM-4", "contest": "x", "levels": {}, "values": {"A": 1}, "entry_id": 999997},
               good_hash=False)
    with db.session(write=True) as s:
        out = checkpointing.maybe_sign(s, sc.settings, force=True)
    assert out["signed"] is False and f"entry {seq - 1}: a copy_agreed of 'PHANTOM-3'" in out["reason"], out
