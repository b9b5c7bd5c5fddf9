"""Accounts and the internal audit log (admin)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from escrutinio.server.auth import ROLES, User, require
from escrutinio.server.storage import users as users_repo

router = APIRouter(tags=["admin"])


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    password: str | None = Field(None, min_length=8, max_length=200)


@router.post("/users", summary="Create an account; the token is shown once (admin)",
             responses={409: {"description": "name taken"}})
def add_user(body: UserIn, request: Request, user: User = Depends(require("admin"))) -> dict:
    with request.app.state.db.session(write=True) as s:
        try:
            new, token = users_repo.add_user(s, body.name, body.role, body.password, by=user)
        except users_repo.UserError as exc:
            raise HTTPException(409, str(exc)) from exc
    return {"id": new.id, "name": new.name, "role": new.role, "token": token}


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
