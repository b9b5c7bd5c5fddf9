"""Accounts, bearer tokens and the internal audit log (contract C4).

A token is 256 random bits shown once; the database keeps only its SHA-256, so a leaked
database does not leak working tokens. Passwords (for the pages' login form) are argon2
hashes. The audit log names users; the public results log never does.

A token expires (``DEFAULT_TOKEN_DAYS`` after it is issued, or the account's own
lifetime), so a phone lost on election night stops working by itself; an admin can
also revoke an account or rotate its token at once. The last active admin cannot be
revoked: a server nobody can administer is not recoverable through the API.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from escrutinio.publication.entry import utc_now
from escrutinio.server.storage.tables import audit_log, users

ROLES = ("admin", "coordinator", "typist", "watcher", "reader")
DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 3650


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int | None
    name: str
    role: str


PUBLIC = User(None, "public", "reader")

#: bumped after a transaction that revoked an account or replaced a token commits: the
#: server's in-memory cache of verified tokens (``server.auth``) forgets everything then,
#: in this process; other processes forget within the cache's lifetime
token_changes = 0


def _tokens_changed(session: Session) -> None:
    def bump(_session) -> None:
        global token_changes
        token_changes += 1

    event.listen(session, "after_commit", bump, once=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _expiry(days: int | None) -> str:
    lifetime = DEFAULT_TOKEN_DAYS if days is None else days
    return (datetime.now(timezone.utc) + timedelta(days=lifetime)).isoformat(timespec="seconds")


def _check_days(days: int | None) -> None:
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS):
        raise UserError(f"a token lifetime is 1 to {MAX_TOKEN_DAYS} days")


def add_user(session: Session, name: str, role: str, password: str | None = None, by: User | None = None,
             token_days: int | None = None) -> tuple[User, str]:
    """Create an account; returns it and its token (shown once, stored hashed), valid for
    ``token_days`` (default ``DEFAULT_TOKEN_DAYS``)."""
    _check_days(token_days)
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
            uid = session.execute(insert(users).values(
                name=name, role=role, token_hash=hash_token(token), password_hash=pw, active=True, created_at=utc_now(),
                token_days=token_days, token_expires_at=_expiry(token_days)).returning(users.c.id)).scalar_one()
    except IntegrityError as exc:
        raise UserError(f"user {name!r} already exists") from exc
    user = User(uid, name, role)
    audit(session, by, "user_added", f"user:{uid}", {"name": name, "role": role, "token_days": token_days})
    return user, token


def _expired(expires_at: str | None) -> bool:
    # NULL: an account made before tokens expired; it keeps working until rotated
    if not expires_at:
        return False
    return datetime.fromisoformat(expires_at) <= datetime.now(timezone.utc)


def by_token(session: Session, token: str) -> User | None:
    found = by_token_hash(session, hash_token(token))
    return None if found is None else found[0]


def by_token_hash(session: Session, token_hash: str) -> tuple[User, float | None] | None:
    """The account of a token (by its SHA-256) and when the token expires (POSIX seconds;
    None: never), or None when it is unknown, revoked or expired."""
    row = session.execute(select(users.c.id, users.c.name, users.c.role, users.c.token_expires_at)
                          .where(users.c.token_hash == token_hash, users.c.active.is_(True))).first()
    if row is None or _expired(row.token_expires_at):
        return None
    expires = datetime.fromisoformat(row.token_expires_at).timestamp() if row.token_expires_at else None
    return User(row.id, row.name, row.role), expires


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
    session.execute(update(users).where(users.c.id == row.id).values(
        token_hash=hash_token(token), token_expires_at=_expiry(row.token_days)))
    _tokens_changed(session)
    user = User(row.id, row.name, row.role)
    audit(session, user, "login", f"user:{row.id}", {})
    return user, token


def list_users(session: Session) -> list[dict]:
    """Every account, without its token or password hash."""
    return [dict(id=r.id, name=r.name, role=r.role, active=r.active, created_at=r.created_at,
                 token_days=r.token_days, token_expires_at=r.token_expires_at,
                 expired=bool(r.active) and _expired(r.token_expires_at), has_password=r.password_hash is not None)
            for r in session.execute(select(users).order_by(users.c.id))]


def find_account(session: Session, who: str | int):
    q = select(users)
    q = q.where(users.c.id == who) if isinstance(who, int) else q.where(users.c.name == who)
    row = session.execute(q).first()
    if row is None:
        raise UserError(f"no account {who!r}")
    return row


def revoke(session: Session, who: str | int, by: User | None = None) -> dict:
    """Disable an account: its token and password stop working at once."""
    row = find_account(session, who)
    if not row.active:
        raise UserError(f"account {row.name!r} is already revoked")
    if row.role == "admin":
        admins = session.execute(select(func.count()).select_from(users)
                                 .where(users.c.role == "admin", users.c.active.is_(True))).scalar()
        if admins <= 1:
            raise UserError(f"{row.name!r} is the last active admin; add another admin before revoking it")
    session.execute(update(users).where(users.c.id == row.id).values(active=False))
    _tokens_changed(session)
    audit(session, by, "user_revoked", f"user:{row.id}", {"name": row.name, "role": row.role})
    return {"id": row.id, "name": row.name, "role": row.role, "active": False}


def rotate(session: Session, who: str | int, by: User | None = None, token_days: int | None = None) -> tuple[dict, str]:
    """A new token for an active account (the old one stops working); returns it once.
    ``token_days`` also changes the account's token lifetime."""
    _check_days(token_days)
    row = find_account(session, who)
    if not row.active:
        raise UserError(f"account {row.name!r} is revoked; add a new account instead")
    days = row.token_days if token_days is None else token_days
    token = new_token()
    expires = _expiry(days)
    session.execute(update(users).where(users.c.id == row.id).values(
        token_hash=hash_token(token), token_days=days, token_expires_at=expires))
    _tokens_changed(session)
    audit(session, by, "token_rotated", f"user:{row.id}", {"name": row.name, "token_days": days,
                                                           "token_expires_at": expires})
    return {"id": row.id, "name": row.name, "role": row.role, "token_expires_at": expires}, token


def audit_fields(user: User | None, action: str, target: str | None, detail: dict | None) -> dict:
    """An audit line's own fields (before the chain's id, prev and hash)."""
    return dict(time=utc_now(), user_id=user.id if user else None, user_name=user.name if user else None,
                role=user.role if user else None, action=action, target=target,
                detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str))


def audit(session: Session, user: User | None, action: str, target: str | None, detail: dict | None) -> None:
    """One line of the internal audit log: who (user and role), when, what changed."""
    from escrutinio.server.storage import audit_chain  # h23: the audit log is hash-chained

    audit_chain.append(session, **audit_fields(user, action, target, detail))


def audit_entries(session: Session, limit: int = 200, after: int = 0) -> list[dict]:
    q = select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(limit)
    return [{**dict(r._mapping), "detail": json.loads(r.detail or "{}")} for r in session.execute(q)]
