"""Benchmarks of the tamper-evident results log (issue 11). Prints its figures.

1. Appending 35,000 entries through the server's own storage (``escrutinio.server.
   storage.log``): ``append_many`` (one call, one transaction), ``append_canonical``
   (the path an official snapshot load takes) and ``append`` one entry per transaction
   (as watchers' copies arrive; measured on 2,000 entries), on the embedded database and,
   when reachable, PostgreSQL. Then signing a checkpoint over the 35,000 entries.
2. Verifying a log of 1,000,000 entries streamed from a JSON Lines file, in a fresh
   process, with and without recomputing the totals: time and peak RSS (and the RSS of
   the same process before verifying, to show what the verification itself adds).

Usage: python benchmarks/bench_publication.py [--entries 1000000] [--skip-postgres]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHOICES = ("CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL")


def record_payload(i: int, sid: int = 1) -> dict:
    v = {c: (i * (k + 7)) % 97 for k, c in enumerate(CHOICES)}
    blank, null = i % 5, i % 7
    emitted = sum(v.values()) + blank + null
    # a real hierarchy: 5,000 polling places in 339 municipalities, 112 provinces, 9 departments
    place = i % 5000
    mun = place % 339
    prov = mun % 112
    return {"snapshot_id": sid, "contest": "PRESIDENTE", "unit": f"{100000 + i}",
            "levels": {"country": "Bolivia", "department": f"D{prov % 9}", "province": f"P{prov}",
                       "municipality": f"M{mun}", "polling_place": f"R{place}"},
            "values": {"registered": 300, "blank": blank, "null": null, "emitted": emitted, **v}}


# ------------------------------------------------------------------ appends
def bench_append(url: str, label: str, n: int = 35_000) -> None:
    from escrutinio.publication.entry import canonical_json
    from escrutinio.server.checkpointing import maybe_sign
    from escrutinio.server.settings import Settings
    from escrutinio.server.storage import log
    from escrutinio.server.storage.db import Database, migrate

    migrate(url)
    db = Database(url)
    payloads = [record_payload(i) for i in range(n)]
    with db.session(write=True) as s:
        log.append(s, "admin", "official_snapshot", {"snapshot_id": 1, "contests": ["PRESIDENTE"], "units": n * 2})
    t = time.perf_counter()
    with db.session(write=True) as s:
        log.append_many(s, "admin", "official_record", payloads)
    many = time.perf_counter() - t
    texts = [canonical_json(p).decode() for p in payloads]
    t = time.perf_counter()
    with db.session(write=True) as s:
        log.append_canonical(s, "admin", "official_record", texts)
    canonical = time.perf_counter() - t
    k = 2_000
    t = time.perf_counter()
    for i in range(k):
        with db.session(write=True) as s:
            log.append(s, "typist", "copy_agreed", {"unit": f"{100000 + i}", "contest": "PRESIDENTE",
                                                    "levels": payloads[i]["levels"], "values": payloads[i]["values"],
                                                    "entry_id": i})
    single = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        from escrutinio.publication.checkpoint import generate_key
        key = Path(d) / "key.pem"
        generate_key(key)
        settings = Settings(database_url=url, data_dir=Path(d) / "data", signing_key=key)
        t = time.perf_counter()
        with db.session(write=True) as s:
            out = maybe_sign(s, settings, force=True)
        from escrutinio.server.checkpointing import wait_published
        wait_published()  # the static folder is written in the background since issue 26
        sign_t = time.perf_counter() - t
    db.dispose()
    print(f"[{label}] append_many      {n:>7,} entries in one transaction: {many:6.2f} s ({n / many:,.0f} entries/s)")
    print(f"[{label}] append_canonical {n:>7,} entries (snapshot load path): {canonical:6.2f} s ({n / canonical:,.0f} entries/s)")
    print(f"[{label}] append           {k:>7,} entries, one transaction each: {single:6.2f} s "
          f"({k / single:,.0f} entries/s; 35,000 would take {35_000 * single / k:,.0f} s)")
    print(f"[{label}] first checkpoint over {out['checkpoint']['tree_size']:,} entries (tree built, signed, "
          f"static folder written): {sign_t:.2f} s")


# ------------------------------------------------------------ a big log file
def write_log(path: Path, n: int, key_path: Path) -> tuple[int, float]:
    """A chained log of n entries (one snapshot, its records, then copies), written
    streaming with a checkpoint every 100,000 entries."""
    from escrutinio.publication.checkpoint import generate_key, sign
    from escrutinio.publication.merkle import CompactRange

    key = generate_key(key_path, overwrite=True)
    tree = CompactRange()
    prev = "0" * 64
    cps = []
    n_records = min(n - 1, max(1, (7 * n) // 10))
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8") as fh:
        for seq in range(n):
            if seq == 0:
                kind, role, payload = "official_snapshot", "admin", {"snapshot_id": 1, "contests": ["PRESIDENTE"],
                                                                     "units": n_records, "source": "synthetic.csv"}
            elif seq <= n_records:
                kind, role, payload = "official_record", "admin", record_payload(seq - 1)
            else:
                i = (seq * 7919) % n_records
                p = record_payload(i)
                kind, role, payload = "copy_agreed", "typist", {"unit": p["unit"], "contest": p["contest"], "levels": p["levels"],
                                                                "values": p["values"], "entry_id": seq}
            entry = {"seq": seq, "time": f"2026-11-30T10:{(seq // 60000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1000:06d}Z",
                     "role": role, "kind": kind, "payload": payload, "prev": prev}
            data = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            h = hashlib.sha256(data).hexdigest()
            tree.append(hashlib.sha256(b"\x00" + data).digest())
            fh.write(json.dumps({**entry, "hash": h}, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
            prev = h
            if (seq + 1) % 100_000 == 0 or seq + 1 == n:
                cps.append(sign(key, seq + 1, tree.root().hex(), entry["time"]).to_dict())
    (path.parent / "checkpoints.json").write_text(json.dumps({"checkpoints": cps}))
    return len(cps), time.perf_counter() - t0


CHILD = r"""
import json, resource, sys, time
from escrutinio.publication.checkpoint import read_public_key
from escrutinio.publication.sources import FileSource
from escrutinio.publication.verify import verify_log
path, key, totals = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
src = FileSource(path, checkpoints=str(__import__("pathlib").Path(path).parent / "checkpoints.json"))
cps = src.checkpoints()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = verify_log(src.lines(), read_public_key(key), cps, totals=totals)
took = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"ok": r.ok, "entries": r.entries, "seconds": took, "rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024,
       "checkpoints": r.checkpoints_checked}
