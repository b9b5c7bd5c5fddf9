"""`escrutinio server init | user add | demo` and `escrutinio serve`: the observer network."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from escrutinio.cli import main
from escrutinio.server.settings import DEFAULT_DATABASE

def database_url(ctx, param, value):
    """The database URL, from ``--database``, ``--database @FILE`` (the URL in a file),
    ``ESCRUTINIO_DATABASE`` or ``ESCRUTINIO_DATABASE_FILE``. A password written on the
    command line is refused: every user of the machine sees it in ``ps``."""
    source = ctx.get_parameter_source(param.name) if ctx is not None else None
    file_env = os.environ.get("ESCRUTINIO_DATABASE_FILE")
    if value and value.startswith("@"):
        value = _read_secret(value[1:])
    elif file_env and source is not None and source.name == "DEFAULT":
        value = _read_secret(file_env)
    elif value and source is not None and source.name == "COMMANDLINE" and _has_password(value):
        raise click.BadParameter("a password in --database shows in `ps` to every user of this machine; put the URL in "
                                 "ESCRUTINIO_DATABASE or in a file (--database @FILE, mode 0600), or use PGPASSWORD or "
                                 "~/.pgpass", ctx=ctx, param=param)
    return value


def _read_secret(path: str) -> str:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise click.BadParameter(f"cannot read the database URL from {p}: {exc.strerror or exc}") from None
    if not text:
        raise click.BadParameter(f"{p} is empty: it should hold the database URL")
    if p.stat().st_mode & 0o077:
        click.echo(f"warning: {p} holds a database URL and is readable by others; chmod 600 it", err=True)
    return text


def _has_password(url: str) -> bool:
    try:
        from sqlalchemy.engine import make_url

        return bool(make_url(url).password)
    except Exception:
        return False


DB_OPTION = click.option("--database", default=DEFAULT_DATABASE, show_default=True, envvar="ESCRUTINIO_DATABASE",
                         callback=database_url,
                         help="sqlite:///FILE (embedded) or postgresql://USER@HOST/DB; @FILE reads the URL from a file "
                              "(a password is refused on the command line: use the file or ESCRUTINIO_DATABASE)")


@main.group()
def server() -> None:
    """The observer-network server's database and accounts."""


# `server keygen` and `server tamper-check` are defined with the publication commands
# (cli.publication, which does not import this module: no import cycle)
from escrutinio.cli.publication import keygen_command, tamper_check_command  # noqa: E402

server.add_command(keygen_command())
server.add_command(tamper_check_command())


@server.command("init")
@DB_OPTION
def init(database):
    """Create or upgrade the server's database schema (Alembic migrations)."""
    from escrutinio.server.storage.db import Database, migrate

    rev = migrate(database)
    db = Database(database)
    db.check_schema()
    click.echo(f"database {db.safe_url()} at migration {rev}", err=True)
    db.dispose()


@server.group("user")
def user_group() -> None:
    """Accounts: admin, coordinator, typist, watcher, reader."""


TOKEN_DAYS = click.IntRange(1, 3650)


