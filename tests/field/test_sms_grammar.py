"""The SMS grammar (escrutinio.observers.sms): examples from docs/field.md, the check
digit's guarantees, and hypothesis: any report written in any of the tolerated ways
parses back to the same numbers, and no text makes the parser fail other than with
SmsError."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from escrutinio.observers import sms

CHOICES = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"]
ACTA_1001 = {"CC": 130, "FPV": 0, "MTS": 3, "UCS": 0, "MAS - IPSP": 36, "21F": 0, "PDC": 1, "MNR": 1, "PAN-BOL": 2}
CODE = sms.observer_code(4017)


def test_the_documented_example():
    r = sms.parse(f"P 1001 CC130 FPV0 MTS3 UCS0 MAS36 21F0 PDC1 MNR1 PANBOL2 V173 B1 N0 E174 H237 {CODE}", CHOICES)
    assert (r.kind, r.unit, r.code, r.valid) == ("pvt", "1001", CODE, 173)
    values, problems = sms.complete(r, CHOICES)
    assert problems == []
    assert values == {**ACTA_1001, "blank": 1, "null": 0, "registered": 237, "emitted": 174}


def test_case_spaces_signs_accents_and_code_first():
    a = sms.parse(f"{CODE} p1001 cc 130, mas-ipsp = 36; mts:3 pdc 1 mnr 1 pan-bol 2 v 173 blancos 1 nulos 0 emitidos 174", CHOICES)
    b = sms.parse(f"  R 1001  CC130 MAS36 MTS3 PDC1 MNR1 PANBOL2 VÁLIDOS173 B1 N0 E174   {CODE} ", CHOICES)
    assert a.items == b.items and a.valid == b.valid == 173 and a.kind == "pvt" and b.kind == "result"
    values, problems = sms.complete(a, CHOICES, registered=237)      # H from the roll; the zeros implied by V
    assert problems == [] and values["FPV"] == 0 and values["registered"] == 237


def test_the_refusals_say_what_is_wrong():
    def problem(text, registered=237):
        try:
            r = sms.parse(text, CHOICES)
        except sms.SmsError as exc:
            return exc.problem.code, dict(exc.problem.params)
        _, problems = sms.complete(r, CHOICES, registered)
        return (problems[0].code, dict(problems[0].params)) if problems else None

    assert problem(f"P 1001 CC131 MAS36 MTS3 PDC1 MNR1 PANBOL2 V173 B1 N0 E174 {CODE}") == ("valid_sum", {"valid": 173, "sum": 174})
    assert problem(f"P 1001 CC130 MAS36 B1 N0 E174 {CODE}")[0] == "missing_choices"
    assert problem(f"P 1001 CC130 MSA36 V173 B1 N0 E174 {CODE}") == ("unknown_key", {"key": "MSA"})
    assert problem(f"P 1001 CC130 CC36 V173 B1 N0 E174 {CODE}") == ("twice", {"key": "CC"})
    assert problem(f"P 1001 CC130 MAS36 MTS3 PDC1 MNR1 PANBOL2 V173 B1 N0 E175 {CODE}")[0] == "emitted_sum"
    assert problem(f"P 1001 CC130 MAS36 MTS3 PDC1 MNR1 PANBOL2 V173 B1 N0 E174 {CODE}", registered=100)[0] == "over_registered"
    assert problem(f"P 1001 CC130 MAS36 MTS3 PDC1 MNR1 PANBOL2 V173 B1 N0 {CODE}")[0] == "missing"
    assert problem("P 1001 CC130 MAS36 V173 B1 N0 E174") == ("no_code", {})
    wrong = CODE[:-2] + CODE[-1] + CODE[-2]
    if wrong != CODE:
        assert problem(f"P 1001 CC130 V130 B0 N0 E130 {wrong}") == ("bad_code", {"code": wrong})
    assert problem("hola") == ("format", {})
    assert problem(f"P CC130 {CODE}") == ("no_table", {})
    assert problem(f"P 1001 CC130 17 MAS36 {CODE}") == ("stray_number", {"number": "17"})
    # "!" : the acta itself reads so; accepted, double entry quarantines it
    r = sms.parse(f"P 1001 CC131 MAS36 MTS3 PDC1 MNR1 PANBOL2 V173 B1 N0 E174 {CODE}!", CHOICES)
    assert r.confirmed and sms.complete(r, CHOICES, 237)[1] == []


def test_damm_catches_every_single_digit_error_and_adjacent_swap():
    for n in range(0, 10000, 7):
        code = sms.observer_code(n)
        assert sms.damm_valid(code)
        for i in range(len(code)):
            for d in "0123456789":
                if d != code[i]:
                    assert not sms.damm_valid(code[:i] + d + code[i + 1:])
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                assert not sms.damm_valid(code[:i] + code[i + 1] + code[i] + code[i + 2:])


SEPARATORS = st.sampled_from([" ", "  ", ", ", ";", " = ", ":", "\n"])
KEYS = {"CC": ["CC", "cc"], "FPV": ["FPV", "fpv"], "MTS": ["MTS", "Mts"], "UCS": ["UCS"], "MAS - IPSP": ["MAS", "MAS-IPSP", "mas ipsp"],
        "21F": ["21F", "21f"], "PDC": ["PDC"], "MNR": ["MNR", "mnr"], "PAN-BOL": ["PANBOL", "pan-bol", "PAN"]}


@settings(max_examples=300, deadline=None)
@given(votes=st.fixed_dictionaries({c: st.integers(0, 999) for c in CHOICES}), blank=st.integers(0, 99),
       null=st.integers(0, 99), seed=st.integers(0, 2**32), sep=SEPARATORS, code_first=st.booleans(),
       number=st.integers(0, 9999))
def test_any_tolerated_spelling_parses_to_the_same_numbers(votes, blank, null, seed, sep, code_first, number):
    rng = random.Random(seed)
    code = sms.observer_code(number)
    valid = sum(votes.values())
    items = [(rng.choice(KEYS[c]), v) for c, v in votes.items()]
    items += [("V", valid), (rng.choice(["B", "b", "blancos"]), blank), (rng.choice(["N", "nulos"]), null),
              (rng.choice(["E", "emitidos"]), valid + blank + null)]
    rng.shuffle(items)
    body = sep.join(f"{k}{rng.choice(['', ' '])}{v}" for k, v in items)
    text = f"{code} P 2031 {body}" if code_first else f"p{sep}2031{sep}{body}{sep}{code}"
    r = sms.parse(text, CHOICES)
    values, problems = sms.complete(r, CHOICES, registered=valid + blank + null + 5)
    assert problems == [] and r.code == code and r.unit == "2031"
    assert {c: values[c] for c in CHOICES} == votes and values["emitted"] == valid + blank + null


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_no_text_breaks_the_parser(text):
    try:
        r = sms.parse(text, CHOICES)
    except sms.SmsError:
        return
    sms.complete(r, CHOICES, registered=None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["P", "R", "1001", " ", "CC", "MAS", "V", "B", "N", "E", "H", "21F", "0", "17", "9",
                                 CODE, ",", "-", "!", "PANBOL", "x"]), max_size=30))
def test_no_near_miss_breaks_the_parser(parts):
    test_no_text_breaks_the_parser.hypothesis.inner_test("".join(parts))
