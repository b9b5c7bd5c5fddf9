"""Assertions: an electoral outcome reduced to statements "the mean of an assorter is
above 1/2" (Stark, "Sets of Half-Average Nulls Generate Risk-Limiting Audits: SHANGRLA",
Voting'20 / LNCS 12457, 2020).

Every assertion here is *linear* in the vote counts. A ballot (or ballot slot) gets a
score ``s``:

* a valid vote for choice ``c`` scores ``coef[c]`` (``other`` for choices not listed);
* a blank, null or otherwise invalid ballot scores 0 (the law counts shares of *valid*
  votes, so such ballots must not move the assertion either way);

and the assertion claims ``sum of scores > 0``. The assorter is the affine rescaling
``a = (m + s) / (2m)`` with ``m = -min(score)`` so that ``a >= 0``, the neutral ballot sits
exactly at 1/2, and ``mean(a) > 1/2  <=>  sum(s) > 0``. Its upper bound is
``u = (m + max(score)) / (2m)``.

Building blocks (shares are of valid votes, ``V`` = total valid):

* pairwise ``w beats l``:            ``s = +1 (w), -1 (l), 0 (others)``; ``v_w - v_l > 0``;
* share above ``t`` (majority t=1/2): ``s = 1 - t (w), -t (other valid)``; ``v_w - tV > 0``;
* lead of at least ``d`` over ``r``:  ``s = 1 - d (w), -1 - d (r), -d (other valid)``;
  ``v_w - v_r - dV > 0``.

Null hypotheses are the complements ("share <= t", "lead <= d"); rejecting them proves the
strict inequality, which implies the legal "at least" form. That is conservative by at
most one vote.

Decisions about *which* assertions hold on the reported results use exact
:class:`fractions.Fraction` arithmetic on integer vote totals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np

from escrutinio.errors import UsageError

HALF = Fraction(1, 2)


def _frac(x) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, float):
        # floats such as 0.1 are meant as decimals, not binary fractions
        return Fraction(repr(x))
    return Fraction(x)


@dataclass(frozen=True)
class Assertion:
    """One linear assertion ``sum over ballots of score > 0``.

    ``coef`` maps choices to their score; valid votes for any other choice score
    ``other``; invalid ballots (blank, null, unused slots) score 0.
    """

    name: str
    coef: Mapping[str, Fraction]
    other: Fraction = Fraction(0)
    kind: str = "linear"
    params: Mapping[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------ assorter
    @property
    def scale(self) -> Fraction:
        """``m``: minus the smallest possible score (invalid ballots score 0)."""
        low = min([Fraction(0), self.other, *self.coef.values()])
        if low >= 0:
            raise UsageError(f"assertion {self.name!r} has no negative score: it cannot fail")
        return -low

    @property
    def upper_bound(self) -> Fraction:
        """``u``: the largest value the assorter takes."""
        high = max([Fraction(0), self.other, *self.coef.values()])
        return (self.scale + high) / (2 * self.scale)

    def score(self, choice: str | None) -> Fraction:
        if choice is None:
            return Fraction(0)
        return self.coef.get(choice, self.other)

    def assorter(self, choice: str | None) -> Fraction:
        """Assorter value of one ballot; ``None`` is an invalid (blank/null) ballot."""
        m = self.scale
        return (m + self.score(choice)) / (2 * m)

    def assorter_vector(self, choices: Sequence[str]) -> np.ndarray:
        """Assorter values for valid votes for each of ``choices`` (float64)."""
        return np.array([float(self.assorter(c)) for c in choices])

    # ------------------------------------------------------------ reported
    def score_total(self, counts: Mapping[str, int]) -> Fraction:
        """Exact sum of scores over valid votes ``counts`` (choice -> votes)."""
        return sum((self.score(c) * int(v) for c, v in counts.items()), Fraction(0))

    def holds(self, counts: Mapping[str, int]) -> bool:
        """Does the assertion hold on these (reported) counts? Exact."""
        return self.score_total(counts) > 0

    def assorter_margin(self, counts: Mapping[str, int], ballots: int) -> Fraction:
        """Diluted assorter margin ``2 * mean(a) - 1`` over ``ballots`` ballot cards
        (valid + invalid + unused slots counted as neutral). Exact."""
        if ballots <= 0:
            raise UsageError("ballots must be positive")
        return self.score_total(counts) / (self.scale * ballots)

    def batch_totals(self, votes: np.ndarray, choices: Sequence[str], slots: np.ndarray) -> np.ndarray:
        """Assorter totals per batch: ``votes`` is (batches x choices) valid votes,
        ``slots`` the ballot slots per batch (ballots or the bound on them); slots that
        are not valid votes are neutral (1/2)."""
        a = self.assorter_vector(choices)
        valid = votes.sum(axis=1)
        return votes @ a + 0.5 * (slots - valid)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "coef": {k: str(v) for k, v in self.coef.items()},
            "other": str(self.other),
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Assertion":
        return cls(
            name=d["name"],
            coef={k: Fraction(v) for k, v in d["coef"].items()},
            other=Fraction(d["other"]),
            kind=d.get("kind", "linear"),
            params=dict(d.get("params", {})),
        )

    def negated(self, name: str | None = None) -> "Assertion":
        """The complementary claim ``sum of scores < 0`` (used to audit a *runoff*:
        "the winner did not reach the threshold")."""
        return Assertion(
            name=name or f"not ({self.name})",
            coef={k: -v for k, v in self.coef.items()},
            other=-self.other,
            kind=f"not-{self.kind}",
            params=dict(self.params),
        )


# ---------------------------------------------------------------- builders
def pairwise(winner: str, loser: str) -> Assertion:
    """``winner`` has more valid votes than ``loser`` (plurality, SHANGRLA sec. 2.1)."""
    return Assertion(
        name=f"{winner} beats {loser}",
        coef={winner: Fraction(1), loser: Fraction(-1)},
        kind="pairwise",
        params={"winner": winner, "loser": loser},
    )


def share_above(winner: str, t) -> Assertion:
    """``winner``'s share of valid votes exceeds ``t`` (super-majority, SHANGRLA sec. 2.3)."""
    t = _frac(t)
    if not 0 < t < 1:
        raise UsageError(f"threshold must be in (0, 1), got {t}")
    return Assertion(
        name=f"share {winner} > {float(t) * 100:g}%",
        coef={winner: 1 - t},
        other=-t,
        kind="share",
        params={"winner": winner, "threshold": str(t)},
    )


