"""Official snapshots: stored whole (the unit frame as Parquet, one row per contest) and
logged row by row (one ``official_record`` entry per acta, contract C3), in one
transaction: a load is all rows or none, even if the process is killed half-way.

A snapshot is identified by its file's SHA-256: loading the same bytes twice adds nothing.
The same count under new bytes (re-gzipped, re-saved as XLSX) is recognised by the
SHA-256 of its records in canonical form, and adds nothing either.

One database holds one election: the first snapshot fixes its name, and a file of
another election (or exported far from it) is refused before anything is written.
On election night exports arrive out of order, so the snapshot in force for a contest
is the one exported last (``publication.precedence``, the same rule the log's verifier
applies), not the one loaded last: an earlier export is kept as history.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import fields
from datetime import datetime

import polars as pl
from sqlalchemy import insert, select, update, func
from sqlalchemy.orm import Session

from escrutinio.model import Snapshot
from escrutinio.publication.entry import _sort_key, canonical_json, utc_now
from escrutinio.publication.precedence import precedence
from escrutinio.server.storage import events, log
from escrutinio.server.storage.db import write_lock
from escrutinio.server.storage.tables import snapshot_contests, snapshots
from escrutinio.server.storage.users import User, audit

VALUE_TOTALS = ("registered", "blank", "null", "emitted")
# Exports of one election night lie hours apart; a file exported this far from the
# election's first one is another election, whatever its mapping calls it.
MAX_EXPORT_SPREAD_DAYS = 120


class OtherElection(ValueError):
    """A file of another election than the one this database holds (HTTP 409)."""


class NotCanonical(ValueError):
    """An acta whose log payload would not be canonical JSON (HTTP 422; nothing stored)."""


def find(session: Session, file_sha256: str) -> dict | None:
    row = session.execute(select(snapshots).where(snapshots.c.file_sha256 == file_sha256)).first()
    return dict(row._mapping) if row else None


def _sorted(names) -> list[str]:
    return sorted(names, key=_sort_key)


#: actas encoded, checked, hashed and appended to the log at a time: the payloads live as
#: one Polars string column (about their bytes), and as Python strings and log rows (several
#: times that) for one chunk at a time, not for the whole file (1,000,000 actas: the load's
#: memory above the read file went from 1,086 MB to 215 MB, benchmarks/bench_scale_pg.py)
CHUNK_ROWS = 50_000


def record_payloads(snapshot_id: int, snap: Snapshot) -> list[str]:
    """Canonical JSON of every ``official_record`` payload of a snapshot, encoded over
    whole columns by Polars (keys in JCS order; integers and strings only)."""
    return _encoded(snapshot_id, snap).to_list()


def _encoded(snapshot_id: int, snap: Snapshot) -> pl.Series:
    """:func:`record_payloads` as a Polars string column, encoded and checked
    :data:`CHUNK_ROWS` actas at a time (the check's second encoding is as large as the
    first: a chunk of it at a time, not the whole file's)."""
    frame = snap.frame
    parts = [_encode(snapshot_id, snap, frame.slice(off, CHUNK_ROWS)) for off in range(0, frame.height, CHUNK_ROWS)]
    if not parts:
        return _encode(snapshot_id, snap, frame)
    return parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False)


def _encode(snapshot_id: int, snap: Snapshot, f: pl.DataFrame) -> pl.Series:
    value_cols = _sorted([*VALUE_TOTALS, *snap.choices])
    fields = {
        "contest": pl.lit(snap.contest, pl.Utf8),
        "levels": pl.struct([pl.col(lv).cast(pl.Utf8) for lv in _sorted(snap.levels)]) if snap.levels else None,
        "snapshot_id": pl.lit(snapshot_id, pl.Int64),
        "unit": pl.col("unit").cast(pl.Utf8),
        "values": pl.struct([pl.col(c).cast(pl.Int64) for c in value_cols]),
    }
    exprs = [e.alias(k) for k, e in ((k, fields[k]) for k in _sorted(fields)) if e is not None]
    encoded = f.select(pl.struct(exprs).struct.json_encode().alias("j")).get_column("j")
    if not snap.levels:  # an empty struct has no JSON form in Polars: splice "levels":{} in
        encoded = encoded.str.replace(',"snapshot_id":', ',"levels":{},"snapshot_id":', literal=True, n=1)
    _check_canonical(snap, value_cols, snapshot_id, encoded, f)
    return encoded


