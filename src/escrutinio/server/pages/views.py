"""The dashboard's HTML routes: the public results page at ``/`` and the observers' pages.

Pages are rendered on the server (Jinja2 + Babel) and talk to the data only through the
JSON API (:mod:`.client`), so that every figure has the JSON link it shows. Live updates
re-fetch a server-rendered fragment when ``/api/v1/events`` announces a change, so the
numbers on screen are always formatted by Babel, never by the browser.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from escrutinio.server.pages import client, figures
from escrutinio.server.pages.words import Words
from escrutinio.server.pages.i18n import (LANG_COOKIE, LANGUAGE_NAMES, LOCALES, Formatter, negotiate,
                                          translations)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

router = APIRouter(include_in_schema=False)

# Where each role lands after logging in, and which pages it may open. The API makes the
# authoritative checks; these only keep a user away from pages that would be all errors.
HOME = {"typist": "/entry", "coordinator": "/resolve", "admin": "/", "watcher": "/discrepancies", "reader": "/"}
ENTRY_ROLES = ("typist", "watcher")
RESOLVE_ROLES = ("coordinator",)
OBSERVER_ROLES = ("admin", "coordinator", "typist", "watcher")
# The double-entry refusals the form explains in the user's language (escrutinio.observers.double_entry).
ENTRY_CODES = ("same_typist", "wrong_state", "invalid_values", "client_id_reused")


def _environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(locale), newstyle=True)
    fmt = Formatter(locale)
    env.filters.update(num=fmt.num, pct=fmt.pct, points=fmt.points, signed=fmt.signed, when=fmt.when,
                       decimal=fmt.decimal)
    env.globals["fmt"] = fmt
    env.globals["figures_interval"] = figures.share_interval
    env.globals["words"] = Words(translations(locale), fmt)
    return env


ENVIRONMENTS = {code: _environment(code) for code in LOCALES}


def locale_of(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                     request.headers.get("accept-language"))


async def current_user(request: Request) -> dict | None:
    """The logged-in user ({"id", "name", "role"}) or None (public reader)."""
    if not client.token_of(request):
        return None
    reply = await client.get(request, "/api/v1/me")
    if not reply.ok or not isinstance(reply.body, dict) or reply.body.get("id") is None:
        return None
    return reply.body


CONTEST_COOKIE = "escrutinio_contest"


async def contests_of(request: Request) -> list[dict]:
    """The contests of the loaded election (/api/v1/contests), main race first: the contest
    on most tables (PRESIDENTE in Bolivia), then the others in their name order."""
    cached = getattr(request.state, "contests", None)
    if cached is not None:
        return cached
    loaded = await client.get(request, "/api/v1/contests")
    contests = [c for c in (loaded.body if loaded.ok and isinstance(loaded.body, list) else [])
                if isinstance(c, dict) and c.get("contest")]
    contests.sort(key=lambda c: (-int(c.get("units") or 0), str(c.get("contest"))))
    request.state.contests = contests
    return contests


def _remembered(request: Request) -> str | None:
    raw = request.cookies.get(CONTEST_COOKIE)
    return unquote(raw) if raw else None


async def choose_contest(request: Request, contest: str | None) -> tuple[str | None, list[str]]:
    """(the contest to show, every contest's name): the one asked for, else the one this
    browser chose last (a cookie), else the main race."""
    names = [str(c["contest"]) for c in await contests_of(request)]
    if contest in names:
        return contest, names
    remembered = _remembered(request)
    if remembered in names:
        return remembered, names
    return (names[0] if names else contest), names


def _with_lang(request: Request, code: str) -> str:
    params = dict(request.query_params)
    params["lang"] = code
    return f"{request.url.path}?{urlencode(params)}"


def render(request: Request, template: str, status: int = 200, user: dict | None = None, **context) -> HTMLResponse:
    locale = locale_of(request)
    env = ENVIRONMENTS[locale]
    html = env.get_template(template).render(
        request=request, lang=locale, user=user, path=request.url.path,
        languages=[(code, LANGUAGE_NAMES[code], _with_lang(request, code)) for code in LOCALES],
        **context)
    response = HTMLResponse(html, status_code=status)
    chosen = context.get("contest")
    if (chosen and request.query_params.get("contest") == chosen and chosen in (context.get("contests") or ())
            and _remembered(request) != chosen):
        # remembered per browser, so that every page opens on the contest last chosen
        response.set_cookie(CONTEST_COOKIE, quote(chosen, safe=""), max_age=30 * 24 * 3600, samesite="strict", path="/")
    query_lang = request.query_params.get("lang")
    if query_lang in LOCALES and request.cookies.get(LANG_COOKIE) != query_lang:
        response.set_cookie(LANG_COOKIE, query_lang, max_age=365 * 24 * 3600, samesite="strict", path="/")
    if getattr(request.state, "stale_token", False):
        response.delete_cookie(client.TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "no-store"
    return response


def _same_origin(request: Request) -> bool:
    """Forms post with a SameSite=Strict cookie; refusing a foreign Origin as well costs nothing."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def _form_gate(request: Request, roles: tuple[str, ...]):
    """For a form post: (user, form, None) when allowed, else (user, None, refusal)."""
    if not _same_origin(request):
        return None, None, JSONResponse({"error": "cross-origin form refused"}, status_code=403)
    user, refusal = await _gate(request, roles)
    if refusal:
        return user, None, refusal
    return user, await request.form(), None


async def _gate(request: Request, roles: tuple[str, ...]):
    """(user, None) when the user may open the page, else (user, response)."""
    user = await current_user(request)
    if user is None:
        return None, RedirectResponse(f"/login?{urlencode({'next': str(request.url.path)})}", status_code=303)
    if user.get("role") not in roles:
        return user, render(request, "forbidden.html", status=403, user=user, roles=roles)
    return user, None


# --- session -------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = ""):
    return render(request, "login.html", user=await current_user(request), next=_safe_next(next), error=None)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: browsers read "//host" and "/\\host" as another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target if all(c.isprintable() for c in target) else ""


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, token: str = Form(""), next: str = Form("")):
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin form refused"}, status_code=403)
    token = token.strip()
    reply = await client.call(request, "GET", "/api/v1/me", token=token) if token else None
    if reply is None or not reply.ok or not isinstance(reply.body, dict) or reply.body.get("id") is None:
        return render(request, "login.html", status=401, user=None, next=_safe_next(next),
                      error="invalid")
    role = reply.body.get("role")
    response = RedirectResponse(_safe_next(next) or HOME.get(role, "/"), status_code=303)
    response.set_cookie(client.TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=24 * 3600)
    return response


