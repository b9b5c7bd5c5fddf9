"""Watchers' copies: entries and the double-entry state of each acta.

The transitions are :mod:`escrutinio.observers.double_entry`'s; this module loads an
acta's state, applies one transition and stores the result, in the caller's (write)
transaction. Counted outcomes go to the results log (``copy_agreed``,
``copy_resolved``, ``quarantine_released``) and every change to the event feed.
"""
from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from escrutinio.observers import double_entry as de
from escrutinio.publication.entry import utc_now
from escrutinio.server.storage import events, log
from escrutinio.server.storage.db import write_lock
from escrutinio.server.storage.tables import actas, entries
from escrutinio.server.storage.users import User, audit

LOG_KIND = {"agreed": "copy_agreed", "resolved": "copy_resolved", "released": "quarantine_released"}


def _dumps(values: Mapping) -> str:
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True)


def _entry(row) -> de.Entry:
    return de.Entry(row.id, row.typist, row.client_id, json.loads(row.values))


def get(session: Session, unit: str, contest: str) -> de.Acta | None:
    row = session.execute(select(actas).where(actas.c.unit == unit, actas.c.contest == contest)).first()
    if row is None:
        return None
    ids = [i for i in (row.first_entry, row.second_entry) if i is not None]
    by_id = {r.id: r for r in session.execute(select(entries).where(entries.c.id.in_(ids)))}
    first = _entry(by_id[row.first_entry])
    second = _entry(by_id[row.second_entry]) if row.second_entry is not None else None
    return de.Acta(unit=row.unit, contest=row.contest, state=row.state, first=first, second=second,
                   final=json.loads(row.final) if row.final else None, findings=tuple(json.loads(row.findings)),
                   resolved_by=row.resolved_by, released_by=row.released_by, note=row.note,
                   client_ids=tuple(e.client_id for e in (first, second) if e is not None))


def _save(session: Session, acta: de.Acta, created: bool) -> None:
    bad = de.invariant_violations(acta)
    if bad:  # the domain is fuzzed; this guards the storage round trip
        raise RuntimeError(f"refusing to store an invalid acta {acta.unit}: {bad}")
    row = dict(state=acta.state, first_entry=acta.first.entry_id,
               second_entry=acta.second.entry_id if acta.second else None,
               final=_dumps(acta.final) if acta.final is not None else None, findings=json.dumps(list(acta.findings), ensure_ascii=False),
               resolved_by=acta.resolved_by, released_by=acta.released_by, note=acta.note, updated_at=utc_now())
    if created:
        session.execute(insert(actas).values(unit=acta.unit, contest=acta.contest, **row))
    else:
        session.execute(update(actas).where(actas.c.unit == acta.unit, actas.c.contest == acta.contest).values(**row))


def _log_counted(session: Session, acta: de.Acta, user: User, levels: Mapping[str, str | None]) -> None:
    kind = LOG_KIND.get(acta.state)
    if kind is None:
        return
    payload = {"unit": acta.unit, "contest": acta.contest, "levels": dict(levels), "values": dict(acta.final),
               "entry_id": (acta.second or acta.first).entry_id}
    if acta.note:
        payload["note"] = acta.note
    log.append(session, user.role, kind, payload)


def submit(session: Session, *, unit: str, contest: str, values: Mapping[str, int], client_id: str, user: User,
           check: de.Checker, levels: Mapping[str, str | None], photo_sha256: str | None = None) -> dict:
    """One typist's entry. Returns {"entry_id", "state", "replayed"}."""
    write_lock(session)
    values = dict(values)
    old = session.execute(select(entries).where(entries.c.client_id == client_id)).first()
    if old is not None:
        if (old.unit, old.contest, old.typist, json.loads(old.values)) != (unit, contest, user.id, values):
            raise de.ClientIdReused(f"client_id {client_id!r} was already used for a different submission")
        current = get(session, unit, contest)
        return {"entry_id": old.id, "state": current.state if current else "first_entered", "replayed": True}
    before = get(session, unit, contest)
    entry_id = session.execute(insert(entries).values(
        client_id=client_id, unit=unit, contest=contest, typist=user.id, values=_dumps(values),
        photo_sha256=photo_sha256, created_at=utc_now()).returning(entries.c.id)).scalar_one()
    acta, entry, _ = de.submit(before, unit, contest, user.id, client_id, values, entry_id, check)
    _save(session, acta, created=before is None)
    _log_counted(session, acta, user, levels)
    audit(session, user, "entry_submitted", f"acta:{contest}:{unit}",
          {"entry_id": entry_id, "client_id": client_id, "state": acta.state, "photo_sha256": photo_sha256})
    events.publish(session, "entry", {"unit": unit, "contest": contest, "state": acta.state})
    return {"entry_id": entry_id, "state": acta.state, "replayed": False}


def resolve(session: Session, *, unit: str, contest: str, values: Mapping[str, int], user: User, check: de.Checker,
            levels: Mapping[str, str | None], note: str = "") -> de.Acta:
    write_lock(session)
    before = get(session, unit, contest)
    if before is None:
        raise LookupError(f"no entries for acta {unit} of {contest}")
    acta = de.resolve(before, user.id, dict(values), check, note)
    _save(session, acta, created=False)
    _log_counted(session, acta, user, levels)
    audit(session, user, "entry_resolved", f"acta:{contest}:{unit}",
          {"from": before.state, "to": acta.state, "values": dict(values), "note": note})
    events.publish(session, "entry", {"unit": unit, "contest": contest, "state": acta.state})
    return acta


def release(session: Session, *, unit: str, contest: str, user: User, levels: Mapping[str, str | None], note: str = "") -> de.Acta:
    write_lock(session)
    before = get(session, unit, contest)
    if before is None:
        raise LookupError(f"no entries for acta {unit} of {contest}")
    acta = de.release(before, user.id, note)
    _save(session, acta, created=False)
    _log_counted(session, acta, user, levels)
    audit(session, user, "quarantine_released", f"acta:{contest}:{unit}", {"note": note, "findings": list(acta.findings)})
    events.publish(session, "entry", {"unit": unit, "contest": contest, "state": acta.state})
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
