"""Issue 23: verify-log adds exactly (no int64 wrap) and names what is truly at fault:
a rewritten chain is a range, an edited checkpoint is the checkpoint, not entry 0."""
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escrutinio.publication.checkpoint import Checkpoint, sign
from escrutinio.publication.entry import entry_hash
from escrutinio.publication.log import MemoryLog, entry_line
from escrutinio.publication.verify import verify_log

LEVELS = {"country": "Bolivia", "department": "La Paz"}


def _log(values_of, n=6, checkpoints_at=(None,)):
    key = Ed25519PrivateKey.generate()
    log, cps = MemoryLog(), []
    t = iter(f"2026-11-30T10:00:{s:02d}.000000Z" for s in range(60))
    log.append("admin", "official_snapshot", {"snapshot_id": 1, "file_sha256": "0" * 64, "source": "s.csv",
                                              "election": "E", "contests": ["P"], "units": n, "exported_at": None}, next(t))
    for i in range(n):
        log.append("admin", "official_record", {"snapshot_id": 1, "contest": "P", "unit": f"u{i}", "levels": LEVELS,
                                                "values": values_of(i)}, next(t))
        if i + 1 in checkpoints_at:
            cps.append(sign(key, len(log), log.tree.root().hex(), log.entries[-1]["time"]))
    cps.append(sign(key, len(log), log.tree.root().hex(), log.entries[-1]["time"]))
    return log, key, cps


def test_totals_never_wrap(tmp_path):
    big = 2**62
    log, key, cps = _log(lambda i: {"A": big, "B": 1, "blank": 0, "null": 0, "registered": big, "emitted": big + 1}, n=4)
    report = verify_log(log.lines(), key.public_key(), cps)
    total = report.totals.official["P"].total()
    assert total["choices"]["A"] == 4 * big and total["choices"]["A"] > 2**63  # 2^64, exactly
    assert total["valid"] == 4 * (big + 1)
    assert report.totals.official["P"].by_level("department").row(0, named=True)["A"] == 4 * big


def test_a_value_beyond_int64_names_its_entry():
    log, key, cps = _log(lambda i: {"A": 2**63 if i == 2 else 5, "B": 1, "blank": 0, "null": 0, "registered": 9, "emitted": 6})
    report = verify_log(log.lines(), key.public_key(), cps)
    assert not report.ok and report.first_bad_entry == 3  # entry 0 is the snapshot, 3 the third record
    assert "beyond any count" in str(report.problems[0])


def test_a_rewritten_chain_names_the_range_not_entry_0():
    log, key, cps = _log(lambda i: {"A": 5 + i, "B": 1, "blank": 0, "null": 0, "registered": 90, "emitted": 6 + i},
                         n=8, checkpoints_at=(3,))
    entries = [dict(e) for e in log.entries]
    k = 6
    entries[k] = {**entries[k], "payload": {**entries[k]["payload"], "values": {**entries[k]["payload"]["values"], "A": 0}}}
    for i in range(k + 1, len(entries)):
        entries[i] = {**entries[i], "prev": entry_hash(entries[i - 1])}
    report = verify_log([entry_line(e) for e in entries], key.public_key(), cps)
    assert not report.ok
    assert report.first_bad_entry is None
    assert report.first_bad_range == (4, 8)  # after the good checkpoint at 4 entries
    assert "an entry in 4..8 is at fault" in report.summary()


def test_an_edited_checkpoint_is_named_not_entry_0():
    log, key, cps = _log(lambda i: {"A": 5, "B": 1, "blank": 0, "null": 0, "registered": 9, "emitted": 6})
    cp = cps[-1]
    edited = Checkpoint(cp.tree_size, "ab" * 32, cp.time, cp.signature, cp.key_id)
    report = verify_log(log.lines(), key.public_key(), [edited])
    assert not report.ok
    assert report.first_bad_entry is None and report.first_bad_range is None
    assert all(p.checkpoint == 0 and p.seq is None for p in report.problems)
    assert any("checkpoint was edited" in p.what for p in report.problems)
