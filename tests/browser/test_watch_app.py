"""The watcher's app (/watch) on a 360-pixel phone in chromium: installable (manifest and
service worker, assets served by this server), five actas typed with the network off and
the page reloaded offline, then the network back: all five synced exactly once; a sixth
whose answer is lost on the way back is sent again and counted once.

The server counts entries per table in its own database (the SQLite file), which is what
"exactly once" means here: one row in ``entries`` per acta, one ``entry_submitted`` line
in the audit log.
"""
from __future__ import annotations

import io
import json
import random

import pytest
from sqlalchemy import create_engine, text

from escrutinio.server.testing import head_of
from waiting import wait_until



def login(page, server, token: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#token", token)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
CHOICES = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"]


@pytest.fixture(scope="module")
def field(server, bolivia_2019, tmp_path_factory):
    small = head_of(bolivia_2019["computo"], tmp_path_factory.mktemp("watch") / "computo_2019-10-25.csv.gz", 60)
    server.load_official(small, server.admin)
    from escrutinio.io import read_election

    rows = {r["unit"]: r for r in read_election([str(small)]).snapshots[0].frame.iter_rows(named=True)}
    return server, rows


def _db(server):
    return create_engine(server.database)


def _entries(server) -> dict[str, int]:
    engine = _db(server)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT unit, count(*) FROM entries GROUP BY unit")).all())
    finally:
        engine.dispose()


def _audited(server, action: str) -> int:
    engine = _db(server)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": action}).scalar()
    finally:
        engine.dispose()


def _photo(seed: int, gps: tuple[float, float] | None = None) -> bytes:
    """A phone-sized photo (2000 x 2600) that the app must shrink before sending; with
    ``gps``, the camera's EXIF says when and where it was taken."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGB", (2000, 2600), "white")
    d = ImageDraw.Draw(img)
    for i in range(30):
        y = 100 + i * 80
        d.rectangle([100, y, 1900, y + 60], outline="black", width=4)
        d.rectangle([rng.randint(150, 1700), y + 10, rng.randint(1750, 1880), y + 50], fill="gray")
    out = io.BytesIO()
    exif = Image.Exif()
    if gps is not None:
        exif[0x0112] = 1
        exif.get_ifd(0x8769)[0x9003] = "2019:10:20 19:05:00"
        exif.get_ifd(0x8825).update({1: "S" if gps[0] < 0 else "N", 2: (abs(gps[0]), 0.0, 0.0),
                                     3: "W" if gps[1] < 0 else "E", 4: (abs(gps[1]), 0.0, 0.0)})
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def _type(page, unit: str, row: dict, photo: bytes | None = None) -> None:
    page.fill("#w-unit", unit)
    if photo is not None:
        page.set_input_files("#w-photo", {"name": f"acta-{unit}.jpg", "mimeType": "image/jpeg", "buffer": photo})
        page.wait_for_selector("#w-preview:not([hidden])")
    for i, c in enumerate(CHOICES, start=1):
        page.fill(f"#w-{i}", str(int(row[c])))
    for f in ("blank", "null", "registered", "emitted"):
        page.fill(f"#w-{f}", str(int(row[f])))
    page.dispatch_event("#w-emitted", "input")
    assert page.locator("#checks li.fail").count() == 0, page.inner_text("#checks")
    page.click("#save")
    wait_until(page, "u => document.getElementById('form-message').textContent.indexOf(u) >= 0", unit)


def _states(page) -> dict[str, str]:
    return {i["unit"]: i["state"] for i in page.evaluate("window.escrutinioWatch.items()")}


def test_five_actas_offline_then_synced_once(field, browser, shoot, axe):
    server, rows = field
    units = sorted(rows)[:6]
    token = server.user("watcher-eva", "watcher")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "escrutinio", "server", "phone", "add", "watcher-eva", "--number", "+59171000001",
                           *[a for u in units for a in ("--table", u)], "--database", server.database],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ctx = browser.new_context(locale="es-BO", extra_http_headers={"Accept-Language": "es-BO"}, **PHONE)
    ctx.set_default_timeout(20_000)
    try:
        page = ctx.new_page()
        login(page, server, token)
        assert page.url.endswith("/watch"), page.url                            # a watcher lands on the app
        assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)").endswith("/watch-sw.js")
        wait_until(page, "navigator.serviceWorker.controller !== null")
        manifest = page.request.get(server.url + "/watch.webmanifest")
        assert manifest.ok and json.loads(manifest.text())["start_url"] == "/watch"
        for path in ("/static/vendor/workbox/workbox-sw.js", "/static/vendor/idb-keyval/umd.js", "/static/vendor/workbox/LICENSE"):
            assert page.request.get(server.url + path).ok, path

        assert page.eval_on_selector_all("#w-tables option", "os => os.map(o => o.value)") == units   # the watcher's tables
        problems = axe(page)
        assert problems == "", problems
        ctx.set_offline(True)
        page.reload()                                                            # the service worker serves the app
        assert page.inner_text("#net") == "Sin red: se guarda en este teléfono"
        for k, unit in enumerate(units[:5]):
            # the first photo's EXIF says La Paz, 10,000 km from table 1001 in Berlin
            _type(page, unit, rows[unit], photo=_photo(k, gps=(-16.5, -68.15) if k == 0 else None) if k < 2 else None)
        assert set(_states(page).values()) == {"queued"}
        assert page.locator("#queue li[data-state=queued]").count() == 5
        assert "5 en cola" in page.inner_text("#summary")
        assert _entries(server) == {}                                           # nothing reached the server
        assert page.evaluate("document.documentElement.scrollWidth") <= 360     # no sideways scrolling on the phone
        shoot(page, "watch_offline_queue_es")

        ctx.set_offline(False)                                                   # the "online" event sends the queue
        wait_until(page, "document.querySelectorAll('#queue li[data-state=sent]').length === 5")
        assert set(_states(page).values()) == {"sent"}
        assert _entries(server) == {u: 1 for u in units[:5]}
        assert _audited(server, "entry_submitted") == 5
        assert "Enviada: espera una segunda carga" in page.inner_text("#queue")
        engine = _db(server)
        with engine.connect() as conn:                                           # the photos were shrunk on the phone
            sizes = conn.execute(text("SELECT m.width, m.height, p.size FROM photo_marks m JOIN photos p ON p.sha256 = m.sha256")).all()
        engine.dispose()
        assert len(sizes) == 2 and all(max(w, h) <= 1600 for w, h, _ in sizes), sizes
        assert units[0] == "1001" and "Foto señalada: exif_place" in page.inner_text("#queue li[data-client-id]:last-child")
        engine = _db(server)
        with engine.connect() as conn:                                           # the camera's EXIF survived the shrinking
            kept = conn.execute(text("SELECT exif_time, exif_lat FROM photo_marks WHERE exif_lat IS NOT NULL")).all()
        engine.dispose()
        assert kept == [("2019-10-20T19:05:00", -16.5)], kept
        print("photos as sent by the phone (width, height, bytes):", sizes)
        page.reload()                                                            # reloading sends nothing again
        page.click("#send-now")
        page.wait_for_timeout(1000)
        assert _entries(server) == {u: 1 for u in units[:5]}
        shoot(page, "watch_synced_es")
        typist = ctx.new_page()                                                  # the photo beside the typist's form
        typist.context.clear_cookies()
        login(typist, server, server.user("typist-tom", "typist"))
        typist.goto(server.url + f"/entry/{units[0]}")
        assert typist.locator(".acta-photos figure img").count() == 1
        wait_until(typist, "document.querySelector('.acta-photos figure img').naturalWidth > 0")     # loading="lazy"
        assert typist.evaluate("document.querySelector('.acta-photos figure img').naturalWidth") == 1231
    finally:
        ctx.close()


def test_a_lost_answer_is_retried_and_counted_once(field, browser):
    """Service workers blocked in this context, so that the test can cut the answer on its way back."""
    server, rows = field
    unit = sorted(rows)[5]
    token = server.user("watcher-eva", "watcher")
    ctx = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en-US"}, service_workers="block", **PHONE)
    ctx.set_default_timeout(20_000)
    try:
        page = ctx.new_page()
        login(page, server, token)
        page.goto(server.url + "/watch?every=2")
        posts = []
        cut = {"done": False}

        def drop_answer(route):
            posts.append(route.request.method)
            if cut["done"]:
                return route.continue_()
            route.fetch()                       # the server receives and stores the entry...
            cut["done"] = True
            route.abort("connectionreset")      # ...and the phone never hears back
        page.route("**/api/v1/entries", drop_answer)
        _type(page, unit, rows[unit])
        for _ in range(100):
            if cut["done"]:
                break
            page.wait_for_timeout(100)
        assert cut["done"] and _entries(server).get(unit) == 1                  # stored once, answer lost
        # the timer sends it again (the list is drawn from IndexedDB after every sync)
        wait_until(page, "document.querySelectorAll('#queue li[data-state=sent]').length === 1")
        assert _states(page) == {unit: "sent"}
        assert len(posts) >= 2
        assert _entries(server).get(unit) == 1                                  # and it counted once
        assert _audited(server, "entry_submitted") == 6
        assert "Sent: waiting for a second entry" in page.inner_text("#queue")
        print(f"acta {unit}: {len(posts)} POSTs, {_entries(server)[unit]} entry stored")
    finally:
        ctx.close()
