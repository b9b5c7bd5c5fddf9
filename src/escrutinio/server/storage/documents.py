"""Documents attached to the election by an entry in the results log (a PVT design, an
audit report).

A document is immutable JSON text, stored content-addressed in the data directory
(``<folder>/<sha256>.json``), and attached by a log entry whose payload names its SHA-256:
the public log says which document was attached and when, and anyone can check the file
against it. The attached document is the one named by the latest entry of its kind; every
worker reads it from the database and the shared data directory, never from memory.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from escrutinio.server.storage import log
from escrutinio.server.storage.tables import log_entries


def _path(data_dir: Path, folder: str, sha: str) -> Path:
    return Path(data_dir) / folder / f"{sha}.json"


def attach(session: Session, data_dir: Path, folder: str, kind: str, text: str, role: str, payload: dict,
           sha: str) -> dict:
    """Store ``text`` (whose SHA-256 is ``sha``, named in ``payload``) and log its
    attachment, in the caller's transaction. Returns the log entry."""
    target = _path(data_dir, folder, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return log.append(session, role, kind, payload)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current(session: Session, data_dir: Path, folder: str, kind: str, sha_key: str, what: str) -> tuple[str, dict] | None:
    """The latest attached document's text and its entry (``seq``, ``time``, payload), or None."""
    row = session.execute(select(log_entries.c.seq, log_entries.c.time, log_entries.c.payload)
                          .where(log_entries.c.kind == kind).order_by(log_entries.c.seq.desc()).limit(1)).first()
    if row is None:
        return None
    payload = json.loads(row.payload)
    sha = payload[sha_key]
    path = _path(data_dir, folder, sha)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(f"the attached {what} {sha} is missing from the data directory ({path}): {exc}") from exc
    if sha256_text(text) != sha:
        raise RuntimeError(f"the stored {what} {path} does not match its logged SHA-256 {sha}")
    return text, {"seq": int(row.seq), "time": row.time, **payload}
