"""Watchers' copies: entries and the double-entry state of each acta.

The transitions are :mod:`escrutinio.observers.double_entry`'s; this module loads an
acta's state, applies one transition and stores the result, in the caller's (write)
transaction. Counted outcomes go to the results log (``copy_agreed``,
``copy_resolved``, ``quarantine_released``) and every change to the event feed.
"""
from __future__ import annotations

import functools
import json
from typing import Callable, Mapping, Sequence

import polars as pl
from sqlalchemy import Integer, and_, bindparam, case, func, insert, literal, select, true, update
from sqlalchemy.orm import Session

from escrutinio.observers import double_entry as de
from escrutinio.publication.entry import utc_now
from escrutinio.server.storage import events, log
from escrutinio.server.storage.audit_chain import chained
from escrutinio.server.storage.audit_hash import FIELDS as AUDIT_FIELDS
from escrutinio.server.storage.db import execute_together, locked_read
from escrutinio.server.storage.tables import actas, audit_log, entries, log_entries, snapshots
from escrutinio.server.storage.users import User, audit_fields

LOG_KIND = {"agreed": "copy_agreed", "resolved": "copy_resolved", "released": "quarantine_released"}


def _dumps(values: Mapping) -> str:
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True)


_first, _second, _old = entries.alias("first_entry"), entries.alias("second_entry"), entries.alias("old_entry")
_ENTRY = ("id", "typist", "client_id", "values")
_OLD = ("id", "unit", "contest", "typist", "values")


@functools.lru_cache(maxsize=None)
def _read(dialect: str, heads: bool = False, client_id: bool = False, snapshot: bool = False):
    """The query for an acta with its two entries (one row; its acta columns are NULL
    when there is no acta yet), with bind parameters ``unit`` and ``contest``; built once
    per shape, since building and keying it cost more than running it. ``heads``: also
    the results log's and the audit log's last rows; ``client_id``: the entry stored
    under that client id and the id a new entry will get (none for a replay, nor when
    ``snapshot`` is not the newest snapshot: bind parameter ``snapshot_id``)."""
    one = select(literal(1).label("one")).subquery("one")
    cols = [*(c.label(f"a_{c.name}") for c in actas.c), *(_first.c[k].label(f"e1_{k}") for k in _ENTRY),
            *(_second.c[k].label(f"e2_{k}") for k in _ENTRY)]
    joined = (one.outerjoin(actas, and_(actas.c.unit == bindparam("unit"), actas.c.contest == bindparam("contest")))
              .outerjoin(_first, _first.c.id == actas.c.first_entry).outerjoin(_second, _second.c.id == actas.c.second_entry))
    if heads:
        last_log = log.last_row().subquery("log_head")
        last_audit = select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1).subquery("audit_head")
        cols += [last_log.c.seq.label("log_seq"), last_log.c.hash.label("log_hash"),
                 last_audit.c.id.label("audit_id"), last_audit.c.hash.label("audit_hash")]
        joined = joined.outerjoin(last_log, true()).outerjoin(last_audit, true())
    fresh = true()
    if snapshot:
        # snapshots are only ever added, with growing ids: none newer than the one the
        # caller used means the one in force is still that one
        fresh = func.coalesce(select(func.max(snapshots.c.id)).scalar_subquery(), 0) == bindparam("snapshot_id", type_=Integer)
        cols.append(fresh.label("fresh"))
    if client_id:
        cols += [_old.c[k].label(f"old_{k}") for k in _OLD]
        cols.append(case((and_(_old.c.id.is_(None), fresh), _next_entry_id(dialect))).label("next_id"))
        joined = joined.outerjoin(_old, _old.c.client_id == bindparam("client_id"))
    return select(*cols).select_from(joined)


def _next_entry_id(dialect: str):
    """The id the next entry row gets, read with the other heads so that the entry can be
    inserted together with the rows that name it. PostgreSQL: the column's own sequence
    (as its default would); SQLite: the largest rowid plus one, which is how SQLite numbers
    a row of a table without AUTOINCREMENT (the writer holds the database's lock)."""
    if dialect == "postgresql":
        return func.nextval(func.pg_get_serial_sequence("entries", "id"))
    return select(func.coalesce(func.max(entries.c.id), 0) + 1).scalar_subquery()


