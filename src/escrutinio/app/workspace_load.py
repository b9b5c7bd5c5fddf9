"""`escrutinio load`: read files and store their snapshots in a workspace (one DuckDB
file), for the command line and the Python API."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from escrutinio.model import Snapshot


@dataclass
class Loaded:
    """The snapshots stored, with the id the workspace gave each."""

    workspace: str
    stored: list[tuple[int, Snapshot]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"workspace": self.workspace,
                "snapshots": [{"id": i, **s.describe()} for i, s in self.stored]}

    def summary(self) -> str:
        return "\n".join(stored_line(i, s) for i, s in self.stored)


def stored_line(snapshot_id: int, snapshot: Snapshot) -> str:
    return f"snapshot {snapshot_id}: {snapshot.contest} · {snapshot.name} · {snapshot.n_units:,} tables"


def load(paths, workspace: str | Path = "escrutinio.duckdb", mapping=None, count_withdrawn: bool = False,
         progress: Callable[[str], None] | None = None,
         on_stored: Callable[[int, Snapshot], None] | None = None) -> Loaded:
    """Read ``paths`` (or take an Election) and store every snapshot in ``workspace``.
    Everything is read before anything is written; each snapshot is stored whole or not
    at all, and ``on_stored(id, snapshot)`` is called as each one is."""
    from escrutinio.app.results import _as_election
    from escrutinio.workspace import Workspace

    election = _as_election(paths, mapping=mapping, count_withdrawn=count_withdrawn, progress=progress)
    out = Loaded(str(workspace))
    with Workspace(workspace) as ws:
        for s in election.snapshots:
            i = ws.put_snapshot(s)
            out.stored.append((i, s))
            if on_stored is not None:
                on_stored(i, s)
    return out
