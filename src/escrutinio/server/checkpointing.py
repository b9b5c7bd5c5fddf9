"""Signed checkpoints of the results log, and the static publication they write.

``maybe_sign(session, settings, force=False)`` (contract C3) signs the current tree head
when the log has grown since the last checkpoint: always after an official snapshot
(``force=True``), and at most once per ``settings.checkpoint_interval`` otherwise (the
server's background task calls it once a minute while the log grows; several worker
processes calling it at once add at most one checkpoint per interval each).

Each new checkpoint also writes an immutable folder that any web server or CDN can
serve as static files, under ``<data_dir>/publication/<tree size, 12 digits>/``::

    checkpoint.json        the signed checkpoint
    public-key.pem         the key that signed it
    log-segment.jsonl      the log entries since the previous folder (concatenate the
                           folders' segments in order to get the whole log)
    results/<contest>/<source>-<level>.json   results per level (the API's JSON)
    actas.parquet          the official actas in force (one row per acta and contest)
    MANIFEST.json          SHA-256 of every file above

``escrutinio verify-log <data_dir>/publication`` verifies the lot offline.

The folder is written after the checkpoint is committed, by a background thread, not
by the request that signed it (issue 26: it took 71% of an official upload): it is
written into a hidden temporary folder and renamed into place, so a reader sees the
whole folder or none. One thread per process and a lock file per data folder keep the
folders in checkpoint order (each segment starts where the previous folder ended),
whatever the number of workers. Publishing is idempotent: it writes the folders of the
checkpoints newer than the newest folder on disk, so a folder lost to a crash or a
restart is written again when the server starts (``api.official.publication_lifespan``)
and at any later call of :func:`maybe_sign` (the server's checkpoint loop calls it once
an interval). When several checkpoints wait, only the newest gets ``results/`` and
``actas.parquet``: they are the data as of writing, which would be later than an older
checkpoint's.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from escrutinio.publication.checkpoint import Checkpoint, key_id, load_private_key, public_pem, sign
from escrutinio.publication.entry import utc_now
from escrutinio.server.storage import publication as repo

log = logging.getLogger("escrutinio.server.checkpointing")
PUBLICATION_DIR = "publication"


def _too_soon(latest, settings) -> bool:
    """The latest checkpoint was signed less than an interval ago (a checkpoint is due
    once per ``checkpoint_interval``; 0.9 of it, so that a tick a little early signs)."""
    return latest is not None and _age_seconds(latest.time) < 0.9 * settings.checkpoint_interval


def _age_seconds(time: str) -> float:
    try:
        then = datetime.strptime(time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return float("inf")
    return (datetime.now(timezone.utc) - then).total_seconds()


def maybe_sign(session: Session, settings, force: bool = False, trusted_from: int | None = None,
               verified: "Verified | None" = None) -> dict:
    """Sign a checkpoint of the log as it stands in ``session`` when one is due.

    Returns {"signed": bool, "checkpoint": {...} | None, "reason": str}. A missing
    signing key is reported, not raised: the server keeps counting, unsigned, and says
    so (``escrutinio server keygen`` makes the key). ``trusted_from``: see
    :func:`chain_problem` (an official snapshot's load signs in its own transaction).
    ``verified``: what :func:`verify_ahead` found verified just before, outside the writer
    lock; only the entries after it are verified here, under the lock.
    """
    key_path = Path(settings.signing_key)
    latest = repo.latest_checkpoint(session)
    t = repo.tree(session)
    n = len(t)
    if latest is not None and latest.tree_size == n:
        if not _folder(settings.data_dir, latest.tree_size).exists():  # lost (crash, restart): write it again
            schedule_publication(session.get_bind().engine.url, settings.data_dir, key_path)
        return {"signed": False, "checkpoint": latest.to_dict(), "reason": "no new entries since the last checkpoint"}
    if n == 0:
        return {"signed": False, "checkpoint": None, "reason": "the log is empty"}
    if not force and _too_soon(latest, settings):
        return {"signed": False, "checkpoint": latest.to_dict(), "reason": "signed less than an interval ago"}
    if not key_path.exists():
        return {"signed": False, "checkpoint": latest.to_dict() if latest else None,
                "reason": f"no signing key at {key_path}: run `escrutinio server keygen`"}
    signed = latest.tree_size if latest is not None else 0
    start = verified if verified is not None and verified.signed == signed and verified.size <= n else None
    problem = chain_problem(session, signed, n, latest.root_hash if latest is not None else None, t, trusted_from,
                            start=start)
    if problem is not None:
        log.error("checkpoint refused: %s", problem)
        return {"signed": False, "checkpoint": latest.to_dict() if latest else None,
                "reason": f"the log does not verify, nothing signed: {problem}", "problem": problem}
    key = load_private_key(key_path)
    cp = repo.add_checkpoint(session, sign(key, n, t.root(n).hex(), utc_now()))
    try:
        from escrutinio.server.storage import events
        events.publish(session, "checkpoint", {"seq": n - 1, "kind": "checkpoint", "tree_size": n,
                                               "root_hash": cp.root_hash, "id": cp.id})
    except Exception:  # pragma: no cover - the feed is a convenience; the checkpoint stands
        log.exception("checkpoint event")
    url, data_dir = session.get_bind().engine.url, Path(settings.data_dir)
    # The folder is written once the checkpoint is committed (a rolled-back checkpoint
    # leaves no folder behind), in the background: the request does not wait for it.
    _after_outer_commit(session, lambda: schedule_publication(url, data_dir, key_path))
    return {"signed": True, "checkpoint": cp.to_dict(), "reason": "signed", "key_id": key_id(key.public_key())}


def _after_outer_commit(session: Session, fn) -> None:
    """Call ``fn()`` once the session's outermost transaction commits (SQLAlchemy also
    sends ``after_commit`` when a savepoint is released, as in an official load's
    signing; the folder must wait for the data it publishes to be committed)."""
    done = False

    def on_commit(s: Session) -> None:
        nonlocal done
        if done or s.in_nested_transaction():
            return
        done = True
        fn()

    event.listen(session, "after_commit", on_commit)


@dataclass(frozen=True)
class Verified:
    """The log's first ``size`` entries verified as :func:`chain_problem` does, with the
    checkpoint of ``signed`` entries then the latest; ``last_hash``: entry size - 1's."""
    signed: int
    size: int
    last_hash: str