@router.post("/logout")
async def logout(request: Request):
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin form refused"}, status_code=403)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(client.TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- public results --------------------------------------------------------------------------

async def _results_context(request: Request, contest: str | None) -> dict:
    contests = await contests_of(request)
    # the contest asked for, else the one last chosen here, else the main race (most tables)
    contest, names = await choose_contest(request, contest)
    levels = next((c.get("levels") or [] for c in contests if c.get("contest") == contest), [])
    # The areas table: departments where the mapping has them, else the first level below the top.
    level = "department" if "department" in levels else (levels[1] if len(levels) > 1 else None)
    params = {"source": "official", "level": level, "contest": contest}
    official = await client.get(request, "/api/v1/results", **params)
    ctx: dict = {"contest": contest, "contests": names, "area_level": level,
                 "results_url": "/api/v1/results?" + urlencode({k: v for k, v in params.items() if v})}
    if not official.ok or not isinstance(official.body, dict) or not official.body.get("choices"):
        ctx.update(result=None, error=None if official.status == 404 or official.ok else official.error)
        return ctx
    result = official.body
    contest = contest or result.get("contest")
    palette = figures.colours(result)
    ranked = figures.ranked_choices(result)
    projection = await client.get(request, "/api/v1/projection", contest=contest)
    projection_body = projection.body if projection.ok and isinstance(projection.body, dict) else None
    places = await client.get(request, "/pages/places.json", contest=contest)
    place_list = places.body if places.ok and isinstance(places.body, list) else (
        places.body.get("places") if places.ok and isinstance(places.body, dict) else None)
    series = await client.get(request, "/pages/series.json", contest=contest)
    comp = figures.completeness(result)
    series_points = series.body.get("series", []) if series.ok and isinstance(series.body, dict) else []
    chart = figures.lead_chart(series_points, projection_body if not comp["final"] else None,
                               figures.lead_threshold(result),
                               pair=series.body.get("between") if series.ok and isinstance(series.body, dict) else None)
    home_rows, abroad_rows, home = figures.split_areas(result.get("rows") or [])
    info = next((c for c in contests if c.get("contest") == contest), {})
    counted_copies = sum(int(v or 0) for k, v in (info.get("copies") or {}).items() if k in ("agreed", "resolved", "released"))
    both = await client.get(request, "/api/v1/results", source="both", contest=contest) if counted_copies else None
    ctx["against_copies"] = figures.copies_comparison(both.body if both is not None and both.ok else None, palette)
    ctx["both_url"] = "/api/v1/results?" + urlencode({"source": "both", "contest": contest})
    ctx.update(
        result=result, error=None, contest=contest, ranked=ranked, palette=palette, completeness=comp,
        conditions=figures.conditions(result), lead=figures.lead_points(result), chart=chart,
        projection=projection_body, map=figures.dot_map(place_list, palette) if place_list else None,
        extrapolation=figures.extrapolation(projection_body) if not comp["final"] else None,
        rows=home_rows, abroad_rows=abroad_rows, home=home, top=ranked[:3],
        projection_url="/api/v1/projection?" + urlencode({"contest": contest}),
        places_url="/pages/places.json?" + urlencode({"contest": contest}),
        series_url="/pages/series.json?" + urlencode({"contest": contest}),
    )
    return ctx


