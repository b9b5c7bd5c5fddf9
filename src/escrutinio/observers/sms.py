"""Structured reports by SMS: the grammar, the observer code's check digit and the
acta's arithmetic, as pure functions (docs/field.md).

A report is one text message::

    P 1001 CC130 FPV0 MTS3 UCS0 MAS36 21F0 PDC1 MNR1 PANBOL2 V173 B1 N0 E174 H237 40176

* the kind: ``P`` (a PVT report: a sampled table; also ``PVT``, ``CR``) or ``R`` (any
  table's result; also ``A``, ``ACTA``);
* the table's number;
* ``KEY NUMBER`` items, in any order: each choice by its name with spaces and signs
  removed (``MASIPSP``), or its first word when that is unambiguous (``MAS``); ``V``
  valid votes, ``B`` blank, ``N`` null, ``E`` votes cast (emitted), ``H`` registered
  (habilitados; optional when the official roll knows the table);
* the observer's code, last (or first): digits whose last one is a Damm check digit, so
  any single mistyped digit and any swap of two neighbouring digits is caught.

Case, accents, spaces and the signs ``, ; : = - . /`` between items do not matter
(``p1001 cc 130, mas=36``), except that two numbers must be kept apart. A choice left out
counts as 0 only when ``V`` is given and equals the sum of the choices that were sent, so a
forgotten party is always caught by the valid total. A report whose numbers do not add up
is refused with the reason; ending it with ``!`` says "the acta itself reads so", and it is
then accepted and the double entry's checks quarantine it.

Nothing here knows about phones, gateways or databases: :func:`parse` turns text into a
:class:`Report` or raises :class:`SmsError`, and :func:`complete` turns a report into the
acta's values or the list of :class:`Problem` s to reply with.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Mapping, Sequence

MAX_LENGTH = 1600          # ten concatenated SMS: anything longer is not a report
MAX_DIGITS = 6             # no polling table counts a million votes
CODE_DIGITS = (4, 8)

KINDS = {"PVT": "pvt", "CR": "pvt", "P": "pvt", "ACTA": "result", "R": "result", "A": "result"}
# Reserved keys (Spanish and English words and their initials); a choice is never named by one of these.
RESERVED = {
    "valid": ("V", "VAL", "VALIDOS", "VALID"),
    "blank": ("B", "BL", "BLANCOS", "BLANK"),
    "null": ("N", "NU", "NULOS", "NULL"),
    "emitted": ("E", "EM", "EMITIDOS", "CAST"),
    "registered": ("H", "HAB", "HABILITADOS", "I", "INSCRITOS", "REG", "REGISTERED"),
}
RESERVED_KEYS = {k: name for name, keys in RESERVED.items() for k in keys}
SHORT = {"valid": "V", "blank": "B", "null": "N", "emitted": "E", "registered": "H"}

# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    """The check digit that makes ``digits + check`` valid."""
    interim = 0
    for d in digits:
        interim = _DAMM[interim][int(d)]
    return str(interim)


def damm_valid(code: str) -> bool:
    return code.isdigit() and damm_digit(code) == "0"


def observer_code(number: int, width: int = 4) -> str:
    """``number`` zero-padded to ``width`` digits, with its check digit appended."""
    body = str(int(number)).zfill(width)
    return body + damm_digit(body)


@dataclass(frozen=True)
class Problem:
    """Why a report is refused: a ``code`` (the reply's message) and its parameters."""

    code: str
    params: Mapping[str, object] = field(default_factory=dict)


class SmsError(ValueError):
    def __init__(self, problem: Problem, unit: str | None = None):
        super().__init__(f"{problem.code} {dict(problem.params)}")
        self.problem, self.unit = problem, unit


@dataclass(frozen=True)
class Report:
    kind: str                               # "pvt" or "result"
    unit: str
    code: str
    items: Mapping[str, int]                # layout field (a choice, blank, null, emitted, registered) -> number
    valid: int | None = None
    confirmed: bool = False                 # ended with "!": the acta itself reads so


def normalise_key(name: str) -> str:
    """``"MAS - IPSP"`` -> ``"MASIPSP"``: upper case, no accents, letters and digits only."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Z0-9]", "", plain.upper())


def choice_keys(choices: Sequence[str]) -> dict[str, str]:
    """Every key that names a choice: its normalised name, and its first word when no other
    choice or reserved key shares it."""
    keys: dict[str, str] = {}
    for c in choices:
        k = normalise_key(c)
        if k and k not in RESERVED_KEYS:
            keys[k] = c
    firsts: dict[str, list[str]] = {}
    for c in choices:
        words = [normalise_key(w) for w in re.split(r"[\s\-_/.]+", c) if normalise_key(w)]
        if words:
            firsts.setdefault(words[0], []).append(c)
    for k, owners in firsts.items():
        if len(owners) == 1 and k not in keys and k not in RESERVED_KEYS:
            keys[k] = owners[0]
    return keys


def _compact(text: str) -> str:
    """Upper case, accents gone, separators become spaces, spaces dropped except between two numbers."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").upper()
    plain = re.sub(r"(?<=\d)[.,](?=\d{3}(?!\d))", "", plain)       # 1.234 / 1,234: thousands
    plain = re.sub(r"[^A-Z0-9]+", " ", plain).strip()
    return re.sub(r"(?<=[A-Z]) (?=[A-Z0-9])|(?<=\d) (?=[A-Z])", "", plain)