# a string whose JSON form is not just itself in quotes (what Polars and JCS may escape differently)
_ESCAPED = r'["\\\x00-\x1f\x7f\u2028\u2029]'


def _check_canonical(snap: Snapshot, value_cols: list[str], snapshot_id: int, encoded: pl.Series,
                     frame: pl.DataFrame | None = None) -> None:
    """Every payload Polars encoded from ``frame`` (``snap``'s rows, or some of them) is
    canonical JSON, or :class:`NotCanonical` naming the acta.

    Each payload is built a second way, by string concatenation over whole columns with
    the member names in JCS order, and compared with Polars' text; strings that need
    escaping, and rows where the two differ, are checked one by one with
    :func:`parse_canonical`. The log's signing then trusts these rows (the checkpoint is
    signed in the transaction that appended them) instead of parsing 35,000 payloads
    again.
    """
    from escrutinio.publication.entry import parse_canonical

    frame = snap.frame if frame is None else frame

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def string(col: pl.Expr) -> pl.Expr:
        col = col.cast(pl.Utf8)
        return pl.when(col.is_null()).then(pl.lit("null")).otherwise(pl.concat_str([pl.lit('"'), col, pl.lit('"')]))

    def integer(col: pl.Expr) -> pl.Expr:
        col = col.cast(pl.Int64)
        return pl.when(col.is_null()).then(pl.lit("null")).otherwise(col.cast(pl.Utf8))

    parts: list[pl.Expr] = [pl.lit('{"contest":' + q(snap.contest) + ',"levels":{')]
    for i, lv in enumerate(_sorted(snap.levels)):
        parts += [pl.lit(("," if i else "") + q(lv) + ":"), string(pl.col(lv))]
    parts.append(pl.lit('},"snapshot_id":' + str(int(snapshot_id)) + ',"unit":'))
    parts.append(string(pl.col("unit")))
    parts.append(pl.lit(',"values":{'))
    for i, c in enumerate(value_cols):
        parts += [pl.lit(("," if i else "") + q(c) + ":"), integer(pl.col(c))]
    parts.append(pl.lit("}}"))
    texts = [pl.col(c).cast(pl.Utf8) for c in (*snap.levels, "unit")]
    check = frame.select(
        pl.concat_str(parts).alias("built"),
        (pl.any_horizontal([t.str.contains(_ESCAPED).fill_null(False) for t in texts]) if texts else pl.lit(False))
        .alias("escaped"))
    doubt = ((check.get_column("built") != encoded).fill_null(True) | check.get_column("escaped")).arg_true().to_list()
    for i in doubt:
        ok, value = parse_canonical(encoded[i])
        if not ok or not isinstance(value, dict) or value.get("unit") != frame.get_column("unit").cast(pl.Utf8)[i]:
            raise NotCanonical(f"acta {frame.get_column('unit')[i]!r}: its log payload is not canonical JSON: "
                             f"{encoded[i][:200]}")


def _to_parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=False)
    return buf.getvalue()


_PLACEHOLDER_ID = -1


def content_sha256(payloads: list[str]) -> str:
    """The SHA-256 of a contest's records in canonical form, in unit order: equal for the
    same count whatever the file's bytes, format or row order."""
    h = hashlib.sha256()
    for line in sorted(payloads):
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _content_sha256(encoded: pl.Series) -> str:
    """:func:`content_sha256` of a Polars string column, without its Python strings but for
    one chunk at a time: Polars orders strings by their UTF-8 bytes, which is the order of
    their code points, Python's."""
    h = hashlib.sha256()
    order = encoded.arg_sort()
    for off in range(0, len(order), CHUNK_ROWS):
        h.update(("\n".join(encoded.gather(order.slice(off, CHUNK_ROWS)).to_list()) + "\n").encode("utf-8"))
    return h.hexdigest()


