"""The pages on the 2020 count (three contests per acta), rendered in process (no browser):

* every page offers the contests and takes any of them, remembered per browser;
* the API says which contests there are when one is needed and missing;
* party colours follow the name, not the rank: MAS_IPSP and CC keep theirs between the
  23:28 and the 12:38 exports;
* the Spanish scan: every page, every contest, every role, in Spanish, has no message left
  in English and no raw identifier (rule ids, field names, area codes, method names).
"""
from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest

from escrutinio.server.testing import ServerClient, sqlite_url

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "examples" / "bolivia" / "2020"
FIRST, LATEST = EXPORTS / "computo_20201018T232833.csv.gz", EXPORTS / "computo_20201019T123834.xlsx"
_named: dict = {}
CONTESTS = ("PRESIDENTE", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL", "DIPUTADO CIRCUNSCRIPCIÓN ESPECIAL")


class Visible(HTMLParser):
    """The text a reader sees (and the alt/title/placeholder/aria-label they hear)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for k, v in attrs:
            if k in ("alt", "title", "placeholder", "aria-label") and v:
                self.parts.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    p = Visible()
    p.feed(html)
    return "\n".join(p.parts)


def units_of(path: Path) -> dict[str, list[str]]:
    from escrutinio.io import read_snapshots

    return {s.contest: s.frame.get_column("unit").head(5).to_list() for s in read_snapshots(path)}


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("night")
    from escrutinio.server.storage.db import Database, migrate

    url = sqlite_url(tmp)
    migrate(url)
    sc = ServerClient(url, tmp)
    sc.load(FIRST)
    colours_first = {c: page_colours(sc, c) for c in CONTESTS if c in contests(sc)}
    sc.load(LATEST)
    sc.colours_first = colours_first
    sc.units = units_of(LATEST)
    _pvt(sc)
    yield sc
    sc.close()


def _pvt(sc) -> None:
    """A PVT sample of the latest PRESIDENTE export, strata by municipality (the small ones
    pooled: "(other: K strata)"), with agreed copies of a few sampled tables."""
    import json

    from escrutinio.io import read_snapshots
    from escrutinio.pvt.design import make_design

    snap = next(s for s in read_snapshots(LATEST) if s.contest == "PRESIDENTE")
    design = make_design(snap.frame, 40, "2026", ["department"], list(snap.levels), min_per_stratum=6)
    r = sc.client.post("/api/v1/pvt/design", json=json.loads(design.to_json()), headers=sc.headers("admin"))
    assert r.status_code == 200, r.text
    rows = {r["unit"]: r for r in snap.frame.iter_rows(named=True)}
    for unit in design.sample[:12]:
        row = rows[unit]
        values = {c: int(row[c]) for c in snap.choices} | {k: int(row[k]) for k in ("blank", "null", "registered", "emitted")}
        for typist in ("pvt-a", "pvt-b"):
            r = sc.client.post("/api/v1/entries", json={"unit": unit, "contest": "PRESIDENTE", "values": values,
                                                       "client_id": uuid.uuid4().hex}, headers=_pvt_headers(sc, typist))
            assert r.status_code == 200, r.text


def _pvt_headers(sc, name):
    if (id(sc), name) not in _named:
        _named[(id(sc), name)] = sc.token("typist", name)
    return {"Authorization": f"Bearer {_named[(id(sc), name)]}"}


def contests(sc) -> list[str]:
    return [c["contest"] for c in sc.client.get("/api/v1/contests", headers=sc.headers("reader")).json()]


def page_colours(sc, contest: str) -> dict[str, str]:
    html = sc.client.get("/", params={"contest": contest}).text
    return dict((name, colour) for colour, name in
                re.findall(r'<span class="swatch" style="background: (#[0-9A-Fa-f]{6})" aria-hidden="true"></span>([^<]+)</th>', html))


def test_colours_stay_with_the_party_between_exports(night):
    assert set(night.colours_first) >= {"PRESIDENTE"}
    for contest, first in night.colours_first.items():
        latest = page_colours(night, contest)
        for party in ("MAS_IPSP", "CC"):
            assert first[party] == latest[party], (contest, party, first[party], latest[party])
        assert first["MAS_IPSP"] != first["CC"]


def test_api_names_the_contests_when_one_is_needed(night):
    for path in ("/api/v1/results", "/api/v1/discrepancies", "/api/v1/units/1001", "/api/v1/pvt/estimate",
                 "/pages/places.json", "/pages/series.json"):
        r = night.client.get(path, headers=night.headers("coordinator"))
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        body = r.json()
        assert body["code"] == "contest_required" and set(body["contests"]) == set(CONTESTS), body
        assert body["contests"][0] == "PRESIDENTE"


def _login(sc, role: str, name: str | None = None):
    sc.client.cookies.clear()
    if name and (id(sc), name) not in _named:
        _named[(id(sc), name)] = sc.token(role, name)
    sc.client.cookies.set("escrutinio_token", _named[(id(sc), name)] if name else sc.token(role))


def _enter(sc, unit: str, contest: str, values: dict) -> str:
    layout = sc.client.get(f"/api/v1/units/{unit}", params={"contest": contest}, headers=sc.headers("reader")).json()
    form = {"contest": contest, "client_id": uuid.uuid4().hex}
    for c in layout["choices"]:
        form[c] = str(values.get(c, 0))
    form.update({k: str(values[k]) for k in ("blank", "null", "registered", "emitted")})
    r = sc.client.post(f"/entry/{unit}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    return r.headers["location"]


def test_actas_of_every_contest_through_the_pages(night):
    """Two typists enter an acta of each contest, differently; the coordinator sees all
    three on the resolve page (findings in Spanish) and resolves them."""
    for i, contest in enumerate(CONTESTS):
        unit = night.units[contest][0]
        _login(night, "typist", "typist-a")
        first = {"blank": 1, "null": 2, "registered": 300, "emitted": 13}
        layout = night.client.get(f"/api/v1/units/{unit}", params={"contest": contest}, headers=night.headers("reader")).json()
        a, b = layout["choices"][0], layout["choices"][1]
        where = _enter(night, unit, contest, {a: 10, **first})
        assert "state=first_entered" in where
        page = night.client.get(where, headers={"Accept-Language": "es"}).text
        assert "La misma acta para otra elección" in page
        _login(night, "typist", "typist-b")
        # the second typist's acta fails the sum check: quarantined or different, both to resolve
        where = _enter(night, unit, contest, {a: 10, b: 1, **first})
        assert "state=different" in where, where
    # an acta both typists read the same way, failing the sum: quarantined, with its finding
    unit, contest = night.units[CONTESTS[0]][2], CONTESTS[0]
    bad = {"CREEMOS": 10, "MAS_IPSP": 1, "blank": 1, "null": 2, "registered": 300, "emitted": 13}
    for name in ("typist-a", "typist-b"):
        _login(night, "typist", name)
        where = _enter(night, unit, contest, bad)
    assert "state=quarantined" in where, where
    _login(night, "coordinator")
    html = night.client.get("/resolve", headers={"Accept-Language": "es"}).text
    for contest in CONTESTS:
        assert f'data-contest="{contest}"' in html
    text = visible(html)
    assert "valid_blank_null_sum_to_emitted" not in text and "Válidos 11 + blancos 1 + nulos 2 = 14" in text, text
    # narrowed to one contest by its tab
    one = night.client.get("/resolve", params={"contest": CONTESTS[2]}).text
    assert one.count('class="card case"') == 1
    for contest in CONTESTS:
        unit = night.units[contest][0]
        layout = night.client.get(f"/api/v1/units/{unit}", params={"contest": contest}, headers=night.headers("reader")).json()
        form = {"contest": contest, **{f"keep_{f}": "0" for f in layout["fields"]}}
        form.update({f"keep_{layout['choices'][0]}": "10", "keep_blank": "1", "keep_null": "2", "keep_registered": "300",
                     "keep_emitted": "13"})
        r = night.client.post(f"/resolve/{unit}", data=form, follow_redirects=False)
        assert r.status_code == 303 and "done=" + unit in r.headers["location"].replace("%20", " "), r.headers["location"]
    states = night.client.get("/api/v1/entries/states", headers=night.headers("reader")).json()["states"]
    assert states["resolved"] == 3, states


def test_contest_is_remembered(night):
    _login(night, "watcher")
    night.client.get("/discrepancies", params={"contest": CONTESTS[1]})
    html = night.client.get("/discrepancies").text
    assert 'aria-current="page">DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL' in html
    assert "several contests" not in html and "say which" not in html


# Words that only an untranslated English sentence would put on a Spanish page.
ENGLISH = re.compile(r"\b(the|of|and|with|from|tables|votes|counted|not|is|are|yet|strata|stratum|registered|emitted|"
                     r"blank|null|valid)\b")


def _raw_identifiers() -> re.Pattern:
    from escrutinio.checks import RULES
    from escrutinio.dynamics.urban_first import AREAS

    words = [*RULES, *AREAS, "macro-kaplan-markov", "contest_required", "first_entered", "quarantined", "agreed"]
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in words) + r")(?![\w-])")


def _english_messages() -> list[str]:
    """The catalogue's messages whose Spanish differs from the English, as text a page would show."""
    from escrutinio.server.pages.i18n import translations

    es = translations("es")
    out = []
    for mid in es._catalog:
        text = mid if isinstance(mid, str) else mid[0]
        if not text or "%" in text or len(text.split()) < 3:
            continue
        if es.gettext(text) != text:
            out.append(text)
    return out


def test_spanish_pages_have_no_english(night):
    """Every page, every contest, as each role, in Spanish."""
    raw, english = _raw_identifiers(), _english_messages()
    # the scanner itself sees what it must
    assert raw.search("valid_blank_null_sum_to_emitted: …") and raw.search("rural: ruralaislado") and raw.search("macro-kaplan-markov")
    assert ENGLISH.search("not counted yet: 49 places") and ENGLISH.search("(other: 82 strata)")
    assert "A PVT measures the actas of a random sample of tables as the watchers report them." in " ".join(english)
    pages = ["/", "/login", "/audit", "/pvt", "/discrepancies", "/entry", "/resolve"]
    for contest in CONTESTS:
        unit = night.units[contest][1]
        pages += [f"/?contest={contest}", f"/discrepancies?contest={contest}", f"/pvt?contest={contest}",
                  f"/entry/{unit}?contest={contest}", f"/resolve?contest={contest}"]
    problems = []
    for role in (None, "typist", "coordinator", "watcher"):
        if role:
            _login(night, role, {"typist": "typist-a"}.get(role))
        else:
            night.client.cookies.clear()
        for path in pages:
            r = night.client.get(path, headers={"Accept-Language": "es"})
            if r.status_code in (303, 403) or (r.status_code == 200 and "/login" in str(r.url) and path != "/login"):
                continue
            assert r.status_code == 200, (role, path, r.status_code)
            text = visible(r.text)
            for line in text.splitlines():
                if raw.search(line):
                    problems.append((role, path, "raw identifier", line[:160]))
                elif ENGLISH.search(line):
                    problems.append((role, path, "English", line[:160]))
            for message in english:
                if message in text:
                    problems.append((role, path, "untranslated", message[:160]))
    assert not problems, "\n".join(map(str, sorted(set(problems))[:60]))


def test_final_count_map_matches_places_by_id_not_name(tmp_path):
    """2019: the TREP spells some polling places differently from the final count; loaded
    after the TREP, the final count's map has no place "not counted yet"."""
    from escrutinio.server.storage.db import migrate

    url = sqlite_url(tmp_path)
    migrate(url)
    sc = ServerClient(url, tmp_path)
    try:
        sc.load(ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz")
        sc.load(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz")
        body = sc.client.get("/pages/places.json", params={"contest": "PRESIDENTE"}).json()
        assert body["uncounted"] == 0, [p for p in body["places"] if not p["counted"]][:5]
        html = sc.client.get("/", headers={"Accept-Language": "es"}).text
        assert "aún sin computar: 0 recintos" in visible(html) or "aún sin computar" not in visible(html)
    finally:
        sc.close()
