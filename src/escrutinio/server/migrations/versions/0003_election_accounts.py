"""One election per database, snapshots by export time, accounts that expire.

- ``snapshot_contests.content_sha256``: the SHA-256 of a contest's records in canonical
  form, so the same count under new bytes (re-gzipped, re-saved) is recognised.
- ``users.token_days`` (the account's token lifetime, NULL: the server default) and
  ``users.token_expires_at`` (NULL: never, for accounts made before expiry existed).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshot_contests") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
    op.create_index("ix_snapshot_contests_content", "snapshot_contests", ["content_sha256"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_days", sa.Integer, nullable=True))
        batch.add_column(sa.Column("token_expires_at", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_expires_at")
        batch.drop_column("token_days")
    op.drop_index("ix_snapshot_contests_content", table_name="snapshot_contests")
    with op.batch_alter_table("snapshot_contests") as batch:
        batch.drop_column("content_sha256")