def _append_records(session: Session, role: str, encoded: pl.Series, snapshot_id: int) -> None:
    """Log the payloads encoded under the placeholder id as ``snapshot_id``'s, a chunk at a
    time (each chunk extends the chain and the Merkle tree where the last one ended)."""
    # keys are in JCS order and strings are JSON-escaped, so this text occurs once per
    # record, at its snapshot_id member
    old, new = f',"snapshot_id":{_PLACEHOLDER_ID},', f',"snapshot_id":{snapshot_id},'
    for off in range(0, len(encoded), CHUNK_ROWS):
        part = encoded.slice(off, CHUNK_ROWS).str.replace(old, new, literal=True, n=1).to_list()
        log.append_canonical(session, role, "official_record", part)


def election_of(session: Session) -> dict | None:
    """The election this database holds, fixed by its first snapshot: its name and the
    export time of its first dated file."""
    first = session.execute(select(snapshots.c.id, snapshots.c.election, snapshots.c.source)
                            .order_by(snapshots.c.id).limit(1)).first()
    if first is None:
        return None
    times = [r[0] for r in session.execute(select(snapshot_contests.c.exported_at)
                                           .where(snapshot_contests.c.exported_at.is_not(None)))]
    return {"name": first.election, "first_source": first.source, "exported": sorted(times)}


def check_same_election(session: Session, snaps: list[Snapshot], source: str) -> None:
    """Refuse a file of another election, before anything is written."""
    held = election_of(session)
    if held is None:
        return
    names = list(dict.fromkeys(s.election for s in snaps))
    if names != [held["name"]]:
        raise OtherElection(
            f"{source} holds the election {' + '.join(map(repr, names))}, and this database holds {held['name']!r} "
            f"(first loaded from {held['first_source']}): one database holds one election; nothing was loaded")
    times = [s.exported_at for s in snaps if s.exported_at]
    if times and held["exported"]:
        lo, hi = datetime.fromisoformat(held["exported"][0]), datetime.fromisoformat(held["exported"][-1])
        lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
        for t in times:
            t = t.replace(tzinfo=None)
            gap = max((lo - t).days, (t - hi).days)
            if gap > MAX_EXPORT_SPREAD_DAYS:
                raise OtherElection(
                    f"{source} was exported on {t.date().isoformat()}, {gap} days from this database's other exports "
                    f"({lo.date().isoformat()} to {hi.date().isoformat()}): it is not the same election's count; "
                    "nothing was loaded")


def _same_content(session: Session, hashes: dict[str, str]) -> int | None:
    """The snapshot whose contests hold exactly these records, if one is stored."""
    if not hashes:
        return None
    rows = session.execute(select(snapshot_contests.c.snapshot_id, snapshot_contests.c.contest,
                                  snapshot_contests.c.content_sha256)
                           .where(snapshot_contests.c.content_sha256.in_(list(hashes.values())))).all()
    by_snapshot: dict[int, dict[str, str]] = {}
    for r in rows:
        by_snapshot.setdefault(r.snapshot_id, {})[r.contest] = r.content_sha256
    for sid, have in sorted(by_snapshot.items()):
        if have == hashes:
            full = session.execute(select(func.count()).select_from(snapshot_contests)
                                   .where(snapshot_contests.c.snapshot_id == sid)).scalar()
            if full == len(hashes):
                return sid
    return None


