"""POST /api/v1/sms/inbound: structured reports by SMS, from the gateways observer groups
run (Twilio-style and RapidPro-style form posts), authenticated per gateway.

A report (grammar: :mod:`escrutinio.observers.sms`, docs/field.md) from a registered
watcher's phone, with the watcher's code, becomes one entry of the acta through the same
double-entry rules as the app and the typists. The reply goes back in the response, in
the watcher's language: TwiML for Twilio-style requests, ``{"reply": ...}`` otherwise.
Every message is kept (``sms_messages``, append-only) and audited; each number is
rate-limited.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from escrutinio.errors import EscrutinioError
from escrutinio.observers import double_entry as de
from escrutinio.observers import sms
from escrutinio.server import services
from escrutinio.server.storage import copies, field, official, pvt as pvt_repo
from escrutinio.server.auth import User, require
from escrutinio.server.storage.users import audit

router = APIRouter(tags=["field"])
log = logging.getLogger("escrutinio.server.sms")

#: messages per number per window before the server stops answering (settings.extra overrides)
PER_WINDOW = 20
WINDOW_SECONDS = 600


def N_(message: str) -> str:
    """Marks a reply for the catalogues; translated when sent, in the watcher's language."""
    return message


REPLIES = {
    "accepted": N_("%(unit)s: received, %(emitted)s votes cast, %(valid)s valid. Thank you."),
    "accepted_pvt": N_("%(unit)s: PVT report received, %(emitted)s votes cast, %(valid)s valid. Thank you."),
    "accepted_not_sampled": N_("%(unit)s: received as a result (the table is not in the PVT sample), %(emitted)s votes cast."),
    "replayed": N_("%(unit)s: already received, counted once."),
    "valid_sum": N_("%(unit)s: valid votes %(valid)s ≠ sum %(sum)s"),
    "emitted_sum": N_("%(unit)s: votes cast %(emitted)s ≠ valid %(valid)s + blank %(blank)s + null %(null)s = %(total)s"),
    "over_registered": N_("%(unit)s: votes cast %(emitted)s > registered %(registered)s"),
    "missing_choices": N_("%(unit)s: missing %(names)s (or send V with the valid total)"),
    "missing": N_("%(unit)s: missing %(names)s"),
    "unknown_key": N_("%(unit)s: unknown %(key)s; use %(keys)s"),
    "twice": N_("%(unit)s: %(key)s sent twice"),
    "stray_number": N_("%(unit)s: %(number)s has no letter before it"),
    "too_big": N_("%(unit)s: %(key)s %(number)s is too large"),
    "no_code": N_("%(unit)s: your observer code is missing at the end"),
    "bad_code": N_("Observer code %(code)s is not valid (check digit): check it and send again"),
    "code_mismatch": N_("Observer code %(code)s is not this phone's: check it and send again"),
    "format": N_("Format: P TABLE CC130 MAS36 … V173 B1 N0 E174 CODE"),
    "no_table": N_("The table number is missing. Format: P TABLE CC130 MAS36 … V173 B1 N0 E174 CODE"),
    "too_long": N_("Message too long"),
    "unknown_table": N_("Table %(unit)s does not exist in this election"),
    "not_assigned": N_("%(unit)s: this table is not assigned to your phone; call your coordinator"),
    "already_reported": N_("%(unit)s: you already reported this table; to correct it, call your coordinator"),
    "closed": N_("%(unit)s: this table already has two reports; call your coordinator"),
    "unregistered": N_("This number is not registered. Call your coordinator."),
    "not_ready": N_("The server has no tables loaded yet; send again later"),
    "which_contest": N_("The server does not know which election this gateway reports; call your coordinator"),
}


@lru_cache(maxsize=None)
def _catalogue(language: str):
    """The server's compiled catalogue (the pages' own, ``server/locale``); English is the source language."""
    from babel.support import Translations

    return Translations.load(str(Path(__file__).resolve().parent.parent / "locale"), [language], domain="messages")


def reply_text(problem: str, language: str, **params) -> str:
    message = _catalogue(language).gettext(REPLIES[problem])
    params.setdefault("unit", "")
    out = message % {k: v for k, v in params.items()}
    return out[2:] if out.startswith(": ") else out


