"""The dashboard's pieces that need no browser: language negotiation, Babel formatting,
the gettext catalogues, and the figures' geometry."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from escrutinio.server.pages import figures
from escrutinio.server.pages.i18n import LOCALE_DIR, Formatter, negotiate, parse_accept_language, translations


@pytest.mark.parametrize("query, cookie, header, expected", [
    (None, None, "en-US,en;q=0.9", "en"),
    (None, None, "es-BO,es;q=0.9,en;q=0.5", "es"),
    (None, None, "fr-FR,en;q=0.8,es;q=0.9", "es"),   # q-values decide, not order
    (None, None, "de-DE", "es"),                      # nothing we speak: Spanish
    (None, None, None, "es"),
    (None, "en", "es-BO", "en"),                      # the switch (cookie) beats the browser
    ("es", "en", "en-US", "es"),                      # ?lang= beats both
    ("xx", None, "en", "en"),                         # an unknown ?lang= is ignored
])
def test_language_negotiation(query, cookie, header, expected):
    assert negotiate(query, cookie, header) == expected


def test_accept_language_parsing_drops_q0_and_ranks():
    assert parse_accept_language("es;q=0, en;q=0.5, fr") == ["fr", "en"]


def test_numbers_per_locale():
    es, en = Formatter("es"), Formatter("en")
    assert es.num(2889359) == "2.889.359"
    assert en.num(2889359) == "2,889,359"
    assert es.pct(47.08) == "47,08\xa0%"      # CLDR: a no-break space before % in Spanish
    assert en.pct(47.08) == "47.08%"
    assert es.share(2889359, 6137671) == "47,08\xa0%"
    assert en.points(0.5649) == "+0.56"
    assert es.points(-2.924) == "−2,92"
    assert es.signed(-179477) == "−179.477"
    assert es.num(None) == "—"


def test_dates_per_locale():
    assert "oct" in Formatter("es").when("2019-10-25T00:00:00").lower()
    assert "Oct" in Formatter("en").when("2019-10-25T00:00:00")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_catalogue_complete_and_compiled(lang):
    """Every message has a translation, and the compiled .mo says what the .po says."""
    folder = Path(LOCALE_DIR) / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as fh:
        po = read_po(fh, locale=lang)
    with open(folder / "messages.mo", "rb") as fh:
        mo = read_mo(fh)
    pot = read_po(io.BytesIO((Path(LOCALE_DIR) / "messages.pot").read_bytes()))
    assert {m.id for m in pot if m.id} <= {m.id for m in po if m.id}, "run pybabel update (see locale/babel.cfg)"
    for message in po:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{lang}: untranslated {message.id!r}"
        assert "fuzzy" not in message.flags, f"{lang}: fuzzy {message.id!r}"
        compiled = mo.get(message.id)
        assert compiled is not None and tuple(strings) == (tuple(compiled.string) if isinstance(compiled.string, (list, tuple)) else (compiled.string,)), \
            f"{lang}: messages.mo is stale for {message.id!r}; run pybabel compile -d src/escrutinio/server/locale"


def test_spanish_catalogue_is_used():
    assert translations("es").gettext("Verdict under the law") == "Veredicto según la ley"
    assert translations("en").gettext("Verdict under the law") == "Verdict under the law"


RESULT = {
    "choices": {"A": 600, "B": 300, "C": 100}, "shares": {"A": 60.0, "B": 30.0, "C": 10.0},
    "units": 8, "progress": {"counted_units": 8, "expected_units": 10, "units_pct": 80.0,
                             "registered_covered": 800, "registered_expected": 1000, "registered_pct": 80.0},
    "verdict": {"lead_points": 30.0, "conditions": [{"name": "lead", "threshold_points": 10.0, "line": "lead ≥ 10 points"}]},
}


def test_completeness_from_progress_is_provisional():
    c = figures.completeness(RESULT)
    assert (c["counted"], c["expected"], c["share"], c["final"]) == (8, 10, 0.8, False)


def test_completeness_contract_c8_wins():
    r = {**RESULT, "final": True, "completeness": {"tables": {"counted": 10, "expected": 10, "share": 1.0},
                                                   "registered": {"counted": 1, "expected": 1, "share": 1.0}, "note": "n"}}
    c = figures.completeness(r)
    assert c["final"] and c["share"] == 1.0 and c["note"] == "n"


def test_completeness_unknown_without_roll_is_not_final():
    c = figures.completeness({"units": 5, "choices": {"A": 1}})
    assert not c["known"] and not c["final"]


def test_colours_follow_the_name_not_the_rank():
    """Issue 22: the leader changes on election night; a party's colour does not."""
    swapped = {**RESULT, "choices": {"A": 100, "B": 300, "C": 600}}
    assert figures.colours(RESULT) == figures.colours(swapped)
    assert set(figures.colours(RESULT)) == {"A", "B", "C"} and len(set(figures.colours(RESULT).values())) == 3
    assert set(figures.colours(RESULT).values()) <= set(figures.PALETTE)