def store(session: Session, *, file_sha256: str, source: str, mapping: str | None, snaps: list[Snapshot],
          presets: dict[str, str | None], user: User) -> dict:
    """Store a read snapshot file and log it. Returns {"snapshot_id", "units", "created",
    "in_force", "same_content_as"}: ``in_force`` lists the contests this file now shows on the
    public pages (none for an export older than the one in force)."""
    write_lock(session)
    existing = find(session, file_sha256)
    if existing:
        return {"snapshot_id": existing["id"], "units": existing["units"], "created": False, "in_force": [],
                "same_content_as": None}
    check_same_election(session, snaps, source)
    encoded = {s.contest: _encoded(_PLACEHOLDER_ID, s) for s in snaps}
    hashes = {c: _content_sha256(e) for c, e in encoded.items()}
    twin = _same_content(session, hashes)
    if twin is not None:
        units = session.execute(select(snapshots.c.units).where(snapshots.c.id == twin)).scalar_one()
        audit(session, user, "official_same_content", f"snapshot:{twin}",
              {"source": source, "file_sha256": file_sha256})
        return {"snapshot_id": twin, "units": units, "created": False, "in_force": [], "same_content_as": twin}
    units = sum(s.n_units for s in snaps)
    election = " + ".join(dict.fromkeys(s.election for s in snaps))
    now = utc_now()
    sid = session.execute(insert(snapshots).values(
        file_sha256=file_sha256, source=source, mapping=mapping, election=election, units=units, loaded_at=now,
        loaded_by=user.id).returning(snapshots.c.id)).scalar_one()
    exported = [s.exported_at for s in snaps if s.exported_at]
    exported_at = max(exported).isoformat() if exported else None
    for s in snaps:
        d = s.describe()
        session.execute(insert(snapshot_contests).values(
            snapshot_id=sid, contest=s.contest, election=s.election, exported_at=exported_at, units=s.n_units,
            description=json.dumps(d, ensure_ascii=False), preset=presets.get(s.contest), frame=_to_parquet(s.frame),
            content_sha256=hashes[s.contest]))
    header = log.append(session, user.role, "official_snapshot", {
        "snapshot_id": sid, "file_sha256": file_sha256, "source": source, "election": election,
        "contests": [s.contest for s in snaps], "units": units, "exported_at": exported_at})
    for s in snaps:
        _append_records(session, user.role, encoded.pop(s.contest), sid)
    session.execute(update(snapshots).where(snapshots.c.id == sid).values(log_seq=header["seq"]))
    in_force = [c for c, info in _latest_query(session).items() if info["snapshot_id"] == sid]
    audit(session, user, "official_loaded", f"snapshot:{sid}",
          {"source": source, "file_sha256": file_sha256, "units": units, "contests": [s.contest for s in snaps],
           "in_force": in_force})
    events.publish(session, "snapshot", {"snapshot_id": sid, "contests": [s.contest for s in snaps], "units": units,
                                         "in_force": in_force})
    return {"snapshot_id": sid, "units": units, "created": True, "in_force": in_force, "same_content_as": None,
            "log_first": header["seq"]}


def list_snapshots(session: Session) -> list[dict]:
    q = (select(snapshots.c.id, snapshots.c.source, snapshots.c.file_sha256, snapshots.c.election, snapshots.c.units,
                snapshots.c.loaded_at, snapshot_contests.c.contest, snapshot_contests.c.exported_at)
         .join(snapshot_contests, snapshot_contests.c.snapshot_id == snapshots.c.id).order_by(snapshots.c.id))
    out: dict[int, dict] = {}
    for r in session.execute(q):
        d = out.setdefault(r.id, {"snapshot_id": r.id, "source": r.source, "file_sha256": r.file_sha256,
                                  "election": r.election, "units": r.units, "loaded_at": r.loaded_at, "contests": []})
        d["contests"].append({"contest": r.contest, "exported_at": r.exported_at})
    return list(out.values())


_latest: dict[tuple[str, int], dict] = {}
_last_known: dict[str, dict] = {}  # per database: the answer latest() gave last in this process


def latest(session: Session) -> dict[str, dict]:
    """Per contest, the snapshot in force: the one exported last that includes it (C3: a
    snapshot replaces the previous one wholly, contest by contest; see
    ``publication.precedence``): {contest: {"snapshot_id", "preset", ...}}.
    Cached per process by the newest snapshot id (snapshots are only ever added)."""
    newest_id = session.execute(select(func.max(snapshots.c.id))).scalar() or 0
    url = str(session.get_bind().engine.url)
    key = (url, int(newest_id))
    hit = _latest.get(key)
    if hit is None:
        hit = _latest_query(session)
        if len(_latest) > 64:
            _latest.clear()
        _latest[key] = hit
    _last_known[url] = hit
    return hit


