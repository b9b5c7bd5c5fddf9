"""verify_log: an untouched log verifies; every kind of tampering fails and names the entry."""
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escrutinio.publication.checkpoint import Checkpoint, sign
from escrutinio.publication.entry import canonical_json, entry_hash
from escrutinio.publication.log import entry_line
from escrutinio.publication.verify import verify_log


def test_untouched_log_verifies(election_log):
    log, key, cps = election_log
    report = verify_log(log.lines(), key.public_key(), cps)
    assert report.ok, report.summary()
    assert report.entries == len(log)
    assert report.checkpoints_checked == len(cps)
    assert report.root_hash == log.tree.root().hex()
    assert report.unsigned_entries == 0
    assert report.to_dict()["ok"] is True


def test_entries_as_dicts_and_without_hash_member_verify(election_log):
    log, key, cps = election_log
    assert verify_log(list(log.entries), key.public_key(), cps).ok
    plain = [canonical_json(e).decode() for e in log.entries]
    assert verify_log(plain, key.public_key(), cps).ok


def _edit(line, fn):
    obj = json.loads(line)
    fn(obj)
    return canonical_json(obj).decode()


def test_changed_vote_is_named(election_log):
    log, key, cps = election_log
    lines = list(log.lines())
    k = 9
    lines[k] = _edit(lines[k], lambda o: o["payload"]["values"].update(MAS=o["payload"]["values"]["MAS"] + 1))
    report = verify_log(lines, key.public_key(), cps)
    assert not report.ok
    assert report.first_bad_entry == k
    assert "altered" in str(report.problems[0])


def test_changed_vote_without_hash_member_is_named_by_the_chain(election_log):
    log, key, cps = election_log
    lines = [canonical_json(e).decode() for e in log.entries]
    k = 9
    lines[k] = _edit(lines[k], lambda o: o["payload"]["values"].update(CC=0))
    report = verify_log(lines, key.public_key(), cps)
    assert report.first_bad_entry == k
    assert f"entry {k} does not hash to the prev that entry {k + 1} records" in report.problems[0].what


def test_changed_last_entry_is_caught_by_its_checkpoint(election_log):
    log, key, cps = election_log
    lines = [canonical_json(e).decode() for e in log.entries]
    lines[-1] = _edit(lines[-1], lambda o: o["payload"].update(note="nothing to see"))
    report = verify_log(lines, key.public_key(), cps)
    assert not report.ok
    assert report.problems[0].checkpoint == len(cps) - 1
    # issue 23: the range since the last good checkpoint, not its first entry as if it were at fault
    assert report.first_bad_entry is None and report.first_bad_range == (cps[-2].tree_size, len(log) - 1)


def test_rewritten_chain_is_caught_by_the_signed_root(election_log):
    # Whoever alters entry k and recomputes every later prev and hash keeps the chain
    # intact; only the signed tree heads can catch it.
    log, key, cps = election_log
    entries = [dict(e) for e in log.entries]
    k = 3
    entries[k] = {**entries[k], "payload": {**entries[k]["payload"], "values": {**entries[k]["payload"]["values"], "MAS": 0}}}
    for i in range(k + 1, len(entries)):
        entries[i] = {**entries[i], "prev": entry_hash(entries[i - 1])}
    lines = [entry_line(e) for e in entries]
    report = verify_log(lines, key.public_key(), cps)
    assert not report.ok
    assert report.problems[0].checkpoint == 0
    # no single entry can be named: the range since the last good checkpoint is (issue 23: not "entry 0")
    assert report.first_bad_entry is None and report.first_bad_range == (0, cps[0].tree_size - 1)
    assert f"an entry in 0..{cps[0].tree_size - 1} changed" in report.problems[0].what


def test_deleted_entry_is_named(election_log):
    log, key, cps = election_log
    lines = list(log.lines())
    del lines[5]
    report = verify_log(lines, key.public_key(), cps)
    assert report.first_bad_entry == 5
    assert "entry 5 is missing" in report.problems[0].what


def test_deleted_tail_is_caught_by_the_checkpoint(election_log):
    log, key, cps = election_log
    lines = list(log.lines())[:-2]
    report = verify_log(lines, key.public_key(), cps)
    assert not report.ok
    assert report.first_bad_entry == len(log) - 2
    assert "no longer appear" in report.problems[0].what


def test_reordered_pair_is_named(election_log):
    log, key, cps = election_log
    lines = list(log.lines())
    lines[6], lines[7] = lines[7], lines[6]
    report = verify_log(lines, key.public_key(), cps)
    assert not report.ok
    assert report.first_bad_entry == 6


