"""The risk-limiting audit report published on the server.

A report (``escrutinio audit report --format json``) is attached by an
``audit_report_published`` entry in the results log (``report_sha256``, ``name``,
``contest``, ``risk``, ``decision``) and stored content-addressed in the data directory
(``audit/<sha256>.json``): the public log says which report was published and when, and
anyone can recompute its risk from it (``escrutinio audit risk --method macro``). The published
report is the one named by the latest such entry.
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from escrutinio.server.storage import documents, events

KIND = "audit_report_published"


def publish(session: Session, data_dir: Path, report: dict, status: dict, role: str) -> dict:
    """Store and log a report, in the caller's transaction. ``status`` is what the
    endpoint summarised of it (:func:`escrutinio.app.audit_status.summarise`, which
    refuses a document that is not a report): its name, contest, risk and decision go
    into the log entry."""
    text = json.dumps(report, ensure_ascii=False, sort_keys=True)
    sha = documents.sha256_text(text)
    # (the log holds no floats: the measured risk is its exact decimal text)
    payload = {"report_sha256": sha, "name": status["name"], "contest": status["contest"],
               "risk": repr(status["p_value"]), "decision": status["decision"]}
    entry = documents.attach(session, data_dir, "audit", KIND, text, role, payload, sha)
    events.publish(session, "audit", {"report_sha256": sha, "decision": status["decision"]})
    return {**payload, "seq": entry["seq"], "time": entry["time"]}


def current(session: Session, data_dir: Path) -> tuple[dict, dict] | None:
    """The published report and its log entry, or None."""
    found = documents.current(session, data_dir, "audit", KIND, "report_sha256", "audit report")
    if found is None:
        return None
    text, entry = found
    return json.loads(text), entry
