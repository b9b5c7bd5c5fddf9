"""Observer-network server under election-night load, next to nginx in the same run (issue 26).

For each database (embedded SQLite, PostgreSQL when reachable):

1. ``escrutinio serve --workers K`` on a free loopback port (its own process group,
   ``escrutinio.server.testing.serve_process``); POST the 2019 cómputo (34,555 actas) to
   /api/v1/official, timed;
2. Debian's nginx (``apt-get install nginx``) on another free port, ``worker_processes K``,
   serving the very bytes of ``/api/v1/results?level=department`` as a static file (and
   its gzip copy, ``gzip_static``): the reference for what a read could cost;
3. phases, each with its own actas (every acta typed by two typists, values that agree):
   * ``nginx``: R readers on the static file, at the start and again at the end (the
     machine's other load moves during a run: the higher figure is the reference);
   * ``readers``: R readers on /api/v1/results, no typists;
   * ``typists``: T typists alone (entries/s, p50/p99);
   * ``streams``: the same T typists while S event streams (``GET /api/v1/events``) are
     open, each counting the ``entry`` events it receives (every one, once, is expected);
   * ``mixed``: R readers and T typists at once; the readers read until the typists finish;
   * ``paced`` (``--pace P``, default 1 s): the same, with each typist sending an entry every
     P seconds instead of as soon as the last one is answered (people type an acta in tens
     of seconds): for reading next to ``mixed``, not the acceptance's figure;
   * ``plain``: a plain script storing the same number of entries, each with its log row,
     one transaction per entry, sequentially, on the same database (the write floor);
   * other endpoints (results of the copies, discrepancies), R readers each, while idle.
   Readers send ``Accept-Encoding: gzip`` to nginx and to the server alike, as browsers do.
4. p50/p99 latency, requests/s and errors per phase and endpoint, the ratios the issue's
   acceptance asks for, CPU seconds of the server's processes and of this client, and
   the machine's load average.

Loopback only. The client is one asyncio process (raw keep-alive HTTP/1.1, one
connection per reader and typist) on the same cores as the server and nginx, so the
figures include the client's own CPU use: with 2 cores nginx's figure is what this
client can drive, not what nginx can serve. Every loop is bounded by a request count.

    .venv/bin/python benchmarks/bench_server.py [--workers 2] [--readers 200] [--typists 50]
                                                [--streams 1000] [--streams-only]

``--baseline-src OTHER/src [--rounds N]`` measures only the typists (alone, with the
readers, and the plain script), for a server run from another checkout and one from
this, alternating in the same run: the figures of a change to the write path next to
those of the code before it.
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
RESULTS = "/api/v1/results?level=department"


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
        length, close, chunked = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                data += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            data = await self.reader.readexactly(length) if status != 304 else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


READ_HEADERS = {"Accept-Encoding": "gzip"}
NET_ERRORS = (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError)


async def readers_on(base: str, path: str, readers: int, each: int, until: asyncio.Event | None = None) -> dict:
    """``readers`` connections reading ``path``; each stops after ``each`` requests, or
    when ``until`` is set (whichever comes first)."""
    lat, errors = [], [0]

    async def one():
        conn = Connection(base)
        for _ in range(each):
            if until is not None and until.is_set():
                break
            t = time.perf_counter()
            try:
                status, _ = await conn.request("GET", path, READ_HEADERS)
            except NET_ERRORS:
                errors[0] += 1
                await conn.close()
                continue
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors[0] += 1
        await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[one() for _ in range(readers)])
    return {"lat": lat, "errors": errors[0], "seconds": time.perf_counter() - t0}


async def typists_on(base: str, tokens: list[str], rows: list[dict], prefix: str, pace: float | None = None) -> dict:
    """Typist i enters its own actas and, interleaved, the next typist's (second entries):
    every acta is typed twice by different typists, with the same values. ``pace``: each
    typist starts an entry every ``pace`` seconds (a late one starts at once) instead of
    as soon as the previous one is answered."""
    lat, errors, n = [], [0], len(tokens)
    per = len(rows) // n

    async def one(i: int):
        mine = rows[i * per:(i + 1) * per]
        theirs = rows[((i + 1) % n) * per:((i + 1) % n + 1) * per]
        h = {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"}
        conn = Connection(base)
        due = time.perf_counter() + (pace * i / n if pace else 0.0)  # spread the typists' starts
        for row in [x for pair in zip(mine, theirs) for x in pair]:
            if pace:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += pace
            body = json.dumps({"unit": row["unit"], "values": row["values"],
                               "client_id": f"{prefix}-{i}-{row['unit']}"}).encode()
            t = time.perf_counter()
            try:
                status, _ = await conn.request("POST", "/api/v1/entries", h, body)
            except NET_ERRORS:
                errors[0] += 1
                await conn.close()
                continue
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors[0] += 1
        await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[one(i) for i in range(n)])
    return {"lat": lat, "errors": errors[0], "seconds": time.perf_counter() - t0}


async def mixed(base: str, path: str, readers: int, tokens: list[str], rows: list[dict], prefix: str,
                pace: float | None = None) -> tuple[dict, dict]:
    done = asyncio.Event()
    reading = asyncio.create_task(readers_on(base, path, readers, 100_000, until=done))
    typed = await typists_on(base, tokens, rows, prefix, pace)
    done.set()
    return await reading, typed


ENTRY_EVENT = b"\nevent: entry\n"


async def with_streams(base: str, streams: int, token: str, tokens: list[str], rows: list[dict], prefix: str,
                       pgids: list[int]) -> tuple[dict, dict]:
    """``streams`` open ``GET /api/v1/events`` connections (their bytes read and counted,
    not parsed) while the typists type; every stream should see every entry's event once."""
    host, port = base.split("//", 1)[1].split(":")
    request = (f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    counts, failed, opened, done = [0] * streams, [0], [0], asyncio.Event()
    all_open = asyncio.Event()

    async def one(k: int):
        writer = None
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode("latin-1"))
            await reader.readuntil(b"escrutinio events")  # the stream's preamble: it is live
            opened[0] += 1
            if opened[0] + failed[0] == streams:
                all_open.set()
            tail = b""
            while not done.is_set():
                read = asyncio.ensure_future(reader.read(65536))
                stop = asyncio.ensure_future(done.wait())
                await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    stop.cancel()
                    break
                stop.cancel()
                data = read.result()
                if not data:
                    raise ConnectionError("stream closed by the server")
                # an event is one chunk, but a read may end mid-event: keep a tail
                buf = tail + data
                counts[k] += buf.count(ENTRY_EVENT)
                tail = buf[-(len(ENTRY_EVENT) - 1):]
        except (*NET_ERRORS, asyncio.LimitOverrunError) as e:
            failed[0] += 1
            if failed[0] <= 3:
                print(f"    stream {k} failed: {type(e).__name__}: {e}")
            if opened[0] + failed[0] == streams:
                all_open.set()
        finally:
            if writer is not None:
                writer.close()

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(one(k)) for k in range(streams)]
    try:
        await asyncio.wait_for(all_open.wait(), 120)
    except asyncio.TimeoutError:
        print(f"    only {opened[0]} of {streams} streams open after 120 s")
    open_s = time.perf_counter() - t0
    # what the open streams cost while nothing happens: CPU of the server and this client
    before, client, t1 = sum(cpu_seconds(p) for p in pgids), time.process_time(), time.perf_counter()
    await asyncio.sleep(5)
    idle_s = time.perf_counter() - t1
    idle = {"server": (sum(cpu_seconds(p) for p in pgids) - before) / idle_s, "client": (time.process_time() - client) / idle_s}
    typed = await typists_on(base, tokens, rows, prefix)
    await asyncio.sleep(2)  # events_poll is 0.25 s: every event has reached every stream
    done.set()
    await asyncio.gather(*tasks)
    return {"streams": streams, "opened": opened[0], "failed": failed[0], "open_s": open_s, "idle": idle, "counts": counts}, typed


