"""Accounts an admin can list, revoke and rotate; tokens that expire (issue 22): through
the admin API on both databases, and through `escrutinio server user`."""
import json

from click.testing import CliRunner
from sqlalchemy import update

from escrutinio.cli import main
from escrutinio.server.storage import users
from escrutinio.server.storage.db import Database
from escrutinio.server.storage.tables import users as users_table
from escrutinio.server.testing import database_url, server_client, sqlite_url  # noqa: F401
from escrutinio.server.storage.db import migrate


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_admin_lists_revokes_and_rotates(server_client):
    sc, c = server_client, server_client.client
    admin = sc.headers("admin")
    r = c.post("/api/v1/users", headers=admin, json={"name": "ana", "role": "typist", "token_days": 2})
    assert r.status_code == 200, r.text
    ana = r.json()
    assert c.get("/api/v1/me", headers=_bearer(ana["token"])).json()["name"] == "ana"
    listed = {u["name"]: u for u in c.get("/api/v1/users", headers=admin).json()}
    assert listed["ana"]["token_days"] == 2 and listed["ana"]["active"] and not listed["ana"]["expired"]
    assert not any("token" in k and "hash" in k for u in listed.values() for k in u)

    r = c.post(f"/api/v1/users/{ana['id']}/rotate", headers=admin, json={"token_days": 5})
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert c.get("/api/v1/me", headers=_bearer(ana["token"])).status_code == 401
    assert c.get("/api/v1/me", headers=_bearer(new)).status_code == 200

    assert c.post(f"/api/v1/users/{ana['id']}/revoke", headers=admin).status_code == 200
    assert c.get("/api/v1/me", headers=_bearer(new)).status_code == 401
    assert c.post(f"/api/v1/users/{ana['id']}/revoke", headers=admin).status_code == 409
    assert c.post(f"/api/v1/users/{ana['id']}/rotate", headers=admin).status_code == 409
    assert c.post("/api/v1/users/99999/revoke", headers=admin).status_code == 404
    # only an admin may
    assert c.post(f"/api/v1/users/{ana['id']}/rotate", headers=sc.headers("coordinator")).status_code == 403
    actions = [a["action"] for a in c.get("/api/v1/audit", headers=admin).json()]
    assert "token_rotated" in actions and "user_revoked" in actions
    assert all(new not in json.dumps(a) for a in c.get("/api/v1/audit", headers=admin).json())


def test_the_last_admin_cannot_be_revoked(server_client):
    sc, c = server_client, server_client.client
    admin = sc.headers("admin")
    me = c.get("/api/v1/me", headers=admin).json()
    r = c.post(f"/api/v1/users/{me['id']}/revoke", headers=admin)
    assert r.status_code == 409 and "last active admin" in r.json()["error"]


def test_an_expired_token_is_refused(server_client):
    sc, c = server_client, server_client.client
    token = sc.token("typist", "beto")
    assert c.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    db = Database(sc.url)
    with db.session(write=True) as s:
        s.execute(update(users_table).where(users_table.c.name == "beto").values(token_expires_at="2020-10-18T00:00:00+00:00"))
    db.dispose()
    # changed behind the server's back: refused once its token cache forgets (issue 26)
    sc.app.state.token_cache._entries.clear()
    assert c.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    listed = {u["name"]: u for u in c.get("/api/v1/users", headers=sc.headers("admin")).json()}
    assert listed["beto"]["expired"] is True


def test_cli_user_list_revoke_rotate(tmp_path):
    url = sqlite_url(tmp_path)
    migrate(url)
    run = CliRunner().invoke
    r = run(main, ["server", "user", "add", "ana", "--role", "typist", "--token-days", "3", "--database", url])
    assert r.exit_code == 0, r.output
    first = r.stdout.strip()
    r = run(main, ["server", "user", "list", "--format", "json", "--database", url])
    rows = json.loads(r.stdout)
    assert rows[0]["name"] == "ana" and rows[0]["token_days"] == 3 and first not in r.stdout
    r = run(main, ["server", "user", "rotate", "ana", "--database", url])
    assert r.exit_code == 0, r.output
    second = r.stdout.strip()
    assert second and second != first
    db = Database(url)
    with db.session() as s:
        assert users.by_token(s, first) is None and users.by_token(s, second).name == "ana"
    db.dispose()
    r = run(main, ["server", "user", "revoke", "ana", "--database", url])
    assert r.exit_code == 0, r.output
    r = run(main, ["server", "user", "revoke", "ana", "--database", url])
    assert r.exit_code != 0 and "already revoked" in r.output and "Traceback" not in r.output
    r = run(main, ["server", "user", "list", "--database", url])
    assert "revoked" in r.stdout
