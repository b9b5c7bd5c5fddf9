"""Double entry of watchers' copies: a pure state machine, one per (contest, acta).

Every copy of an acta is typed twice, by two different typists, as in the Kiesraad's
Abacus: the second typist never sees the first entry. Equal entries are ``agreed``;
unequal ones are ``different`` until a coordinator chooses the values to keep
(``resolved``). The values a copy ends with are checked by the same rules as
``escrutinio check`` (:mod:`escrutinio.checks`); a copy that fails them is
``quarantined``: kept and flagged, but not counted until a coordinator releases it
(``released``) or resolves it with corrected values.

::

    (none) --submit--> first_entered --submit, other typist, same values--> agreed | quarantined
                                     --submit, other typist, other values--> different
    different   --resolve--> resolved | quarantined
    quarantined --resolve--> resolved | quarantined
    quarantined --release--> released

Counted states: ``agreed``, ``resolved``, ``released``. Submissions carry a client-chosen
id: replaying one returns the original outcome and changes nothing.

Nothing here touches a database or HTTP: :class:`Acta` is an immutable value and every
transition returns a new one (the server stores it).
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

STATES = ("first_entered", "agreed", "different", "resolved", "quarantined", "released")
COUNTED = frozenset({"agreed", "resolved", "released"})
TOTAL_FIELDS = ("blank", "null", "registered", "emitted")


class EntryError(Exception):
    """A transition the state machine refuses. ``status`` is the HTTP status the server maps it to."""

    status = 409
    code = "conflict"


class InvalidValues(EntryError):
    status = 422
    code = "invalid_values"


class SameTypist(EntryError):
    code = "same_typist"


class WrongState(EntryError):
    code = "wrong_state"


class ClientIdReused(EntryError):
    code = "client_id_reused"


@dataclass(frozen=True)
class Entry:
    """One typist's transcription of one copy."""

    entry_id: int
    typist: int
    client_id: str
    values: Mapping[str, int]


@dataclass(frozen=True)
class Acta:
    """The double-entry record of one acta of one contest."""

    unit: str
    contest: str
    state: str
    first: Entry
    second: Entry | None = None
    final: Mapping[str, int] | None = None
    findings: tuple[str, ...] = ()
    resolved_by: int | None = None
    released_by: int | None = None
    note: str = ""
    client_ids: tuple[str, ...] = field(default=())

    @property
    def counted(self) -> bool:
        return self.state in COUNTED

    def entries(self) -> list[Entry]:
        return [e for e in (self.first, self.second) if e is not None]


Checker = Callable[[Mapping[str, int]], Sequence[str]]


def layout_fields(choices: Sequence[str]) -> tuple[str, ...]:
    """The numbers a copy carries: one per choice, then blank, null, registered, emitted."""
    return (*choices, *TOTAL_FIELDS)


def validate_values(values: Mapping, choices: Sequence[str]) -> dict[str, int]:
    """Exactly the acta's fields, each a non-negative integer (booleans and floats are
    refused: a vote count is never 12.0)."""
    if not isinstance(values, Mapping):
        raise InvalidValues("values must be an object {field: integer}")
    expected = layout_fields(choices)
    missing = [f for f in expected if f not in values]
    extra = [f for f in values if f not in expected]
    if missing or extra:
        raise InvalidValues(f"values must have exactly the fields {list(expected)}; missing {missing}, unknown {extra}")
    out = {}
    for f in expected:
        v = values[f]
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidValues(f"{f}: {v!r} is not an integer")
        if v < 0:
            raise InvalidValues(f"{f}: {v} is negative")
        out[f] = int(v)
    return out


def _finish(acta: Acta, values: Mapping[str, int], check: Checker, **changes) -> Acta:
    findings = tuple(check(values))
    state = "quarantined" if findings else changes.pop("ok_state")
    changes.pop("ok_state", None)
    return replace(acta, state=state, final=dict(values), findings=findings, **changes)


def _replay(acta: Acta | None, typist: int, client_id: str, values: Mapping[str, int]) -> Entry | None:
    if acta is None or client_id not in acta.client_ids:
        return None
    for e in acta.entries():
        if e.client_id == client_id:
            if e.typist != typist or dict(e.values) != dict(values):
                raise ClientIdReused(f"client_id {client_id!r} was already used for a different submission")
            return e
    raise ClientIdReused(f"client_id {client_id!r} was already used for a different submission")


