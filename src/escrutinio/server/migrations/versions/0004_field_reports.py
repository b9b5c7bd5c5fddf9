"""Watchers in the field: phones registered to watchers, SMS gateways (secrets hashed),
every inbound SMS (append-only), photos' perceptual hashes and EXIF, photo flags
(append-only).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("sms_messages", "photo_flags")


def upgrade() -> None:
    op.create_table(
        "phones",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("units", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "gateways",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(100), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("problem", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(10), nullable=True),
        sa.Column("unit", sa.Text, nullable=True),
        sa.Column("contest", sa.Text, nullable=True),
        sa.Column("entry_id", sa.Integer, nullable=True),
        sa.Column("reply", sa.Text, nullable=False),
    )
    op.create_index("ix_sms_messages_number_time", "sms_messages", ["number", "received_at"])
    op.create_table(
        "photo_marks",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("phash", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("exif_time", sa.String(40), nullable=True),
        sa.Column("exif_lat", sa.Float, nullable=True),
        sa.Column("exif_lon", sa.Float, nullable=True),
    )
    op.create_index("ix_photo_marks_phash", "photo_marks", ["phash"])
    op.create_table(
        "photo_flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("contest", sa.Text, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_photo_flags_unit", "photo_flags", ["contest", "unit"])
    bind = op.get_bind()
    for table in APPEND_ONLY:
        if bind.dialect.name == "postgresql":
            # escrutinio_append_only() is 0001's
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION escrutinio_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION escrutinio_append_only()")
            # as 0002 does for the log: the guard holds in a replica session too
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")
        else:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
            # as 0002 does for the log: REPLACE / INSERT OR REPLACE would delete the stored row
            op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                       f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def downgrade() -> None:
    for table in ("photo_flags", "photo_marks", "sms_messages", "gateways", "phones"):
        op.drop_table(table)
