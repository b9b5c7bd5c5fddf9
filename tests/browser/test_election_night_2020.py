"""Election night on the 2020 count, in a real browser (issue 22).

The five bundled 2020 exports are loaded in export order. Two typists and a coordinator
then enter, compare and resolve an acta of each of the three contests (PRESIDENTE,
DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL, DIPUTADO CIRCUNSCRIPCIÓN ESPECIAL) through the pages
alone: the contest is chosen on the entry page, the second typist finds the acta in the
pending list, the coordinator resolves all three on one page. The public page shows the
latest export throughout.

To extend (reloads, refusals): add steps to ``LOADS`` (a file and the status expected)
and the checks after them; each step asserts the public page still shows ``LATEST``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "examples" / "bolivia" / "2020"
# export order (the files' names carry the export time)
LOADS = [(p, 200) for p in sorted(EXPORTS.glob("computo_2020*"))]
LATEST = "computo_20201019T123834.xlsx"
CONTESTS = ("PRESIDENTE", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL", "DIPUTADO CIRCUNSCRIPCIÓN ESPECIAL")


def _load(server, path: Path, expected: int):
    with open(path, "rb") as fh:
        r = server.api("POST", "/api/v1/official", server.admin, files={"file": (path.name, fh, "application/octet-stream")})
    assert r.status_code == expected, f"{path.name}: {r.status_code} {r.text[:300]}"


def _public_shows_latest(server, page_in) -> None:
    page = page_in("es-BO")
    page.goto(server.url + "/")
    assert LATEST in page.inner_text("[data-figure=completeness]")


def _load_answer(server, path: Path, expected: int) -> dict:
    with open(path, "rb") as fh:
        r = server.api("POST", "/api/v1/official", server.admin, files={"file": (path.name, fh, "application/octet-stream")})
    assert r.status_code == expected, f"{path.name}: {r.status_code} {r.text[:300]}"
    return r.json()


def _contests_in_force(server) -> dict[str, int]:
    return {c["contest"]: c["snapshot_id"] for c in server.api("GET", "/api/v1/contests", server.admin).json()}


@pytest.fixture(scope="module")
def night(server, tmp_path_factory):
    import gzip

    from escrutinio.io import read_snapshots

    assert len(LOADS) == 5
    for path, expected in LOADS:
        _load(server, path, expected)
    in_force = _contests_in_force(server)
    # election night goes on: an earlier export again (same bytes, then re-gzipped) and a
    # file of another election; none of them may change what the public sees
    again = _load_answer(server, EXPORTS / "computo_20201019T013833.csv.gz", 200)
    assert again["created"] is False
    regzipped = tmp_path_factory.mktemp("again") / "computo_20201018T232833.csv.gz"
    regzipped.write_bytes(gzip.compress(gzip.decompress((EXPORTS / regzipped.name).read_bytes()), 1, mtime=1))
    same = _load_answer(server, regzipped, 200)
    assert same["created"] is False and same["same_content_as"] is not None
    refused = _load_answer(server, ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz", 409)
    assert "Bolivia 2019" in refused["error"] and "Bolivia 2020" in refused["error"]
    assert _contests_in_force(server) == in_force
    server.units = {s.contest: s.frame.get_column("unit").to_list()[:3] for s in read_snapshots(EXPORTS / LATEST)}
    assert set(server.units) == set(CONTESTS)
    return server


def _png() -> bytes:
    """A small valid PNG (a grey square): the acta's photo."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * 24 for _ in range(24))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 24, 24, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _fill(page, values: dict[str, int]) -> None:
    names = page.eval_on_selector_all("form#acta-form input.n", "els => els.map(e => e.name)")
    for name in names:
        page.fill(f"form#acta-form input[name='{name}']", str(values.get(name, 0)))