def last_known(session: Session) -> dict[str, dict] | None:
    """What :func:`latest` answered last in this process, without a query: possibly
    stale (another process may have stored a snapshot since), so only for work whose
    snapshot is checked again where it counts, as an entry's is under the write lock
    (``copies.SnapshotChanged``). None before the first :func:`latest`."""
    return _last_known.get(str(session.get_bind().engine.url))


def _latest_query(session: Session) -> dict[str, dict]:
    q = (select(snapshot_contests.c.snapshot_id, snapshot_contests.c.contest, snapshot_contests.c.preset,
                snapshot_contests.c.description, snapshot_contests.c.units, snapshot_contests.c.exported_at,
                snapshots.c.loaded_at)
         .join(snapshots, snapshots.c.id == snapshot_contests.c.snapshot_id)
         .order_by(snapshot_contests.c.snapshot_id, snapshot_contests.c.contest))
    best: dict[str, tuple] = {}
    for r in session.execute(q):
        key = precedence(r.exported_at, r.snapshot_id)
        if r.contest not in best or key > best[r.contest][0]:
            best[r.contest] = (key, r)
    return {c: {"snapshot_id": r.snapshot_id, "contest": r.contest, "preset": r.preset, "units": r.units,
                "loaded_at": r.loaded_at, "exported_at": r.exported_at, "description": json.loads(r.description)}
            for c, (_, r) in sorted(best.items(), key=lambda kv: (kv[1][1].snapshot_id, kv[0]))}


def load(session: Session, snapshot_id: int, contest: str) -> Snapshot:
    """The stored snapshot of one contest (cached per process: a stored snapshot never changes)."""
    return _load(session.get_bind().engine.url.render_as_string(hide_password=False), session, snapshot_id, contest)


def _snapshot(frame: bytes, description: str) -> Snapshot:
    """A stored snapshot back: every field ``Snapshot.describe()`` recorded (so fields
    added to the model later, e.g. mapping-declared levels, survive the round trip)."""
    d = json.loads(description)
    kw = {}
    for f in fields(Snapshot):
        if f.name != "frame" and f.name in d:
            v = d[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    kw["exported_at"] = datetime.fromisoformat(d["exported_at"]) if d.get("exported_at") else None
    return Snapshot(frame=pl.read_parquet(io.BytesIO(frame)), **kw)


_keys: dict[tuple, Snapshot] = {}


def _load(url: str, session: Session, snapshot_id: int, contest: str) -> Snapshot:
    key = (url, snapshot_id, contest)
    hit = _keys.get(key)
    if hit is not None:
        return hit
    row = session.execute(select(snapshot_contests.c.frame, snapshot_contests.c.description).where(
        snapshot_contests.c.snapshot_id == snapshot_id, snapshot_contests.c.contest == contest)).first()
    if row is None:
        raise KeyError(f"no snapshot {snapshot_id} of contest {contest!r}")
    snap = _snapshot(bytes(row.frame), row.description)
    if len(_keys) > 16:
        _keys.clear()
        _indexes.clear()
    _keys[key] = snap
    return snap


_indexes: dict[int, dict[str, int]] = {}


def unit_row(snap: Snapshot, unit: str) -> dict | None:
    """One acta's row of a stored snapshot (first row of that unit code), by a per-process
    index built once per snapshot."""
    index = _indexes.get(id(snap))
    if index is None:
        units = snap.frame.get_column("unit").to_list()
        index = {}
        for i, u in enumerate(units):
            index.setdefault(u, i)
        if len(_indexes) > 32:
            _indexes.clear()
        _indexes[id(snap)] = index
    i = index.get(unit)
    return None if i is None else snap.frame.row(i, named=True)
