"""Watchers in the field: phones registered to watchers, SMS gateways, and the inbound
SMS log (append-only).

A gateway's secret is 256 random bits shown once; only its SHA-256 is stored (as for
tokens). An observer's code is not a strong secret (five digits, the last a check
digit printed on the watcher's card) but it is stored hashed with the number all the
same, so a copied database does not hand out working codes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import (Boolean, Column, ForeignKey, Integer, String, Table, Text, func, insert, select)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escrutinio.observers import sms
from escrutinio.publication.entry import utc_now
from escrutinio.server.storage.tables import metadata, users
from escrutinio.server.storage.users import User, audit

LANGUAGES = ("es", "en")

phones = Table(
    "phones", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("language", String(8), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("units", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", String(40), nullable=False),
)

gateways = Table(
    "gateways", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", String(40), nullable=False),
)

sms_messages = Table(
    "sms_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", String(40), nullable=False),
    Column("gateway", String(100), nullable=False),
    Column("message_id", String(100), nullable=True),
    Column("number", String(32), nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("problem", String(40), nullable=True),
    Column("kind", String(10), nullable=True),
    Column("unit", Text, nullable=True),
    Column("contest", Text, nullable=True),
    Column("entry_id", Integer, nullable=True),
    Column("reply", Text, nullable=False),
)


class FieldError(ValueError):
    pass


@dataclass(frozen=True)
class Phone:
    id: int
    number: str
    user: User
    language: str
    units: tuple[str, ...]          # the tables this watcher reports (empty: any)
    code_hash: str


def normalise_number(number: str) -> str:
    """E.164-ish: ``+`` and 6 to 15 digits; spaces, dashes, dots and brackets dropped."""
    raw = re.sub(r"[\s\-().]", "", number or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not re.fullmatch(r"\+?\d{6,15}", raw):
        raise FieldError(f"{number!r} is not a phone number (+ and 6 to 15 digits, e.g. +59171234567)")
    return raw if raw.startswith("+") else "+" + raw


def _code_hash(number: str, code: str) -> str:
    return hashlib.sha256(f"{number}:{code}".encode()).hexdigest()


def add_phone(session: Session, user_name: str, number: str, language: str = "es", units: list[str] | None = None,
              by: User | None = None) -> tuple[Phone, str]:
    """Register ``number`` to the watcher ``user_name``; returns the phone and the
    observer's code (shown once: printed on the watcher's card)."""
    number = normalise_number(number)
    if language not in LANGUAGES:
        raise FieldError(f"language must be one of {', '.join(LANGUAGES)}")
    row = session.execute(select(users).where(users.c.name == user_name, users.c.active.is_(True))).first()
    if row is None:
        raise FieldError(f"no active user {user_name!r} (escrutinio server user add {user_name} --role watcher)")
    if row.role != "watcher":
        raise FieldError(f"user {user_name!r} is a {row.role}; phones are registered to watchers")
    units = sorted({u.strip() for u in (units or []) if u.strip()})
    if any(len(u) > 100 for u in units):
        raise FieldError("a table's name is at most 100 characters")
    code = sms.observer_code(secrets.randbelow(10000))
    try:
        with session.begin_nested():
            pid = session.execute(insert(phones).values(
                number=number, user_id=row.id, language=language, code_hash=_code_hash(number, code),
                units=json.dumps(units), active=True, created_at=utc_now()).returning(phones.c.id)).scalar_one()
    except IntegrityError as exc:
        raise FieldError(f"{number} is already registered") from exc
    user = User(row.id, row.name, row.role)
    # the audit log keeps the number's last digits only: enough to find it, not to call it
    audit(session, by, "phone_added", f"user:{row.id}", {"number": mask(number), "language": language, "units": units})
    return Phone(pid, number, user, language, tuple(units), _code_hash(number, code)), code


def mask(number: str) -> str:
    return number[:4] + "…" + number[-3:] if len(number) > 8 else "…"


def phone_of(session: Session, number: str) -> Phone | None:
    try:
        number = normalise_number(number)
    except FieldError:
        return None
    row = session.execute(select(phones, users.c.name, users.c.role).join(users, users.c.id == phones.c.user_id)
                          .where(phones.c.number == number, phones.c.active.is_(True), users.c.active.is_(True))).first()
    if row is None:
        return None
    return Phone(row.id, row.number, User(row.user_id, row.name, row.role), row.language, tuple(json.loads(row.units)),
                 row.code_hash)


def tables_of(session: Session, user_id: int) -> list[str]:
    """The tables assigned to a watcher's active phones, sorted (empty: any table)."""
    rows = session.execute(select(phones.c.units).where(phones.c.user_id == user_id, phones.c.active.is_(True))).scalars()
    return sorted({u for r in rows for u in json.loads(r)})


