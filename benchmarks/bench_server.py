"""Observer-network server: load time and /api/v1/results latency under load.

For each database (embedded SQLite, PostgreSQL when reachable):

1. ``escrutinio serve --workers K`` on a free loopback port (its own process group,
   ``escrutinio.server.testing.serve_process``);
2. POST the 2019 cómputo (34,555 actas) to /api/v1/official, timed (read + one
   transaction + 34,556 log entries), and POST it again (idempotent: nothing added);
3. 200 concurrent readers GET /api/v1/results (official, by department) while 20
   writers POST copies (first and second entries by different typists); every loop is
   bounded by a request count;
4. print p50/p99 latency of reads and writes, throughput and errors.

Loopback only. The client is one asyncio process (raw keep-alive HTTP/1.1 streams, one
connection per reader and writer) on the same machine as the server, so the figures
include the client's own CPU use and whatever else runs there: honest upper bounds.

    .venv/bin/python benchmarks/bench_server.py [--workers 4] [--readers 200] [--writers 20]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


class Connection:
    """A minimal keep-alive HTTP/1.1 client over one asyncio connection. httpx's async
    pool tops out near 50 requests/s at 200 concurrent connections on this machine (the
    client, not the server, was the bottleneck), so the load is made with raw streams."""

    def __init__(self, base: str):
        self.host, port = base.split("//", 1)[1].split(":")
        self.port = int(port)
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load_phase(base: str, tokens: list[str], rows: list[dict], readers: int, reads_each: int, entries_each: int,
                     query: dict) -> dict:
    from urllib.parse import urlencode

    reads, writes, errors = [], [], {"read": 0, "write": 0}
    done = asyncio.Event()
    results_path = "/api/v1/results?" + urlencode(query)

    async def reader():
        conn = Connection(base)
        for _ in range(reads_each):
            t = time.perf_counter()
            try:
                status, _ = await conn.request("GET", results_path)
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                errors["read"] += 1
                await conn.close()
                continue
            reads.append(time.perf_counter() - t)
            if status != 200:
                errors["read"] += 1
        await conn.close()

    async def writer(i: int):
        n = len(tokens)
        mine = rows[i * entries_each:(i + 1) * entries_each]
        theirs = rows[((i + 1) % n) * entries_each:((i + 1) % n + 1) * entries_each]
        h = {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"}
        conn = Connection(base)
        for row in [x for pair in zip(mine, theirs) for x in pair]:
            if done.is_set():
                break
            body = json.dumps({"unit": row["unit"], "values": row["values"], "client_id": f"w{i}-{row['unit']}"}).encode()
            t = time.perf_counter()
            try:
                status, _ = await conn.request("POST", "/api/v1/entries", h, body)
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                errors["write"] += 1
                await conn.close()
                continue
            writes.append(time.perf_counter() - t)
            if status != 200:
                errors["write"] += 1
        await conn.close()

    t0 = time.perf_counter()
    ws = [asyncio.create_task(writer(i)) for i in range(len(tokens)) if entries_each]
    await asyncio.gather(*[reader() for _ in range(readers)])
    read_time = time.perf_counter() - t0
    done.set()
    await asyncio.gather(*ws)
    return {"reads": reads, "writes": writes, "errors": errors, "read_seconds": read_time}


def bench(kind: str, args) -> dict:
    from escrutinio.io import read_snapshots
    from escrutinio.server.storage.db import migrate
    from escrutinio.server.testing import add_user, postgres_url, serve_process, sqlite_url

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = sqlite_url(tmp) if kind == "sqlite" else stack.enter_context(postgres_url())
        migrate(url)
        base = stack.enter_context(serve_process(url, tmp / "data", args.workers)).base
        admin = {"Authorization": f"Bearer {add_user(url, 'admin', 'bench-admin')}"}
        t = time.perf_counter()
        with open(COMPUTO, "rb") as f:
            r = httpx.post(base + "/api/v1/official", files={"file": (COMPUTO.name, f)}, headers=admin, timeout=600)
        load_s = time.perf_counter() - t
        r.raise_for_status()
        t = time.perf_counter()
        with open(COMPUTO, "rb") as f:
            again = httpx.post(base + "/api/v1/official", files={"file": (COMPUTO.name, f)}, headers=admin, timeout=600).json()
        reload_s = time.perf_counter() - t
        snap = read_snapshots(COMPUTO)[0]
        fields = [*snap.choices, "blank", "null", "registered", "emitted"]
        rows = [{"unit": r["unit"], "values": {k: int(r[k]) for k in fields}}
                for r in snap.frame.select("unit", *fields).head(args.writers * args.entries).to_dicts()]
        tokens = [add_user(url, "typist", f"bench-typist-{i}") for i in range(args.writers)]
        query = {"source": args.source, "level": "department"}
        for _ in range(args.workers * 4):  # let every worker read and cache the snapshot
            httpx.get(base + "/api/v1/results", params=query, timeout=120).raise_for_status()
        out = asyncio.run(load_phase(base, tokens, rows, args.readers, args.reads, args.entries, query))
        states = httpx.get(base + "/api/v1/entries/states", timeout=60).json()["states"]
        return {"kind": kind, "load_s": load_s, "units": r.json()["units"], "reload_s": reload_s,
                "reload_created": again["created"], "states": states, **out}


def report(res: dict, args) -> None:
    reads, writes = res["reads"], res["writes"]
    name = {"sqlite": "embedded (SQLite, WAL)", "postgresql": "PostgreSQL 15"}[res["kind"]]
    print(f"\n== {name}, {args.workers} worker processes ==")
    print(f"official load of the 2019 cómputo: {res['units']:,} actas in {res['load_s']:.2f} s "
          f"(same file again: {res['reload_s']:.2f} s, created={res['reload_created']})")
    print(f"/api/v1/results?source={args.source}&level=department under {args.readers} readers x {args.reads} requests "
          f"while {args.writers} writers submit:")
    print(f"  reads : n={len(reads):,}  p50={pct(reads, .5):.1f} ms  p99={pct(reads, .99):.1f} ms  "
          f"mean={1000 * statistics.fmean(reads):.1f} ms  throughput={len(reads) / res['read_seconds']:.0f} req/s  "
          f"errors={res['errors']['read']}")
    if writes:
        print(f"  writes: n={len(writes):,}  p50={pct(writes, .5):.1f} ms  p99={pct(writes, .99):.1f} ms  "
              f"errors={res['errors']['write']}  (copies now: {res['states']})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--readers", type=int, default=200)
    p.add_argument("--reads", type=int, default=20, help="requests per reader")
    p.add_argument("--writers", type=int, default=20)
    p.add_argument("--entries", type=int, default=10, help="actas per writer (each typed by two writers)")
    p.add_argument("--source", choices=["official", "copies", "both"], default="official")
    args = p.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(f"machine: {os.cpu_count()} CPUs; client and server share them; load average {os.getloadavg()[0]:.1f} at start")
    for kind in kinds:
        if kind == "postgresql":
            from escrutinio.server.testing import postgres_unreachable

            reason = postgres_unreachable()
            if reason:
                print(f"\n== PostgreSQL skipped: {reason}")
                continue
        report(bench(kind, args), args)
        print(f"  (load average {os.getloadavg()[0]:.1f} after this run: other processes share the CPUs)")


if __name__ == "__main__":
    main()
