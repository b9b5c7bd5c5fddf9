"""Accounts and the internal audit log (admin)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from escrutinio.server.auth import ROLES, User, require
from escrutinio.server.storage import users as users_repo

router = APIRouter(tags=["admin"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    password: str | None = Field(None, min_length=8, max_length=200)
    token_days: int | None = Field(None, ge=1, le=users_repo.MAX_TOKEN_DAYS,
                                   description=f"token lifetime in days (default {users_repo.DEFAULT_TOKEN_DAYS})")


class RotateIn(BaseModel):
    token_days: int | None = Field(None, ge=1, le=users_repo.MAX_TOKEN_DAYS,
                                   description="a new token lifetime in days (default: the account's own)")


UserId = Path(ge=1, le=2**31 - 1)


@router.post("/users", summary="Create an account; the token is shown once (admin)",
             responses={409: {"description": "name taken"}})
def add_user(body: UserIn, request: Request, user: User = Depends(require("admin"))) -> dict:
    with request.app.state.db.session(write=True) as s:
        try:
            new, token = users_repo.add_user(s, body.name, body.role, body.password, by=user, token_days=body.token_days)
        except users_repo.UserError as exc:
            raise HTTPException(409, str(exc)) from exc
    return {"id": new.id, "name": new.name, "role": new.role, "token": token}


def _known(s, user_id: int) -> None:
    try:
        users_repo.find_account(s, user_id)
    except users_repo.UserError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/users/{user_id}/revoke", summary="Disable an account at once: its token and password stop working (admin)",
             responses={404: {"description": "no such account"}, 409: {"description": "already revoked, or the last admin"}})
def revoke_user(request: Request, user_id: int = UserId, user: User = Depends(require("admin"))) -> dict:
    with request.app.state.db.session(write=True) as s:
        _known(s, user_id)
        try:
            return users_repo.revoke(s, user_id, by=user)
        except users_repo.UserError as exc:
            raise HTTPException(409, str(exc)) from exc


@router.post("/users/{user_id}/rotate", summary="A new token for an account, shown once; the old one stops working (admin)",
             responses={404: {"description": "no such account"}, 409: {"description": "revoked"}})
def rotate_token(request: Request, body: RotateIn | None = None, user_id: int = UserId,
                 user: User = Depends(require("admin"))) -> dict:
    with request.app.state.db.session(write=True) as s:
        _known(s, user_id)
        try:
            out, token = users_repo.rotate(s, user_id, by=user, token_days=body.token_days if body else None)
        except users_repo.UserError as exc:
            raise HTTPException(409, str(exc)) from exc
    return {**out, "token": token}


@router.get("/users", summary="Accounts (admin)")
def list_users(request: Request, user: User = Depends(require("admin"))) -> list[dict]:
    with request.app.state.db.session() as s:
        return users_repo.list_users(s)


@router.get("/audit", summary="The internal audit log: who did what, when (admin)")
def audit_log(request: Request, after: int = Query(0, ge=0, le=2**31 - 1), limit: int = Query(200, ge=1, le=1000),
              user: User = Depends(require("admin"))) -> list[dict]:
    with request.app.state.db.session() as s:
        return users_repo.audit_entries(s, limit, after)


@router.get("/me", summary="The caller's name and role (public: reader)")
def me(request: Request, user: User = Depends(require(*ROLES))) -> dict:
    return {"id": user.id, "name": user.name, "role": user.role}
