"""Stable party colours (issue 22): by name, never by rank; declared colours win."""
from escrutinio.report.colours import OTHER_COLOUR, PALETTE, choice_colours, declared_colours

BOLIVIA_2020 = ["CREEMOS", "ADN", "MAS_IPSP", "FPV", "PAN_BOL", "LIBRE_21", "CC", "JUNTOS"]


def test_same_colour_whatever_the_order_or_rank():
    a = choice_colours(BOLIVIA_2020)
    b = choice_colours(list(reversed(BOLIVIA_2020)))
    assert a == b
    assert len(set(a.values())) == len(BOLIVIA_2020)          # no two parties share a colour
    assert set(a.values()) <= set(PALETTE)


def test_a_party_keeps_its_colour_in_another_contest():
    special = BOLIVIA_2020 + ["APG", "CPEM_B", "CIDOB", "BIA_YUQUI"]
    a, b = choice_colours(BOLIVIA_2020), choice_colours(special)
    assert a["MAS_IPSP"] == b["MAS_IPSP"] and a["CC"] == b["CC"]


def test_declared_colours_win_and_are_not_given_twice():
    out = choice_colours(BOLIVIA_2020, {"MAS-IPSP": "#1f4e9c", "cc": "#e36c0a", "X": "not a colour"})
    assert out["MAS_IPSP"] == "#1F4E9C" and out["CC"] == "#E36C0A"
    assert len(set(out.values())) == len(out)


def test_more_choices_than_colours_get_grey():
    names = [f"P{i}" for i in range(len(PALETTE) + 3)]
    out = choice_colours(names)
    assert sum(v == OTHER_COLOUR for v in out.values()) == 3


def test_bundled_mappings_declare_bolivias_colours():
    """[colours] in the bundled mappings: MAS blue and CC orange in 2019 and 2020 alike,
    whatever the spelling (MAS - IPSP, MAS_IPSP)."""
    c2020 = choice_colours(BOLIVIA_2020, declared_colours("Bolivia 2020"))
    c2019 = choice_colours(["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"],
                           declared_colours("Bolivia 2019"))
    assert c2020["MAS_IPSP"] == c2019["MAS - IPSP"] == "#0072B2" and c2020["CC"] == c2019["CC"] == "#D55E00"
    assert len(set(c2020.values())) == len(c2020) and len(set(c2019.values())) == len(c2019)
    assert declared_colours("Nowhere 1999") == {} and declared_colours(None) == {}
