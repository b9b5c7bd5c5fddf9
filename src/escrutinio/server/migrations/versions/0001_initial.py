"""Initial schema: users and audit log, the results log (contract C3), official
snapshots, double-entered copies, photos, explanations, projections, events.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("log_entries", "checkpoints", "audit_log")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("user_name", sa.String(200), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "log_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev", sa.CHAR(64), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.CheckConstraint("seq >= 0", name="ck_log_entries_seq"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.CHAR(64), nullable=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("mapping", sa.Text, nullable=True),
        sa.Column("election", sa.Text, nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.String(40), nullable=False),
        sa.Column("loaded_by", sa.Integer, nullable=True),
        sa.Column("log_seq", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "snapshot_contests",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), primary_key=True),
        sa.Column("contest", sa.Text, primary_key=True),
        sa.Column("election", sa.Text, nullable=False),
        sa.Column("exported_at", sa.String(40), nullable=True),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("preset", sa.Text, nullable=True),
        sa.Column("frame", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "actas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("contest", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("first_entry", sa.Integer, nullable=False),
        sa.Column("second_entry", sa.Integer, nullable=True),
        sa.Column("final", sa.Text, nullable=True),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("resolved_by", sa.Integer, nullable=True),
        sa.Column("released_by", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("unit", "contest", name="uq_actas_unit_contest"),
    )
    op.create_index("ix_actas_state", "actas", ["contest", "state"])
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(200), nullable=False, unique=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("contest", sa.Text, nullable=False),
        sa.Column("typist", sa.Integer, nullable=False),
        sa.Column("values", sa.Text, nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "photos",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.Integer, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "explanations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("contest", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("time", sa.String(40), nullable=False),
    )
    op.create_index("ix_explanations_key", "explanations", ["contest", "unit", "field"])
    op.create_table(
        "discrepancy_seen",
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("contest", sa.Text, primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("official", sa.BigInteger, primary_key=True),
        sa.Column("copy", sa.BigInteger, primary_key=True),
        sa.Column("since", sa.String(40), nullable=False),
    )
    op.create_table(
        "projections",
        sa.Column("snapshot_id", sa.Integer, primary_key=True),
        sa.Column("contest", sa.Text, primary_key=True),
        sa.Column("computed_at", sa.String(40), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION escrutinio_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$"
        )
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION escrutinio_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION escrutinio_append_only()")
    else:
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("events", "projections", "discrepancy_seen", "explanations", "photos", "entries", "actas",
                  "snapshot_contests", "snapshots", "checkpoints", "log_entries", "audit_log", "users"):
        op.drop_table(table)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS escrutinio_append_only()")