@router.get("/", response_class=HTMLResponse)
async def results_page(request: Request, contest: str | None = None):
    ctx = await _results_context(request, contest)
    return render(request, "results.html", user=await current_user(request), **ctx)


@router.get("/fragments/results", response_class=HTMLResponse)
async def results_fragment(request: Request, contest: str | None = None):
    ctx = await _results_context(request, contest)
    return render(request, "_results_body.html", **ctx)


# --- data entry --------------------------------------------------------------------------------

@router.get("/entry", response_class=HTMLResponse)
async def entry_index(request: Request, contest: str | None = None, saved: str | None = None, state: str | None = None):
    user, refusal = await _gate(request, ENTRY_ROLES)
    if refusal:
        return refusal
    contest, contests = await choose_contest(request, contest)
    if user.get("role") == "watcher":
        # a watcher enters (and photographs) the actas of their own tables: no queue
        return render(request, "entry_index.html", user=user, pending=None, contest=contest, contests=contests,
                      saved=saved, state=state, error=None)
    # every contest's actas waiting, each labelled with its contest
    pending = await client.get(request, "/api/v1/entries/pending")
    items = pending.body if pending.ok and isinstance(pending.body, list) else (
        pending.body.get("pending", []) if pending.ok and isinstance(pending.body, dict) else [])
    return render(request, "entry_index.html", user=user, pending=items, contest=contest, contests=contests,
                  saved=saved, state=state, error=None if pending.ok else pending.status)


@router.get("/entry/go")
async def entry_go(request: Request, unit: str = "", contest: str | None = None):
    unit = unit.strip()
    target = f"/entry/{quote(unit, safe='')}" + (f"?{urlencode({'contest': contest})}" if contest else "") if unit else "/entry"
    return RedirectResponse(target, status_code=303)


async def _layout(request: Request, unit: str, contest: str | None) -> tuple[dict | None, str | None]:
    reply = await client.get(request, f"/api/v1/units/{quote(unit, safe='')}", contest=contest)
    if not reply.ok or not isinstance(reply.body, dict):
        code = reply.body.get("code") if isinstance(reply.body, dict) else None
        return None, ENVIRONMENTS[locale_of(request)].globals["words"].api_error(reply.status, code)
    return reply.body, None


def _fields(layout: dict) -> tuple[list[str], str]:
    choices = layout.get("choices") or []
    return list(choices), layout.get("contest") or ""


