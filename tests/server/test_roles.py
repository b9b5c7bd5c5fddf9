"""Every operation in the OpenAPI spec refuses every role that may not use it.

The roles an operation admits are read from the spec itself (``x-roles``, written by
the app factory from each route's ``require(...)``), so a new endpoint is covered the
moment it exists. A refused caller gets 401 (no or bad credentials) or 403 (wrong
role) with a JSON ``error``, and nothing is written.
"""
import re

from sqlalchemy import text

from escrutinio.server.auth import ROLES


def _fill(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: "a" * 64 if "sha" in m.group(1) else "1", path)


def _count(sc, table):
    with sc.app.state.db.session() as s:
        return s.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_every_operation_refuses_every_other_role(server_client):
    sc, c = server_client, server_client.client
    spec = c.get("/openapi.json").json()
    headers = {role: sc.headers(role) for role in ROLES}
    before = {t: _count(sc, t) for t in ("log_entries", "entries", "events", "snapshots", "explanations")}
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            allowed = set(op["x-roles"])
            assert allowed <= set(ROLES), (path, method)
            callers = [(role, headers[role]) for role in ROLES if role not in allowed]
            if "reader" not in allowed:
                callers.append(("public", {}))
            for who, h in callers:
                r = c.request(method.upper(), _fill(path), headers=h)
                expected = 401 if who == "public" else 403
                assert r.status_code == expected, (method, path, who, r.status_code, r.text[:200])
                assert r.json()["error"], (method, path, who)
                checked += 1
            r = c.request(method.upper(), _fill(path), headers={"Authorization": "Bearer not-a-token"})
            if not (method == "get" and path.endswith("/events")):
                assert r.status_code == 401, (method, path, r.status_code)
    assert checked > 40
    assert {t: _count(sc, t) for t in before} == before


def test_key_operations_name_their_roles(server_client):
    spec = server_client.client.get("/openapi.json").json()
    roles = {(m, p): set(op["x-roles"]) for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert roles[("post", "/api/v1/official")] == {"admin"}
    assert roles[("post", "/api/v1/entries")] == {"typist", "watcher"}
    assert roles[("post", "/api/v1/entries/{unit}/resolve")] == {"coordinator"}
    assert roles[("get", "/api/v1/results")] == set(ROLES)
    assert roles[("get", "/api/v1/discrepancies")] == set(ROLES)