if r.totals is not None:
    o = r.totals.official["PRESIDENTE"].total()
    c = r.totals.copies["PRESIDENTE"].total() if "PRESIDENTE" in r.totals.copies else {"units": 0}
    out["official_units"], out["copy_units"], out["official_valid"] = o["units"], c["units"], o["valid"]
print(json.dumps(out))
"""


def bench_verify(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "log.jsonl"
        key = Path(d) / "key.pem"
        ncp, gen = write_log(path, n, key)
        size = path.stat().st_size
        print(f"[verify] wrote a log of {n:,} entries ({size / 1e6:,.0f} MB JSON Lines, {ncp} signed checkpoints) in {gen:.1f} s")
        for totals in (False, True):
            res = subprocess.run([sys.executable, "-c", CHILD, str(path), str(key) + ".pub", "1" if totals else "0"],
                                 capture_output=True, text=True, check=True)
            out = json.loads(res.stdout.strip().splitlines()[-1])
            what = "chain + tree + signatures + totals" if totals else "chain + tree + signatures"
            print(f"[verify] {what:<36}: {out['seconds']:6.1f} s ({n / out['seconds']:,.0f} entries/s), ok={out['ok']}, "
                  f"peak RSS {out['peak_rss_mb']:,.0f} MB (process before verifying: {out['rss_before_mb']:,.0f} MB; "
                  f"log file {size / 1e6:,.0f} MB)")
            if totals:
                print(f"[verify] totals from the log: {out['official_units']:,} official actas, {out['copy_units']:,} "
                      f"actas with a counted copy, {out['official_valid']:,} valid votes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--only-verify", action="store_true", help="skip the append benchmarks")
    args = ap.parse_args()
    if args.only_verify:
        bench_verify(args.entries)
        return
    with tempfile.TemporaryDirectory() as d:
        bench_append(f"sqlite:///{d}/bench.db", "sqlite")
    if not args.skip_postgres:
        from escrutinio.server.testing import postgres_unreachable
        reason = postgres_unreachable()
        if reason:
            print(f"[postgresql] skipped: {reason}")
        else:
            import psycopg
            from escrutinio.server.testing import postgres_base
            schema = f"bench_{os.getpid()}"
            with psycopg.connect(postgres_base(), autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                bench_append(f"{postgres_base()}?options=-csearch_path%3D{schema}", "postgresql")
            finally:
                with psycopg.connect(postgres_base(), autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    bench_verify(args.entries)


if __name__ == "__main__":
    main()