def test_lead_chart_fan_reaches_the_projection_interval():
    chart = figures.lead_chart([{"counted_pct": 50, "lead": 8.0, "label": "t1"}, {"counted_pct": 80, "lead": 9.0, "label": "t2"}],
                               {"lead": {"point": 10.0, "lo": 9.5, "hi": 10.5}}, threshold=10.0)
    assert len(chart.points) == 2
    (x0, y0), (x1, yhi), (_, ylo) = chart.fan
    assert x1 == round(chart.x(100), 1) and yhi < ylo          # SVG y grows downwards
    assert yhi == round(chart.y(10.5), 1) and ylo == round(chart.y(9.5), 1)
    assert chart.threshold_y == round(chart.y(10.0), 1)
    assert chart.y_min <= 8.0 and chart.y_max >= 10.5


def test_lead_chart_turns_a_projection_led_by_the_second_into_the_same_lead():
    """Bolivia 2020 at 08:18: CC led the counted tables by 9.51 points, the projection put
    MAS ahead by 5.97 to 37.83. The chart's points are CC over MAS, so the fan must be
    -37.83 to -5.97, with the rule's threshold drawn for both sides."""
    series = [{"counted_pct": 15.9, "lead": 9.51, "label": "08:18"}]
    proj = {"lead": {"point": 20.9, "lo": 5.97, "hi": 37.83},
            "lead_points": {"point": 20.9, "lo": 5.97, "hi": 37.83, "between": ["MAS_IPSP", "CC"]}}
    chart = figures.lead_chart(series, proj, threshold=10.0, pair=["CC", "MAS_IPSP"])
    assert chart.projection == {"point": -20.9, "lo": -37.83, "hi": -5.97, "flipped": True}
    assert chart.projection_pair == ["MAS_IPSP", "CC"]
    (_, y0), (_, yhi), (_, ylo) = chart.fan
    assert yhi == round(chart.y(-5.97), 1) and ylo == round(chart.y(-37.83), 1)
    assert chart.threshold_neg_y == round(chart.y(-10.0), 1) and chart.y_min <= -37.83
    # the same pair: unchanged; another pair (the projection's second is a third choice): no fan
    same = figures.lead_chart(series, proj, threshold=10.0, pair=["MAS_IPSP", "CC"])
    assert same.projection["lo"] == 5.97 and not same.projection["flipped"]
    other = figures.lead_chart(series, proj, threshold=10.0, pair=["CC", "CREEMOS"])
    assert other.projection is None and other.fan is None and other.projection_pair == ["MAS_IPSP", "CC"]


def test_lead_chart_without_points_is_none():
    assert figures.lead_chart([], None, None) is None


def test_dot_map_keeps_uncounted_and_says_what_it_leaves_out():
    places = [{"lat": -16.5 + i * 0.01, "lon": -68.1 + i * 0.01, "counted": i % 2 == 0, "leader": "A" if i % 4 == 0 else "B"}
              for i in range(200)]
    places += [{"lat": 52.5, "lon": 13.3, "counted": True, "leader": "B"},   # an embassy far away
               {"lat": None, "lon": None, "counted": False}]
    m = figures.dot_map(places, {"A": "#000001", "B": "#000002"})
    assert m.counted == 101 and m.uncounted == 101
    assert m.outside >= 1 and m.without_coordinates == 1
    drawn = {colour for colour, _ in m.paths()}
    assert drawn == {None, "#000001", "#000002"}                 # uncounted places are drawn too
    assert len(m.dots) + m.outside + m.without_coordinates == len(places)
    assert all(0 <= d[0] <= m.width and 0 <= d[1] <= m.height for d in m.dots)


def test_catalogue_template_is_current():
    """Every string the pages mark for translation is in messages.pot (else: extract again)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    cfg = Path(LOCALE_DIR) / "babel.cfg"
    method_map, options_map = parse_mapping_cfg(io.StringIO(cfg.read_text()))
    pages = Path(LOCALE_DIR).parent / "pages"
    found = {msg[2] if isinstance(msg[2], str) else tuple(msg[2])
             for msg in extract_from_dir(str(pages), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}, comment_tags=())}
    pot = read_po(io.BytesIO((Path(LOCALE_DIR) / "messages.pot").read_bytes()))
    known = {m.id for m in pot if m.id}
    assert len(found) > 100
    assert found - known == set(), "run pybabel extract (see locale/babel.cfg)"


def test_every_template_compiles_in_both_languages():
    from escrutinio.server.pages.views import ENVIRONMENTS, TEMPLATES

    for env in ENVIRONMENTS.values():
        for path in TEMPLATES.glob("*.html"):
            env.get_template(path.name)


def test_departments_of_the_home_country_come_first():
    rows = [{"area": "Berlín", "path": "Alemania / Berlín", "units": 2},
            {"area": "Beni", "path": "Bolivia / Beni", "units": 969},
            {"area": "La Paz", "path": "Bolivia / La Paz", "units": 9000}]
    home, abroad, name = figures.split_areas(rows)
    assert name == "Bolivia" and [r["area"] for r in home] == ["Beni", "La Paz"] and [r["area"] for r in abroad] == ["Berlín"]
    assert figures.split_areas(rows[1:]) == (rows[1:], [], None)


@pytest.mark.parametrize("target, expected", [
    ("/entry", "/entry"), ("/discrepancies?area=La%20Paz", "/discrepancies?area=La%20Paz"),
    ("//evil.example", ""), ("/\\evil.example", ""), ("https://evil.example", ""), ("", ""), ("/a\nb", ""),
])
def test_login_redirects_only_within_the_site(target, expected):
    from escrutinio.server.pages.views import _safe_next

    assert _safe_next(target) == expected