def _acta(row) -> de.Acta | None:
    if row.a_id is None:
        return None

    def entry(p: str) -> de.Entry | None:
        entry_id = getattr(row, f"{p}_id")
        return None if entry_id is None else de.Entry(entry_id, getattr(row, f"{p}_typist"), getattr(row, f"{p}_client_id"),
                                                      json.loads(getattr(row, f"{p}_values")))

    first, second = entry("e1"), entry("e2")
    if first is None or (row.a_second_entry is not None and second is None):
        raise KeyError(f"acta {row.a_unit} of {row.a_contest} refers to an entry that is not stored")
    return de.Acta(unit=row.a_unit, contest=row.a_contest, state=row.a_state, first=first, second=second,
                   final=json.loads(row.a_final) if row.a_final else None, findings=tuple(json.loads(row.a_findings)),
                   resolved_by=row.a_resolved_by, released_by=row.a_released_by, note=row.a_note,
                   client_ids=tuple(e.client_id for e in (first, second) if e is not None))


def get(session: Session, unit: str, contest: str) -> de.Acta | None:
    return _acta(session.execute(_read(_dialect(session)), {"unit": unit, "contest": contest}).one())


def entered(session: Session, unit: str, contest: str) -> bool:
    """Whether the acta has an entry already (one indexed lookup, outside any lock)."""
    return session.execute(_ENTERED, {"unit": unit, "contest": contest}).first() is not None


# built once: building the expression per entry cost more than running it
_ENTERED = select(actas.c.state).where(actas.c.unit == bindparam("unit"), actas.c.contest == bindparam("contest"))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


class SnapshotChanged(Exception):
    """An official snapshot was stored after the caller worked out, from the one then in
    force, what the change needs (its levels and checks); nothing was written."""


class _Heads:
    """What a change of an acta reads under the writer lock, in one round trip: the acta
    with its entries, the entry already stored under ``client_id``, the results log's and
    the audit log's last rows, the id a new entry will get, and whether ``snapshot_id`` is
    still the newest snapshot (:class:`SnapshotChanged` if not)."""

    def __init__(self, session: Session, unit: str, contest: str, client_id: str | None = None,
                 snapshot_id: int | None = None):
        self.session, self.dialect = session, _dialect(session)
        params = {"unit": unit, "contest": contest}
        if client_id is not None:
            params["client_id"] = client_id
        if snapshot_id is not None:
            params["snapshot_id"] = int(snapshot_id)
        # the first statement of a session opened with lock_with_first_read: the lock goes with it
        row = locked_read(session, _read(self.dialect, True, client_id is not None, snapshot_id is not None), params)
        if snapshot_id is not None and not row.fresh:
            raise SnapshotChanged(f"an official snapshot newer than {snapshot_id} was stored")
        self.acta = _acta(row)
        self.log = log.head_of(row.log_seq, row.log_hash)
        self.audit = (row.audit_id, row.audit_hash)
        self.old = row if client_id is not None and row.old_id is not None else None
        self.next_id = int(row.next_id) if client_id is not None and row.next_id is not None else None

    def audit_row(self, user: User | None, action: str, target: str | None, detail: dict | None) -> dict:
        """The audit row ``users.audit`` would append after the head read here; the head
        moves on to it."""
        row = chained(*self.audit, audit_fields(user, action, target, detail))
        self.audit = (row["id"], row["hash"])
        return row


def _bound(table, prefix: str, columns=None) -> dict:
    return {c: bindparam(prefix + c, type_=table.c[c].type) for c in (columns or table.c.keys())}


_ACTA_ROW = ("state", "first_entry", "second_entry", "final", "findings", "resolved_by", "released_by", "note", "updated_at")
_INSERT_ENTRY = insert(entries).values(_bound(entries, "e_"))
_INSERT_ACTA = insert(actas).values(_bound(actas, "a_", ("unit", "contest", *_ACTA_ROW)))
_UPDATE_ACTA = (update(actas).where(actas.c.unit == bindparam("a_unit"), actas.c.contest == bindparam("a_contest"))
                .values(_bound(actas, "a_", _ACTA_ROW)))
_INSERT_LOG = insert(log_entries).values(_bound(log_entries, "l_"))
_INSERT_AUDIT = insert(audit_log).values(_bound(audit_log, "u_", ("id", "prev", "hash", *AUDIT_FIELDS)))
_INSERT_EVENT = insert(events.events).values(_bound(events.events, "v_", ("time", "kind", "seq", "data")))


def _prefixed(prefix: str, row: dict) -> dict:
    return {prefix + k: v for k, v in row.items()}