def submit(acta: Acta | None, unit: str, contest: str, typist: int, client_id: str, values: Mapping[str, int],
           entry_id: int, check: Checker) -> tuple[Acta, Entry, bool]:
    """Record one typist's entry. Returns (new acta, the entry, replayed?). ``values`` must
    already be validated (:func:`validate_values`). A replay (same client_id, same typist,
    same values) returns the original entry and the acta unchanged."""
    if not client_id:
        raise InvalidValues("client_id is required")
    old = _replay(acta, typist, client_id, values)
    if old is not None:
        return acta, old, True
    entry = Entry(entry_id, typist, client_id, dict(values))
    if acta is None:
        return Acta(unit, contest, "first_entered", entry, client_ids=(client_id,)), entry, False
    if acta.state != "first_entered":
        raise WrongState(f"acta {unit} ({contest}) is {acta.state}: it takes no more entries")
    if acta.first.typist == typist:
        raise SameTypist(f"acta {unit} ({contest}) needs its second entry from a different typist")
    ids = (*acta.client_ids, client_id)
    if dict(acta.first.values) == dict(values):
        return _finish(acta, values, check, second=entry, client_ids=ids, ok_state="agreed"), entry, False
    return replace(acta, state="different", second=entry, client_ids=ids), entry, False


def resolve(acta: Acta, coordinator: int, values: Mapping[str, int], check: Checker, note: str = "") -> Acta:
    """A coordinator keeps ``values`` for an acta whose entries differ (or corrects a
    quarantined one). The values may be either entry's or new ones read off the photo."""
    if acta.state not in ("different", "quarantined"):
        raise WrongState(f"acta {acta.unit} ({acta.contest}) is {acta.state}: only different or quarantined actas are resolved")
    return _finish(acta, values, check, resolved_by=coordinator, note=note, ok_state="resolved")


def release(acta: Acta, coordinator: int, note: str = "") -> Acta:
    """Count a quarantined copy as it is (e.g. the acta itself has an arithmetic slip that
    the watcher transcribed faithfully). The findings stay on record."""
    if acta.state != "quarantined":
        raise WrongState(f"acta {acta.unit} ({acta.contest}) is {acta.state}: only quarantined actas are released")
    return replace(acta, state="released", released_by=coordinator, note=note)


def invariant_violations(acta: Acta) -> list[str]:
    """Everything that must hold of any reachable acta (used by the fuzzer and the store)."""
    bad = []
    if acta.state not in STATES:
        bad.append(f"unknown state {acta.state}")
    if acta.state == "first_entered" and (acta.second is not None or acta.final is not None):
        bad.append("first_entered with a second entry or final values")
    if acta.state != "first_entered" and acta.second is None:
        bad.append(f"{acta.state} without a second entry")
    if acta.second is not None and acta.second.typist == acta.first.typist:
        bad.append("both entries by the same typist")
    if acta.state == "agreed" and not (acta.second and dict(acta.first.values) == dict(acta.second.values) == dict(acta.final or {})):
        bad.append("agreed but entries or final values differ")
    if acta.state == "different" and (acta.final is not None or dict(acta.first.values) == dict(acta.second.values)):
        bad.append("different with equal entries or final values")
    if acta.state in COUNTED and acta.final is None:
        bad.append("counted without final values")
    if acta.state in ("agreed", "resolved") and acta.findings:
        bad.append("counted while failing checks")
    if acta.state in ("quarantined", "released") and not acta.findings:
        bad.append(f"{acta.state} without findings")
    if acta.state == "resolved" and acta.resolved_by is None:
        bad.append("resolved without a coordinator")
    if acta.state == "released" and acta.released_by is None:
        bad.append("released without a coordinator")
    if len(set(acta.client_ids)) != len(acta.client_ids):
        bad.append("client ids repeated")
    return bad


def copy_checker(choices: Sequence[str], contest: str = "copy") -> Checker:
    """The checks of ``escrutinio check`` applied to one copy's values: a one-row snapshot
    run through :func:`escrutinio.checks.check_snapshot`. Returns the failing findings'
    ``rule: detail`` lines."""
    import polars as pl

    from escrutinio.checks import check_snapshot
    from escrutinio.model import Snapshot

    choices = tuple(choices)
    fields = layout_fields(choices)

    # the findings depend on the values alone: a copy's second entry usually repeats the
    # first, and its check (a one-row frame through every rule, ~2 ms) is then looked up
    @functools.lru_cache(maxsize=4096)
    def findings(counts: tuple[int, ...]) -> tuple[str, ...]:
        row = {"unit": "copy", "unit_id": None, "place_id": None, **dict(zip(fields, counts)),
               "valid_reported": None, "valid_system": None, "emitted_system": None, "source_row": 1}
        schema = {"unit": pl.Utf8, "unit_id": pl.Utf8, "place_id": pl.Utf8, **{k: pl.Int64 for k in row if k not in ("unit", "unit_id", "place_id")}}
        snap = Snapshot(election="copy", contest=contest, frame=pl.DataFrame([row], schema=schema), levels=(), choices=choices)
        parts = [p for p in check_snapshot(snap) if p.height]
        return tuple(f"{r['rule']}: {r['detail']}" for p in parts for r in p.iter_rows(named=True))

    def check(values: Mapping[str, int]) -> list[str]:
        return list(findings(tuple(int(values[f]) for f in fields)))

    return check