def test_swapped_contents_keeping_seq_is_named(election_log):
    # Two rows' contents exchanged in the database, sequence numbers left in place.
    log, key, cps = election_log
    entries = [dict(e) for e in log.entries]
    a, b = entries[6], entries[7]
    entries[6] = {**b, "seq": 6}
    entries[7] = {**a, "seq": 7}
    report = verify_log([canonical_json(e).decode() for e in entries], key.public_key(), cps)
    assert report.first_bad_entry is not None and report.first_bad_entry <= 6


def test_replaced_checkpoint_fails(election_log):
    log, key, cps = election_log
    forged = Checkpoint(cps[0].tree_size, "ab" * 32, cps[0].time, cps[0].signature, cps[0].key_id)
    report = verify_log(log.lines(), key.public_key(), [forged, cps[1]])
    assert not report.ok
    assert any(p.checkpoint == 0 and "signature" in p.what for p in report.problems)


def test_checkpoint_signed_by_another_key_fails(election_log):
    log, key, cps = election_log
    other = Ed25519PrivateKey.generate()
    resigned = sign(other, cps[1].tree_size, cps[1].root_hash, cps[1].time)
    report = verify_log(log.lines(), key.public_key(), [cps[0], resigned])
    assert not report.ok
    assert "not by the given public key" in report.problems[0].what


def test_no_public_key_or_no_checkpoint_is_not_a_pass(election_log):
    log, key, cps = election_log
    assert not verify_log(log.lines(), None, cps).ok
    assert not verify_log(log.lines(), key.public_key(), []).ok
    assert verify_log(log.lines(), key.public_key(), [], require_checkpoint=False).ok


def test_equivocating_checkpoints_fail(election_log):
    log, key, cps = election_log
    fork = sign(key, cps[0].tree_size, "cd" * 32, cps[0].time)
    report = verify_log(log.lines(), key.public_key(), [*cps, fork])
    assert not report.ok
    assert any("different roots for the same size" in p.what for p in report.problems)


def test_floats_and_duplicate_keys_are_refused(election_log):
    log, key, cps = election_log
    lines = list(log.lines())
    lines[4] = lines[4].replace('"registered":200', '"registered":200.0')
    report = verify_log(lines, key.public_key(), cps)
    assert report.first_bad_entry == 4
    lines = list(log.lines())
    lines[4] = lines[4].replace('"registered":200', '"registered":1,"registered":200')
    report = verify_log(lines, key.public_key(), cps)
    assert report.first_bad_entry == 4 and "twice" in report.problems[0].what


def test_unsigned_tail_is_reported_not_failed(election_log):
    log, key, cps = election_log
    log.append("typist", "copy_agreed", {"unit": "1002", "contest": "Presidente", "levels": {"country": "Bolivia"},
                                         "values": {"registered": 1, "blank": 0, "null": 0, "emitted": 0, "MAS": 0}})
    report = verify_log(log.lines(), key.public_key(), cps)
    assert report.ok
    assert report.unsigned_entries == 1
    assert any("not yet signed" in w for w in report.warnings)


def test_noncanonical_line_verifies_with_a_warning(election_log):
    log, key, cps = election_log
    lines = [json.dumps(json.loads(line), indent=None) for line in log.lines()]  # spaces after separators
    report = verify_log(lines, key.public_key(), cps)
    assert report.ok
    assert any("canonical" in w for w in report.warnings)


def test_non_bmp_keys_take_the_exact_path():
    from escrutinio.publication.log import MemoryLog
    key = Ed25519PrivateKey.generate()
    log = MemoryLog()
    log.append("admin", "discrepancy_explained", {"unit": "1", "contest": "P", "field": "x", "note": "ok",
                                                  "\U0001F600": 1, "\uffff": 2})
    cp = sign(key, 1, log.tree.root().hex(), "t")
    assert verify_log(log.lines(), key.public_key(), [cp]).ok


def test_checkpoint_of_the_empty_tree_and_badly_signed_ones_are_not_counted(election_log):
    log, key, cps = election_log
    empty = sign(key, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "2026-11-30T09:00:00.000000Z")
    report = verify_log(log.lines(), key.public_key(), [empty, *cps])
    assert report.ok, report.summary()
    assert report.checkpoints_checked == len(cps) + 1
    forged = Checkpoint(cps[0].tree_size, cps[0].root_hash, cps[0].time, cps[1].signature, cps[0].key_id)
    report = verify_log(log.lines(), key.public_key(), [forged, *cps[1:]])
    assert not report.ok and report.checkpoints_checked == len(cps) - 1