def majority(winner: str) -> Assertion:
    """Absolute majority: share of valid votes above 50%."""
    a = share_above(winner, HALF)
    return Assertion(a.name, a.coef, a.other, "majority", a.params)


def lead_at_least(winner: str, rival: str, d) -> Assertion:
    """``winner``'s share minus ``rival``'s share of valid votes exceeds ``d`` (e.g. 0.10
    for "a 10-point lead"). Linear: ``v_w - v_r - d V > 0``."""
    d = _frac(d)
    if not 0 <= d < 1:
        raise UsageError(f"lead must be in [0, 1), got {d}")
    return Assertion(
        name=f"lead {winner} over {rival} > {float(d) * 100:g} pts",
        coef={winner: 1 - d, rival: -1 - d},
        other=-d,
        kind="lead",
        params={"winner": winner, "rival": rival, "lead": str(d)},
    )


def plurality(totals: Mapping[str, int], winners: int = 1) -> list[Assertion]:
    """Every reported winner beats every reported loser."""
    order = _ranked(totals)
    return [pairwise(w, l) for w in order[:winners] for l in order[winners:]]


def _ranked(totals: Mapping[str, int]) -> list[str]:
    if len(totals) < 2:
        raise UsageError("need at least two choices")
    return sorted(totals, key=lambda c: (-int(totals[c]), c))


