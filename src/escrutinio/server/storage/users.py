"""Accounts, bearer tokens and the internal audit log (contract C4).

A token is 256 random bits shown once; the database keeps only its SHA-256, so a leaked
database does not leak working tokens. Passwords (for the pages' login form) are argon2
hashes. The audit log names users; the public results log never does.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escrutinio.publication.entry import utc_now
from escrutinio.server.storage.tables import audit_log, users

ROLES = ("admin", "coordinator", "typist", "watcher", "reader")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int | None
    name: str
    role: str


PUBLIC = User(None, "public", "reader")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def add_user(session: Session, name: str, role: str, password: str | None = None, by: User | None = None) -> tuple[User, str]:
    """Create an account; returns it and its token (shown once, stored hashed)."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError("a user name is 1 to 200 characters")
    token = new_token()
    pw = None
    if password:
        from argon2 import PasswordHasher

        pw = PasswordHasher().hash(password)
    try:
        with session.begin_nested():
            uid = session.execute(insert(users).values(name=name, role=role, token_hash=hash_token(token), password_hash=pw,
                                                       active=True, created_at=utc_now()).returning(users.c.id)).scalar_one()
    except IntegrityError as exc:
        raise UserError(f"user {name!r} already exists") from exc
    user = User(uid, name, role)
    audit(session, by, "user_added", f"user:{uid}", {"name": name, "role": role})
    return user, token


def by_token(session: Session, token: str) -> User | None:
    row = session.execute(select(users.c.id, users.c.name, users.c.role)
                          .where(users.c.token_hash == hash_token(token), users.c.active.is_(True))).first()
    return User(row.id, row.name, row.role) if row else None


def by_password(session: Session, name: str, password: str) -> tuple[User, str] | None:
    """Check a password; on success issue a fresh token (the old one stops working)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError, InvalidHashError

    row = session.execute(select(users).where(users.c.name == name, users.c.active.is_(True))).first()
    if row is None or not row.password_hash:
        return None
    try:
        PasswordHasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    token = new_token()
    session.execute(update(users).where(users.c.id == row.id).values(token_hash=hash_token(token)))
    user = User(row.id, row.name, row.role)
    audit(session, user, "login", f"user:{row.id}", {})
    return user, token


def list_users(session: Session) -> list[dict]:
    return [dict(id=r.id, name=r.name, role=r.role, active=r.active, created_at=r.created_at)
            for r in session.execute(select(users).order_by(users.c.id))]


def audit(session: Session, user: User | None, action: str, target: str | None, detail: dict | None) -> None:
    """One line of the internal audit log: who (user and role), when, what changed."""
    from escrutinio.server.storage import audit_chain  # h23: the audit log is hash-chained

    audit_chain.append(session,
        time=utc_now(), user_id=user.id if user else None, user_name=user.name if user else None,
        role=user.role if user else None, action=action, target=target,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str))


def audit_entries(session: Session, limit: int = 200, after: int = 0) -> list[dict]:
    q = select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(limit)
    return [{**dict(r._mapping), "detail": json.loads(r.detail or "{}")} for r in session.execute(q)]
