"""Pure pieces of the pages for issue 22: identifiers said in Spanish, completeness
rounded down, PVT outcomes and intervals within 0-100 %, official against copies."""
from escrutinio.server.pages import figures
from escrutinio.server.pages.i18n import Formatter, translations
from escrutinio.server.pages.words import Words

ES = Words(translations("es"), Formatter("es"))
EN = Words(translations("en"), Formatter("en"))


def test_rule_findings_in_spanish():
    line = "valid_blank_null_sum_to_emitted: valid 1200 + blank 2 + null 3 = 1205, the acta says emitted = 1206"
    assert ES.finding(line) == "Válidos 1.200 + blancos 2 + nulos 3 = 1.205, pero el acta dice 1.206 votos emitidos."
    assert EN.finding(line).startswith("Valid 1,200 + blank 2")
    assert ES.finding("emitted_within_registered: emitted 301 > registered 300") == \
        "301 votos emitidos, más que los 300 inscritos."
    assert "choices_sum_to_valid" not in ES.finding("choices_sum_to_valid: something new")


def test_fields_areas_strata_methods_notes():
    assert ES.field("emitted") == "Votos emitidos" and ES.field("MAS_IPSP") == "MAS_IPSP"
    assert ES.area("ruralaislado") == "rural aislada"
    assert ES.stratum("(other: 82 strata)") == "(otros: 82 estratos)"
    assert ES.stratum("Bolivia / La Paz | ruralconect") == "Bolivia / La Paz | rural conectada"
    assert "Kaplan" in ES.method("macro-kaplan-markov") and "auditoría" in ES.method("macro-kaplan-markov")
    from escrutinio.pvt.estimate import CAVEAT
    assert ES.note(CAVEAT).startswith("Un conteo rápido mide")
    assert ES.api_error(400, "contest_required") == "Hay varias elecciones cargadas: elija una arriba."


def test_completeness_rounds_down_like_the_command_line():
    one_short = {"completeness": {"tables": {"counted": 34555, "expected": 34556, "share": 34555 / 34556}}}
    c = figures.completeness(one_short)
    assert c["points_down"] == 99.9 and Formatter("es").pct(c["points_down"], 1) == "99,9\xa0%"
    trep = {"completeness": {"tables": {"counted": 28975, "expected": 34555, "share": 28975 / 34555}}}
    assert figures.completeness(trep)["points_down"] == 83.8              # 83.85 % shown as 83,8 %, as the CLI


def test_pvt_interval_never_below_zero_and_outcomes():
    assert figures.share_interval(-0.42, 1.3) == (0.0, 1.3)
    assert figures.share_interval(99.5, 100.7) == (99.5, 100.0)
    est = {"verdict_probabilities": {"first_round_win": 0.93, "runoff": 0.07, "draws": 10000,
                                     "first_round_win_by": {"MAS_IPSP": 0.93, "CC": 0.0}}}
    rows = figures.pvt_outcomes(est)
    assert rows == [{"kind": "first_round_win", "choice": "MAS_IPSP", "p": 0.93}, {"kind": "runoff", "choice": None, "p": 0.07}]
    assert figures.pvt_outcomes({"verdict_probabilities": {"winner": {"A": 0.2, "B": 0.8}}})[0]["choice"] == "B"


def test_official_against_copies_on_the_same_actas():
    both = {"official": {"units": 100}, "official_same_units": {"choices": {"A": 60, "B": 40}, "shares": {"A": 60.0, "B": 40.0}},
            "copies": {"units": 1, "choices": {"A": 59, "B": 41}, "shares": {"A": 59.0, "B": 41.0}}}
    out = figures.copies_comparison(both, figures.colours({"choices": {"A": 1, "B": 1}}))
    assert out["units"] == 1 and [r["choice"] for r in out["rows"]] == ["A", "B"]
    assert out["rows"][0]["votes_difference"] == -1 and out["rows"][0]["difference"] == -1.0
    assert figures.copies_comparison({"copies": {"units": 0, "choices": {}}}, {}) is None


def test_map_takes_coordinates_from_a_roll_that_has_them(tmp_path):
    """``serve --roll FILE`` where FILE has LAT/LON beside the place id: the map uses them
    (and lists that roll's places not counted yet)."""
    from types import SimpleNamespace

    import polars as pl

    from escrutinio.server.pages.data import _with_known_places

    roll = tmp_path / "roll_with_coordinates.csv"
    pl.DataFrame({"ID_MESA": ["1", "2", "3"], "HAB": [100, 120, 90], "ID_RECI": ["P1", "P1", "P2"],
                  "LAT": [-16.5, -16.5, -17.4], "LON": [-68.1, -68.1, -66.2]}).write_csv(roll)
    allp = pl.DataFrame({"name": ["Escuela"], "path": ["Bolivia / La Paz / Escuela"], "place_id": ["P1"],
                         "lat": [None], "lon": [None], "tables": [2], "counted": [True], "leader": ["A"]},
                        schema_overrides={"lat": pl.Float64, "lon": pl.Float64, "tables": pl.UInt32})
    out, used = _with_known_places(allp, SimpleNamespace(places=None, roll=roll))
    assert used and used[0] == "places: roll_with_coordinates.csv"
    p1 = out.filter(pl.col("place_id") == "P1").row(0, named=True)
    assert (p1["lat"], p1["lon"]) == (-16.5, -68.1)
    assert out.filter(~pl.col("counted")).get_column("place_id").to_list() == ["P2"]
