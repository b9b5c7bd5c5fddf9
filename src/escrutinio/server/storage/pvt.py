"""The PVT design attached to the server's election.

A design is an immutable JSON document (``escrutinio pvt design``). It is stored
content-addressed in the data directory (``pvt/<sha256>.json``) and attached by a
``pvt_design_attached`` entry in the results log (contract C3: ``design_sha256``, ``n``,
``seed``), so the public log says which sample the observers committed to and when, and
anyone can check the file against it. The attached design is the one named by the latest
such entry; every worker process reads it from the database and the shared data
directory, never from memory.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from escrutinio.pvt.design import Design
from escrutinio.server.storage import events, log
from escrutinio.server.storage.tables import log_entries

KIND = "pvt_design_attached"


def _path(data_dir: Path, sha: str) -> Path:
    return Path(data_dir) / "pvt" / f"{sha}.json"


def attach(session: Session, data_dir: Path, design: Design, role: str) -> dict:
    """Store the design and log its attachment, in the caller's transaction."""
    text = design.to_json()
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    target = _path(data_dir, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    entry = log.append(session, role, KIND, {"design_sha256": sha, "n": int(design.n), "seed": str(design.seed)})
    events.publish(session, "pvt", {"design_sha256": sha, "n": int(design.n)})
    return {"design_sha256": sha, "n": int(design.n), "seed": design.seed, "seq": entry["seq"], "time": entry["time"]}


def current(session: Session, data_dir: Path) -> tuple[Design, dict] | None:
    """The attached design and its log entry (``seq``, ``time``, ``design_sha256``), or None."""
    row = session.execute(select(log_entries.c.seq, log_entries.c.time, log_entries.c.payload)
                          .where(log_entries.c.kind == KIND).order_by(log_entries.c.seq.desc()).limit(1)).first()
    if row is None:
        return None
    payload = json.loads(row.payload)
    sha = payload["design_sha256"]
    path = _path(data_dir, sha)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(f"the attached PVT design {sha} is missing from the data directory ({path}): {exc}") from exc
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha:
        raise RuntimeError(f"the stored PVT design {path} does not match its logged SHA-256 {sha}")
    return Design.from_dict(json.loads(text)), {"seq": int(row.seq), "time": row.time, "design_sha256": sha}
