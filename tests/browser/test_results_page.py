"""The public results page at `/`, in a real browser: live updates over SSE without a
reload, the 2019 cómputo's figures per language, JSON behind every figure, axe-core.

The tests of this module share one server and run in file order: the page is opened on
an empty server, then two official snapshots arrive through the API.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest
from waiting import wait_until

LIVE_TIMEOUT_MS = 5_000   # the acceptance line: the page updates within 5 s of the load


def _mas_row(page):
    return page.locator("#national tr[data-choice='MAS - IPSP']")


def test_page_updates_live_without_reload(server, page_in, shoot, bolivia_2019):
    admin = server.admin
    page = page_in("es")
    page.goto(server.url + "/")
    assert "Todavía no se cargaron resultados oficiales" in page.inner_text("main")
    wait_until(page, "document.getElementById('live-status').textContent.indexOf('En vivo') >= 0")
    page.evaluate("window.__not_reloaded = true")
    shoot(page, "results_empty_es")

    server.load_official(bolivia_2019["trep"], admin)       # the preliminary count, stopped at 83.85 %
    loaded = time.monotonic()
    page.locator("#tables-share").filter(has_text="83,8").wait_for(timeout=LIVE_TIMEOUT_MS)   # rounded down, as the CLI
    print(f"\nlive update after the TREP 19:40 load: {time.monotonic() - loaded:.2f} s (limit {LIVE_TIMEOUT_MS / 1000:.0f} s)")
    assert page.locator(".badge.provisional").first.is_visible()
    verdict = page.inner_text(".verdict")
    assert verdict.startswith("Veredicto") and "Provisional, 83,8" in verdict
    # the completeness note is in the page's language, its figures in the locale's format
    note = page.inner_text(".completeness")
    assert "medido contra los totales oficiales: 34.555 mesas, 7.315.364 inscritos" in note, note
    assert "measured against" not in note
    assert page.evaluate("window.__not_reloaded === true"), "the page reloaded"
    shoot(page, "results_partial_es")

    server.load_official(bolivia_2019["computo"], admin)    # the final count
    loaded = time.monotonic()
    _mas_row(page).filter(has_text="2.889.359").wait_for(timeout=LIVE_TIMEOUT_MS)
    print(f"live update after the cómputo load: {time.monotonic() - loaded:.2f} s (limit {LIVE_TIMEOUT_MS / 1000:.0f} s)")
    assert page.evaluate("window.__not_reloaded === true"), "the page reloaded"
    assert "Cómputo final" in page.inner_text(".completeness")


@pytest.mark.parametrize("locale, votes, share", [("en-US", "2,889,359", "(47.08%)"), ("es-BO", "2.889.359", "(47,08 %)")])
def test_computo_2019_figures_per_language(server, page_in, shoot, bolivia_2019, locale, votes, share):
    admin = server.admin
    server.load_official(bolivia_2019["computo"], admin)    # idempotent: already there when the module runs in order
    page = page_in(locale)
    page.goto(server.url + "/")
    row = _mas_row(page)
    text = row.inner_text().replace("\xa0", " ")
    assert "MAS - IPSP" in text and votes in text and share in text, text
    assert page.locator("html").get_attribute("lang") == locale[:2]
    shoot(page, f"results_{locale[:2]}")


def test_language_switch_persists(server, page_in):
    page = page_in("en-US")
    page.goto(server.url + "/")
    page.click("nav.lang a[hreflang='es']")
    assert page.locator("html").get_attribute("lang") == "es"
    page.goto(server.url + "/")                  # the cookie keeps the choice over the browser's language
    assert "Veredicto según la ley" in page.inner_text("main")


def test_every_figure_links_to_json(server, page_in):
    page = page_in("en-US")
    page.goto(server.url + "/")
    figures = page.locator("[data-figure]")
    assert figures.count() >= 5
    for i in range(figures.count()):
        figure = figures.nth(i)
        links = figure.locator("a.json")
        assert links.count() >= 1, f"figure {figure.get_attribute('data-figure')} has no JSON link"
        href = links.first.get_attribute("href")
        r = httpx.get(server.url + href, timeout=60)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), (href, r.status_code)


def test_results_page_shows_verdict_distances_and_map(server, page_in):
    page = page_in("en-US")
    page.goto(server.url + "/")
    verdict = page.inner_text(".verdict")
    assert "MAS - IPSP wins in the first round" in verdict
    assert re.search(r"lead ≥ 10 points\s+✓ yes.*\+34,671\s+17,336", verdict, re.S), verdict
    assert page.locator(".map svg path.dot").count() >= 1
    assert "places" in page.inner_text(".map .legend")


def test_results_page_accessibility(server, page_in, axe):
    for locale in ("es-BO", "en-US"):
        page = page_in(locale)
        page.goto(server.url + "/")
        problems = axe(page)
        assert problems == "", problems


def test_a_stale_token_does_not_hide_the_public_page(server, page_in):
    page = page_in("en-US")
    page.context.add_cookies([{"name": "escrutinio_token", "value": "revoked-or-mistyped", "url": server.url}])
    page.goto(server.url + "/")
    assert "2,889,359" in _mas_row(page).inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == "escrutinio_token"]   # dropped


def test_keyboard_reaches_the_content_first(server, page_in):
    page = page_in("es-BO")
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("document.activeElement.textContent") == "Ir al contenido"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")                                  # next stop: inside the results, not the menu
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