def _accounts(database, change):
    """Run ``change(session, users)`` on the accounts, a storage error as a one-line error."""
    from escrutinio.errors import UsageError
    from escrutinio.server.storage import users
    from escrutinio.server.storage.db import Database, check_url

    check_url(database, must_exist=True)  # a missing SQLite file is said, never created empty
    db = Database(database)
    db.check_schema()
    try:
        with db.session(write=True) as s:
            return change(s, users)
    except users.UserError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        db.dispose()


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "coordinator", "typist", "watcher", "reader"]))
@click.option("--password-stdin", is_flag=True, help="Also set a password (for the pages' login form), read from stdin.")
@click.option("--token-days", type=TOKEN_DAYS, default=None, help="Token lifetime in days [default: 30].")
@DB_OPTION
def user_add(name, role, password_stdin, token_days, database):
    """Create an account and print its token, alone, on stdout (shown once; stored hashed)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    _, token = _accounts(database, lambda s, users: users.add_user(s, name, role, password, token_days=token_days))
    click.echo(token)


@user_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@DB_OPTION
def user_list(fmt, database):
    """Every account: role, whether it is active, when its token expires (never a token)."""
    rows = _accounts(database, lambda s, users: users.list_users(s))
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    click.echo(f"{'id':>4}  {'name':<24} {'role':<12} {'state':<8} token expires")
    for r in rows:
        state = "revoked" if not r["active"] else ("expired" if r["expired"] else "active")
        click.echo(f"{r['id']:>4}  {r['name'][:24]:<24} {r['role']:<12} {state:<8} {r['token_expires_at'] or 'never'}")


@user_group.command("revoke")
@click.argument("name")
@DB_OPTION
def user_revoke(name, database):
    """Disable an account at once: its token and password stop working."""
    out = _accounts(database, lambda s, users: users.revoke(s, name))
    click.echo(f"revoked {out['name']} ({out['role']})", err=True)


@user_group.command("rotate")
@click.argument("name")
@click.option("--token-days", type=TOKEN_DAYS, default=None, help="A new token lifetime in days [default: the account's].")
@DB_OPTION
def user_rotate(name, token_days, database):
    """Print a new token for an account, alone, on stdout (shown once); the old one stops working."""
    out, token = _accounts(database, lambda s, users: users.rotate(s, name, token_days=token_days))
    click.echo(f"new token for {out['name']}, valid until {out['token_expires_at']}", err=True)
    click.echo(token)


def _settings(database, data_dir, signing_key, roll, places=None, previous=None, previous_mapping=None, roll_mapping=None):
    from escrutinio.server.settings import Settings

    return Settings(database_url=database, data_dir=Path(data_dir) if data_dir else None,
                    signing_key=Path(signing_key) if signing_key else None, roll=Path(roll) if roll else None,
                    places=Path(places) if places else None, previous=Path(previous) if previous else None,
                    previous_mapping=previous_mapping, roll_mapping=roll_mapping)


def _ensure_signing_key(settings, echo) -> None:
    """A server signs its results log from the first snapshot on, so a missing key is
    made here rather than leaving checkpoints unsigned until someone runs keygen."""
    from escrutinio.publication.checkpoint import generate_key, key_id, public_path

    path = Path(settings.signing_key)
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
            echo(f"{path} was readable by others: now 0600")
        return
    # a private folder of its own, never the public publication/ folder
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.parent.name.endswith("-keys"):
        os.chmod(path.parent, 0o700)
    key = generate_key(path)
    echo(f"created the results log's signing key {path} (key id {key_id(key.public_key())}); "
         f"publish {public_path(path)}, keep the key itself secret")


def _first_admin(database) -> str | None:
    """On a database without accounts, create ``admin`` and return its token (once)."""
    from escrutinio.server.storage import users
    from escrutinio.server.storage.db import Database

    db = Database(database)
    try:
        with db.session(write=True) as s:
            if users.list_users(s):
                return None
            return users.add_user(s, "admin", "admin")[1]
    finally:
        db.dispose()


@main.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server worker processes.")
@click.option("--data-dir", default=None, type=click.Path(), help="Photos and uploads (default: next to the database).")
@click.option("--signing-key", default=None, type=click.Path(), help="The results log's signing key file.")
@click.option("--roll", default=None, type=click.Path(exists=True), help="Expected tables, for completeness and projection.")
@click.option("--roll-mapping", default=None, help="The mapping of the --roll file when it is not a bundled layout.")
@click.option("--places", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Polling places with their area type: the projection then models area type x department x "
                   "municipality (needed when cities are counted first).")
@click.option("--previous", default=None, type=click.Path(exists=True, dir_okay=False),
              help="A previous election's count, a covariate of the projection.")
@click.option("--previous-mapping", default=None, help="The mapping of the --previous file when it is not a bundled layout.")
@click.option("--log-level", default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="A line per request on standard output. Off by default: it costs a fifth to a third of the "
                   "throughput of cached reads, and the reverse proxy logs the requests (docs/server.md).")
def serve(database, host, port, workers, data_dir, signing_key, roll, roll_mapping, places, previous, previous_mapping,
          log_level, access_log):
    """Serve the observer network's API (OpenAPI at /openapi.json) and pages.

    The database is created or upgraded first, so on the embedded default this one
    command is enough. On a database without accounts an `admin` account is created and
    its token printed once.
    """
    import uvicorn

    from escrutinio.server.storage.db import check_url, migrate

    check_url(database)
    settings = _settings(database, data_dir, signing_key, roll, places, previous, previous_mapping, roll_mapping)
    # the operator's tuning is checked now (names and values), as every worker will read it
    import dataclasses

    from escrutinio.server.settings import overrides_from_environment

    dataclasses.replace(settings, **overrides_from_environment())
    # a bad roll, places or previous-election file is said now, not at the first snapshot's projection
    if roll_mapping and not roll:
        raise click.UsageError("--roll-mapping needs --roll")
    if roll_mapping:  # without it the roll may be a count read through the uploaded file's mapping
        from escrutinio.app.projection import read_roll_with

        read_roll_with(roll, roll_mapping=roll_mapping)
    if places:
        from escrutinio.app.projection_inputs import read_places

        read_places(places)
    if previous:
        from escrutinio.app.projection_inputs import read_previous

        read_previous(previous, mapping=previous_mapping)
    migrate(settings.database_url)
    _ensure_signing_key(settings, lambda m: click.echo(m, err=True))
    from escrutinio.server.uploads import clean_interrupted

    for gone in clean_interrupted(settings.data_dir):  # no worker runs yet: any upload folder is a crash's
        click.echo(f"removed the interrupted upload {gone}", err=True)
    token = _first_admin(settings.database_url)
    if token:
        click.echo(f"created account 'admin' (role admin); its token, shown once:\n{token}", err=True)
    os.environ["ESCRUTINIO_SETTINGS"] = json.dumps({
        "database_url": settings.database_url, "data_dir": str(settings.data_dir), "signing_key": str(settings.signing_key),
        **{k: str(getattr(settings, k)) if getattr(settings, k) else None
           for k in ("roll", "roll_mapping", "places", "previous", "previous_mapping")}})
    # "serving" only once a worker answers (cli/readiness.py): the port opens long before
    from escrutinio.cli.readiness import announce_when_ready

    click.echo(f"starting {workers} worker(s) for http://{host}:{port}/ ...", err=True)
    announce_when_ready(host, port, f"serving http://{host}:{port}/ (API /api/v1, spec /openapi.json) with "
                        f"{workers} worker(s)", lambda m: click.echo(m, err=True))
    # keep-alive longer than uvicorn's 5 s: under load, a client reusing a connection the
    # server has just closed sees a transport error instead of an answer
    uvicorn.run("escrutinio.server.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=access_log, timeout_keep_alive=30)


@server.command("demo")
@click.option("--database", default="sqlite:///escrutinio-demo.db", show_default=True, envvar="ESCRUTINIO_DATABASE",
              callback=database_url)
@click.option("--actas", default=300, show_default=True, type=click.IntRange(10, 5000), help="Copies entered twice.")
@click.option("--seed", default=2019, show_default=True, type=int)
@click.option("--projection/--no-projection", default=True, show_default=True,
              help="Project the final result from the TREP (takes a few seconds).")
@click.option("--tamper-check", is_flag=True,
              help="End with verify-log passing, then failing after one vote is altered directly in the database.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def demo(database, actas, seed, projection, tamper_check, fmt):
    """Election night from the bundled 2019 data, through the real API: load the TREP
    at 19:40, then the final count; two typists enter copies of a few hundred actas
    (with deliberate transcription slips and a few copies that really differ); a
    coordinator resolves; print the discrepancies and the live results."""
    from escrutinio.server.demo import run_demo

    settings = _settings(database, None, None, None)
    _ensure_signing_key(settings, lambda m: click.echo(m, err=True))
    echo = (lambda m: click.echo(m, err=True)) if fmt == "json" else click.echo
    out = run_demo(database, n_actas=actas, seed=seed, projection=projection, echo=echo)
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
    if tamper_check:
        from escrutinio.cli.publication import run_tamper_check

        if not run_tamper_check(settings, echo):
            sys.exit(1)


@server.group("phone")
def phone_group() -> None:
    """Watchers' phones, for reports by SMS (docs/field.md)."""


