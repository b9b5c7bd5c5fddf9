"""recompute_totals: contract C3 semantics, checked against sums written out by hand."""
import pytest

from escrutinio.publication.log import MemoryLog
from escrutinio.publication.totals import RecordError, recompute_totals

from logbuild import build_log, record


def expected(records):
    out = {"units": len(records), "registered": 0, "blank": 0, "null": 0, "emitted": 0, "valid": 0, "choices": {"CC": 0, "MAS": 0}}
    for r in records:
        v = r["values"]
        for k in ("registered", "blank", "null", "emitted"):
            out[k] += v[k]
        for c in ("MAS", "CC"):
            out["choices"][c] += v[c]
            out["valid"] += v[c]
    return out


def test_latest_snapshot_replaces_the_previous_one_per_contest():
    log, _, _ = build_log(n_units=12)
    totals = recompute_totals(log.entries)
    want = expected([record(2, "Presidente", i, shift=1) for i in range(12)])
    assert totals.official["Presidente"].total() == want
    assert totals.official["Diputados"].total() == expected([record(2, "Diputados", i, shift=1) for i in range(12)])


def test_copies_take_the_latest_entry_per_unit():
    log, _, _ = build_log(n_units=12)
    totals = recompute_totals(log.entries)
    copies = [record(2, "Presidente", i, shift=1) for i in range(2, 12, 2)] + [record(2, "Presidente", 0, shift=3)]
    assert totals.copies["Presidente"].total() == expected(copies)


def test_levels_and_paths():
    log, _, _ = build_log(n_units=12)
    t = recompute_totals(log.entries).official["Presidente"]
    assert t.levels == ["country", "department", "province", "municipality"]
    deps = t.by_level("department")
    assert deps.get_column("path").to_list() == ["Bolivia / Cochabamba", "Bolivia / La Paz", "Bolivia / Santa Cruz"]
    assert deps.get_column("units").to_list() == [3, 6, 3]
    assert int(deps.get_column("MAS").sum()) == t.total()["choices"]["MAS"]
    mun = t.by_level("municipality")
    assert "Bolivia / La Paz / Murillo / El Alto" in mun.get_column("path").to_list()


def test_small_batches_fold_to_the_same_totals():
    log, _, _ = build_log(n_units=40)
    a = recompute_totals(log.entries).to_dict()
    b = recompute_totals(log.entries, batch=3).to_dict()
    assert a == b


def test_declared_level_order_wins():
    log = MemoryLog()
    log.append("admin", "official_snapshot", {"snapshot_id": 1, "contests": ["P"], "units": 2,
                                              "levels": ["country", "department"]})
    for i, dep in enumerate(["A", "B"]):
        log.append("admin", "official_record", {"snapshot_id": 1, "contest": "P", "unit": str(i),
                                                "levels": {"department": dep, "country": f"C{i}"},
                                                "values": {"registered": 5, "blank": 0, "null": 0, "emitted": 1, "X": 1}})
    t = recompute_totals(log.entries).official["P"]
    assert t.levels == ["country", "department"]
    assert t.by_level("department").get_column("path").to_list() == ["C0 / A", "C1 / B"]


@pytest.mark.parametrize("bad, words", [
    ({"values": {"registered": 1, "MAS": 1.5}}, "not an integer"),
    ({"values": {"registered": -1, "MAS": 1}}, "negative"),
    ({"snapshot_id": 7}, "no earlier official_snapshot"),
    ({"contest": "Senado"}, "does not include"),
])
def test_records_that_cannot_be_counted_are_named(bad, words):
    log = MemoryLog()
    log.append("admin", "official_snapshot", {"snapshot_id": 1, "contests": ["P"], "units": 1})
    rec = {**record(1, "P", 0), **bad}
    entries = list(log.entries) + [{"seq": 1, "kind": "official_record", "payload": rec}]
    with pytest.raises(RecordError, match=words) as err:
        recompute_totals(entries)
    assert err.value.seq == 1


def test_record_of_a_replaced_snapshot_is_refused():
    log = MemoryLog()
    log.append("admin", "official_snapshot", {"snapshot_id": 1, "contests": ["P"], "units": 1})
    log.append("admin", "official_snapshot", {"snapshot_id": 2, "contests": ["P"], "units": 0})
    log.append("admin", "official_record", record(1, "P", 0))
    with pytest.raises(RecordError, match="after snapshot 2 replaced it"):
        recompute_totals(log.entries)
