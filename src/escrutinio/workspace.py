"""A workspace: one embedded DuckDB file that persists elections, snapshots and the
state of long-running work (audits, parallel tabulations). Nothing to install.

Snapshots are stored as one table per snapshot (``snap_<n>``) plus a catalogue row with
their metadata; other capabilities keep JSON documents under a namespace with
:meth:`Workspace.put` / :meth:`Workspace.get`.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from escrutinio.model import Election, Snapshot

DEFAULT_PATH = "escrutinio.duckdb"


class Workspace:
    def __init__(self, path: str | Path = DEFAULT_PATH, read_only: bool = False):
        self.path = str(path)
        self.con = duckdb.connect(self.path, read_only=read_only)
        if not read_only:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY, election VARCHAR,"
                " contest VARCHAR, meta JSON)"
            )
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS documents (namespace VARCHAR, key VARCHAR, body JSON,"
                " updated_at TIMESTAMP, PRIMARY KEY (namespace, key))"
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------- snapshots
    def put_snapshot(self, snapshot: Snapshot) -> int:
        """Store a snapshot atomically (all rows or none) and return its id."""
        frame = snapshot.frame
        self.con.execute("BEGIN TRANSACTION")
        try:
            (next_id,) = self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM snapshots").fetchall()[0]
            self.con.register("_incoming", frame.to_arrow())
            self.con.execute(f"CREATE TABLE snap_{next_id} AS SELECT * FROM _incoming")
            self.con.unregister("_incoming")
            self.con.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?)",
                [next_id, snapshot.election, snapshot.contest, json.dumps(snapshot.describe())],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return int(next_id)

    def list_snapshots(self) -> list[dict]:
        rows = self.con.execute("SELECT id, meta FROM snapshots ORDER BY id").fetchall()
        return [{"id": i, **json.loads(m)} for i, m in rows]

    def get_snapshot(self, snapshot_id: int) -> Snapshot:
        rows = self.con.execute("SELECT meta FROM snapshots WHERE id = ?", [snapshot_id]).fetchall()
        row = rows[0] if rows else None
        if row is None:
            raise KeyError(f"no snapshot {snapshot_id} in {self.path}")
        meta = json.loads(row[0])
        frame = self.con.sql(f"SELECT * FROM snap_{int(snapshot_id)}").pl()
        return Snapshot(
            election=meta["election"],
            contest=meta["contest"],
            frame=frame,
            levels=tuple(meta["levels"]),
            choices=tuple(meta["choices"]),
            source=meta["source"],
            exported_at=datetime.fromisoformat(meta["exported_at"]) if meta["exported_at"] else None,
            withdrawn=tuple(meta["withdrawn"]),
            withdrawn_rule=meta["withdrawn_rule"],
            derived=tuple(meta["derived"]),
            label=meta["label"],
            notes=tuple(meta["notes"]),
            repaired_rows=tuple(meta.get("repaired_rows", [])),
            attributes=tuple(c for c in frame.columns if c in meta.get("attributes", [])),
            place_level=meta.get("place_level"),
            area_level=meta.get("area_level"),
            presidential_rule=meta.get("presidential_rule"),
            expected_tables=meta.get("expected_tables"),
            expected_registered=meta.get("expected_registered"),
            expected_source=meta.get("expected_source"),
            election_date=meta.get("election_date"),
        )

    def election(self, name: str) -> Election:
        ids = [r[0] for r in self.con.execute("SELECT id FROM snapshots WHERE election = ? ORDER BY id", [name]).fetchall()]
        return Election(name, [self.get_snapshot(i) for i in ids])

    # ------------------------------------------------------------- documents
    def put(self, namespace: str, key: str, body: Any) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, now())", [namespace, key, json.dumps(body)]
        )

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        rows = self.con.execute("SELECT body FROM documents WHERE namespace = ? AND key = ?", [namespace, key]).fetchall()
        row = rows[0] if rows else None
        return default if row is None else json.loads(row[0])

    def keys(self, namespace: str) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT key FROM documents WHERE namespace = ? ORDER BY key", [namespace]).fetchall()]