@router.get("/entry/{unit}", response_class=HTMLResponse)
async def entry_form(request: Request, unit: str, contest: str | None = None):
    user, refusal = await _gate(request, ENTRY_ROLES)
    if refusal:
        return refusal
    contest, contests = await choose_contest(request, contest)
    layout, error = await _layout(request, unit, contest)
    if layout is None:
        return render(request, "entry_missing.html", status=404, user=user, unit=unit, error=error)
    choices, contest = _fields(layout)
    return render(request, "entry_form.html", user=user, unit=unit, layout=layout, choices=choices, contest=contest,
                  contests=contests, values={}, client_id=uuid.uuid4().hex, error=None, photo_sha256="")


@router.post("/entry/{unit}", response_class=HTMLResponse)
async def entry_submit(request: Request, unit: str):
    user, form, refusal = await _form_gate(request, ENTRY_ROLES)
    if refusal:
        return refusal
    contest = str(form.get("contest") or "")
    contest, contests = await choose_contest(request, contest or None)
    layout, error = await _layout(request, unit, contest)
    if layout is None:
        return render(request, "entry_missing.html", status=404, user=user, unit=unit, error=error)
    choices, contest = _fields(layout)
    values, bad = _read_values(form, choices)
    client_id = str(form.get("client_id") or uuid.uuid4().hex)
    photo_sha256, photo_error = str(form.get("photo_sha256") or ""), None
    upload = form.get("photo")
    if hasattr(upload, "read") and getattr(upload, "filename", ""):
        # the photo goes to the photos API as it is; the entry then names it
        data = await upload.read()
        if data:
            sent = await client.call(request, "POST", "/api/v1/photos",
                                     files={"file": (upload.filename or "acta", data, upload.content_type or "application/octet-stream")})
            if sent.ok and isinstance(sent.body, dict):
                photo_sha256 = sent.body.get("sha256") or ""
            else:
                photo_error = sent.status
    if not bad and photo_error is None:
        payload = {"unit": unit, "contest": contest, "values": values, "client_id": client_id}
        if photo_sha256:
            payload["photo_sha256"] = photo_sha256
        reply = await client.call(request, "POST", "/api/v1/entries", json=payload)
        if reply.ok:
            state = reply.body.get("state", "") if isinstance(reply.body, dict) else ""
            return RedirectResponse("/entry?" + urlencode({"saved": unit, "state": state, "contest": contest}), status_code=303)
        error = reply.body.get("code") if isinstance(reply.body, dict) and reply.body.get("code") in ENTRY_CODES else (
            "status:%d" % reply.status)
    elif photo_error is not None:
        error = "photo:%d" % photo_error
    else:
        error = "fields"
    # The form comes back with what this typist typed (never anyone else's values).
    return render(request, "entry_form.html", status=422, user=user, unit=unit, layout=layout, choices=choices,
                  contest=contest, contests=contests, values={k: form.get(k, "") for k in _field_names(choices)},
                  client_id=client_id, error=error, bad=bad, photo_sha256=photo_sha256)


def _field_names(choices: list[str]) -> list[str]:
    return [*choices, "blank", "null", "registered", "emitted"]


def _read_values(form, choices: list[str]) -> tuple[dict[str, int], list[str]]:
    values, bad = {}, []
    for name in _field_names(choices):
        raw = str(form.get(name, "")).strip().replace(".", "").replace(",", "").replace(" ", "")
        if not raw.isdigit():
            bad.append(name)
            continue
        values[name] = int(raw)
    return values, bad


@router.get("/photos/{sha256}")
async def photo(request: Request, sha256: str):
    """An acta's photo for the pages (the cookie's token, as the API wants it)."""
    from fastapi.responses import Response

    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return Response(status_code=404)
    status, content, ctype = await client.raw(request, f"/api/v1/photos/{sha256}")
    if status != 200 or not ctype.startswith("image/"):
        return Response(status_code=404 if status in (404, 422) else status)
    return Response(content, media_type=ctype, headers={"Cache-Control": "private, max-age=86400",
                                                        "X-Content-Type-Options": "nosniff"})


# --- coordinator ------------------------------------------------------------------------------------

