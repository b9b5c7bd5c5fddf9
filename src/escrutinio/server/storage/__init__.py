"""Storage: the repository layer between the API and the database.

Modules: :mod:`.db` (engines, sessions, migrations), :mod:`.tables`, :mod:`.log` (the
results log, contract C3), :mod:`.users` (accounts and the internal audit log),
:mod:`.events` (the change feed behind SSE), :mod:`.official` (snapshots),
:mod:`.copies` (double-entered copies). Other areas add ``server/storage/<area>.py``.

``get_session`` is the FastAPI dependency for routers: a write session (serialised, see
:mod:`.db`) for POST/PUT/PATCH/DELETE, a read session otherwise. It commits when the
route returns normally and rolls back when it raises.
"""
from __future__ import annotations

from typing import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from escrutinio.server.storage.db import Database, migrate, write_lock

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = ["Database", "get_session", "migrate", "write_lock"]


def get_session(request: Request) -> Iterator[Session]:
    db: Database = request.app.state.db
    with db.session(write=request.method not in SAFE_METHODS) as session:
        yield session
