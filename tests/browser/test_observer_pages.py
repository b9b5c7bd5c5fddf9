"""The observers' pages in a real browser: double entry of one acta through the form by two
typists, resolution by the coordinator, the discrepancy list; what a second typist and a
reader may not see; axe-core on the entry pages.

Acta 1001 (Berlin, embassy) of the 2019 cómputo reads officially CC 129, MAS - IPSP 37.
The watcher's paper copy says CC 130 and MAS - IPSP 36 (one vote moved). The first typist
types the copy faithfully; the second misreads it as the official numbers; the coordinator
keeps the paper's numbers; the discrepancy list then shows CC and MAS - IPSP.
"""
from __future__ import annotations

import re

import pytest

UNIT = "1001"
OFFICIAL = {"CC": 129, "FPV": 0, "MTS": 3, "UCS": 0, "MAS - IPSP": 37, "21F": 0, "PDC": 1, "MNR": 1, "PAN-BOL": 2,
            "blank": 1, "null": 0, "emitted": 174, "registered": 237}
COPY = {**OFFICIAL, "CC": 130, "MAS - IPSP": 36}
FIELD_ORDER = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL", "blank", "null", "registered", "emitted"]


@pytest.fixture(scope="module")
def loaded(server, bolivia_2019):
    server.load_official(bolivia_2019["computo"], server.admin)
    return server


def type_acta(page, values: dict) -> None:
    """Keyboard only, as a typist works: a number, Enter, the next number... Enter on the
    last box saves the form."""
    page.locator("form#acta-form input.n").first.focus()
    names = page.eval_on_selector_all("form#acta-form input.n", "els => els.map(e => e.name)")
    assert names == FIELD_ORDER, names          # the paper's order: choices, blank, null, registered, emitted
    for i, name in enumerate(names):
        page.keyboard.type(str(values[name]))
        if i < len(names) - 1:
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.name") == names[i + 1]


def test_reader_cannot_reach_the_entry_pages(loaded, page_in):
    page = page_in("en-US")
    for path in ("/entry", f"/entry/{UNIT}", "/resolve"):
        page.goto(loaded.url + path)
        assert page.url.startswith(loaded.url + "/login"), (path, page.url)      # anonymous: asked to log in
    reader = page_in("en-US", token=loaded.user("reader", "reader"))
    for path in ("/entry", f"/entry/{UNIT}", "/resolve"):
        response = reader.goto(loaded.url + path)
        assert response.status == 403, (path, response.status)
        assert "Your role cannot open this page." in reader.inner_text("main")
        assert reader.locator("form#acta-form").count() == 0
    assert reader.locator("nav a[href='/entry']").count() == 0                   # not even offered
    r = reader.request.post(loaded.url + f"/entry/{UNIT}", form={"contest": "PRESIDENTE", **{k: str(v) for k, v in COPY.items()}})
    assert r.status == 403


def test_login_rejects_an_unknown_token(loaded, page_in):
    page = page_in("es-BO")
    page.goto(loaded.url + "/login")
    page.fill("#token", "not-a-token")
    page.click("form[action='/login'] button[type=submit]")
    assert "No se reconoció ese token" in page.inner_text("main")
    assert not [c for c in page.context.cookies() if c["name"] == "escrutinio_token"]


