"""The server's tables (SQLAlchemy Core). The schema itself is created by the Alembic
migrations in ``escrutinio/server/migrations``; these objects are what queries use.

JSON is stored as TEXT so that SQLite and PostgreSQL hold byte-identical documents.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Integer, LargeBinary, MetaData, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(40), nullable=False),
    Column("token_days", Integer, nullable=True),
    Column("token_expires_at", String(40), nullable=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("user_name", String(200), nullable=True),
    Column("role", String(20), nullable=True),
    Column("action", String(60), nullable=False),
    Column("target", Text, nullable=True),
    Column("detail", Text, nullable=True),
    # hash chain (migration 0002, storage/audit_chain.py)
    Column("prev", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
)

# contract C3: append-only, seq from 0, payload = canonical JSON
log_entries = Table(
    "log_entries", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("time", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("key_id", Text, nullable=False),
)

snapshots = Table(
    "snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_sha256", String(64), nullable=False, unique=True),
    Column("source", Text, nullable=False),
    Column("mapping", Text, nullable=True),
    Column("election", Text, nullable=False),
    Column("units", Integer, nullable=False),
    Column("loaded_at", String(40), nullable=False),
    Column("loaded_by", Integer, nullable=True),
    Column("log_seq", BigInteger, nullable=True),
)

# one row per contest of a snapshot; ``frame`` is the unit frame as Parquet: an
# immutable blob read whole by the app layer, so a snapshot is one row, not 35,000
snapshot_contests = Table(
    "snapshot_contests", metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), primary_key=True),
    Column("contest", Text, primary_key=True),
    Column("election", Text, nullable=False),
    Column("exported_at", String(40), nullable=True),
    Column("units", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("preset", Text, nullable=True),
    Column("frame", LargeBinary, nullable=False),
    Column("content_sha256", String(64), nullable=True),
)

actas = Table(
    "actas", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit", Text, nullable=False),
    Column("contest", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("first_entry", Integer, nullable=False),
    Column("second_entry", Integer, nullable=True),
    Column("final", Text, nullable=True),
    Column("findings", Text, nullable=False, default="[]"),
    Column("resolved_by", Integer, nullable=True),
    Column("released_by", Integer, nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("unit", "contest", name="uq_actas_unit_contest"),
)

entries = Table(
    "entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(200), nullable=False, unique=True),
    Column("unit", Text, nullable=False),
    Column("contest", Text, nullable=False),
    Column("typist", Integer, nullable=False),
    Column("values", Text, nullable=False),
    Column("photo_sha256", String(64), nullable=True),
    Column("created_at", String(40), nullable=False),
)

photos = Table(
    "photos", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("content_type", String(40), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("path", Text, nullable=False),
    Column("uploaded_by", Integer, nullable=True),
    Column("created_at", String(40), nullable=False),
)

explanations = Table(
    "explanations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit", Text, nullable=False),
    Column("contest", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("time", String(40), nullable=False),
)

# first time a (unit, contest, field) difference was seen: "since when"
discrepancy_seen = Table(
    "discrepancy_seen", metadata,
    Column("unit", Text, primary_key=True),
    Column("contest", Text, primary_key=True),
    Column("field", Text, primary_key=True),
    Column("official", BigInteger, primary_key=True),
    Column("copy", BigInteger, primary_key=True),
    Column("since", String(40), nullable=False),
)

projections = Table(
    "projections", metadata,
    Column("snapshot_id", Integer, primary_key=True),
    Column("contest", Text, primary_key=True),
    Column("computed_at", String(40), nullable=False),
    Column("result", Text, nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("data", Text, nullable=False),
)
