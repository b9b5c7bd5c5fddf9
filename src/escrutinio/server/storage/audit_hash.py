"""The audit log's hash: each row's hash covers the row and the previous row's hash
(issue 23). Apart from ``audit_chain`` (which appends under the writer lock) so that the
start-up check in ``db`` can verify the chain without importing the writer."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from escrutinio.server.storage.tables import audit_log

GENESIS = "0" * 64
FIELDS = ("time", "user_id", "user_name", "role", "action", "target", "detail")


def row_hash(prev: str, row: dict) -> str:
    doc = {k: row[k] for k in FIELDS}
    doc.update(id=int(row["id"]), prev=prev)
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def verify(session: Session) -> tuple[int, int | None, str | None]:
    """(rows checked, id of the first row at fault or None, why)."""
    prev, n = GENESIS, 0
    for r in session.execute(select(audit_log).order_by(audit_log.c.id)):
        n += 1
        row = dict(r._mapping)
        if row["prev"] != prev:
            return n, int(row["id"]), "its prev is not the hash of the row before (a row was removed, inserted or rewritten)"
        if row["hash"] != row_hash(prev, row):
            return n, int(row["id"]), "its hash does not match its content (the row was rewritten)"
        prev = row["hash"]
    return n, None, None