def verify_ahead(session: Session, settings) -> Verified | None:
    """The part of the check before signing that reads the whole log, run in a read
    session before the writer lock is taken (None when no checkpoint is due, or the log
    does not verify: the locked check then runs in full, and reports it).

    Why: re-hashing every entry (35,000 for Bolivia's count alone, a million for a large
    country) under the writer lock once a minute stopped every typist for a second or
    more (issue 26). The log is append-only, so what is verified here stays verified;
    under the lock only the entries appended since are read."""
    latest = repo.latest_checkpoint(session)
    t = repo.tree(session)
    n = len(t)
    if n == 0 or (latest is not None and latest.tree_size == n) or _too_soon(latest, settings):
        return None
    signed = latest.tree_size if latest is not None else 0
    problem, last_hash = _verify_chain(session, signed, n, latest.root_hash if latest is not None else None, t)
    return None if problem is not None else Verified(signed, n, last_hash)


def chain_problem(session: Session, signed: int, n: int, signed_root: str | None, tree,
                  trusted_from: int | None = None, start: Verified | None = None) -> str | None:
    """Re-verify the log before signing it (None when it verifies): the entries already
    signed still have the signed root, and every entry since then has the canonical
    payload, hash and ``prev`` link the server writes, and (for a copy) the stored
    entry it names. A row written into the table by other means than the server's
    append is refused here rather than signed.

    ``trusted_from``: the entries from this one on were appended by the caller's own
    transaction, which still holds the writer lock, from payloads checked canonical as
    they were appended (``storage.official.record_payloads``): only the link of the
    first of them to the entry before is checked again. ``start``: the entries before
    ``start.size`` were verified so already (:func:`verify_ahead`); only the link of the
    next one to them is checked again."""
    return _verify_chain(session, signed, n, signed_root, tree, trusted_from, start)[0]


