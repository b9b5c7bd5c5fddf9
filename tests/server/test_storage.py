"""Migrations, the append-only guards and the results-log storage (contract C3)."""
import json

import pytest
from sqlalchemy import text

from escrutinio.publication.entry import canonical_json, entry_hash, make_entry
from escrutinio.server.storage import log, official
from escrutinio.server.storage.db import Database, SchemaError, head_revision, migrate


def test_migrations_are_idempotent_and_guards_checked(database_url):
    assert migrate(database_url) == head_revision()  # a second run changes nothing
    db = Database(database_url)
    db.check_schema()
    with db.session(write=True) as s:
        for table in ("log_entries", "checkpoints", "audit_log"):
            if db.postgresql:
                s.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                s.execute(text(f"DROP TRIGGER {table}_no_delete"))
    with pytest.raises(SchemaError, match="append-only"):
        db.check_schema()
    db.dispose()


def test_an_unmigrated_database_is_refused(tmp_path):
    from escrutinio.server.app import create_app
    from escrutinio.server.settings import Settings

    with pytest.raises(SchemaError, match="server init"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))


def test_append_and_append_many_chain_in_the_callers_transaction(database_url):
    db = Database(database_url)
    with db.session(write=True) as s:
        first = log.append(s, "admin", "pvt_design_attached", {"design_sha256": "ab" * 32, "n": 450, "seed": 7})
        many = log.append_many(s, "coordinator", "discrepancy_explained",
                               [{"unit": "1", "contest": "P", "field": "CC", "note": "ñandú \u2028"}, {"unit": "2", "contest": "P", "field": "x", "note": ""}])
    with pytest.raises(RuntimeError):
        with db.session(write=True) as s:
            log.append(s, "admin", "pvt_design_attached", {"design_sha256": "cd" * 32, "n": 1, "seed": 1})
            raise RuntimeError("rolled back: the entry must not stay")
    with db.session() as s:
        stored = log.entries(s)
    db.dispose()
    assert [e["seq"] for e in stored] == [0, 1, 2]
    assert stored[0]["hash"] == first["hash"] and stored[1]["prev"] == first["hash"] and stored[2]["hash"] == many[1]["hash"]
    for e in stored:
        body = make_entry(e["seq"], e["role"], e["kind"], e["payload"], e["prev"], e["time"])
        assert entry_hash(body) == e["hash"]


def test_polars_encoded_payloads_equal_canonical_json(small_computo):
    from escrutinio.io import read_snapshots

    snap = read_snapshots(small_computo)[0]
    for text_, row in zip(official.record_payloads(7, snap), snap.frame.iter_rows(named=True)):
        payload = json.loads(text_)
        assert canonical_json(payload).decode() == text_
        assert payload["unit"] == row["unit"] and payload["snapshot_id"] == 7
        assert payload["values"] == {k: row[k] for k in ("registered", "blank", "null", "emitted", *snap.choices)}
    spliced = log._entry_bytes(3, "2026-01-01T00:00:00.000000Z", "admin", "official_record", text_, "0" * 64)
    assert spliced == canonical_json(make_entry(3, "admin", "official_record", payload, "0" * 64, "2026-01-01T00:00:00.000000Z"))


def test_a_stored_snapshot_comes_back_whole(small_computo):
    from dataclasses import fields

    from escrutinio.io import read_snapshots

    snap = read_snapshots(small_computo)[0]
    back = official._snapshot(official._to_parquet(snap.frame), json.dumps(snap.describe()))
    assert back.frame.equals(snap.frame)
    for f in fields(snap):
        if f.name != "frame":
            assert getattr(back, f.name) == getattr(snap, f.name), f.name


@pytest.mark.parametrize("field, value", [("write_threads", 0), ("write_threads", 65), ("write_threads", "4"), ("write_threads", True),
                                          ("projection_simulations", 0), ("projection_simulations", True),
                                          ("projection_simulations", 2.5)])
def test_settings_refuse_out_of_range_tuning_in_one_line(tmp_path, field, value):
    """An operator's ESCRUTINIO_SETTINGS_OVERRIDES typo is a usage error naming the
    setting, not a traceback in every worker."""
    from escrutinio.errors import UsageError
    from escrutinio.server.settings import Settings

    with pytest.raises(UsageError, match=field):
        Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}", **{field: value})