def plain_script(url: str, rows: list[dict], prefix: str) -> dict:
    """The write floor: the same entries stored by a script, each with its log row, one
    transaction per entry (and the server's write lock), one after the other."""
    from sqlalchemy import insert

    from escrutinio.publication.entry import utc_now
    from escrutinio.server.storage import log
    from escrutinio.server.storage.db import Database
    from escrutinio.server.storage.tables import entries

    db = Database(url)
    lat = []
    t0 = time.perf_counter()
    try:
        for k, row in enumerate(rows):
            t = time.perf_counter()
            with db.session(write=True) as s:
                s.execute(insert(entries).values(client_id=f"{prefix}-{k}-{row['unit']}", unit=row["unit"], contest="PRESIDENTE",
                                                 typist=1, values=json.dumps(row["values"], sort_keys=True), created_at=utc_now()))
                log.append(s, "typist", "copy_agreed", {"unit": row["unit"], "contest": "PRESIDENTE", "values": row["values"]})
            lat.append(time.perf_counter() - t)
    finally:
        db.dispose()
    return {"lat": lat, "errors": 0, "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------ processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


NGINX_CONF = """
daemon off;
master_process on;
worker_processes {workers};
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    gzip_static on;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        default_type application/json;
        location / {{ }}
    }}
}}
"""


@contextmanager
def nginx(body: bytes, gz: bytes, workers: int):
    """Debian's nginx serving ``body`` (and its gzip copy) at /results.json; yields its base
    URL and process-group id, or None when nginx is not installed."""
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        www = Path(tmp) / "www"
        www.mkdir()
        (www / "results.json").write_bytes(body)
        (www / "results.json.gz").write_bytes(gz)
        port = _free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, tmp=tmp, port=port))
        proc = subprocess.Popen([exe, "-c", str(conf), "-p", tmp], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(base + "/results.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            else:
                raise RuntimeError(f"nginx did not start: {(Path(tmp) / 'nginx-error.log').read_text()[-500:]}")
            yield base, proc.pid
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


# ------------------------------------------------------------------ one database
def summary(name: str, res: dict, unit: str = "req/s") -> dict:
    lat = res["lat"]
    return {"name": name, "n": len(lat), "p50": pct(lat, .5), "p99": pct(lat, .99),
            "mean": 1000 * statistics.fmean(lat) if lat else float("nan"),
            "rate": len(lat) / res["seconds"] if res["seconds"] else float("nan"), "unit": unit,
            "errors": res["errors"], "seconds": res["seconds"], "cpu": res.get("cpu")}


def timed(coro_or_fn, pgids: list[int]):
    """Run a phase; attach the CPU seconds its server processes and this client used."""
    before = [cpu_seconds(p) for p in pgids]
    client = time.process_time()
    out = asyncio.run(coro_or_fn) if asyncio.iscoroutine(coro_or_fn) else coro_or_fn()
    cpu = {"server": sum(cpu_seconds(p) - b for p, b in zip(pgids, before)), "client": time.process_time() - client}
    for r in (out if isinstance(out, tuple) else (out,)):
        r["cpu"] = cpu
    return out


def bench(kind: str, args) -> dict:
    from escrutinio.io import read_snapshots
    from escrutinio.server.storage.db import migrate
    from escrutinio.server.testing import add_user, postgres_url, serve_process, sqlite_url

    phases: list[dict] = []
    # every reader comes from 127.0.0.1 and reads as fast as it can, while the limits are
    # per address: they stay on (their cost is measured) but set where they cannot bind
    os.environ["ESCRUTINIO_SETTINGS_OVERRIDES"] = json.dumps(
        {"rate_limit_client": "1000000/second", "rate_limit_token": "1000000/second", "rate_limit_query": "1000000/second",
         # every stream comes from one address with one token
         "max_streams": 1_000_000, "events_lifetime": 3600, **json.loads(args.settings)})
    if args.streams:  # a socket each in this client, and in the server it starts (inherited)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = args.streams + args.readers + args.typists + 1024
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = sqlite_url(tmp) if kind == "sqlite" else stack.enter_context(postgres_url())
        migrate(url)
        served = stack.enter_context(serve_process(url, tmp / "data", args.workers))
        base = served.base
        admin = {"Authorization": f"Bearer {add_user(url, 'admin', 'bench-admin')}"}
        t = time.perf_counter()
        with open(COMPUTO, "rb") as f:
            r = httpx.post(base + "/api/v1/official", files={"file": (COMPUTO.name, f)}, headers=admin, timeout=600)
        load_s = time.perf_counter() - t
        r.raise_for_status()
        units = r.json()["units"]
        snap = read_snapshots(COMPUTO)[0]
        fields = [*snap.choices, "blank", "null", "registered", "emitted"]
        per_phase = args.typists * args.entries
        all_rows = [{"unit": r["unit"], "values": {k: int(r[k]) for k in fields}}
                    for r in snap.frame.select("unit", *fields).head(6 * per_phase).to_dicts()]
        tokens = [add_user(url, "typist", f"bench-typist-{i}") for i in range(args.typists)]
        for _ in range(args.workers * 4):  # every worker reads and caches the snapshot
            httpx.get(base + RESULTS, timeout=120).raise_for_status()
        body = httpx.get(base + RESULTS, headers={"Accept-Encoding": "identity"}, timeout=60).content
        gz = gzip.compress(body, 6)
        with httpx.stream("GET", base + RESULTS, headers={"Accept-Encoding": "gzip"}, timeout=60) as zr:
            if zr.headers.get("content-encoding") == "gzip":
                gz = b"".join(zr.iter_raw())  # the very bytes the server sends
        pg = [served.process.pid]
        full = not args.streams_only
        mixed_reads = mixed_typed = plain = streamed = stream_typed = again = nginx_rate = paced_reads = paced_typed = None
        ng = stack.enter_context(nginx(body, gz, args.workers)) if full else None
        if ng is not None:
            phases.append(summary("nginx: static results.json (before)", timed(
                readers_on(ng[0], "/results.json", args.readers, args.nginx_reads), [ng[1]])))
        if full:
            phases.append(summary(f"server: {RESULTS} (readers alone)", timed(
                readers_on(base, RESULTS, args.readers, args.nginx_reads), pg)))
        typists_alone = summary("server: POST /api/v1/entries (typists alone)", timed(
            typists_on(base, tokens, all_rows[:per_phase], "alone"), pg), "entries/s")
        phases.append(typists_alone)
        typed_phases = 1
        if args.streams:
            # right after the typists alone: the machine's other load moves less between the two
            streamed, typed = timed(with_streams(base, args.streams, admin["Authorization"].split()[1], tokens,
                                                 all_rows[3 * per_phase:4 * per_phase], "streams", pg), pg)
            stream_typed = summary(f"server: POST /api/v1/entries (with {args.streams:,} event streams open)", typed, "entries/s")
            phases.append(stream_typed)
            # the typists alone again: the first phase also warms the server up, and the
            # machine's load moves; the lower p99 of the two is the reference (conservative)
            again = summary("server: POST /api/v1/entries (typists alone, again)", timed(
                typists_on(base, tokens, all_rows[4 * per_phase:5 * per_phase], "again"), pg), "entries/s")
            phases.append(again)
            typed_phases += 2
        if full:
            reads, typed = timed(mixed(base, RESULTS, args.readers, tokens, all_rows[per_phase:2 * per_phase], "mixed"), pg)
            mixed_reads = summary(f"server: {RESULTS} (with typists)", reads)
            mixed_typed = summary("server: POST /api/v1/entries (with readers)", typed, "entries/s")
            phases += [mixed_reads, mixed_typed]
            typed_phases += 1
            if args.pace:
                reads, typed = timed(mixed(base, RESULTS, args.readers, tokens, all_rows[5 * per_phase:6 * per_phase],
                                           "paced", args.pace), pg)
                paced_reads = summary(f"server: {RESULTS} (typists at 1 entry / {args.pace:g} s each)", reads)
                paced_typed = summary(f"server: POST /api/v1/entries (1 / {args.pace:g} s each, with readers)", typed,
                                      "entries/s")
                phases += [paced_reads, paced_typed]
                typed_phases += 1
            plain = summary("plain script: entry + log row per transaction", timed(
                lambda: plain_script(url, all_rows[2 * per_phase:3 * per_phase], "plain"), []), "entries/s")
            phases.append(plain)
            for path in ("/api/v1/results?source=copies&level=department", "/api/v1/results?source=both",
                         "/api/v1/discrepancies", "/api/v1/discrepancies/by-area?level=department"):
                phases.append(summary(f"server: {path} (readers alone)", timed(
                    readers_on(base, path, args.readers, args.reads), pg)))
        if ng is not None:
            # nginx again at the end: the machine's other load moves during a run; the
            # higher of the two is the reference (the conservative choice)
            phases.append(summary("nginx: static results.json (after)", timed(
                readers_on(ng[0], "/results.json", args.readers, args.nginx_reads), [ng[1]])))
            nginx_rate = max(p["rate"] for p in phases if p["name"].startswith("nginx"))
        states = httpx.get(base + "/api/v1/entries/states", timeout=60).json()["states"]
        return {"kind": kind, "load_s": load_s, "units": units, "phases": phases, "states": states,
                "nginx_rate": nginx_rate, "mixed_reads": mixed_reads, "mixed_typed": mixed_typed,
                "paced_reads": paced_reads, "paced_typed": paced_typed,
                "typists_alone": typists_alone, "plain": plain, "streamed": streamed, "stream_typed": stream_typed, "again": again,
                "expected_agreed": typed_phases * per_phase, "tokens": tokens}


def report(res: dict, args) -> None:
    name = {"sqlite": "embedded (SQLite, WAL)", "postgresql": "PostgreSQL"}[res["kind"]]
    print(f"\n== {name}, serve --workers {args.workers}, {args.readers} readers, {args.typists} typists ==")
    print(f"official load of the 2019 cómputo: {res['units']:,} actas in {res['load_s']:.2f} s")
    print(f"  {'phase':<74} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'rate':>10}        {'err':>4} {'wall s':>7} {'cpu srv':>8} {'cpu cli':>8}")
    for p in res["phases"]:
        cpu = p["cpu"] or {}
        print(f"  {p['name']:<74} {p['n']:>7,} {p['p50']:>8.1f} {p['p99']:>8.1f} {p['rate']:>10.0f} {p['unit']:<9}"
              f" {p['errors']:>3} {p['seconds']:>7.1f} {cpu.get('server', float('nan')):>8.1f} {cpu.get('client', float('nan')):>8.1f}")
    mr, mt, ta, pl = res["mixed_reads"], res["mixed_typed"], res["typists_alone"], res["plain"]
    print("  acceptance (issue 26):")
    if mr is not None:
        if res["nginx_rate"]:
            share = 100 * mr["rate"] / res["nginx_rate"]
            print(f"    results with readers+typists / nginx (higher of its two runs): {mr['rate']:.0f} / {res['nginx_rate']:.0f} req/s = {share:.1f}% "
                  f"(target >= 25%), read errors {mr['errors']}, entry errors {mt['errors']}  -> {'MET' if share >= 25 and not mr['errors'] and not mt['errors'] else 'not met'}")
        else:
            print("    nginx not installed (apt-get install -y nginx): no reference for reads")
        pr, pt = res.get("paced_reads"), res.get("paced_typed")
        if pr is not None and res["nginx_rate"]:
            # not the acceptance's figure (its typists type as fast as the server answers,
            # some 100 times faster than people typing actas): what readers get meanwhile
            # when each typist sends an entry every --pace seconds
            print(f"    (for reading, not the acceptance) results with readers + typists at 1 entry / {args.pace:g} s "
                  f"each ({len(res['tokens']) / args.pace:.0f} entries/s offered, {pt['rate']:.0f} done, p99 {pt['p99']:.0f} ms) "
                  f"/ nginx: {pr['rate']:.0f} / {res['nginx_rate']:.0f} req/s = {100 * pr['rate'] / res['nginx_rate']:.1f}%, "
                  f"read errors {pr['errors']}, entry errors {pt['errors']}")
        ratio = mt["p99"] / ta["p99"] if ta["p99"] else float("nan")
        print(f"    typists' p99 with readers / without: {mt['p99']:.0f} / {ta['p99']:.0f} ms = {ratio:.2f}x (target <= 2x)"
              f"  -> {'MET' if ratio <= 2 else 'not met'}")
        share_w = 100 * ta["rate"] / pl["rate"] if pl["rate"] else float("nan")
        print(f"    typists alone / plain script: {ta['rate']:.0f} / {pl['rate']:.0f} entries/s = {share_w:.0f}% (target >= 25%)"
              f"  -> {'MET' if share_w >= 25 else 'not met'}")
    st, sv = res["stream_typed"], res["streamed"]
    if st is not None:
        none = min((ta, res["again"]), key=lambda p: p["p99"])
        ratio = st["p99"] / none["p99"] if none["p99"] else float("nan")
        print(f"    typists' p99 with {sv['streams']:,} event streams open / with none (lower of the runs before and after): "
              f"{st['p99']:.0f} / {none['p99']:.0f} ms = {ratio:.2f}x (target <= 2x; p50 {st['p50']:.0f} / {none['p50']:.0f} ms, "
              f"entries/s {st['rate']:.0f} / {none['rate']:.0f}), entry errors {st['errors']}"
              f"  -> {'MET' if ratio <= 2 and not st['errors'] else 'not met'}")
        # every entry stored publishes one "entry" event: every stream should count them all
        want, counts = st["n"] - st["errors"], sv["counts"]
        exact = sum(c == want for c in counts)
        print(f"    event streams: {sv['opened']:,} of {sv['streams']:,} opened in {sv['open_s']:.1f} s ({sv['failed']} failed); "
              f"entry events per stream min {min(counts)} / median {statistics.median(counts):.0f} / max {max(counts)}, "
              f"{exact:,} of {len(counts):,} streams got exactly the {want:,} entries  -> "
              f"{'every stream got every entry once' if exact == len(counts) else 'CHECK: events lost or repeated'}")
        print(f"    {sv['opened']:,} open streams with nothing happening (5 s): server {sv['idle']['server']:.2f} CPU cores, "
              f"this client {sv['idle']['client']:.2f}")
    agreed, expected = res["states"].get("agreed", 0), res["expected_agreed"]
    print(f"    copies now: {res['states']} (expected {expected:,} agreed: {expected // (args.typists * args.entries)} phases x {args.typists * args.entries:,} actas typed twice)"
          f"  -> {'no entry lost' if agreed == expected else 'CHECK: entries lost or refused'}")


@contextmanager
def _source(src: str | None):
    """``escrutinio serve`` started inside runs the escrutinio found first on ``src``
    (another checkout's ``src``), or this one's when None."""
    before = os.environ.get("PYTHONPATH")
    if src is not None:
        os.environ["PYTHONPATH"] = str(Path(src).resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def typists_compare(kind: str, args) -> None:
    """The typists' figures of two sources, alternating in this one run (the machine's
    other load moves): per round, a server from ``--baseline-src`` and one from this
    checkout, each on a fresh database with the cómputo loaded, each timed with the
    typists alone and with R readers on the results, then the plain script on a fresh
    database of its own. Each entry is an acta typed twice (agreed), as in ``bench``."""
    from escrutinio.io import read_snapshots
    from escrutinio.server.storage.db import migrate
    from escrutinio.server.testing import add_user, postgres_url, serve_process, sqlite_url

    os.environ["ESCRUTINIO_SETTINGS_OVERRIDES"] = json.dumps(
        {"rate_limit_client": "1000000/second", "rate_limit_token": "1000000/second", "rate_limit_query": "1000000/second"})
    per_phase = args.typists * args.entries
    snap = read_snapshots(COMPUTO)[0]
    fields = [*snap.choices, "blank", "null", "registered", "emitted"]
    rows = [{"unit": r["unit"], "values": {k: int(r[k]) for k in fields}}
            for r in snap.frame.select("unit", *fields).head(2 * per_phase).to_dicts()]
    sources = (("baseline", args.baseline_src), ("this", None))
    table = []

    def database(stack: ExitStack, tmp: Path) -> str:
        url = sqlite_url(tmp) if kind == "sqlite" else stack.enter_context(postgres_url())
        migrate(url)
        return url

    for rnd in range(args.rounds):
        for label, src in sources:
            with ExitStack() as stack:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = database(stack, tmp)
                with _source(src):
                    served = stack.enter_context(serve_process(url, tmp / "data", args.workers))
                admin = {"Authorization": f"Bearer {add_user(url, 'admin', 'bench-admin')}"}
                with open(COMPUTO, "rb") as f:
                    httpx.post(served.base + "/api/v1/official", files={"file": (COMPUTO.name, f)}, headers=admin,
                               timeout=600).raise_for_status()
                tokens = [add_user(url, "typist", f"bench-typist-{i}") for i in range(args.typists)]
                for _ in range(args.workers * 4):  # every worker reads and caches the snapshot
                    httpx.get(served.base + RESULTS, timeout=120).raise_for_status()
                pg = [served.process.pid]
                alone = summary("alone", timed(typists_on(served.base, tokens, rows[:per_phase], "alone"), pg))
                reads, typed = timed(mixed(served.base, RESULTS, args.readers, tokens, rows[per_phase:], "mixed"), pg)
                table.append((rnd, label, alone, summary("with readers", typed), summary("reads", reads)))
        with ExitStack() as stack:
            url = database(stack, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            plain = summary("plain", timed(lambda: plain_script(url, rows[:per_phase], "plain"), []))
        table.append((rnd, "plain script", plain, None, None))
        print(f"  round {rnd}: load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"\n== {kind}: typists, {args.baseline_src} (baseline) and this checkout alternating, {args.rounds} rounds, "
          f"serve --workers {args.workers}, {args.typists} typists x {args.entries} actas typed twice, {args.readers} readers ==")
    print(f"  {'round':<6} {'source':<13} {'alone/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'w/ readers/s':>13} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'p99 ratio':>10} {'reads/s':>8} {'errors':>7} {'vs plain':>9}")
    for rnd in range(args.rounds):
        plain = next(a for r, lbl, a, _, _ in table if r == rnd and lbl == "plain script")
        for r, lbl, a, t, rd in table:
            if r != rnd:
                continue
            if t is None:
                print(f"  {r:<6} {lbl:<13} {a['rate']:>8.0f} {a['p50']:>8.1f} {a['p99']:>8.1f}")
                continue
            print(f"  {r:<6} {lbl:<13} {a['rate']:>8.0f} {a['p50']:>8.1f} {a['p99']:>8.1f} {t['rate']:>13.0f} {t['p50']:>8.1f}"
                  f" {t['p99']:>8.1f} {t['p99'] / a['p99']:>9.2f}x {rd['rate']:>8.0f} {a['errors'] + t['errors']:>7}"
                  f" {100 * a['rate'] / plain['rate']:>8.0f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--readers", type=int, default=200)
    p.add_argument("--reads", type=int, default=50, help="requests per reader on the other endpoints (x2)")
    p.add_argument("--nginx-reads", type=int, default=200, help="requests per reader on nginx and on the results alone")
    p.add_argument("--typists", type=int, default=50)
    p.add_argument("--entries", type=int, default=10, help="actas per typist and phase (each typed by two typists)")
    p.add_argument("--streams", type=int, default=1000, help="open event streams while the typists type (0: no such phase)")
    p.add_argument("--settings", default="{}", help="more server settings, a JSON object merged into "
                   "ESCRUTINIO_SETTINGS_OVERRIDES (e.g. '{\"write_threads\": 8}')")
    p.add_argument("--pace", type=float, default=1.0,
                   help="also the readers with typists who each send an entry every PACE seconds (0: no such phase)")
    p.add_argument("--streams-only", action="store_true", help="only the typists alone and with the event streams open")
    p.add_argument("--baseline-src", help="compare the typists' figures with a server run from this src folder (another "
                                          "checkout's), alternating in this run; nothing else is measured")
    p.add_argument("--rounds", type=int, default=2, help="rounds of --baseline-src comparison")
    args = p.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(f"machine: {os.cpu_count()} CPUs shared by the client, the server, nginx and the database; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    for kind in kinds:
        if kind == "postgresql":
            from escrutinio.server.testing import postgres_unreachable

            reason = postgres_unreachable()
            if reason:
                print(f"\n== PostgreSQL skipped: {reason}")
                continue
        if args.baseline_src:
            typists_compare(kind, args)
        else:
            report(bench(kind, args), args)
        print(f"  (load average {os.getloadavg()[0]:.1f} after this run: other processes share the CPUs)")


if __name__ == "__main__":
    main()