def _save(acta: de.Acta, created: bool) -> tuple:
    """The statement that stores ``acta`` (an insert when ``created``) and its parameters."""
    bad = de.invariant_violations(acta)
    if bad:  # the domain is fuzzed; this guards the storage round trip
        raise RuntimeError(f"refusing to store an invalid acta {acta.unit}: {bad}")
    row = dict(unit=acta.unit, contest=acta.contest, state=acta.state, first_entry=acta.first.entry_id,
               second_entry=acta.second.entry_id if acta.second else None,
               final=_dumps(acta.final) if acta.final is not None else None, findings=json.dumps(list(acta.findings), ensure_ascii=False),
               resolved_by=acta.resolved_by, released_by=acta.released_by, note=acta.note, updated_at=utc_now())
    return (_INSERT_ACTA if created else _UPDATE_ACTA), _prefixed("a_", row)


def _changed(heads: _Heads, acta: de.Acta, user: User, levels: Mapping[str, str | None], action: str, detail: dict,
             first: list | None = None, created: bool = False) -> None:
    """Store ``acta`` and what goes with every change of one, after ``first`` (the new
    entry's insert): its results-log entry when it is counted (``copy_agreed``,
    ``copy_resolved``, ``quarantine_released``), the audit row, and the ``entry`` event,
    in one round trip (:func:`execute_together`)."""
    statements = [*(first or []), _save(acta, created)]
    seq = heads.log[0]
    kind = LOG_KIND.get(acta.state)
    if kind is not None:
        payload = {"unit": acta.unit, "contest": acta.contest, "levels": dict(levels), "values": dict(acta.final),
                   "entry_id": (acta.second or acta.first).entry_id}
        if acta.note:
            payload["note"] = acta.note
        rows, _ = log.chained(heads.log, user.role, kind, [payload])
        statements.append((_INSERT_LOG, _prefixed("l_", rows[0])))
        seq += 1
    statements.append((_INSERT_AUDIT, _prefixed("u_", heads.audit_row(user, action, f"acta:{acta.contest}:{acta.unit}", detail))))
    statements.append((_INSERT_EVENT, _prefixed("v_", events.row("entry", {"unit": acta.unit, "contest": acta.contest,
                                                                            "state": acta.state}, seq - 1))))
    execute_together(heads.session, statements)


def submit(session: Session, *, unit: str, contest: str, values: Mapping[str, int], client_id: str, user: User,
           check: de.Checker, levels: Mapping[str, str | None], photo_sha256: str | None = None,
           snapshot_id: int | None = None) -> dict:
    """One typist's entry. Returns {"entry_id", "state", "replayed"}. ``snapshot_id``: the
    snapshot ``check`` and ``levels`` come from, checked in the same query as the rest
    (:class:`SnapshotChanged` when a newer one was stored)."""
    values = dict(values)
    heads = _Heads(session, unit, contest, client_id, snapshot_id)
    old = heads.old
    if old is not None:
        if (old.old_unit, old.old_contest, old.old_typist, json.loads(old.old_values)) != (unit, contest, user.id, values):
            raise de.ClientIdReused(f"client_id {client_id!r} was already used for a different submission")
        # same unit and contest: the acta read with it is the one this entry went to
        return {"entry_id": old.old_id, "state": heads.acta.state if heads.acta else "first_entered", "replayed": True}
    before, entry_id = heads.acta, heads.next_id
    row = (_INSERT_ENTRY, _prefixed("e_", dict(id=entry_id, client_id=client_id, unit=unit, contest=contest, typist=user.id,
                                               values=_dumps(values), photo_sha256=photo_sha256, created_at=utc_now())))
    # a refused entry (same typist, acta closed) writes nothing, also for a caller that
    # goes on with its transaction and commits (the SMS webhook records the refusal in
    # its own message log): no entry row without the acta's change and audit row
    acta, entry, _ = de.submit(before, unit, contest, user.id, client_id, values, entry_id, check)
    _changed(heads, acta, user, levels, "entry_submitted",
             {"entry_id": entry_id, "client_id": client_id, "state": acta.state, "photo_sha256": photo_sha256},
             first=[row], created=before is None)
    return {"entry_id": entry_id, "state": acta.state, "replayed": False}