def code_matches(phone: Phone, code: str) -> bool:
    return hmac.compare_digest(phone.code_hash, _code_hash(phone.number, code))


def add_gateway(session: Session, name: str, by: User | None = None) -> str:
    """Create a gateway; returns its secret (shown once, stored hashed)."""
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise FieldError("a gateway's name is 1 to 100 letters, digits, '.', '_' or '-'")
    secret = secrets.token_urlsafe(32)
    try:
        with session.begin_nested():
            session.execute(insert(gateways).values(name=name, secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                                                    active=True, created_at=utc_now()))
    except IntegrityError as exc:
        raise FieldError(f"gateway {name!r} already exists") from exc
    audit(session, by, "gateway_added", f"gateway:{name}", {})
    return secret


def gateway_ok(session: Session, name: str, secret: str) -> bool:
    row = session.execute(select(gateways.c.secret_hash).where(gateways.c.name == name, gateways.c.active.is_(True))).first()
    digest = hashlib.sha256((secret or "").encode()).hexdigest()
    # compare even when the gateway is unknown, so timing says nothing about names
    return hmac.compare_digest(row.secret_hash if row else "0" * 64, digest) and row is not None


def recent_count(session: Session, number: str, window_seconds: int) -> int:
    since = (datetime.now(timezone.utc) - timedelta(seconds=window_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return int(session.execute(select(func.count()).select_from(sms_messages)
                               .where(sms_messages.c.number == number, sms_messages.c.received_at >= since)).scalar_one())


def record(session: Session, **row) -> int:
    row.setdefault("received_at", utc_now())
    return session.execute(insert(sms_messages).values(**row).returning(sms_messages.c.id)).scalar_one()


def messages(session: Session, limit: int = 200, after: int = 0) -> list[dict]:
    q = select(sms_messages).where(sms_messages.c.id > after).order_by(sms_messages.c.id).limit(limit)
    return [dict(r._mapping) for r in session.execute(q)]


def watcher_reports(session: Session, contest: str, fields: list[str], units: list[str], check) -> "pl.DataFrame":
    """Watchers' own reports (by SMS or the app) of ``units`` whose acta still waits for
    its second entry and whose numbers pass the acta's checks (``check(values)`` returns
    no finding): a PVT counts them from the moment they arrive, as observer groups do,
    until the acta's double entry settles (agreed, resolved or released replaces them;
    different or quarantined removes them)."""
    import polars as pl

    from escrutinio.server.storage.tables import actas, entries

    q = (select(actas.c.unit, entries.c["values"]).join(entries, entries.c.id == actas.c.first_entry)
         .join(users, users.c.id == entries.c.typist)
         .where(actas.c.contest == contest, actas.c.state == "first_entered", users.c.role == "watcher"))
    wanted = set(units)
    rows = [(r[0], json.loads(r[1])) for r in session.execute(q) if r[0] in wanted]
    rows = [(u, v) for u, v in rows if not check(v)]
    data = {"unit": [u for u, _ in rows], **{f: [v.get(f) for _, v in rows] for f in fields}}
    return pl.DataFrame(data, schema={"unit": pl.Utf8, **{f: pl.Int64 for f in fields}})


def with_watcher_reports(session: Session, snap, cs, units: list[str], check) -> tuple[object, int]:
    """``cs`` (the counted copies as a snapshot, :func:`services.copies_snapshot`) with the
    watchers' single reports of ``units`` that have no counted copy; and how many were added."""
    import polars as pl
    from dataclasses import replace

    from escrutinio.observers import double_entry as de

    fields = list(de.layout_fields(snap.choices))
    have = set(cs.frame.get_column("unit").to_list())
    extra = watcher_reports(session, snap.contest, fields, [u for u in units if u not in have], check)
    if extra.height == 0:
        return cs, 0
    geo = snap.frame.select("unit", "unit_id", "place_id", *snap.levels, *snap.attributes).unique("unit", keep="first")
    extra = extra.join(geo, on="unit", how="left")
    for c in cs.frame.columns:
        if c not in extra.columns:
            extra = extra.with_columns(pl.lit(None, cs.frame.schema[c]).alias(c))
    frame = pl.concat([cs.frame, extra.select(cs.frame.columns).cast(cs.frame.schema)])
    frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=frame.schema["source_row"]).alias("source_row")) \
        if "source_row" in frame.columns else frame
    return replace(cs, frame=frame), extra.height
