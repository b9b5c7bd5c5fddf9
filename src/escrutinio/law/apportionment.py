"""Seat apportionment with exact arithmetic: divisor (highest-averages) and quota
(largest-remainder) methods, legal thresholds, and ties that are never decided silently.

Every comparison that decides a seat is made on integers or :class:`fractions.Fraction`.
Huntington–Hill's divisor is the irrational sqrt(k(k+1)); we compare *squared* quotients
v²/(k(k+1)), which are rational, so the decision stays exact. Floats appear only in the
``*_approx`` fields meant for display.

References
----------
* Balinski, M. L. & Young, H. P. (2001). *Fair Representation: Meeting the Ideal of One
  Man, One Vote*, 2nd ed. Brookings. — divisor methods (Jefferson/D'Hondt, Webster/
  Sainte-Laguë, Adams, Dean, Huntington–Hill), quota methods (Hamilton/Hare), the quota
  property and house monotonicity (the Alabama paradox).
* Pukelsheim, F. (2017). *Proportional Representation: Apportionment Methods and Their
  Applications*, 2nd ed. Springer. — signpost sequences, modified Sainte-Laguë (first
  divisor 1.4), Danish (1, 4, 7, …) and Imperiali divisors, Droop / Hagenbach-Bischoff /
  Imperiali quotas, tie handling.
* US Code Title 2 §2a and the Census Bureau's "Computing Apportionment" note —
  Huntington–Hill ("method of equal proportions") for the US House.

What a result is, and is not
----------------------------
An apportionment is a deterministic function of the vote (or population) counts it is
given; it carries no uncertainty of its own. When the counts are partial (a count in
progress) the seats describe *those* counts, not the final outcome.
"""
from __future__ import annotations

import math
import numbers
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterable, Mapping

from escrutinio.errors import InputError, UsageError

__all__ = [
    "Method",
    "METHODS",
    "Threshold",
    "Step",
    "Tie",
    "Apportionment",
    "apportion",
    "method",
    "check_votes",
    "qualifying",
]


# --------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Method:
    """An apportionment method.

    Divisor methods give a party holding ``k`` seats the priority ``v / d(k)``. We store
    ``d(k) ** power`` (``power`` 2 only for Huntington–Hill) so that it is rational.
    Quota methods give ``floor(v / quota)`` seats, then the rest by largest remainder.
    """

    key: str
    title: str
    kind: str  # "divisor" | "quota"
    citation: str
    divisor_power: Callable[[int], Fraction] | None = None
    power: int = 1
    quota: Callable[[int, int], Fraction] | None = None
    signpost: str = ""

    def divisor(self, k: int) -> float:
        """The k-th divisor as a float, for display only."""
        d = self.divisor_power(k)
        return float(d) ** (1.0 / self.power)


def _f(n, d=1) -> Fraction:
    return Fraction(n, d)


METHODS: dict[str, Method] = {}
_ALIASES: dict[str, str] = {}


def _register(m: Method, *aliases: str) -> None:
    METHODS[m.key] = m
    for a in (m.key,) + aliases:
        _ALIASES[a.lower().replace("-", "_").replace(" ", "_").replace("'", "")] = m.key


_register(Method("dhondt", "D'Hondt / Jefferson", "divisor",
                 "D'Hondt (1882); Balinski & Young (2001) ch. 3", lambda k: _f(k + 1),
                 signpost="1, 2, 3, 4, …"), "jefferson", "d_hondt", "hagenbach_bischoff_divisor")
_register(Method("sainte_lague", "Sainte-Laguë / Webster", "divisor",
                 "Sainte-Laguë (1910); Balinski & Young (2001) ch. 4", lambda k: _f(2 * k + 1),
                 signpost="1, 3, 5, 7, …"), "webster", "saintelague")
_register(Method("modified_sainte_lague", "Modified Sainte-Laguë (first divisor 1.4)", "divisor",
                 "Pukelsheim (2017) §3.11 (Scandinavian variant)",
                 lambda k: _f(7, 5) if k == 0 else _f(2 * k + 1),
                 signpost="1.4, 3, 5, 7, …"), "modified_webster")