@router.get("/resolve", response_class=HTMLResponse)
async def resolve_index(request: Request, done: str | None = None, contest: str | None = None):
    user, refusal = await _gate(request, RESOLVE_ROLES)
    if refusal:
        return refusal
    names = [str(c["contest"]) for c in await contests_of(request)]
    # every contest's cases by default (each labelled); a tab narrows to one contest
    contest = contest if contest in names else None
    reply = await client.get(request, "/api/v1/entries/different", contest=contest)
    items = reply.body if reply.ok and isinstance(reply.body, list) else (
        reply.body.get("entries", []) if reply.ok and isinstance(reply.body, dict) else [])
    cases = []
    for item in items:
        layout = await client.get(request, f"/api/v1/units/{quote(str(item.get('unit')), safe='')}", contest=item.get("contest"))
        body = layout.body if layout.ok and isinstance(layout.body, dict) else {}
        case = _resolution_case(item, body.get("fields"))
        case["photos"] = list(dict.fromkeys([*(e.get("photo_sha256") for e in item.get("entries") or [] if e.get("photo_sha256")),
                                             *(body.get("photos") or [])]))
        cases.append(case)
    # how many cases wait in each contest, on its tab
    counts = {str(c["contest"]): sum(int((c.get("copies") or {}).get(k) or 0) for k in ("different", "quarantined"))
              for c in await contests_of(request)}
    return render(request, "resolve.html", user=user, cases=cases, done=done, contest=contest, contests=names,
                  picker_counts=counts, error=None if reply.ok else reply.status)


def _resolution_case(item: dict, fields: list[str] | None = None) -> dict:
    """Both entries side by side, field by field (in the acta's order), differences marked."""
    entries = item.get("entries") or []
    first = (entries[0].get("values") if entries else None) or {}
    second = (entries[1].get("values") if len(entries) > 1 else None) or {}
    names = list(first) or list(second)
    if fields and set(fields) == set(names):
        names = list(fields)
    else:
        totals = [n for n in ("blank", "null", "registered", "emitted") if n in names]
        names = [n for n in names if n not in totals] + totals
    rows = [(n, first.get(n), second.get(n), bool(second) and first.get(n) != second.get(n)) for n in names]
    return {"unit": item.get("unit"), "contest": item.get("contest"), "state": item.get("state"), "rows": rows,
            "findings": item.get("findings") or [], "since": item.get("since")}


@router.post("/resolve/{unit}")
async def resolve_submit(request: Request, unit: str):
    user, form, refusal = await _form_gate(request, RESOLVE_ROLES)
    if refusal:
        return refusal
    contest = str(form.get("contest") or "")
    names = [k[len("keep_"):] for k in form.keys() if k.startswith("keep_")]
    values, bad = {}, []
    for name in names:
        raw = str(form.get("keep_" + name, "")).strip()
        if raw.isdigit():
            values[name] = int(raw)
        else:
            bad.append(name)
    if bad:
        return RedirectResponse("/resolve?" + urlencode({"done": "error:fields"}), status_code=303)
    reply = await client.call(request, "POST", f"/api/v1/entries/{quote(unit, safe='')}/resolve",
                              json={"contest": contest, "values": values})
    marker = unit if reply.ok else "error:" + str(reply.status)
    return RedirectResponse("/resolve?" + urlencode({"done": marker}), status_code=303)


@router.post("/resolve/{unit}/release")
async def release_submit(request: Request, unit: str):
    """Count a quarantined copy as it is (the coordinator has checked it against the paper)."""
    user, form, refusal = await _form_gate(request, RESOLVE_ROLES)
    if refusal:
        return refusal
    reply = await client.call(request, "POST", f"/api/v1/entries/{quote(unit, safe='')}/release",
                              json={"contest": str(form.get("contest") or "") or None, "note": str(form.get("note") or "")})
    marker = unit if reply.ok else "error:" + str(reply.status)
    return RedirectResponse("/resolve?" + urlencode({"done": marker}), status_code=303)


# --- discrepancies, PVT, audit -----------------------------------------------------------------------

