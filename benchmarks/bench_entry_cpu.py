"""CPU per entry of the server's whole entry path, in one process (issue 26).

Why: under election-night load the typists' latency and the readers' share are both
set by the CPU an entry costs the server (about 5 ms on the 2-core machine in
``bench_server.py``), and that benchmark's ratios move by several points between runs
of the same code. This one calls the ASGI application directly (no sockets, no other
process but the database), so its figure is steady enough to compare code changes.

Per run, in this process, on one database:
1. ``POST /api/v1/entries``: every acta typed twice by two typists (first and second
   entries alternate), one at a time and then ``--concurrent`` at a time; CPU and wall
   time per entry (the write threads' CPU is this process's too);
2. the baseline: the plain script of ``bench_server.py`` (the entry row and its log row,
   one transaction each, under the write lock), on the same database;
3. a cached read (``GET /api/v1/results?level=department``), for scale.

    .venv/bin/python benchmarks/bench_entry_cpu.py [--database postgresql|sqlite] [--entries 2000] [--profile]

``--profile`` prints the functions with the most own time (cProfile) on the sequential run.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import COMPUTO, RESULTS, plain_script  # noqa: E402


def _scope(method: str, path: str, token: str | None, length: int = 0) -> dict:
    path, _, query = path.partition("?")
    headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept-encoding", b"gzip")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query.encode(), "headers": headers, "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000), "state": {}}


async def call(app, method: str, path: str, token: str | None = None, body: bytes = b"") -> int:
    sent = [False]
    status = [0]

    async def receive():
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(_scope(method, path, token, len(body)), receive, send)
    return status[0]


def _pairs(rows: list[dict], tokens: list[str], prefix: str) -> list[tuple[str, bytes]]:
    """Each acta typed by typist i and then by typist i + 1: first and second entries alternate."""
    out = []
    for k, row in enumerate(rows):
        for j in (0, 1):
            body = json.dumps({"unit": row["unit"], "values": row["values"], "client_id": f"{prefix}-{j}-{row['unit']}"})
            out.append((tokens[(k + j) % len(tokens)], body.encode()))
    return out


async def entries(app, work: list[tuple[str, bytes]], concurrent: int) -> tuple[float, float, int]:
    bad = [0]
    queue = list(reversed(work))

    async def typist():
        while queue:
            token, body = queue.pop()
            if await call(app, "POST", "/api/v1/entries", token, body) != 200:
                bad[0] += 1

    t, c = time.perf_counter(), time.process_time()
    await asyncio.gather(*[typist() for _ in range(concurrent)])
    return time.perf_counter() - t, time.process_time() - c, bad[0]


async def reads(app, n: int) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        assert await call(app, "GET", RESULTS) == 200
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--entries", type=int, default=2000, help="entries per phase (actas typed twice: half as many actas)")
    p.add_argument("--concurrent", type=int, default=8, help="entries in flight in the second phase")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()

    from escrutinio.io import read_snapshots
    from escrutinio.server.testing import ServerClient, database

    os.environ.setdefault("ESCRUTINIO_SETTINGS_OVERRIDES", "{}")
    with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
        limits = {k: "1000000/second" for k in ("rate_limit_client", "rate_limit_token", "rate_limit_query")}
        sc = ServerClient(url, Path(tmp), **limits)
        try:
            sc.load(COMPUTO)
            snap = read_snapshots(COMPUTO)[0]
            fields = [*snap.choices, "blank", "null", "registered", "emitted"]
            n = args.entries // 2
            rows = [{"unit": r["unit"], "values": {k: int(r[k]) for k in fields}}
                    for r in snap.frame.select("unit", *fields).head(3 * n + 200).to_dicts()]
            tokens = [sc.token("typist", f"bench-typist-{i}") for i in range(8)]
            app = sc.app
            loop = asyncio.new_event_loop()
            loop.run_until_complete(entries(app, _pairs(rows[3 * n:], tokens, "warm"), 1))  # connections, caches
            loop.run_until_complete(reads(app, 200))
            prof = cProfile.Profile() if args.profile else None
            if prof:
                prof.enable()
            w1, c1, e1 = loop.run_until_complete(entries(app, _pairs(rows[:n], tokens, "seq"), 1))
            if prof:
                prof.disable()
            w2, c2, e2 = loop.run_until_complete(entries(app, _pairs(rows[n:2 * n], tokens, "conc"), args.concurrent))
            rw, rc = loop.run_until_complete(reads(app, 5000))
            c0 = time.process_time()
            plain = plain_script(url, rows[2 * n:3 * n], "plain")
            cp = time.process_time() - c0
            loop.close()
        finally:
            sc.close()
    m = 2 * n
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.database}; {m:,} entries per phase")
    print(f"  {'phase':<58} {'CPU us/entry':>13} {'wall us/entry':>14} {'errors':>7}")
    print(f"  {'server app, one entry at a time':<58} {1e6 * c1 / m:>13,.0f} {1e6 * w1 / m:>14,.0f} {e1:>7}")
    print(f"  {f'server app, {args.concurrent} entries in flight':<58} {1e6 * c2 / m:>13,.0f} {1e6 * w2 / m:>14,.0f} {e2:>7}")
    print(f"  {'baseline: plain script, entry + log row per transaction':<58} {1e6 * cp / n:>13,.0f} "
          f"{1e6 * plain['seconds'] / n:>14,.0f} {plain['errors']:>7}")
    print(f"  {'for scale: a cached read of ' + RESULTS:<58} {1e6 * rc / 5000:>13,.0f} {1e6 * rw / 5000:>14,.0f}")
    print(f"  app / plain script, CPU per entry: {c1 / m / (cp / n):.2f}x (one at a time), {c2 / m / (cp / n):.2f}x (in flight)")
    if prof:
        st = pstats.Stats(prof)
        st.sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    main()