def parse(text: str, choices: Sequence[str]) -> Report:
    """A report from a message's text, or :class:`SmsError` saying what is wrong."""
    if len(text) > MAX_LENGTH:
        raise SmsError(Problem("too_long", {"max": MAX_LENGTH}))
    confirmed = text.rstrip().endswith("!")
    s = _compact(text)
    if not s:
        raise SmsError(Problem("format"))
    i, n = 0, len(s)
    code = None
    m = re.match(r"\d+", s)
    if m:                                               # the code first
        code, i = m.group(), m.end()
        i += s[i:i + 1] == " "
    # the kind, then the table: "PVT1001", "P1001"; "PCC130" is a report without its table
    m = re.match("(" + "|".join(sorted(KINDS, key=len, reverse=True)) + r")(?=\d| |$)", s[i:]) or \
        re.match("(" + "|".join(sorted(KINDS, key=len, reverse=True)) + r")", s[i:])
    if not m:
        raise SmsError(Problem("format"))
    kind = KINDS[m.group(1)]
    i += m.end()
    i += s[i:i + 1] == " "
    m = re.match(r"\d+", s[i:])
    if not m:
        raise SmsError(Problem("no_table"))
    unit = m.group()
    if len(unit) > 20:
        raise SmsError(Problem("no_table"))
    i += m.end()
    keys = {**choice_keys(choices), **RESERVED_KEYS}
    by_length = sorted(keys, key=len, reverse=True)
    items: dict[str, int] = {}
    valid = None
    while i < n:
        if s[i] == " ":
            i += 1
            continue
        # a key is always followed by its number (spaces between letters and digits are gone)
        key = next((k for k in by_length if s.startswith(k, i) and i + len(k) < n and s[i + len(k)].isdigit()), None)
        if key is None:
            m = re.match(r"\d+", s[i:])
            if m and s[i + m.end():].strip() == "":     # a bare number at the end: the code
                if code is not None:
                    raise SmsError(Problem("stray_number", {"number": m.group()}), unit)
                code = m.group()
                i = n
                break
            if m:
                raise SmsError(Problem("stray_number", {"number": m.group()}), unit)
            word = re.match(r"[A-Z0-9]*?[A-Z]+", s[i:])
            raise SmsError(Problem("unknown_key", {"key": word.group() if word else s[i:i + 10]}), unit)
        i += len(key)
        i += s[i:i + 1] == " "
        m = re.match(r"\d+", s[i:])
        if len(m.group()) > MAX_DIGITS:
            raise SmsError(Problem("too_big", {"key": key, "number": m.group()}), unit)
        number = int(m.group())
        i += m.end()
        name = "valid" if RESERVED_KEYS.get(key) == "valid" else RESERVED_KEYS.get(key) or keys[key]
        if name in items or (name == "valid" and valid is not None):
            raise SmsError(Problem("twice", {"key": key}), unit)
        if name == "valid":
            valid = number
        else:
            items[name] = number
    if code is None:
        raise SmsError(Problem("no_code"), unit)
    if not (CODE_DIGITS[0] <= len(code) <= CODE_DIGITS[1]) or not damm_valid(code):
        raise SmsError(Problem("bad_code", {"code": code}), unit)
    return Report(kind=kind, unit=unit, code=code, items=items, valid=valid, confirmed=confirmed)


def complete(report: Report, choices: Sequence[str], registered: int | None = None) -> tuple[dict[str, int], list[Problem]]:
    """The acta's values (every choice, blank, null, registered, emitted) and the problems
    that refuse the report (none: accept). ``registered``: the roll's figure for the table,
    used when the report has no ``H``."""
    items = dict(report.items)
    problems: list[Problem] = []
    missing_choices = [c for c in choices if c not in items]
    sent = sum(items.get(c, 0) for c in choices)
    if report.valid is not None and sent != report.valid:
        problems.append(Problem("valid_sum", {"valid": report.valid, "sum": sent}))
    elif missing_choices and report.valid is None:
        problems.append(Problem("missing_choices", {"names": ", ".join(normalise_key(c) for c in missing_choices)}))
    values = {c: items.get(c, 0) for c in choices}
    if "registered" not in items and registered is not None:
        items["registered"] = int(registered)
    missing = [SHORT[f] for f in ("blank", "null", "emitted", "registered") if f not in items]
    if missing:
        problems.append(Problem("missing", {"names": " ".join(missing)}))
        return {}, problems
    values.update({f: items[f] for f in ("blank", "null", "registered", "emitted")})
    total = sent + values["blank"] + values["null"]
    if total != values["emitted"]:
        problems.append(Problem("emitted_sum", {"emitted": values["emitted"], "valid": sent, "blank": values["blank"],
                                                "null": values["null"], "total": total}))
    if values["emitted"] > values["registered"]:
        problems.append(Problem("over_registered", {"emitted": values["emitted"], "registered": values["registered"]}))
    if report.confirmed:                   # the acta reads so: let double entry quarantine it
        problems = [p for p in problems if p.code not in ("valid_sum", "emitted_sum", "over_registered")]
    return values, problems