def test_double_entry_resolution_and_discrepancy_list(loaded, page_in, shoot, axe):
    first = page_in("es-BO", token=loaded.user("typist-ana", "typist"))
    cookie = [c for c in first.context.cookies() if c["name"] == "escrutinio_token"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert first.evaluate("document.cookie").find("escrutinio_token") < 0        # not readable by scripts
    assert first.url.endswith("/entry")                                           # a typist lands on data entry

    first.fill("#unit", UNIT)
    first.keyboard.press("Enter")
    first.wait_for_url(f"**/entry/{UNIT}")
    assert "Embajada" in first.inner_text(".acta-head")                          # the acta's place, like the paper's header
    shoot(first, "entry_form_empty_es")
    type_acta(first, {**COPY, "emitted": 999})
    checks = first.locator("#checks")
    assert checks.locator("li.fail").count() >= 1                                 # the sum check fails as typed
    first.fill("input[name=emitted]", str(COPY["emitted"]))
    first.dispatch_event("input[name=emitted]", "input")
    assert checks.locator("li.fail").count() == 0 and checks.locator("li.pass").count() == 2
    assert first.inner_text("#valid-sum") == "173"
    shoot(first, "entry_form_filled_es")
    problems = axe(first)
    assert problems == "", problems
    first.locator("input[name=emitted]").press("Enter")                          # Enter on the last box saves
    first.wait_for_url("**/entry?*")
    assert "Primera transcripción guardada" in first.inner_text("#saved")
    first.goto(loaded.url + f"/entry/{UNIT}")                                    # the same typist cannot make the second entry
    for name in FIELD_ORDER:
        first.fill(f"form#acta-form input[name='{name}']", str(COPY[name]))
    first.click("#save")
    assert "la segunda debe hacerla otra persona" in first.inner_text("#entry-error")

    second = page_in("en-US", token=loaded.user("typist-ben", "typist"))
    pending = second.locator("ul.pending a")
    assert pending.count() == 1 and pending.first.inner_text() == f"Acta {UNIT}"
    assert not _shows_number(second.inner_text("main"), "130", "36")
    pending.first.click()
    second.wait_for_url(f"**/entry/{UNIT}*")
    assert second.inner_text("#entry-kind").startswith("Second entry.")
    values = second.eval_on_selector_all("form#acta-form input.n", "els => els.map(e => e.value)")
    assert values == [""] * len(FIELD_ORDER)                                      # the first entry is never shown
    body = second.inner_text("main")
    assert not _shows_number(body, "130", "173")
    shoot(second, "entry_second_en")
    problems = axe(second)
    assert problems == "", problems
    type_acta(second, OFFICIAL)                                                    # misreads the copy
    second.keyboard.press("Enter")
    second.wait_for_url("**/entry?*")
    assert "The two entries differ" in second.inner_text("#saved")

    coordinator = page_in("es-BO", token=loaded.user("coord", "coordinator"))
    assert coordinator.url.endswith("/resolve")
    case = coordinator.locator("section.case").filter(has_text=f"Acta {UNIT}")
    differing = case.locator("tr.differs th").all_inner_texts()
    assert [t.split()[0] for t in differing] == ["CC", "MAS"], differing
    shoot(coordinator, "resolve_es")
    problems = axe(coordinator)
    assert problems == "", problems
    case.locator("input[name='keep_CC']").fill("130")
    case.locator("input[name='keep_MAS - IPSP']").fill("36")
    case.locator("button[type=submit]").click()
    coordinator.wait_for_url("**/resolve?*")
    assert f"Acta {UNIT} resuelta" in coordinator.inner_text("#resolved")

    coordinator.goto(loaded.url + "/discrepancies")
    rows = coordinator.locator(f"#discrepancy-list tr[data-unit='{UNIT}']")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.field)")) == ["CC", "MAS - IPSP"]
    cc = coordinator.locator(f"#discrepancy-list tr[data-unit='{UNIT}'][data-field='CC']").inner_text()
    assert "129" in cc and "130" in cc and "+1" in cc
    shoot(coordinator, "discrepancies_es")
    problems = axe(coordinator)
    assert problems == "", problems

    coordinator.fill("#q-field", "CC")                                            # filters: field, size, area
    coordinator.click("form.filters button[type=submit]")
    assert coordinator.locator("#discrepancy-list tbody tr").evaluate_all("rs => rs.map(r => r.dataset.field)") == ["CC"]
    coordinator.goto(loaded.url + "/discrepancies?min_size=2")
    assert coordinator.locator("#discrepancy-list").count() == 0
    coordinator.goto(loaded.url + "/discrepancies?area=Berl%C3%ADn")
    assert coordinator.locator("#discrepancy-list tbody tr").count() == 2
    coordinator.goto(loaded.url + "/discrepancies?area=Beni")
    assert coordinator.locator("#discrepancy-list").count() == 0


