"""The PVT design attached to the server's election.

A design is an immutable JSON document (``escrutinio pvt design``), attached by a
``pvt_design_attached`` entry in the results log (contract C3: ``design_sha256``, ``n``,
``seed``) and stored content-addressed in the data directory (``pvt/<sha256>.json``), so
the public log says which sample the observers committed to and when (see
:mod:`escrutinio.server.storage.documents`).
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from escrutinio.pvt.design import Design
from escrutinio.server.storage import documents, events

KIND = "pvt_design_attached"


def attach(session: Session, data_dir: Path, design: Design, role: str) -> dict:
    """Store the design and log its attachment, in the caller's transaction."""
    text = design.to_json()
    sha = documents.sha256_text(text)
    entry = documents.attach(session, data_dir, "pvt", KIND, text, role,
                             {"design_sha256": sha, "n": int(design.n), "seed": str(design.seed)}, sha)
    events.publish(session, "pvt", {"design_sha256": sha, "n": int(design.n)})
    return {"design_sha256": sha, "n": int(design.n), "seed": design.seed, "seq": entry["seq"], "time": entry["time"]}


def current(session: Session, data_dir: Path) -> tuple[Design, dict] | None:
    """The attached design and its log entry (``seq``, ``time``, ``design_sha256``), or None."""
    found = documents.current(session, data_dir, "pvt", KIND, "design_sha256", "PVT design")
    if found is None:
        return None
    text, entry = found
    return Design.from_dict(json.loads(text)), {k: entry[k] for k in ("seq", "time", "design_sha256")}