@router.get("/discrepancies", response_class=HTMLResponse)
async def discrepancies(request: Request, contest: str | None = None, area: str | None = None,
                        field: str | None = None, min_size: str | None = None):
    user = await current_user(request)
    contest, contests = await choose_contest(request, contest)
    field = _field_name(field)
    params = {"contest": contest, "area": area, "field": field,
              "min_size": min_size.strip() if min_size and min_size.strip().isdigit() else None}
    reply = await client.get(request, "/api/v1/discrepancies", **params)
    if reply.status in (401, 403):
        if user is None:
            return RedirectResponse("/login?" + urlencode({"next": "/discrepancies"}), status_code=303)
        return render(request, "forbidden.html", status=403, user=user, roles=OBSERVER_ROLES)
    items = reply.body if reply.ok and isinstance(reply.body, list) else []
    by_area = await client.get(request, "/api/v1/discrepancies/by-area", contest=contest)
    only = await client.get(request, "/api/v1/discrepancies/only-in", contest=contest)
    fields_seen = sorted({d.get("field") for d in items if d.get("field")})
    code = reply.body.get("code") if isinstance(reply.body, dict) else None
    return render(request, "discrepancies.html", user=user, items=items, params=params, fields_seen=fields_seen,
                  contest=contest, contests=contests,
                  by_area=by_area.body.get("areas", []) if by_area.ok and isinstance(by_area.body, dict) else [],
                  by_area_level=by_area.body.get("level") if by_area.ok and isinstance(by_area.body, dict) else None,
                  only_in=only.body if only.ok and isinstance(only.body, dict) else None,
                  json_url="/api/v1/discrepancies?" + urlencode({k: v for k, v in params.items() if v}),
                  loaded=reply.ok,
                  # never the API's English: what went wrong, said in the page's language
                  error=None if reply.ok else (reply.status, code),
                  bad_size=bool(min_size and min_size.strip() and not min_size.strip().isdigit()))


def _field_name(typed: str | None) -> str | None:
    """The filter box takes a field as the page shows it ("Votos emitidos") or as the API
    names it ("emitted")."""
    if not typed or not typed.strip():
        return None
    typed = typed.strip()
    for env in ENVIRONMENTS.values():
        words = env.globals["words"]
        for name in ("blank", "null", "registered", "emitted", "valid"):
            if typed.casefold() == words.field(name).casefold():
                return name
    return typed


@router.post("/discrepancies/explain")
async def explain(request: Request, unit: str = Form(...), field: str = Form(...), note: str = Form(...),
                  contest: str = Form("")):
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin form refused"}, status_code=403)
    await client.call(request, "POST", "/api/v1/discrepancies/explain",
                      json={"unit": unit, "field": field, "note": note, "contest": contest or None})
    return RedirectResponse("/discrepancies" + (f"?{urlencode({'contest': contest})}" if contest else ""), status_code=303)


@router.get("/pvt", response_class=HTMLResponse)
async def pvt_page(request: Request, contest: str | None = None):
    user = await current_user(request)
    contest, contests = await choose_contest(request, contest)
    status = await client.get(request, "/api/v1/pvt/status", contest=contest)
    estimate = await client.get(request, "/api/v1/pvt/estimate", contest=contest)
    body = estimate.body if estimate.ok and isinstance(estimate.body, dict) else None
    choices = (body or {}).get("choices") or {}
    rows = sorted(((n, c) for n, c in choices.items() if isinstance(c, dict) and c.get("share") is not None),
                  key=lambda nc: -float(nc[1]["share"]))
    query = f"?{urlencode({'contest': contest})}" if contest else ""
    return render(request, "pvt.html", user=user, contest=contest, contests=contests,
                  progress=status.body if status.ok and isinstance(status.body, dict) else None,
                  estimate=body, estimate_rows=rows, outcomes=figures.pvt_outcomes(body),
                  palette=figures.colours({"choices": choices, "election": next(
                      (c.get("election") for c in await contests_of(request) if c.get("contest") == contest), None)}),
                  status_url="/api/v1/pvt/status" + query, estimate_url="/api/v1/pvt/estimate" + query)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request):
    user = await current_user(request)
    reply = await client.get(request, "/api/v1/audit/status")
    return render(request, "audit.html", user=user, audit=reply.body if reply.ok and isinstance(reply.body, dict) else None)