_register(Method("huntington_hill", "Huntington–Hill (equal proportions)", "divisor",
                 "Huntington (1928); US Code 2 §2a; Balinski & Young (2001) ch. 5",
                 lambda k: _f(k * (k + 1)), power=2,
                 signpost="sqrt(k(k+1)): 0, 1.414, 2.449, …"), "hill", "equal_proportions")
_register(Method("adams", "Adams (smallest divisors)", "divisor",
                 "Balinski & Young (2001) ch. 3", lambda k: _f(k), signpost="0, 1, 2, 3, …"))
_register(Method("dean", "Dean (harmonic mean)", "divisor",
                 "Balinski & Young (2001) ch. 5", lambda k: _f(2 * k * (k + 1), 2 * k + 1),
                 signpost="2k(k+1)/(2k+1): 0, 1.333, 2.4, …"), "harmonic_mean")
_register(Method("danish", "Danish", "divisor", "Pukelsheim (2017) §3.11",
                 lambda k: _f(3 * k + 1), signpost="1, 4, 7, 10, …"))
_register(Method("imperiali", "Imperiali (divisor)", "divisor", "Pukelsheim (2017) §3.11",
                 lambda k: _f(k + 2), signpost="2, 3, 4, 5, …"), "imperiali_divisor")
# Quota methods. ``quota(V, S)`` is exact; Droop is the integer form floor(V/(S+1)) + 1.
_register(Method("hare", "Hare quota, largest remainders (Hamilton)", "quota",
                 "Hamilton (1792); Balinski & Young (2001) ch. 2", quota=lambda v, s: _f(v, s)),
          "hamilton", "hare_niemeyer", "largest_remainder")
