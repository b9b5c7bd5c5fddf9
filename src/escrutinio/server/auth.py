"""Who may call what (contract C4).

``require(*roles)`` is a FastAPI dependency returning the caller (``User``: id, name,
role). It reads ``Authorization: Bearer <token>`` or the ``escrutinio_token`` cookie
(set by the pages' login form). No credentials: 401, unless ``reader`` is among the
roles (the public reads without a token). A valid token of a role not listed: 403.
An invalid token is always 401, even where the public may read: a typo in a token
should not silently downgrade a coordinator to the public view.

Verified tokens are kept in memory for ``Settings.token_cache_seconds`` (5 s), by their
hash (:class:`TokenCache`): a revoked token is refused within that time everywhere.
"""
from __future__ import annotations

import time

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from escrutinio.server.storage import users as users_repo
from escrutinio.server.storage.users import PUBLIC, ROLES, User

COOKIE = "escrutinio_token"
ALL_ROLES = ROLES

__all__ = ["require", "User", "ROLES", "ALL_ROLES", "COOKIE", "current_user", "current_user_async", "TokenCache"]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "the Authorization header must be 'Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
        return value.strip()
    return request.cookies.get(COOKIE) or None


class TokenCache:
    """Tokens verified in the last ``ttl`` seconds (``Settings.token_cache_seconds``,
    5 s by default), so that a read does not cost a database round trip per request.

    Keyed by the token's SHA-256, as the database keys it: the token itself is never
    kept. A token revoked, rotated or expired is refused at most ``ttl`` seconds later
    by every process (an entry never outlives the token's own expiry); in the process
    that revoked or rotated it, at once (``users.token_changes``). Unknown tokens are not
    remembered: the rate limit counts those."""

    MAX = 20_000

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[str, tuple[User, float]] = {}
        self._changes = users_repo.token_changes

    def get(self, token_hash: str) -> User | None:
        if self._changes != users_repo.token_changes:
            self._entries.clear()
            self._changes = users_repo.token_changes
        hit = self._entries.get(token_hash)
        if hit is None:
            return None
        if clock() >= hit[1]:
            self._entries.pop(token_hash, None)
            return None
        return hit[0]

    def put(self, token_hash: str, user: User, expires: float | None, changes_before: int) -> None:
        if self.ttl <= 0 or changes_before != users_repo.token_changes:
            return  # a revocation committed while this token was being looked up
        if len(self._entries) >= self.MAX:
            self._entries.clear()
        until = clock() + self.ttl
        if expires is not None:
            until = min(until, clock() + (expires - time.time()))
        self._entries[token_hash] = (user, until)


clock = time.monotonic  # tests move it instead of sleeping


def _cache(request: Request) -> TokenCache:
    state = request.app.state
    cache = getattr(state, "token_cache", None)
    if cache is None:
        cache = state.token_cache = TokenCache(getattr(state.settings, "token_cache_seconds", 5.0))
    return cache


def _lookup(db, token_hash: str):
    with db.session() as s:
        return users_repo.by_token_hash(s, token_hash)


def _unknown() -> HTTPException:
    return HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})


def known_caller(state, authorization: str | None, cookie: str | None) -> bool:
    """For the read cache's fast path (routes that admit every role): True when the
    caller is the public (no credentials) or holds a token verified less than
    ``token_cache_seconds`` ago; False means "ask the route" (which answers 401 to a bad
    token), never "refused"."""
    token = None
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False
        token = value.strip()
    elif cookie is not None and COOKIE in cookie:
        from starlette.requests import cookie_parser

        token = cookie_parser(cookie).get(COOKIE) or None
    if token is None:
        return True
    cache = getattr(state, "token_cache", None)
    return cache is not None and cache.get(users_repo.hash_token(token)) is not None


def _from_memory(request: Request):
    """``(user, None)`` when the caller is known without the database (already resolved
    for this request, the public, or a token verified less than ``token_cache_seconds``
    ago), else ``(None, (cache, token_hash))`` for the lookup."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached, None
    token = _token(request)
    if token is None:
        return PUBLIC, None
    cache, token_hash = _cache(request), users_repo.hash_token(token)
    user = cache.get(token_hash)
    return (user, None) if user is not None else (None, (cache, token_hash))


def _verified(found, cache, token_hash: str, changes) -> User:
    if found is None:
        raise _unknown()
    cache.put(token_hash, *found, changes)
    return found[0]


def current_user(request: Request) -> User:
    """The caller, or the public reader when no credentials are given."""
    user, pending = _from_memory(request)
    if user is None:
        cache, token_hash = pending
        changes = users_repo.token_changes  # read before the lookup: a change during it wins
        user = _verified(_lookup(request.app.state.db, token_hash), cache, token_hash, changes)
    request.state.user = user
    return user


async def current_user_async(request: Request) -> User:
    """:func:`current_user` without a thread hop when the answer is in memory (the
    public, or a token verified less than ``token_cache_seconds`` ago)."""
    user, pending = _from_memory(request)
    if user is None:
        cache, token_hash = pending
        changes = users_repo.token_changes
        user = _verified(await run_in_threadpool(_lookup, request.app.state.db, token_hash), cache, token_hash, changes)
    request.state.user = user
    return user


def require(*roles: str):
    """A dependency that admits only ``roles`` (``reader`` admits the public too)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    allowed = frozenset(roles)

    async def dependency(request: Request) -> User:
        user = await current_user_async(request)
        if user.role in allowed:
            return user
        if user.id is None:
            raise HTTPException(401, f"sign in as {' or '.join(sorted(allowed))}", headers={"WWW-Authenticate": "Bearer"})
        raise HTTPException(403, f"role {user.role} may not do this; needs {' or '.join(sorted(allowed))}")

    dependency.roles = allowed  # read by the app factory to document each route's roles (x-roles)
    return dependency
