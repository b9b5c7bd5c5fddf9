"""Browser tests of the dashboard: a real `escrutinio serve` on a free loopback port with a
temporary SQLite database, and Debian's chromium driven by Playwright.

Under CI=true a missing chromium or Playwright FAILS the tests; elsewhere they SKIP with
the reason. Screenshots go to tests/_artifacts/screenshots/ (git-ignored).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ESCRUTINIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "tests" / "_artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
COMPUTO_2019 = ROOT / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"
TREP_2019 = ROOT / "examples" / "bolivia" / "2019" / "trep_2019-10-20T19-40-57.csv.gz"
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str):
    """FAIL under CI (the browser is part of what CI must check), else SKIP visibly."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "-m", "escrutinio", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"escrutinio {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


class Server:
    """One running `escrutinio serve` and helpers to drive its API as a test would."""

    def __init__(self, url: str, database: str, workdir: Path, log: Path):
        self.url = url
        self.database = database
        self.workdir = workdir
        self.log = log
        self._tokens: dict[str, str] = {}
        self.admin = ""

    def user(self, name: str, role: str) -> str:
        """A user's token: the admin made at start-up by `escrutinio server user add`, the
        others through the admin API (a CLI process per user costs seconds on a busy machine)."""
        if name not in self._tokens:
            r = self.api("POST", "/api/v1/users", self.admin, json={"name": name, "role": role})
            assert r.status_code == 200, f"creating {name} ({role}): {r.status_code} {r.text[:300]}"
            self._tokens[name] = r.json()["token"]
        return self._tokens[name]

    def api(self, method: str, path: str, token: str | None = None, timeout: float = 300, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with httpx.Client(base_url=self.url, timeout=timeout) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def load_official(self, path: Path, admin_token: str) -> dict:
        with open(path, "rb") as fh:
            r = self.api("POST", "/api/v1/official", admin_token, files={"file": (path.name, fh, "application/gzip")})
        assert r.status_code in (200, 201), f"loading {path.name}: {r.status_code} {r.text[:500]}"
        return r.json()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def start_server(workdir: Path) -> tuple[Server, subprocess.Popen]:
    database = f"sqlite:///{workdir / 'escrutinio.db'}"
    _cli("server", "init", "--database", database)
    port = _free_port()
    log = workdir / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "escrutinio", "serve", "--database", database, "--host", "127.0.0.1", "--port", str(port)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = Server(f"http://127.0.0.1:{port}", database, workdir, log)
    # While the server starts, the test's admin account is made with the documented command.
    server.admin = _cli("server", "user", "add", "dash-admin", "--role", "admin", "--database", database).strip().splitlines()[-1]
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"escrutinio serve exited {proc.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.url + "/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"escrutinio serve did not answer within 60 s:\n{server.log_tail()}")
        time.sleep(0.2)
    return server, proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        unavailable(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # a broken chromium install is as good as none
            unavailable(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    """A fresh server per test module (modules run in file order inside it)."""
    server, proc = start_server(tmp_path_factory.mktemp("serve"))
    try:
        yield server
    finally:
        stop_server(proc)


@pytest.fixture
def page_in(browser, server):
    """page_in("es", token=None) -> a new page whose browser language is `es`, optionally
    logged in through the login form (which sets the HttpOnly cookie)."""
    contexts = []

    def make(locale: str, token: str | None = None):
        ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"Accept-Language": locale})
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        if token:
            login(page, server, token)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, server: Server, token: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#token", token)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it stands."""
    # evaluated, not added as an inline <script>: the pages' Content-Security-Policy
    # forbids inline scripts (issue 23), and the test must not need it lifted
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    violations = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict]) -> str:
    return json.dumps(violations, indent=1, ensure_ascii=False)


@pytest.fixture
def shoot():
    """shoot(page, name): a full-page screenshot into tests/_artifacts/screenshots/."""
    return screenshot


@pytest.fixture
def axe():
    """axe(page) -> axe-core's serious and critical violations, as readable JSON text ('' when none)."""
    def run(page) -> str:
        bad = serious_violations(page)
        return describe(bad) if bad else ""
    return run


@pytest.fixture(scope="session")
def bolivia_2019():
    return {"computo": COMPUTO_2019, "trep": TREP_2019}