_register(Method("droop", "Droop quota, largest remainders", "quota",
                 "Droop (1881); Pukelsheim (2017) §2.11", quota=lambda v, s: _f(v // (s + 1) + 1)))
_register(Method("hagenbach_bischoff", "Hagenbach-Bischoff quota, largest remainders", "quota",
                 "Pukelsheim (2017) §2.11", quota=lambda v, s: _f(v, s + 1)), "hagenbach_bischoff_quota")
_register(Method("imperiali_quota", "Imperiali quota, largest remainders", "quota",
                 "Pukelsheim (2017) §2.11", quota=lambda v, s: _f(v, s + 2)))


def method(name: str | Method) -> Method:
    """Look a method up by key or alias (case, dashes and apostrophes ignored)."""
    if isinstance(name, Method):
        return name
    key = _ALIASES.get(str(name).lower().replace("-", "_").replace(" ", "_").replace("'", ""))
    if key is None:
        raise UsageError(f"unknown apportionment method {name!r}; known: {', '.join(sorted(METHODS))}")
    return METHODS[key]


# --------------------------------------------------------------------------- inputs
def check_votes(votes: Mapping[str, object], what: str = "votes") -> dict[str, int]:
    """Validate a party → votes mapping: names are strings, counts non-negative integers.

    Rejects floats even when integral (``3.0``): a float in a vote column means something
    upstream computed votes, and we refuse to guess which rounding it used.
    """
    if not isinstance(votes, Mapping):
        raise UsageError(f"{what} must be a mapping party -> votes, got {type(votes).__name__}")
    out: dict[str, int] = {}
    for party, v in votes.items():
        if not isinstance(party, str) or not party:
            raise InputError(what, f"party names must be non-empty strings, got {party!r}")
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise InputError(what, f"votes must be integers, got {v!r}", column=party)
        v = int(v)
        if v < 0:
            raise InputError(what, f"votes must not be negative, got {v}", column=party)
        out[party] = v
    return out


@dataclass(frozen=True)
class Threshold:
    """A legal threshold (electoral barrier).

    ``share``: minimum share of valid votes (e.g. ``Fraction(3, 100)``), compared as
    ``votes * den >= share_num * base`` so no rounding enters. ``base``: ``"district"``
    (the district's own valid votes) or ``"national"`` (needs ``national_votes``).
    ``include_abroad``: whether votes cast abroad (``abroad_votes``) enter the national
    base and the party's national total. ``seats_alternative``: a party that won at least
    this many single-member seats qualifies even below ``share`` (Germany's
    Grundmandatsklausel is the classic case). ``inclusive``: ``>=`` (default) or ``>``.
    """

    share: Fraction = Fraction(0)
    base: str = "district"
    include_abroad: bool = True
    seats_alternative: int | None = None
    inclusive: bool = True

    def __post_init__(self):
        object.__setattr__(self, "share", Fraction(self.share))
        if not (0 <= self.share <= 1):
            raise UsageError(f"threshold share must lie in [0, 1], got {self.share}")
        if self.base not in ("district", "national"):
            raise UsageError(f"threshold base must be 'district' or 'national', got {self.base!r}")

    def describe(self) -> str:
        pct = self.share * 100
        pct_s = str(pct.numerator) if pct.denominator == 1 else f"{float(pct):g}"
        txt = f"{pct_s}% of valid votes ({self.base}{'' if self.include_abroad or self.base == 'district' else ', votes abroad excluded'})"
        if self.seats_alternative:
            txt += f", or at least {self.seats_alternative} single-member seat(s)"
        return txt


def qualifying(
    threshold: Threshold | None,
    votes: Mapping[str, int],
    *,
    national_votes: Mapping[str, int] | None = None,
    abroad_votes: Mapping[str, int] | None = None,
    seats_won: Mapping[str, int] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Which parties pass ``threshold``: (eligible names, {excluded name: reason})."""
    parties = list(votes)
    if threshold is None or (threshold.share == 0 and not threshold.seats_alternative):
        return parties, {}
    if threshold.base == "national":
        if national_votes is None:
            raise UsageError("a national threshold needs national_votes")
        base_votes = dict(check_votes(national_votes, "national votes"))
        if threshold.include_abroad and abroad_votes:
            for p, v in check_votes(abroad_votes, "votes abroad").items():
                base_votes[p] = base_votes.get(p, 0) + v
    else:
        base_votes = dict(votes)
    total = sum(base_votes.values())
    eligible, excluded = [], {}
    num, den = threshold.share.numerator, threshold.share.denominator
    for p in parties:
        v = base_votes.get(p, 0)
        passes = v * den >= num * total if threshold.inclusive else v * den > num * total
        if passes:
            eligible.append(p)
            continue
        won = (seats_won or {}).get(p, 0)
        if threshold.seats_alternative and won >= threshold.seats_alternative:
            eligible.append(p)
            continue
        share = f"{100 * v / total:.2f}%" if total else "no votes"
        excluded[p] = f"below threshold {threshold.describe()}: {share}"
    return eligible, excluded


# --------------------------------------------------------------------------- results
def json_safe(obj):
    """Replace infinite floats (unbounded quotients) by None, recursively: strict JSON."""
    if isinstance(obj, float) and math.isinf(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _fstr(q: Fraction | None) -> str | None:
    if q is None:
        return None
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


@dataclass
class Step:
    """One seat decision. ``quotient`` is exact (for Huntington–Hill it is the *squared*
    quotient, see ``squared``); ``quotient_approx`` is for display. ``rule`` names what
    decided the seat; ``kind`` is ``"seat"`` or, in mixed systems, ``"cancelled"``."""

    number: int
    party: str
    quotient: Fraction | None
    quotient_approx: float
    rule: str
    kind: str = "seat"
    squared: bool = False
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "number": self.number, "party": self.party, "kind": self.kind, "rule": self.rule,
            "quotient": _fstr(self.quotient), "quotient_squared": self.squared,
            "quotient_approx": self.quotient_approx, "note": self.note,
        }


@dataclass
class Tie:
    """Parties whose priorities are exactly equal when fewer seats remain than parties.

    ``resolved_by`` is ``"lot"`` (with ``seed`` and ``winners``) or ``None``: the tie
    blocks the result, and the tied seats stay unassigned (``Apportionment.decided`` is
    False)."""

    parties: list[str]
    seats_at_stake: int
    value: str
    resolved_by: str | None = None
    seed: int | None = None
    winners: list[str] = field(default_factory=list)

    def describe(self) -> str:
        s = (f"exact tie between {', '.join(self.parties)} (value {self.value}) for "
             f"{self.seats_at_stake} seat(s)")
        if self.resolved_by == "lot":
            return s + f"; decided by seeded lot (seed {self.seed}): {', '.join(self.winners)}"
        return s + "; NOT decided: the law's tie rule (e.g. a lot) must be applied by the authority"

    def to_dict(self) -> dict:
        return {"parties": self.parties, "seats_at_stake": self.seats_at_stake, "value": self.value,
                "resolved_by": self.resolved_by, "seed": self.seed, "winners": self.winners}


def closing_lines(last_seat: dict | None, tie: "Tie | None", notes) -> list[str]:
    """The end of every seat explanation: the last seat against the next in line, any
    tie, and the notes."""
    lines = ["  " + last_seat["text"]] if last_seat else []
    if tie:
        lines.append("  " + tie.describe() + ".")
    lines.extend("  Note: " + n for n in notes)
    return lines


@dataclass
class Apportionment:
    """Seats for one district under one method, with every step that led there."""

    method: str
    method_title: str
    citation: str
    house_size: int
    votes: dict[str, int]
    seats: dict[str, int]
    eligible: list[str]
    excluded: dict[str, str]
    steps: list[Step]
    district: str | None = None
    quota: Fraction | None = None
    automatic: dict[str, int] = field(default_factory=dict)
    remainders: dict[str, Fraction] = field(default_factory=dict)
    tie: Tie | None = None
    last_seat: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        return self.tie is None or self.tie.resolved_by is not None

    @property
    def assigned(self) -> int:
        return sum(self.seats.values())

    def quotient_table(self, extra: int = 1) -> dict[str, list[float]]:
        """Each eligible party's quotients v/d(k) for k = 0 .. seats won + ``extra`` − 1
        (display values; divisor methods only)."""
        m = method(self.method)
        if m.kind != "divisor":
            return {}
        table = {}
        for p in self.eligible:
            v = self.votes[p]
            row = []
            for k in range(self.seats.get(p, 0) + extra):
                row.append(_approx(m, _key(m, v, k)))
            table[p] = row
        return table

    def explanation(self) -> str:
        lines = []
        where = f" in {self.district}" if self.district else ""
        lines.append(f"{self.method_title}{where}: {self.house_size} seat(s).")
        if self.excluded:
            for p, why in self.excluded.items():
                lines.append(f"  {p} takes no seat: {why}.")
        if self.quota is not None:
            whole = ", ".join(f"{p} {n}" for p, n in self.automatic.items() if n)
            lines.append(f"  Quota {float(self.quota):,.4f} ({_fstr(self.quota)}); "
                         + (f"whole quotas give {whole}." if whole
                            else "no party reaches a whole quota, so every seat goes by largest remainder."))
        lines.extend(closing_lines(self.last_seat, self.tie, self.notes))
        return "\n".join(lines)

    def summary(self) -> str:
        order = sorted(self.seats, key=lambda p: (-self.seats[p], -self.votes.get(p, 0), p))
        body = ", ".join(f"{p} {self.seats[p]}" for p in order if self.seats[p])
        status = "" if self.decided else f" [UNDECIDED: {self.house_size - self.assigned} seat(s) tied]"
        return f"{body or 'no seats'}{status}\n{self.explanation()}"

    def to_dict(self) -> dict:
        return json_safe({
            "district": self.district,
            "method": self.method,
            "method_title": self.method_title,
            "citation": self.citation,
            "house_size": self.house_size,
            "decided": self.decided,
            "seats": dict(self.seats),
            "votes": dict(self.votes),
            "eligible": list(self.eligible),
            "excluded": dict(self.excluded),
            "quota": _fstr(self.quota),
            "automatic": dict(self.automatic),
            "remainders": {p: _fstr(r) for p, r in self.remainders.items()},
            "steps": [s.to_dict() for s in self.steps],
            # Display values of v/d(k) for k = 0 .. seats won (null = unbounded quotient).
            "quotient_table": self.quotient_table(),
            "tie": self.tie.to_dict() if self.tie else None,
            "last_seat": self.last_seat,
            "explanation": self.explanation(),
            "notes": list(self.notes),
        })


# --------------------------------------------------------------------------- divisor core
def _key(m: Method, v: int, k: int) -> tuple[int, Fraction]:
    """Exact priority of a party with ``v`` votes holding ``k`` seats. A zero divisor
    (Adams, Dean, Huntington–Hill at k = 0) means an unbounded quotient: tier 1, ordered
    among themselves by votes, which is the limit of v/ε."""
    d = m.divisor_power(k)
    if d == 0:
        return (1, Fraction(v))
    return (0, Fraction(v ** m.power) / d)


def _approx(m: Method, key: tuple[int, Fraction]) -> float:
    if key[0] == 1:
        return math.inf
    return float(key[1]) ** (1.0 / m.power) if m.power != 1 else float(key[1])


def _min_votes_to_beat(m: Method, k: int, target: tuple[int, Fraction]) -> int | None:
    """Smallest integer v with priority(v, k) strictly above ``target``."""
    d = m.divisor_power(k)
    if target[0] == 1 or d == 0:
        return None
    t = target[1] * d  # need v**power > t
    if m.power == 1:
        return math.floor(t) + 1
    return math.isqrt(math.floor(t)) + 1


def _ordinal(n: int) -> str:
    suf = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


def _resolve_tie(group: list[str], remaining: int, value: str, tie: str, seed) -> Tie:
    t = Tie(parties=sorted(group), seats_at_stake=remaining, value=value)
    if tie == "lot":
        rng = random.Random(seed)
        t.resolved_by, t.seed = "lot", seed
        t.winners = sorted(rng.sample(sorted(group), remaining))
    return t


def divisor_apportion(
    votes: Mapping[str, int],
    seats: int,
    m: Method,
    eligible: Iterable[str],
    *,
    start: Mapping[str, int] | None = None,
    tie: str = "block",
    seed: int | None = None,
    rule: str = "highest quotient",
) -> tuple[dict[str, int], list[Step], Tie | None]:
    """Award ``seats`` seats one at a time to the highest exact quotient.

    ``start`` gives seats already held (their divisors are skipped). Tied quotients are
    awarded together when enough seats remain; otherwise the tie is resolved by lot or
    reported (and the remaining seats left unassigned)."""
    held = {p: 0 for p in votes}
    if start:
        held.update(start)
    elig = [p for p in eligible if votes[p] > 0]
    steps: list[Step] = []
    remaining = seats
    number = sum(held.values())
    found_tie = None
    keys = {p: _key(m, votes[p], held[p]) for p in elig}
    while remaining > 0 and elig:
        best = max(keys.values())
        group = [p for p in elig if keys[p] == best]
        if len(group) > remaining:
            found_tie = _resolve_tie(group, remaining, _fstr(best[1]) if best[0] == 0 else "unbounded", tie, seed)
            if found_tie.resolved_by is None:
                break
            group = found_tie.winners
        for p in sorted(group, key=lambda p: (-votes[p], p)):
            number += 1
            held[p] += 1
            keys[p] = _key(m, votes[p], held[p])
            remaining -= 1
            r = rule if found_tie is None or p not in found_tie.winners else "tie decided by lot"
            steps.append(Step(number, p, best[1] if best[0] == 0 else None, _approx(m, best), r,
                              squared=m.power == 2))
    return held, steps, found_tie


def _last_seat_divisor(m, votes, held, steps, elig) -> dict | None:
    seat_steps = [s for s in steps if s.kind == "seat"]
    if not seat_steps:
        return None
    last = seat_steps[-1]
    last_key = (1, Fraction(votes[last.party])) if last.quotient is None else (0, last.quotient)
    others = [p for p in elig if p != last.party and votes[p] > 0]
    info = {"seat": last.number, "party": last.party, "quotient": _fstr(last.quotient),
            "quotient_approx": last.quotient_approx, "runner_up": None}
    if last.quotient is None:
        text = (f"The {_ordinal(last.number)} seat went to {last.party} as a first seat (divisor 0, "
                "unbounded quotient; first seats are ordered by votes)")
    else:
        text = (f"The {_ordinal(last.number)} seat went to {last.party} with quotient "
                f"{last.quotient_approx:,.2f}")
    if others:
        nxt = max(others, key=lambda p: (_key(m, votes[p], held[p]), votes[p]))
        nk = _key(m, votes[nxt], held[nxt])
        need = _min_votes_to_beat(m, held[nxt], last_key)
        more = None if need is None else max(0, need - votes[nxt])
        info["runner_up"] = {"party": nxt, "quotient": _fstr(nk[1]) if nk[0] == 0 else None,
                             "quotient_approx": _approx(m, nk), "votes_needed": more}
        if more is not None:
            text += (f"; next in line was {nxt} (quotient {_approx(m, nk):,.2f}), which needed "
                     f"{more:,} more vote(s) to take it")
        elif nk[0] == 1:
            text += f"; next in line was {nxt}, also without a seat, with fewer votes"
    info["text"] = text + "."
    return info


# --------------------------------------------------------------------------- quota core
def _quota_apportion(votes, seats, m, elig, tie, seed):
    total = sum(votes[p] for p in elig)
    q = m.quota(total, seats)
    auto = {p: (votes[p] * q.denominator) // q.numerator for p in elig}
    rem = {p: Fraction(votes[p]) - auto[p] * q for p in elig}  # remainder in votes
    steps: list[Step] = []
    notes: list[str] = []
    number = 0
    for p in sorted(elig, key=lambda p: (-votes[p], p)):
        for _ in range(auto[p]):
            number += 1
            steps.append(Step(number, p, Fraction(votes[p]) / q, float(Fraction(votes[p]) / q),
                              "whole quota (automatic seat)"))
    seats_out = {p: 0 for p in votes}
    seats_out.update(auto)
    left = seats - sum(auto.values())
    found_tie = None
    if left < 0:
        # Quotas below V/S (Hagenbach-Bischoff, Imperiali) can hand out more whole quotas
        # than seats. We take the excess back from the smallest remainders, one each: the
        # most common statutory fix, and stated in the notes because laws differ.
        notes.append(f"whole quotas exceeded the {seats} seats by {-left}; the excess was taken back "
                     "from the parties with the smallest remainders")
        excess = -left
        holders = sorted([p for p in elig if seats_out[p] > 0], key=lambda p: (rem[p], p))
        while excess >= len(holders) and holders:
            # Degenerate quotas (tiny electorates): every holder gives one back per round.
            for p in holders:
                seats_out[p] -= 1
                auto[p] -= 1
            excess -= len(holders)
            holders = [p for p in holders if seats_out[p] > 0]
        if excess == 0:
            holders = []
        cut = rem[holders[excess - 1]] if holders else None
        below = [p for p in holders if rem[p] < cut]
        group = [p for p in holders if rem[p] == cut]
        losers = list(below)
        if holders and len(below) + len(group) > excess:
            # Equal remainders at the cut: who loses a seat is a tie like any other.
            keep = len(below) + len(group) - excess
            found_tie = _resolve_tie(group, keep, f"remainder {_fstr(cut)} (who keeps a seat)", tie, seed)
            losers += [p for p in group if p not in found_tie.winners]
        else:
            losers += group
        for p in losers:
            seats_out[p] -= 1
            auto[p] -= 1
        steps, number = [], 0
        for p in sorted(elig, key=lambda p: (-votes[p], p)):
            for _ in range(auto[p]):
                number += 1
                steps.append(Step(number, p, Fraction(votes[p]) / q, float(Fraction(votes[p]) / q),
                                  "whole quota (automatic seat), after taking back the excess"))
        left = 0
    by_rem = sorted(elig, key=lambda p: (-rem[p], p))
    last_info = None
    while left > 0 and by_rem and found_tie is None:
        # ``left`` can exceed the number of parties only for degenerate quotas; cycle then.
        pool = by_rem[: min(left, len(by_rem))]
        cut = rem[pool[-1]]
        group_all = [p for p in by_rem if rem[p] == cut]
        sure = [p for p in pool if rem[p] > cut]
        slots = len(pool) - len(sure)
        if len(group_all) > slots:
            found_tie = _resolve_tie(group_all, slots, f"remainder {_fstr(cut)}", tie, seed)
            winners = sure + (found_tie.winners if found_tie.resolved_by else [])
        else:
            winners = pool
        for p in winners:
            number += 1
            seats_out[p] += 1
            r = "tie decided by lot" if found_tie and p in found_tie.winners else "largest remainder"
            steps.append(Step(number, p, rem[p], float(rem[p]), r, note="remainder in votes"))
        left -= len(pool)
        if found_tie and found_tie.resolved_by is None:
            break
    rem_steps = [s for s in steps if not s.rule.startswith("whole quota")]
    if rem_steps:
        last = rem_steps[-1]
        losers = [p for p in by_rem if p not in {s.party for s in rem_steps}]
        text = (f"The last remainder seat ({_ordinal(last.number)}) went to {last.party} with a "
                f"remainder of {float(rem[last.party]):,.2f} votes")
        last_info = {"seat": last.number, "party": last.party, "remainder": _fstr(rem[last.party]),
                     "runner_up": None}
        if losers:
            y = losers[0]
            gap = rem[last.party] - rem[y]
            need = math.floor(gap) + 1
            last_info["runner_up"] = {"party": y, "remainder": _fstr(rem[y]), "votes_needed_at_this_quota": need}
            text += (f"; next was {y} with {float(rem[y]):,.2f}, {need:,} vote(s) short at this quota "
                     "(extra votes also move the quota, so this is indicative)")
        last_info["text"] = text + "."
    return seats_out, steps, found_tie, q, auto, rem, notes, last_info


# --------------------------------------------------------------------------- entry point
def apportion(
    votes: Mapping[str, int],
    seats: int,
    method_name: str | Method = "dhondt",
    *,
    threshold: Threshold | None = None,
    national_votes: Mapping[str, int] | None = None,
    abroad_votes: Mapping[str, int] | None = None,
    seats_won: Mapping[str, int] | None = None,
    eligible: Iterable[str] | None = None,
    tie: str = "block",
    seed: int | None = None,
    district: str | None = None,
    rule: str | None = None,
) -> Apportionment:
    """Apportion ``seats`` among the parties in ``votes``.

    Parameters
    ----------
    votes : mapping party → non-negative int (a party absent from the mapping gets no
        seat; a party present with 0 votes is listed with 0 seats).
    seats : house (district) size, a non-negative int.
    method_name : a key of :data:`METHODS` or an alias (``"jefferson"``, ``"webster"``…).
    threshold, national_votes, abroad_votes, seats_won : see :class:`Threshold`.
    eligible : restrict competition to these parties (overrides ``threshold``).
    tie : ``"block"`` (default: an exact tie that decides a seat is reported and the tied
        seats stay unassigned) or ``"lot"`` (a seeded lot, reproducible with ``seed``).
    rule : name recorded on each step (e.g. the article of law that dictates it).

    Returns
    -------
    Apportionment — seats, the steps, the last seat against the next in line, and any tie.

    Raises InputError for negative or non-integer votes and for a district whose competing
    parties have no votes at all while seats are to be filled.
    """
    m = method(method_name)
    votes = check_votes(votes)
    if isinstance(seats, bool) or not isinstance(seats, numbers.Integral) or seats < 0:
        raise UsageError(f"seats must be a non-negative integer, got {seats!r}")
    seats = int(seats)
    if tie not in ("block", "lot"):
        raise UsageError(f"tie must be 'block' or 'lot', got {tie!r}")
    if eligible is not None:
        elig = [p for p in votes if p in set(eligible)]
        excluded = {p: "not eligible" for p in votes if p not in set(eligible)}
    else:
        elig, excluded = qualifying(threshold, votes, national_votes=national_votes,
                                    abroad_votes=abroad_votes, seats_won=seats_won)
    where = district or "votes"
    notes: list[str] = []
    if seats > 0 and sum(votes[p] for p in elig) == 0:
        raise InputError(where, f"no party eligible for seats has any votes ({seats} seat(s) to fill)")
    with_votes = [p for p in elig if votes[p] > 0]
    # More seats than parties with votes is ordinary (parties win several seats each);
    # parties with zero votes never win a seat, whatever the divisor at k = 0.
    res = Apportionment(method=m.key, method_title=m.title, citation=m.citation, house_size=seats,
                        votes=votes, seats={}, eligible=elig, excluded=excluded, steps=[],
                        district=district, notes=notes)
    if m.kind == "divisor":
        held, steps, found_tie = divisor_apportion(votes, seats, m, elig, tie=tie, seed=seed,
                                                   rule=rule or "highest quotient")
        res.seats, res.steps, res.tie = held, steps, found_tie
        res.last_seat = _last_seat_divisor(m, votes, held, steps, elig)
    else:
        seats_out, steps, found_tie, q, auto, rem, qnotes, last = _quota_apportion(
            votes, seats, m, with_votes, tie, seed) if seats > 0 else ({p: 0 for p in votes}, [], None, None, {}, {}, [], None)
        res.seats, res.steps, res.tie, res.quota = seats_out, steps, found_tie, q
        res.automatic, res.remainders, res.last_seat = auto, rem, last
        res.notes.extend(qnotes)
    return res