@phone_group.command("add")
@click.argument("user")
@click.option("--number", required=True, help="The phone's number, e.g. +59171234567.")
@click.option("--lang", "language", default="es", show_default=True, type=click.Choice(["es", "en"]),
              help="The language of the SMS replies.")
@click.option("--table", "tables", multiple=True, help="A table this watcher reports (repeat; default: any table).")
@DB_OPTION
def phone_add(user, number, language, tables, database):
    """Register a watcher's phone number; prints the observer's code (shown once: print it on the watcher's card)."""
    from escrutinio.errors import UsageError
    from escrutinio.server.storage import field
    from escrutinio.server.storage.db import Database

    db = Database(database)
    db.check_schema()
    try:
        with db.session(write=True) as s:
            phone, code = field.add_phone(s, user, number, language, list(tables))
    except field.FieldError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(f"registered {phone.number} to {user} (replies in {language}); the observer's code, shown once:", err=True)
    click.echo(code)


@server.group("gateway")
def gateway_group() -> None:
    """SMS gateways allowed to post to /api/v1/sms/inbound."""


@gateway_group.command("add")
@click.argument("name")
@DB_OPTION
def gateway_add(name, database):
    """Create an SMS gateway and print its secret, alone, on stdout (shown once; stored hashed)."""
    from escrutinio.errors import UsageError
    from escrutinio.server.storage import field
    from escrutinio.server.storage.db import Database

    db = Database(database)
    db.check_schema()
    try:
        with db.session(write=True) as s:
            secret = field.add_gateway(s, name)
    except field.FieldError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(f"gateway {name}: POST /api/v1/sms/inbound?gateway={name} with this secret in X-Gateway-Secret "
               "(or HTTP basic auth as {name}:SECRET); shown once:".replace("{name}", name), err=True)
    click.echo(secret)