# ----------------------------------------------------- first-round rules
@dataclass(frozen=True)
class RoundRule:
    """A two-round presidential rule: a first-round win needs a share above
    ``majority`` or (a share of at least ``share`` and a lead of at least ``lead``)."""

    name: str
    majority: Fraction
    share: Fraction
    lead: Fraction
    citation: str


BOLIVIA = RoundRule("bolivia", HALF, Fraction(2, 5), Fraction(1, 10),
                    "Constitución Política del Estado (2009), art. 166")
ARGENTINA = RoundRule("argentina", Fraction(9, 20), Fraction(2, 5), Fraction(1, 10),
                      "Constitución de la Nación Argentina, arts. 97-98")
ECUADOR = RoundRule("ecuador", HALF, Fraction(2, 5), Fraction(1, 10),
                    "Constitución de la República del Ecuador (2008), art. 143")
RULES = {r.name: r for r in (BOLIVIA, ARGENTINA, ECUADOR)}


def _min_margin(assertions: list[Assertion], totals: Mapping[str, int]) -> Fraction:
    ballots = sum(int(v) for v in totals.values())
    return min(a.assorter_margin(totals, ballots) for a in assertions)


def first_round(totals: Mapping[str, int], rule: RoundRule | str = BOLIVIA) -> list[Assertion]:
    """Assertions that prove the *reported* outcome of a two-round rule.

    ``totals`` are valid votes per counted choice. If the leader wins in the first round,
    the candidate sets are {share > majority} and {share > share-threshold, lead over
    *every* other choice > lead} (checking only the reported runner-up would miss the case
    where a third choice is really second); the set whose hardest assertion has the largest
    margin is returned. If the reported outcome is a runoff, the returned set proves
    "no first-round winner" (leader below each threshold as reported) and that the two
    runoff entrants each beat every other choice.
    """
    rule = RULES[rule] if isinstance(rule, str) else rule
    order = _ranked(totals)
    w = order[0]
    win_sets = [
        [share_above(w, rule.majority)],
        [share_above(w, rule.share)] + [lead_at_least(w, r, rule.lead) for r in order[1:]],
    ]
    valid_sets = [s for s in win_sets if all(a.holds(totals) for a in s)]
    if valid_sets:
        return max(valid_sets, key=lambda s: _min_margin(s, totals))
    # runoff: nobody (in particular not the leader; others have smaller shares and leads)
    # met a first-round condition. The disjunction "share <= t or lead <= d" is proved
    # through whichever disjunct is easier on the reported counts.
    no_majority = share_above(w, rule.majority).negated(f"share {w} <= {float(rule.majority) * 100:g}%")
    second = [share_above(w, rule.share).negated(f"share {w} <= {float(rule.share) * 100:g}%")]
    runner = order[1]
    lead_fail = lead_at_least(w, runner, rule.lead).negated(
        f"lead {w} over {runner} <= {float(rule.lead) * 100:g} pts")
    options = [s for s in (second, [lead_fail]) if all(a.holds(totals) for a in s)]
    chosen = max(options, key=lambda s: _min_margin(s, totals)) if options else second
    entrants = [pairwise(e, l) for e in order[:2] for l in order[2:]]
    out = [no_majority] if no_majority.holds(totals) else []
    return out + chosen + entrants