def _limits(settings) -> tuple[int, int]:
    extra = getattr(settings, "extra", None) or {}
    return int(extra.get("sms_per_window", PER_WINDOW)), int(extra.get("sms_window_seconds", WINDOW_SECONDS))


def _secret(request: Request, gateway: str) -> str | None:
    given = request.headers.get("x-gateway-secret")
    if given:
        return given
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            name, _, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return secret if name == gateway else None
    return None


async def _fields(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(422, "the body is not JSON")
        if not isinstance(data, dict):
            raise HTTPException(422, "the body must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int))}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/sms/inbound", summary="An SMS from a gateway (Twilio-style From/Body or RapidPro-style from/text); "
             "authenticated by the gateway's secret (X-Gateway-Secret or HTTP basic)",
             responses={200: {"description": "the reply: TwiML for Twilio-style requests, else {\"reply\": ...}"},
                        401: {"description": "unknown gateway or wrong secret"},
                        422: {"description": "no sender or no text"}, 429: {"description": "too many messages from this number"}})
async def inbound(request: Request, gateway: str | None = Query(None, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$"),
                  contest: str | None = Query(None, max_length=200)):
    # authentication first: a caller without the gateway's secret learns nothing else
    secret = _secret(request, gateway) if gateway else None
    db = request.app.state.db
    if not secret:
        raise HTTPException(401, "gateway secret required (X-Gateway-Secret or HTTP basic auth)",
                            headers={"WWW-Authenticate": 'Basic realm="sms"'})
    with db.session() as s:
        ok = field.gateway_ok(s, gateway, secret)
    if not ok:
        raise HTTPException(401, "unknown gateway or wrong secret", headers={"WWW-Authenticate": 'Basic realm="sms"'})
    data = await _fields(request)
    twilio = "From" in data or "Body" in data
    number = (data.get("From") or data.get("from") or data.get("urn") or "").removeprefix("tel:")[:64]
    body = data.get("Body") if twilio else data.get("text", data.get("body"))
    message_id = (data.get("MessageSid") or data.get("SmsSid") or data.get("id") or "")[:100] or None
    if not number or body is None:
        raise HTTPException(422, "an SMS needs its sender (From / from) and its text (Body / text)")
    body = body[:sms.MAX_LENGTH + 1]
    status, text = await services.in_write_thread(request.app, handle, request.app, gateway, contest, number, body, message_id)
    if twilio:
        xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>" + \
              (f"<Message>{escape(text)}</Message>" if text else "") + "</Response>"
        return Response(xml, status_code=status, media_type="application/xml")
    return JSONResponse({"reply": text}, status_code=status)


def handle(app, gateway: str, contest: str | None, number: str, body: str, message_id: str | None) -> tuple[int, str]:
    """Process one message; returns (HTTP status, reply text). Every outcome is recorded."""
    db, settings = app.state.db, app.state.settings
    per_window, window = _limits(settings)
    try:
        clean = field.normalise_number(number)
    except field.FieldError:
        clean = number[:32]
    with db.session(write=True, official_unchanged=True) as s:
        if field.recent_count(s, clean, window) >= per_window:
            field.record(s, gateway=gateway, message_id=message_id, number=clean, body=body, status="rate_limited", reply="")
            audit(s, None, "sms_rate_limited", f"phone:{field.mask(clean)}", {"gateway": gateway})
            return 429, ""
        phone = field.phone_of(s, clean)
        if phone is None:
            text = reply_text("unregistered", "es")
            field.record(s, gateway=gateway, message_id=message_id, number=clean, body=body, status="unregistered", reply=text)
            audit(s, None, "sms_unregistered", f"phone:{field.mask(clean)}", {"gateway": gateway})
            return 200, text
        outcome = _report(s, settings, phone, gateway, contest, body, message_id)
        field.record(s, gateway=gateway, message_id=message_id, number=clean, user_id=phone.user.id, body=body,
                     status=outcome["status"], problem=outcome.get("problem"), kind=outcome.get("kind"),
                     unit=outcome.get("unit"), contest=outcome.get("contest"), entry_id=outcome.get("entry_id"),
                     reply=outcome["reply"])
        audit(s, phone.user, "sms_report", f"acta:{outcome.get('contest')}:{outcome.get('unit')}" if outcome.get("unit") else None,
              {k: outcome.get(k) for k in ("status", "problem", "kind", "entry_id", "state")} | {"gateway": gateway})
        return 200, outcome["reply"]


def _report(s, settings, phone: field.Phone, gateway: str, contest: str | None, body: str, message_id: str | None) -> dict:
    lang = phone.language

    def refuse(problem: str, unit: str | None = None, **params) -> dict:
        return {"status": "refused", "problem": problem, "unit": unit,
                "reply": reply_text(problem, lang, unit=unit or "", **params)}

    try:
        info = services.contest_of(s, contest)
    except LookupError:
        return refuse("not_ready")
    except EscrutinioError:          # several contests loaded and the gateway's URL names none
        return refuse("which_contest")
    snap = services.snapshot_of(s, info)
    choices = list(snap.choices)
    try:
        report = sms.parse(body, choices)
    except sms.SmsError as exc:
        params = dict(exc.problem.params)
        if exc.problem.code == "unknown_key":
            params["keys"] = " ".join([*sorted(set(sms.choice_keys(choices)) & {sms.normalise_key(c) for c in choices}),
                                       "V", "B", "N", "E", "H"])
        return refuse(exc.problem.code, exc.unit, **params)
    unit = report.unit
    row = official.unit_row(snap, unit)
    if row is None and unit.lstrip("0") != unit:
        unit = unit.lstrip("0")
        row = official.unit_row(snap, unit)
    if not field.code_matches(phone, report.code):
        return refuse("code_mismatch", unit, code=report.code)
    if row is None:
        return refuse("unknown_table", unit)
    if phone.units and unit not in phone.units:
        return refuse("not_assigned", unit)
    registered = row.get("registered")
    values, problems = sms.complete(report, choices, int(registered) if registered is not None else None)
    if problems:
        p = problems[0]
        return {**refuse(p.code, unit, **dict(p.params)), "kind": report.kind, "contest": info["contest"]}
    values = de.validate_values(values, choices)
    sampled = None
    if report.kind == "pvt":
        found = pvt_repo.current(s, settings.data_dir)
        sampled = None if found is None else unit in set(found[0].sample)
    levels = {lv: row[lv] for lv in snap.levels}
    client_id = "sms:" + (f"{gateway}:{message_id}" if message_id else
                          hashlib.sha256(f"{phone.number}\n{unit}\n{json.dumps(values, sort_keys=True)}".encode()).hexdigest())
    base = {"kind": report.kind, "unit": unit, "contest": info["contest"]}
    try:
        out = copies.submit(s, unit=unit, contest=info["contest"], values=values, client_id=client_id, user=phone.user,
                            check=services.checker(snap), levels=levels)
    except de.SameTypist:
        return {**refuse("already_reported", unit), **base}
    except de.WrongState:
        return {**refuse("closed", unit), **base}
    except de.ClientIdReused:
        return {**base, "status": "replayed", "reply": reply_text("replayed", lang, unit=unit)}
    if not out["replayed"] and out["state"] in de.COUNTED:
        services.record_seen(s, info["contest"], [unit])
    valid = sum(values[c] for c in choices)
    if out["replayed"]:
        key = "replayed"
    elif report.kind == "pvt" and sampled is not None:   # with no design attached, a plain receipt
        key = "accepted_pvt" if sampled else "accepted_not_sampled"
    else:
        key = "accepted"
    return {**base, "status": "accepted", "entry_id": out["entry_id"], "state": out["state"],
            "reply": reply_text(key, lang, unit=unit, emitted=values["emitted"], valid=valid)}


@router.get("/field/tables", summary="The tables assigned to the caller's registered phones (empty: any table)")
def my_tables(request: Request, user: User = Depends(require("watcher"))) -> dict:
    with request.app.state.db.session() as s:
        return {"tables": field.tables_of(s, user.id)}


@router.get("/sms/messages", summary="Inbound SMS, oldest first, with what became of each (to call back the watchers "
            "whose reports were refused)")
def messages(request: Request, after: int = Query(0, ge=0, le=2**31 - 1), limit: int = Query(200, ge=1, le=1000),
             status: str | None = Query(None, pattern=r"^(accepted|refused|replayed|unregistered|rate_limited)$"),
             user: User = Depends(require("admin", "coordinator"))) -> list[dict]:
    with request.app.state.db.session() as s:
        rows = field.messages(s, limit=limit, after=after)
    return [r for r in rows if status is None or r["status"] == status]
