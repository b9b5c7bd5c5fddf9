"""/api/v1/audit: publish a risk-limiting audit's report (admin) and read its status
(everyone). The audit itself runs from the command line (docs/audit.md); the server keeps
no audit logic, only the published report, logged in the results log."""
from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Request
from sqlalchemy.orm import Session

from escrutinio.app.audit_status import summarise
from escrutinio.server import services
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import audit_reports, get_session
from escrutinio.server.storage.users import audit

router = APIRouter(tags=["audit"])


def _published(request: Request, session: Session) -> tuple[dict, dict]:
    found = audit_reports.current(session, request.app.state.settings.data_dir)
    if found is None:
        raise services.NotFound("no audit report is published on this server (POST /api/v1/audit/report)")
    return found


@router.post("/audit/report", summary="Publish a risk-limiting audit's report (admin; logged as audit_report_published)",
             responses={400: {"description": "not an audit report"}})
def publish(request: Request, report: dict = Body(..., description="the JSON written by "
                                                   "`escrutinio audit report --format json`"),
            user: User = Depends(require("admin")), session: Session = Depends(get_session)) -> dict:
    status = summarise(report)  # refuses a document that is not an audit report, before anything is stored
    out = audit_reports.publish(session, request.app.state.settings.data_dir, report, status, user.role)
    audit(session, user, "audit_report_published", f"audit:{out['report_sha256']}",
          {"name": out["name"], "decision": out["decision"]})
    return out


@router.get("/audit/status", summary="The published audit's status: risk limit, draws, measured risk, decision",
            responses={404: {"description": "no audit report published"}})
def status(request: Request, user: User = Depends(require(*ALL_ROLES)), session: Session = Depends(get_session)) -> dict:
    report, entry = _published(request, session)
    return {**summarise(report), "published": {k: entry[k] for k in ("seq", "time", "report_sha256")}}


@router.get("/audit/report", summary="The published audit report, as published",
            responses={404: {"description": "no audit report published"}})
def report(request: Request, user: User = Depends(require(*ALL_ROLES)), session: Session = Depends(get_session)) -> dict:
    return _published(request, session)[0]