def test_three_contests_entered_compared_and_resolved_through_the_pages(night, page_in, shoot, axe):
    server = night
    first = page_in("es-BO", token=server.user("ana-2020", "typist"))
    second = page_in("es-BO", token=server.user("ben-2020", "typist"))
    coordinator = page_in("es-BO", token=server.user("coord-2020", "coordinator"))
    base = {"blank": 2, "null": 1, "registered": 220}
    typed = {}
    for contest in CONTESTS:
        unit = server.units[contest][0]
        # first typist: chooses the contest beside the acta number
        first.goto(server.url + "/entry")
        first.select_option("#contest", contest)
        first.fill("#unit", unit)
        first.click("form[action='/entry/go'] button[type=submit]")
        first.wait_for_url(f"**/entry/{unit}?*")
        assert contest in first.inner_text("h1")
        assert first.locator("nav.contests a[aria-current=page]").inner_text() == contest
        choices = first.eval_on_selector_all("form#acta-form input.choice", "els => els.map(e => e.name)")
        a, b = choices[0], choices[1]
        one = {a: 100, b: 50, **base, "emitted": 153}
        typed[contest] = (unit, a, b, one)
        _fill(first, one)
        if contest == CONTESTS[0]:
            # the typist attaches the acta's photo; it shows beside the form before saving
            first.set_input_files("#photo", files=[{"name": "acta.png", "mimeType": "image/png", "buffer": _png()}])
            wait_until(first, "!document.getElementById('photo-preview').hidden")
            shoot(first, "night2020_entry_photo_es")
            problems = axe(first)
            assert problems == "", problems
        first.click("#save")
        first.wait_for_url("**/entry?*")
        assert "Primera transcripción guardada" in first.inner_text("#saved")
        # the other contests of the same acta are one click away
        assert first.locator("#saved-others a").count() == 2
    shoot(first, "night2020_entry_saved_es")

    # second typist: finds each acta in the pending list, labelled with its contest
    second.goto(server.url + "/entry")
    for contest in CONTESTS:
        unit, a, b, one = typed[contest]
        item = second.locator("ul.pending li").filter(has_text=f"Acta {unit}").filter(has_text=contest)
        assert item.count() == 1, second.inner_text("ul.pending")
        item.locator("a").click()
        second.wait_for_url(f"**/entry/{unit}?*")
        assert second.inner_text("#entry-kind").startswith("Segunda transcripción.")
        if contest == CONTESTS[0]:
            # the second typist sees the photo of the paper (never the first entry's numbers)
            img = second.locator(".acta-photos img").first
            img.wait_for()
            assert second.evaluate("i => i.complete && i.naturalWidth === 24", img.element_handle())
        _fill(second, {**one, a: 99, b: 51})                            # one vote misread
        second.click("#save")
        second.wait_for_url("**/entry?*")
        assert "Las dos transcripciones difieren" in second.inner_text("#saved"), second.inner_text("#saved")
        second.goto(server.url + "/entry")

    # the coordinator sees the three contests' cases on one page and keeps the paper's numbers
    coordinator.goto(server.url + "/resolve")
    for contest in CONTESTS:
        unit, a, b, one = typed[contest]
        case = coordinator.locator(f"section.case[data-contest='{contest}'][data-unit='{unit}']")
        assert case.count() == 1
        differing = [t.split()[0] for t in case.locator("tr.differs th").all_inner_texts()]
        assert sorted(differing) == sorted([a, b]), differing
        assert case.locator(".acta-photos img").count() == (1 if contest == CONTESTS[0] else 0)
    shoot(coordinator, "night2020_resolve_es")
    problems = axe(coordinator)
    assert problems == "", problems
    assert coordinator.locator("nav.contests a").first.inner_text().startswith("Todas las elecciones")
    for contest in CONTESTS:
        unit, a, b, one = typed[contest]
        case = coordinator.locator(f"section.case[data-contest='{contest}'][data-unit='{unit}']")
        case.locator(f"input[name='keep_{a}']").fill(str(one[a]))
        case.locator(f"input[name='keep_{b}']").fill(str(one[b]))
        case.locator("button[type=submit]").first.click()
        coordinator.wait_for_url("**/resolve?*")
        assert f"Acta {unit} resuelta" in coordinator.inner_text("#resolved")
    assert coordinator.locator("section.case").count() == 0

    # the resolved copies against the official count, contest by contest, in Spanish
    for contest in CONTESTS:
        unit = typed[contest][0]
        coordinator.goto(server.url + "/discrepancies?" + f"contest={contest}")
        main = coordinator.inner_text("main")
        assert "several contests" not in main and "contest=" not in main
        assert coordinator.locator(f"#discrepancy-list tr[data-unit='{unit}']").count() >= 1, main[:1500]
    shoot(coordinator, "night2020_discrepancies_es")
    _public_shows_latest(server, page_in)


def test_public_page_shows_the_latest_export_with_stable_colours(night, page_in, shoot):
    from escrutinio.report.colours import choice_colours, declared_colours

    page = page_in("es-BO")
    page.goto(night.url + "/?contest=PRESIDENTE")
    assert LATEST in page.inner_text("[data-figure=completeness]")
    swatches = dict(page.eval_on_selector_all(
        "#national tbody th", "els => els.map(e => [e.textContent.trim(), e.querySelector('.swatch').style.background])"))
    expected = choice_colours(sorted(swatches), declared_colours("Bolivia 2020"))
    assert expected["MAS_IPSP"] == "#0072B2"                           # declared in the bundled mapping
    for party in ("MAS_IPSP", "CC"):
        r, g, b = (int(expected[party][i:i + 2], 16) for i in (1, 3, 5))
        assert swatches[party] == f"rgb({r}, {g}, {b})", (party, swatches[party], expected[party])
    share = page.inner_text("#tables-share")
    assert share.endswith("%") and not share.startswith("100")
    shoot(page, "night2020_public_es")
