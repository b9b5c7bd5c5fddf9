"""When a call needs a contest and none was given while several are loaded, the answer
names them: a 400 with ``code: "contest_required"`` and ``contests: [...]`` (main race
first), so that a page or a script can offer them instead of parsing a sentence."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from escrutinio.server import read_cache


def contests_loaded(request: Request) -> list[dict]:
    with request.app.state.db.session() as s:
        return contests_in(s)


def contests_in(session) -> list[dict]:
    from escrutinio.server.storage import official

    latest = official.latest(session)
    return sorted(({"contest": name, "units": int(info.get("units") or 0)} for name, info in latest.items()),
                  key=lambda c: (-c["units"], c["contest"]))


def contest_required(request: Request, contest: str | None) -> JSONResponse | None:
    """None when ``contest`` is given or not needed; else the 400 answer listing them."""
    if contest is not None:
        return None
    return _required(contests_loaded(request))


def contest_required_in(session, contest: str | None) -> JSONResponse | None:
    """:func:`contest_required` inside an open session (a cached answer's computation)."""
    if contest is not None:
        return None
    return _required(contests_in(session))


async def cached_answer(request: Request, key: tuple, contest: str | None, compute_in, official_only: bool = False):
    """``read_cache.answer`` of ``compute_in(session)`` in one read session, or of the 400
    naming the contests when one is needed and not given (kept like any answer: it
    follows from the data and the request alone)."""
    db = request.app.state.db

    def compute():
        with db.session() as s:
            return contest_required_in(s, contest) or compute_in(s)

    return await read_cache.answer(request, key, compute, official_only=official_only)


def _required(loaded: list[dict]) -> JSONResponse | None:
    if len(loaded) < 2:
        return None
    names = [c["contest"] for c in loaded]
    return JSONResponse({"error": f"several contests are loaded; say which with contest=: {names}",
                         "code": "contest_required", "contests": names}, status_code=400)
