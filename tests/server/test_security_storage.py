"""Issue 23: the append-only guard holds against every conflict path and is checked by
its definitions and enabled state at start; the audit log is hash-chained."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from escrutinio.server.storage import audit_chain, log, users
from escrutinio.server.storage.db import Database, SchemaError


def _fill(db):
    with db.session(write=True) as s:
        admin, _ = users.add_user(s, "admin", "admin")
        log.append(s, "admin", "note", {"a": 1})
        log.append(s, "admin", "note", {"a": 2})
        s.execute(text("INSERT INTO checkpoints (tree_size, root_hash, time, signature, key_id) "
                       "VALUES (2, :h, 't', 'sig', 'k')"), {"h": "a" * 64})
    return admin


REWRITES = {
    "sqlite": [
        "REPLACE INTO log_entries (seq, time, role, kind, payload, prev, hash) VALUES (0, 't', 'admin', 'note', '{{}}', '{p}', '{p}')",
        "INSERT OR REPLACE INTO log_entries (seq, time, role, kind, payload, prev, hash) VALUES (1, 't', 'admin', 'note', '{{}}', '{p}', '{p}')",
        "INSERT OR REPLACE INTO checkpoints (id, tree_size, root_hash, time, signature, key_id) VALUES (1, 2, '{p}', 't', 's', 'k')",
        "REPLACE INTO audit_log (id, time, action) VALUES (1, 't', 'nothing happened')",
        "INSERT INTO log_entries (seq, time, role, kind, payload, prev, hash) VALUES (0, 't', 'a', 'k', '{{}}', '{p}', '{p}') "
        "ON CONFLICT (seq) DO UPDATE SET payload = excluded.payload",
        "UPDATE log_entries SET payload = '{{}}'",
        "DELETE FROM audit_log",
    ],
    "postgresql": [
        "INSERT INTO log_entries (seq, time, role, kind, payload, prev, hash) VALUES (0, 't', 'a', 'k', '{{}}', '{p}', '{p}') "
        "ON CONFLICT (seq) DO UPDATE SET payload = excluded.payload",
        "INSERT INTO audit_log (id, time, action) VALUES (1, 't', 'x') ON CONFLICT (id) DO UPDATE SET action = excluded.action",
        "UPDATE checkpoints SET root_hash = '{p}'",
        "DELETE FROM log_entries",
        "TRUNCATE audit_log",
    ],
}


def test_no_sql_statement_rewrites_the_logs(database_url):
    db = Database(database_url)
    try:
        _fill(db)
        with db.session() as s:
            before = [s.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in ("log_entries", "checkpoints", "audit_log")]
        for sql in REWRITES[db.dialect]:
            with pytest.raises(DBAPIError, match="append-only"):
                with db.session(write=True) as s:
                    s.execute(text(sql.format(p="f" * 64)))
        if db.postgresql:  # a session in replica mode skips ordinary triggers, not ALWAYS ones
            with pytest.raises(DBAPIError, match="append-only"):
                with db.session(write=True) as s:
                    s.execute(text("SET LOCAL session_replication_role = replica"))
                    s.execute(text("DELETE FROM log_entries"))
        with db.session() as s:
            after = [s.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in ("log_entries", "checkpoints", "audit_log")]
        assert after == before
    finally:
        db.dispose()


def test_start_up_check_reads_trigger_definitions_and_enabled_state(database_url):
    db = Database(database_url)
    try:
        db.check_schema()
        if db.postgresql:
            changes = ["ALTER TABLE log_entries DISABLE TRIGGER log_entries_append_only",
                       "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",  # no longer ALWAYS
                       "CREATE OR REPLACE FUNCTION escrutinio_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RETURN NEW; END; $$"]
            expect = ["disabled", "not enabled always", "function escrutinio_append_only was changed"]
        else:
            changes = ["DROP TRIGGER log_entries_no_update || CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON "
                       "log_entries BEGIN SELECT 1; END",
                       "DROP TRIGGER checkpoints_no_replace"]
            expect = ["log_entries_no_update is not the migration's", "checkpoints_no_replace is missing"]
        for change, why in zip(changes, expect):
            with db.session(write=True) as s:
                for stmt in change.split(" || "):
                    s.execute(text(stmt))
            with pytest.raises(SchemaError, match=why):
                db.check_schema()
    finally:
        db.dispose()


def test_the_audit_log_is_hash_chained(database_url):
    db = Database(database_url)
    try:
        admin = _fill(db)
        with db.session(write=True) as s:
            for i in range(3):
                users.audit(s, admin, "note", f"t{i}", {"i": i})
        with db.session() as s:
            n, bad, why = audit_chain.verify(s)
        assert (n, bad) == (4, None)
        # a database operator lifts the guard and rewrites row 3
        with db.session(write=True) as s:
            if db.postgresql:
                s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            else:
                s.execute(text("DROP TRIGGER audit_log_no_update"))
            s.execute(text("UPDATE audit_log SET detail = '{\"i\": 9}' WHERE id = 3"))
        with db.session() as s:
            n, bad, why = audit_chain.verify(s)
        assert bad == 3 and "rewritten" in why
        with pytest.raises(SchemaError):
            db.check_schema()
    finally:
        db.dispose()


def test_start_up_refuses_an_audit_log_rewritten_behind_restored_triggers(database_url):
    """An operator lifts the guard, rewrites a row and puts the guard back exactly as it
    was: the triggers look right, the chain does not."""
    from escrutinio.server.storage.db import _sqlite_triggers

    db = Database(database_url)
    try:
        admin = _fill(db)
        with db.session(write=True) as s:
            users.audit(s, admin, "note", "t", {"i": 1})
        db.check_schema()
        with db.session(write=True) as s:
            if db.postgresql:
                s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
                s.execute(text("UPDATE audit_log SET detail = '{\"i\": 9}' WHERE id = 2"))
                s.execute(text("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only"))
            else:
                s.execute(text("DROP TRIGGER audit_log_no_update"))
                s.execute(text("UPDATE audit_log SET detail = '{\"i\": 9}' WHERE id = 2"))
                s.execute(text(_sqlite_triggers()["audit_log_no_update"]))
        with pytest.raises(SchemaError, match="audit log was altered at row 2"):
            db.check_schema()
    finally:
        db.dispose()
