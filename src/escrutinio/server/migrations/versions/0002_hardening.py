"""Hardening (issue 23): the append-only guard closes every conflict path, the audit log
is hash-chained.

* SQLite: ``REPLACE INTO`` / ``INSERT OR REPLACE`` delete the conflicting row without
  firing DELETE triggers (recursive triggers are off), so each append-only table gets a
  BEFORE INSERT trigger refusing a row whose key is already stored.
* PostgreSQL: the append-only triggers fire ALWAYS, also in a session with
  ``session_replication_role = replica``; ``INSERT ... ON CONFLICT DO UPDATE`` already
  fires the UPDATE trigger.
* ``audit_log`` gains ``prev`` and ``hash``: each row's hash covers the row and the
  previous row's hash (rows already stored are chained here, in id order).

Revision ID: 0002
Revises: 0001
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = {"log_entries": "seq", "checkpoints": "id", "audit_log": "id"}
GENESIS = "0" * 64


def _audit_hash(prev, row) -> str:
    # the same as escrutinio.server.storage.audit_chain.row_hash, frozen here
    doc = {"action": row.action, "detail": row.detail, "id": int(row.id), "prev": prev, "role": row.role,
           "target": row.target, "time": row.time, "user_id": row.user_id, "user_name": row.user_name}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.add_column("audit_log", sa.Column("prev", sa.CHAR(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.CHAR(64), nullable=True))
    rows = bind.execute(sa.text("SELECT id, time, user_id, user_name, role, action, target, detail FROM audit_log ORDER BY id")).all()
    if rows:
        if pg:
            op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        else:
            op.execute("DROP TRIGGER audit_log_no_update")
        prev = GENESIS
        for r in rows:
            h = _audit_hash(prev, r)
            bind.execute(sa.text("UPDATE audit_log SET prev = :p, hash = :h WHERE id = :i"), {"p": prev, "h": h, "i": r.id})
            prev = h
        if pg:
            op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        else:
            op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    if pg:
        for table in APPEND_ONLY:
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")
    else:
        for table, key in APPEND_ONLY.items():
            op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                       f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")
        op.drop_column("audit_log", "hash")
        op.drop_column("audit_log", "prev")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        # SQLite cannot drop a column of a table with triggers referring to it cheaply;
        # the two columns stay (nullable), which 0001's code ignores