def resolve(session: Session, *, unit: str, contest: str, values: Mapping[str, int], user: User, check: de.Checker,
            levels: Mapping[str, str | None], note: str = "", snapshot_id: int | None = None) -> de.Acta:
    """A coordinator's values for a differing or quarantined acta (``snapshot_id`` as in
    :func:`submit`)."""
    heads = _Heads(session, unit, contest, snapshot_id=snapshot_id)
    before = heads.acta
    if before is None:
        raise LookupError(f"no entries for acta {unit} of {contest}")
    acta = de.resolve(before, user.id, dict(values), check, note)
    _changed(heads, acta, user, levels, "entry_resolved",
             {"from": before.state, "to": acta.state, "values": dict(values), "note": note})
    return acta


def release(session: Session, *, unit: str, contest: str, user: User, levels: Mapping[str, str | None], note: str = "") -> de.Acta:
    heads = _Heads(session, unit, contest)
    before = heads.acta
    if before is None:
        raise LookupError(f"no entries for acta {unit} of {contest}")
    acta = de.release(before, user.id, note)
    _changed(heads, acta, user, levels, "quarantine_released", {"note": note, "findings": list(acta.findings)})
    return acta


def by_state(session: Session, contest: str | None, states: Sequence[str]) -> list[dict]:
    q = select(actas).where(actas.c.state.in_(list(states))).order_by(actas.c.contest, actas.c.unit)
    if contest is not None:
        q = q.where(actas.c.contest == contest)
    return [dict(r._mapping) for r in session.execute(q)]


def pending(session: Session, contest: str | None, typist: int | None) -> list[dict]:
    """Actas waiting for a second entry, without the first entry's values (the second
    typist must not see them); a typist is not offered the actas they entered first."""
    q = (select(actas.c.unit, actas.c.contest, actas.c.updated_at, entries.c.typist)
         .join(entries, entries.c.id == actas.c.first_entry).where(actas.c.state == "first_entered")
         .order_by(actas.c.contest, actas.c.unit))
    if contest is not None:
        q = q.where(actas.c.contest == contest)
    return [{"unit": r.unit, "contest": r.contest, "since": r.updated_at} for r in session.execute(q)
            if typist is None or r.typist != typist]


def different(session: Session, contest: str | None) -> list[dict]:
    """Actas whose two entries differ (or that are quarantined), with both entries' values."""
    out = []
    for row in by_state(session, contest, ["different", "quarantined"]):
        acta = get(session, row["unit"], row["contest"])
        ids = [e.entry_id for e in acta.entries()]
        photo = dict(session.execute(select(entries.c.id, entries.c.photo_sha256).where(entries.c.id.in_(ids))).all())
        out.append({"unit": acta.unit, "contest": acta.contest, "state": acta.state,
                    "entries": [{"entry_id": e.entry_id, "typist": e.typist, "values": dict(e.values),
                                 "photo_sha256": photo.get(e.entry_id)} for e in acta.entries()],
                    "fields": sorted(k for k in acta.first.values if acta.second and acta.first.values[k] != acta.second.values.get(k)),
                    "final": acta.final, "findings": list(acta.findings), "since": row["updated_at"]})
    return out


def counted_frame(session: Session, contest: str, fields: Sequence[str], units: Sequence[str] | None = None) -> pl.DataFrame:
    """Counted copies of a contest (or of some of its ``units``) as a unit frame:
    ``unit``, ``counted_at`` and ``fields``."""
    q = select(actas.c.unit, actas.c.final, actas.c.updated_at).where(
        actas.c.contest == contest, actas.c.state.in_(sorted(de.COUNTED)))
    if units is not None:
        q = q.where(actas.c.unit.in_(list(units)))
    rows = session.execute(q).all()
    data = {"unit": [r.unit for r in rows], "counted_at": [r.updated_at for r in rows]}
    finals = [json.loads(r.final) for r in rows]
    for f in fields:
        data[f] = [v.get(f) for v in finals]
    return pl.DataFrame(data, schema={"unit": pl.Utf8, "counted_at": pl.Utf8, **{f: pl.Int64 for f in fields}})


def states(session: Session, contest: str | None = None) -> dict[str, int]:
    from sqlalchemy import func

    q = select(actas.c.state, func.count()).group_by(actas.c.state)
    if contest is not None:
        q = q.where(actas.c.contest == contest)
    counts = {s: 0 for s in de.STATES}
    counts.update({s: int(n) for s, n in session.execute(q)})
    return counts


def contests_with_copies(session: Session) -> list[str]:
    return list(session.execute(select(actas.c.contest).distinct().order_by(actas.c.contest)).scalars())