def test_other_pages_render_and_pass_axe(loaded, page_in, shoot, axe):
    page = page_in("en-US")
    for path, name in (("/login", "login_en"), ("/pvt", "pvt_empty_en"), ("/audit", "audit_en")):
        response = page.goto(loaded.url + path)
        assert response.status == 200, path
        shoot(page, name)
        problems = axe(page)
        assert problems == "", (path, problems)


def _official_rows(path, units: set[str]) -> dict[str, dict]:
    """The cómputo's rows for some actas, as the copy fields (the watchers' copies agree)."""
    import csv
    import gzip

    out = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Número Mesa"] in units:
                values = {c: int(row[c]) for c in FIELD_ORDER[:9]}
                values.update(blank=int(row["Blancos"]), null=int(row["Nulos"]), registered=int(row["Inscritos"]))
                values["emitted"] = sum(values[c] for c in FIELD_ORDER[:9]) + values["blank"] + values["null"]
                out[row["Número Mesa"]] = values
    return out


def test_pvt_progress_and_live_estimate(loaded, page_in, shoot, axe, bolivia_2019, tmp_path):
    import json
    import subprocess
    import sys

    design = tmp_path / "design.json"
    subprocess.run([sys.executable, "-m", "escrutinio", "pvt", "design", "--roll", str(bolivia_2019["computo"]), "--n", "30",
                    "--seed", "7", "--strata", "department", "-o", str(design)], check=True, capture_output=True, timeout=300)
    body = json.loads(design.read_text())
    r = loaded.api("POST", "/api/v1/pvt/design", loaded.admin, json=body)
    assert r.status_code == 200, r.text[:300]
    sampled = [u for u in body["sample"] if u != UNIT][:12]
    rows = _official_rows(bolivia_2019["computo"], set(sampled))
    one, two = loaded.user("pvt-typist-1", "typist"), loaded.user("pvt-typist-2", "typist")
    agreed = 0
    for unit in sampled:
        for token, cid in ((one, "a"), (two, "b")):
            r = loaded.api("POST", "/api/v1/entries", token, json={"unit": unit, "contest": "PRESIDENTE", "values": rows[unit],
                                                                  "client_id": f"pvt-{unit}-{cid}"})
            assert r.status_code == 200, r.text[:300]
        agreed += r.json()["state"] == "agreed"
    assert agreed >= 1

    page = page_in("en-US")
    page.goto(loaded.url + "/pvt")
    text = page.inner_text("main")
    assert f"{agreed} of 30 sampled tables reported." in text, text[:600]
    assert page.locator("table").first.locator("tbody tr").count() >= 2          # per stratum
    assert "MAS - IPSP" in text and "estimate, not a count" in text
    assert "have not reported yet: the estimate is provisional" in text
    shoot(page, "pvt_en")
    problems = axe(page)
    assert problems == "", problems


def _shows_number(text: str, *numbers: str) -> bool:
    """Whether any of the first entry's numbers stands in the text as a number of its own:
    the pending list also shows since when an acta waits (10:36:13), which is no leak."""
    return any(re.search(rf"(?<![\d:.,]){n}(?![\d:.,])", text) for n in numbers)


def test_published_audit_page_in_both_languages(loaded, page_in, shoot, axe, bolivia_2019, tmp_path):
    """After the empty audit page above: an administrator publishes a real audit's report
    (300 tables of the 2019 count, hand counts as published), and the page shows its
    status in Spanish and English, and passes axe."""
    from escrutinio.server.testing import head_of, sample_audit_report

    results = head_of(bolivia_2019["computo"], tmp_path / "computo.csv.gz", 300)
    rep = sample_audit_report(results, tmp_path)
    r = loaded.api("POST", "/api/v1/audit/report", loaded.admin, json=rep)
    assert r.status_code == 200, r.text
    for locale, name, says in (("es-BO", "audit_es", "Todas las afirmaciones están confirmadas"),
                               ("en-US", "audit_published_en", "Every assertion is confirmed")):
        page = page_in(locale)
        assert page.goto(loaded.url + "/audit").status == 200
        assert says in page.inner_text("main")
        shoot(page, name)
        problems = axe(page)
        assert problems == "", problems
