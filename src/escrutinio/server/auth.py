"""Who may call what (contract C4).

``require(*roles)`` is a FastAPI dependency returning the caller (``User``: id, name,
role). It reads ``Authorization: Bearer <token>`` or the ``escrutinio_token`` cookie
(set by the pages' login form). No credentials: 401, unless ``reader`` is among the
roles (the public reads without a token). A valid token of a role not listed: 403.
An invalid token is always 401, even where the public may read: a typo in a token
should not silently downgrade a coordinator to the public view.
"""
from __future__ import annotations

from fastapi import HTTPException, Request

from escrutinio.server.storage import users as users_repo
from escrutinio.server.storage.users import PUBLIC, ROLES, User

COOKIE = "escrutinio_token"
ALL_ROLES = ROLES

__all__ = ["require", "User", "ROLES", "ALL_ROLES", "COOKIE", "current_user"]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "the Authorization header must be 'Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
        return value.strip()
    return request.cookies.get(COOKIE) or None


def current_user(request: Request) -> User:
    """The caller, or the public reader when no credentials are given."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    token = _token(request)
    if token is None:
        user = PUBLIC
    else:
        with request.app.state.db.session() as s:
            user = users_repo.by_token(s, token)
        if user is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user
    return user


def require(*roles: str):
    """A dependency that admits only ``roles`` (``reader`` admits the public too)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    allowed = frozenset(roles)

    def dependency(request: Request) -> User:
        user = current_user(request)
        if user.role in allowed:
            return user
        if user.id is None:
            raise HTTPException(401, f"sign in as {' or '.join(sorted(allowed))}", headers={"WWW-Authenticate": "Bearer"})
        raise HTTPException(403, f"role {user.role} may not do this; needs {' or '.join(sorted(allowed))}")

    dependency.roles = allowed  # read by the app factory to document each route's roles (x-roles)
    return dependency