def dhondt(totals: Mapping[str, int], seats: int) -> list[Assertion]:
    """D'Hondt seat assertions (SHANGRLA sec. 2.4 / Blom et al. 2021): for every party
    ``A`` with ``s_A`` seats and every party ``B`` with ``s_B`` seats, the last quotient
    that won ``A`` a seat beats the first quotient that would have given ``B`` one more:
    ``v_A / s_A > v_B / (s_B + 1)``, i.e. ``(s_B + 1) v_A - s_A v_B > 0``."""
    if seats < 1:
        raise UsageError("seats must be positive")
    quotients = sorted(((Fraction(int(v), k), c) for c, v in totals.items() for k in range(1, seats + 1)),
                       key=lambda q: (-q[0], q[1]))
    won: dict[str, int] = {c: 0 for c in totals}
    for _, c in quotients[:seats]:
        won[c] += 1
    out = []
    for a, sa in won.items():
        if sa == 0:
            continue
        for b, sb in won.items():
            if a == b:
                continue
            out.append(Assertion(
                name=f"D'Hondt seat {sa} of {a} beats seat {sb + 1} of {b}",
                coef={a: Fraction(sb + 1), b: Fraction(-sa)},
                kind="dhondt",
                params={"party": a, "seats": str(sa), "rival": b, "rival_seats": str(sb)},
            ))
    return out


def from_rule(totals: Mapping[str, int], rule) -> list[Assertion]:
    """Assertions for the outcome of any presidential rule (:mod:`escrutinio.law.presidential`:
    a preset name, a law TOML file, or a rule object).

    Bolivia, Argentina and Ecuador keep their :func:`first_round` sets. A plurality rule
    is :func:`plurality`. Otherwise, for a first-round win, each clause (share, and lead
    over every other choice when the clause has one) is a candidate set and the one with
    the largest smallest margin is proved; for a runoff, every clause is refuted through
    its easier condition, and the two entrants beat every other choice."""
    from escrutinio.law import presidential

    if isinstance(rule, str):
        if rule in RULES:
            return first_round(totals, rule)
        rule = presidential.preset(rule)
    if rule.kind == "plurality" or not rule.clauses:
        return plurality(totals)
    order = _ranked(totals)
    w = order[0]

    def clause_set(c) -> list[Assertion]:
        out = [share_above(w, c.min_share)]
        if c.min_lead is not None:
            out += [lead_at_least(w, r, c.min_lead) for r in order[1:]]
        return out

    win_sets = [clause_set(c) for c in rule.clauses]
    valid_sets = [s for s in win_sets if all(a.holds(totals) for a in s)]
    if valid_sets:
        return max(valid_sets, key=lambda s: _min_margin(s, totals))
    out: list[Assertion] = []
    for c in rule.clauses:
        share_fail = share_above(w, c.min_share).negated(f"share {w} <= {float(c.min_share) * 100:g}%")
        options = [[share_fail]]
        if c.min_lead is not None:
            lead_fail = lead_at_least(w, order[1], c.min_lead).negated(
                f"lead {w} over {order[1]} <= {float(c.min_lead) * 100:g} pts")
            options.append([lead_fail])
        holding = [s for s in options if all(a.holds(totals) for a in s)]
        chosen = max(holding, key=lambda s: _min_margin(s, totals)) if holding else options[0]
        out += [a for a in chosen if a.name not in {x.name for x in out}]
    return out + [pairwise(e, l) for e in order[:2] for l in order[2:]]


def build(kind: str, totals: Mapping[str, int], *, winner: str | None = None, threshold=None,
          lead=None, seats: int | None = None) -> list[Assertion]:
    """Assertion set by name: ``plurality``, ``majority``, ``share``, ``lead``,
    ``bolivia``, ``argentina``, ``ecuador``, ``dhondt``."""
    order = _ranked(totals)
    w = winner or order[0]
    if kind == "plurality":
        return [pairwise(w, l) for l in order if l != w]
    if kind == "majority":
        return [majority(w)]
    if kind == "share":
        return [share_above(w, threshold if threshold is not None else Fraction(2, 5))]
    if kind == "lead":
        d = lead if lead is not None else Fraction(1, 10)
        return [lead_at_least(w, r, d) for r in order if r != w]
    if kind in RULES:
        return first_round(totals, kind)
    if kind.startswith("rule:"):
        return from_rule(totals, kind.removeprefix("rule:"))
    if kind == "dhondt":
        if seats is None:
            raise UsageError("dhondt needs seats")
        return dhondt(totals, seats)
    raise UsageError(f"unknown assertion kind {kind!r}")
