"""Cost per request of the server's guards (security headers, rate limits, input
bounds; issue 23), against the same trivial ASGI app without them, in one process.

Each request is an ASGI call (no network, no database): a GET with a query string and a
token, and a POST of a typical copy's JSON body (11 fields). The rate limits are on,
with the production defaults; requests come from 500 tokens, none of which reaches its
limit, so each request pays for the counters but is never refused.

    .venv/bin/python benchmarks/bench_guards.py [--n 20000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from escrutinio.server.guards import InputGuard, RateLimit, SecurityHeaders
from escrutinio.server.settings import Settings


async def bare(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def stack(settings):
    return SecurityHeaders(RateLimit(InputGuard(bare, settings), settings))


BODY = json.dumps({"unit": "1001", "client_id": "a-1001", "values": {c: 17 for c in
                  ("CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL", "blank", "null")}}).encode()


def scope(method: str, i: int) -> dict:
    headers = [(b"host", b"x"), (b"authorization", f"Bearer token-{i % 500}".encode()), (b"user-agent", b"bench")]
    if method == "POST":
        headers.append((b"content-type", b"application/json"))
    return {"type": "http", "method": method, "path": "/api/v1/entries" if method == "POST" else "/api/v1/results",
            "query_string": b"" if method == "POST" else b"source=copies&level=department&departamento=La%20Paz",
            "headers": headers, "client": ("10.0.0.%d" % (i % 200), 1234)}


async def run(app, method: str, n: int) -> float:
    async def send(message):
        pass

    t = time.perf_counter()
    for i in range(n):
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": BODY if method == "POST" else b"", "more_body": False}

        await app(scope(method, i), receive, send)
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    n = ap.parse_args().n
    settings = Settings(database_url="sqlite://")  # the production limits; 500 tokens never reach them
    guarded = stack(settings)
    for method in ("GET", "POST"):
        base = asyncio.run(run(bare, method, n))
        with_guards = asyncio.run(run(guarded, method, n))
        print(f"{method:4} {n:,} requests: bare app {base:6.1f} us/request, with guards {with_guards:6.1f} us/request "
              f"(+{with_guards - base:.1f} us)")


if __name__ == "__main__":
    main()