def _verify_chain(session: Session, signed: int, n: int, signed_root: str | None, tree,
                  trusted_from: int | None = None, start: Verified | None = None) -> tuple[str | None, str | None]:
    """:func:`chain_problem`'s problem, and the hash the verified entries end with."""
    import json

    from sqlalchemy import select

    from escrutinio.publication.entry import GENESIS_PREV, parse_canonical
    from escrutinio.publication.log import entry_bytes_from_row
    from escrutinio.server.storage.tables import entries as entries_table

    if signed and signed_root is not None and tree.root(signed).hex() != signed_root:
        return f"the first {signed} entries no longer have the root signed at that size: an entry before {signed} changed", None
    # the whole chain's links and hashes (a hash per entry: cheap), the payloads of the
    # entries not signed yet in full
    stop = n if trusted_from is None else max(0, min(n, trusted_from))
    prev, expected = GENESIS_PREV, 0
    if start is not None and start.size <= stop:
        prev, expected = start.last_hash, start.size
    # the copies' references are looked up a batch at a time, in one query each (not a
    # query per copy while the writer lock is held); a problem is still reported at the
    # first entry at fault: the batch is checked before any later entry's problem
    refs: list[tuple[int, str, object, dict]] = []

    def ref_problem() -> str | None:
        ids = sorted({eid for _, _, eid, _ in refs if isinstance(eid, int)})
        stored = {r.id: (r.unit, r.contest) for r in session.execute(
            select(entries_table.c.id, entries_table.c.unit, entries_table.c.contest)
            .where(entries_table.c.id.in_(ids)))} if ids else {}
        for seq, kind, eid, payload in refs:
            found = stored.get(eid) if isinstance(eid, int) else None
            if found is None or found != (payload.get("unit"), payload.get("contest")):
                refs.clear()
                return f"entry {seq}: a {kind} of {payload.get('unit')!r} names no stored entry of that acta"
        refs.clear()
        return None

    def fail(problem: str) -> str:
        return ref_problem() or problem

    for r in repo.rows(session, expected, stop):
        seq = int(r.seq)
        if seq != expected:
            return fail(f"entry {expected} is missing"), None
        if r.prev != prev:
            return fail(f"entry {seq}: its prev is not the hash of entry {seq - 1}" if seq else "entry 0: its prev is not 64 zeros"), None
        payload = None
        if seq >= signed:
            canonical, payload = parse_canonical(r.payload)
            if not canonical:
                return fail(f"entry {seq}: its payload is not canonical JSON"), None
        if hashlib.sha256(entry_bytes_from_row(r.seq, r.time, r.role, r.kind, r.payload, r.prev)).hexdigest() != r.hash:
            return fail(f"entry {seq}: its hash does not match its content"), None
        if r.kind in ("copy_agreed", "copy_resolved", "quarantine_released") and seq >= signed:
            refs.append((seq, r.kind, payload.get("entry_id") if isinstance(payload, dict) else None,
                         payload if isinstance(payload, dict) else {}))
            if len(refs) >= 1000:
                problem = ref_problem()
                if problem:
                    return problem, None
        prev, expected = r.hash, seq + 1
    problem = ref_problem()
    if problem:
        return problem, None
    if expected != stop:
        return f"the log ends at entry {expected - 1}, not {stop - 1}", None
    if stop < n:
        first = repo.entry(session, stop)
        if first is None:
            return f"entry {stop} is missing", None
        if first["prev"] != prev:
            return f"entry {stop}: its prev is not the hash of entry {stop - 1}" if stop else "entry 0: its prev is not 64 zeros", None
    return None, prev


class _Job:
    def __init__(self):
        self.thread: threading.Thread | None = None
        self.again = False


_jobs: dict[str, _Job] = {}
_jobs_lock = threading.Lock()


def _folder(data_dir, tree_size: int) -> Path:
    return Path(data_dir) / PUBLICATION_DIR / f"{tree_size:012d}"


def schedule_publication(url, data_dir: Path, key_path: Path) -> threading.Thread:
    """Write the static folders still missing, in a background thread of this process
    (one per data folder; a call while it runs makes it run once more)."""
    name = str(Path(data_dir).resolve())
    with _jobs_lock:
        job = _jobs.setdefault(name, _Job())
        if job.thread is not None and job.thread.is_alive():
            job.again = True
            return job.thread

        def run() -> None:
            while True:
                try:
                    publish_missing(url, Path(data_dir), Path(key_path))
                except Exception:  # the checkpoint is committed and served by the API regardless
                    log.exception("static publication in %s", data_dir)
                with _jobs_lock:
                    if not job.again:
                        job.thread = None
                        return
                    job.again = False

        job.again = False
        job.thread = threading.Thread(target=run, name="escrutinio-publication", daemon=True)
        job.thread.start()
        global _atexit
        if not _atexit:  # a short-lived process (the demo, a script) finishes the folder before it exits
            import atexit

            atexit.register(wait_published, 60.0)
            _atexit = True
        return job.thread


_atexit = False


def wait_published(timeout: float = 120.0) -> bool:
    """Wait for this process's background publication (tests, benchmarks, shutdown);
    True when none is left running."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _jobs_lock:
            threads = [j.thread for j in _jobs.values() if j.thread is not None]
        if not threads:
            return True
        threads[0].join(max(0.0, deadline - time.monotonic()))
    return False


def publish_missing(url, data_dir: Path, key_path: Path) -> list[Path]:
    """Write the folder of every checkpoint newer than the newest folder on disk, oldest
    first, under a lock file (several workers, or instances sharing the data folder,
    write each folder once and in order). Reads on a plain engine of the same database
    (the server's write engine would hold the writer lock for the whole write),
    disposed afterwards so that no connection outlives the work."""
    from sqlalchemy import create_engine

    root = Path(data_dir) / PUBLICATION_DIR
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    engine = create_engine(url)
    try:
        with open(root / ".lock", "a") as lock, Session(engine) as s:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                for stale in root.glob(".*.tmp"):  # a crash's half-written folder (we hold the lock)
                    shutil.rmtree(stale, ignore_errors=True)
                done = max((int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()), default=0)
                todo: dict[int, Checkpoint] = {}
                for cp in repo.list_checkpoints(s):  # by tree size, then id: the last of a size wins
                    if cp.tree_size > done:
                        todo[cp.tree_size] = cp
                if not todo:
                    return written
                key = load_private_key(key_path) if key_path.exists() else None
                pems = {key_id(key.public_key()): public_pem(key.public_key())} if key is not None else {}
                sizes = sorted(todo)
                for size in sizes:
                    cp = todo[size]
                    pem = pems.get(cp.key_id)
                    if pem is None:
                        log.error("static publication of checkpoint %s skipped: signed by key %s, and the key at %s "
                                  "is another", cp.id, cp.key_id, key_path)
                        continue
                    out = write_static(s, data_dir, cp, pem, with_results=size == sizes[-1])
                    if out is not None:
                        written.append(out)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        engine.dispose()
    return written


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "contest"


def _dump(doc) -> str:
    # compact: the per-area results with a verdict for every area were 43% of an official
    # upload when written with indent=1 (the pure-Python encoder); this is the C one
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def write_static(session: Session, data_dir: Path, cp: Checkpoint, pem: bytes, with_results: bool = True) -> Path | None:
    """Write the static folder of checkpoint ``cp`` (skipped if it exists: immutable)."""
    root = Path(data_dir) / PUBLICATION_DIR
    target = root / f"{cp.tree_size:012d}"
    if target.exists():
        return None
    root.mkdir(parents=True, exist_ok=True)
    earlier = sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) < cp.tree_size)
    start = earlier[-1] if earlier else 0
    tmp = root / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        (tmp / "checkpoint.json").write_text(json.dumps(cp.to_dict(), indent=1) + "\n", encoding="utf-8")
        (tmp / "public-key.pem").write_bytes(pem)
        with open(tmp / "log-segment.jsonl", "w", encoding="utf-8", newline="\n") as fh:
            for line in repo.lines(session, start, cp.tree_size):
                fh.write(line + "\n")
        if with_results:
            _write_results(session, tmp)
        manifest = {"checkpoint": cp.to_dict(), "segment": {"first": start, "last": cp.tree_size - 1},
                    "files": {}}
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                manifest["files"][f.relative_to(tmp).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
        (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        for f in tmp.rglob("*"):
            if f.is_file():
                f.chmod(0o444)
        tmp.rename(target)
    except OSError:  # another process published the same checkpoint first
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_results(session: Session, folder: Path) -> None:
    """Results JSON per contest, source and level, and the Parquet of official actas,
    from the same code the results API runs."""
    try:
        import polars as pl

        from escrutinio.server import services
        from escrutinio.server.storage import copies, official
    except ImportError:  # pragma: no cover - the server's storage is part of the package
        return
    frames = []
    with_copies = set(copies.contests_with_copies(session))
    for contest, info in official.latest(session).items():
        snap = official.load(session, info["snapshot_id"], contest)
        frames.append(snap.frame.with_columns(pl.lit(contest).alias("contest"),
                                              pl.lit(info["snapshot_id"]).alias("snapshot_id")))
        out = folder / "results" / _slug(contest)
        out.mkdir(parents=True, exist_ok=True)
        sources = ["official"] + (["copies"] if contest in with_copies else [])
        for source in sources:
            for level in snap.levels:
                try:
                    doc = services.results(session, source, contest, level, {})
                except Exception as exc:  # say what is missing rather than skip silently
                    doc = {"error": str(exc)}
                (out / f"{source}-{_slug(level)}.json").write_text(_dump(doc), encoding="utf-8")
    if frames:
        pl.concat(frames, how="diagonal_relaxed").write_parquet(folder / "actas.parquet", compression="zstd")


# ------------------------------------------------------------ tamper check
def tamper_check(settings, echo=print, unit: str | None = None) -> dict:
    """The election-night demo's last step: ``verify-log`` passes on the server's log,
    then fails, naming the entry, once one vote is altered directly in the database.

    The alteration is made on a copy (SQLite: ``<name>-tampered.db``, left for anyone to
    inspect or serve) or, on PostgreSQL, inside a transaction that is rolled back: the
    real database is never changed.
    """
    import sqlite3
    import tempfile

    from escrutinio.server.inprocess import test_client_class

    TestClient = test_client_class()
    from sqlalchemy import text

    from escrutinio.app.publication import verify_lines, verify_log as run_verification
    from escrutinio.publication.checkpoint import generate_key, read_public_key
    from escrutinio.server.app import create_app
    from escrutinio.server.settings import Settings
    from escrutinio.server.storage.db import Database

    key_path = Path(settings.signing_key)
    if not key_path.exists():
        generate_key(key_path)
        echo(f"   no signing key yet: made one at {key_path} (escrutinio server keygen)")
    db = Database(settings.database_url)
    with db.session(write=True) as s:
        signed = maybe_sign(s, settings, force=True)
    wait_published()
    db.dispose()
    cp = signed.get("checkpoint") or {}
    echo(f"7. The results log: {cp.get('tree_size', 0):,} entries, signed checkpoint root {str(cp.get('root_hash'))[:16]}...")
    app = create_app(settings)
    with TestClient(app) as client:
        before = run_verification("http://testserver", client=client)
    app.state.db.dispose()
    echo("   escrutinio verify-log: " + before["summary"].splitlines()[0])
    agree = [c for c in before.get("comparisons", []) if c["ok"]]
    echo(f"   totals recomputed from the log agree with the published results: {len(agree)} of "
         f"{len(before.get('comparisons', []))} comparisons (official and copies, every level)")

    # Alter one vote of one official record, as someone with database access would.
    db = Database(settings.database_url)
    with db.session() as s:
        row = s.execute(text("SELECT seq, payload FROM log_entries WHERE kind = 'official_record' "
                             + ("AND payload LIKE :u " if unit else "") + "ORDER BY seq DESC LIMIT 1"),
                        {"u": f'%"unit":"{unit}"%'} if unit else {}).first()
    if row is None:
        db.dispose()
        raise LookupError("the log holds no official record to alter")
    payload = json.loads(row.payload)
    choice = next(k for k in sorted(payload["values"]) if k not in ("registered", "blank", "null", "emitted"))
    payload["values"][choice] += 1
    from escrutinio.publication.entry import canonical_json
    altered = canonical_json(payload).decode("utf-8")
    echo(f"8. Someone with access to the database adds one vote for {choice} to acta {payload['unit']} "
         f"(log entry {row.seq}), bypassing the append-only guard...")
    if db.postgresql:
        after = None
        with db.session(write=True) as s:
            s.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
            s.execute(text("UPDATE log_entries SET payload = :p WHERE seq = :s"), {"p": altered, "s": int(row.seq)})
            lines = list(repo.lines(s))
            cps = repo.list_checkpoints(s)
            after = verify_lines(lines, read_public_key(key_path.with_name(key_path.name + ".pub")), cps)
            s.rollback()
        where = "inside a transaction that was then rolled back"
    else:
        db.dispose()
        source = Path(str(make_url_database(settings.database_url)))
        target = source.with_name(source.stem + "-tampered" + source.suffix)
        if target.exists():
            target.unlink()
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        with sqlite3.connect(target) as conn:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='log_entries'").fetchall():
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute("UPDATE log_entries SET payload = ? WHERE seq = ?", (altered, int(row.seq)))
        copy = Settings(database_url=f"sqlite:///{target}", data_dir=Path(tempfile.mkdtemp(prefix="escrutinio-tampered-")),
                        signing_key=key_path)
        app = create_app(copy, check_schema=False)
        with TestClient(app) as client:
            after = run_verification("http://testserver", client=client)
        app.state.db.dispose()
        where = f"on a copy, {target}"
    db.dispose()
    echo(f"   escrutinio verify-log ({where}): " + after["summary"].splitlines()[0])
    first = next((p for p in after["problems"] if p.get("seq") is not None), None)
    if first:
        echo(f"   first bad entry {first['seq']}: {first['what']}")
    return {"before": {k: before[k] for k in ("ok", "entries", "first_bad_entry")},
            "after": {k: after[k] for k in ("ok", "entries", "first_bad_entry")}, "altered_seq": int(row.seq)}


def make_url_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database
