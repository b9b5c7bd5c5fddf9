"""Presidential rules as data: who wins in the first round, and whether a runoff is due.

A rule is a list of *clauses*; the leading candidate wins in the first round when any
clause holds. A clause is a share condition (``share > 50%`` or ``share >= 40%``) and an
optional lead condition over the runner-up (``lead >= 10 points``). Every comparison is
made on integers (``100*w > 50*V`` rather than ``w/V > 0.5``), so no float rounding can
decide an outcome. Rules load from TOML presets (``law/presets/presidential.toml``) or are
built in code.

The verdict says how far the result is from every line, in votes and points:

* ``margin_votes``: by how many votes the condition's left side exceeds the line, all
  else fixed (negative: short of it);
* ``votes_to_flip``: the fewest votes that, moved from the leader to the runner-up (for a
  lead condition) or from the leader to the others (for a share condition), would flip
  the condition.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from typing import Mapping


@dataclass(frozen=True)
class Clause:
    """``share (>|>=) min_share`` and, when set, ``lead (>|>=) min_lead`` (fractions of the base)."""

    min_share: Fraction
    share_strict: bool = False
    min_lead: Fraction | None = None
    lead_strict: bool = False
    article: str = ""

    def describe(self) -> str:
        s = f"share {'>' if self.share_strict else '≥'} {_pct(self.min_share)}%"
        if self.min_lead is not None:
            s += f" and lead {'>' if self.lead_strict else '≥'} {_pct(self.min_lead)} points"
        return s


@dataclass(frozen=True)
class PresidentialRule:
    name: str
    kind: str  # "plurality" | "threshold"
    clauses: tuple[Clause, ...] = ()
    base: str = "valid"  # shares of valid votes (sum of choices)
    source: str = ""

    def decide(self, votes: Mapping[str, int]) -> "Verdict":
        return decide(self, votes)


@dataclass(frozen=True)
class Condition:
    clause: int
    name: str  # "share" | "lead"
    line: str  # e.g. "share >= 40%"
    holds: bool
    value_points: float
    threshold_points: float
    distance_points: float
    margin_votes: int
    votes_to_flip: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Verdict:
    rule: str
    outcome: str  # "first_round_win" | "runoff" | "winner" | "tie" | "no_votes"
    winner: str | None
    runner_up: str | None
    base_votes: int
    winner_votes: int
    runner_up_votes: int
    lead_votes: int
    lead: Fraction
    conditions: tuple[Condition, ...] = field(default=())
    deciding_clause: int | None = None
    explanation: str = ""

    @property
    def lead_points(self) -> float:
        return float(self.lead * 100)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "winner": self.winner,
            "runner_up": self.runner_up,
            "lead_points": round(self.lead_points, 2),
            "lead_points_exact": f"{self.lead * 100}",
            "lead_votes": self.lead_votes,
            "base_votes": self.base_votes,
            "winner_votes": self.winner_votes,
            "runner_up_votes": self.runner_up_votes,
            "deciding_clause": self.deciding_clause,
            "conditions": [c.to_dict() for c in self.conditions],
            "explanation": self.explanation,
        }

    def summary(self) -> str:
        lines = [self.explanation]
        for c in self.conditions:
            mark = "holds" if c.holds else "fails"
            lines.append(
                f"  clause {c.clause + 1}, {c.line}: {mark} ({c.value_points:.2f} vs {c.threshold_points:g}; "
                f"{c.distance_points:+.2f} points, {c.margin_votes:+,} votes; {c.votes_to_flip:,} votes moved would flip it)"
            )
        return "\n".join(lines)


def _pct(f: Fraction) -> str:
    v = f * 100
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


def _ceil_frac(f: Fraction) -> int:
    return -((-f.numerator) // f.denominator)


def _share_condition(i: int, c: Clause, w: int, total: int) -> Condition:
    t = c.min_share
    line = f"share {'>' if c.share_strict else '≥'} {_pct(t)}%"
    # smallest integer count that satisfies the line
    need = math.floor(t * total) + 1 if c.share_strict else _ceil_frac(t * total)
    holds = w >= need
    margin = w - need
    # moving k votes from the leader to others keeps the total: fails once w-k < need
    flip = margin + 1 if holds else -margin
    value = Fraction(w, total) if total else Fraction(0)
    return Condition(i, "share", line, holds, float(value * 100), float(t * 100), float((value - t) * 100), margin, flip)


def _lead_condition(i: int, c: Clause, w: int, r: int, total: int) -> Condition:
    t = c.min_lead
    line = f"lead {'>' if c.lead_strict else '≥'} {_pct(t)} points"
    need = math.floor(t * total) + 1 if c.lead_strict else _ceil_frac(t * total)
    lead = w - r
    holds = lead >= need
    margin = lead - need
    # moving one vote from leader to runner-up changes the lead by 2
    flip = (margin // 2) + 1 if holds else (-margin + 1) // 2
    value = Fraction(lead, total) if total else Fraction(0)
    return Condition(i, "lead", line, holds, float(value * 100), float(t * 100), float((value - t) * 100), margin, flip)


def decide(rule: PresidentialRule, votes: Mapping[str, int]) -> Verdict:
    """Apply a rule to votes per choice (the base is their sum)."""
    for name, v in votes.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"votes must be integers; {name!r} has {v!r}")
        if v < 0:
            raise ValueError(f"negative votes for {name!r}")
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(votes.values())
    if total == 0 or not ranked:
        return Verdict(rule.name, "no_votes", None, None, 0, 0, 0, 0, Fraction(0), explanation="No valid votes.")
    (wname, w) = ranked[0]
    (rname, r) = ranked[1] if len(ranked) > 1 else (None, 0)
    lead = Fraction(w - r, total)
    common = dict(rule=rule.name, base_votes=total, winner_votes=w, runner_up_votes=r, lead_votes=w - r, lead=lead)
    if rname is not None and w == r:
        tied = [n for n, v in ranked if v == w]
        return Verdict(outcome="tie", winner=None, runner_up=None, explanation=f"Exact tie at the top between {tied} with {w:,} votes each; the law's tie-break applies.", **common)
    if rule.kind == "plurality":
        said = (" No presidential rule is declared for these files (--rule, or the mapping's [law]): plurality "
                "applies by default." if rule.source == DEFAULT_SOURCE else "")
        return Verdict(outcome="winner", winner=wname, runner_up=rname,
                       explanation=f"{wname} wins by plurality with {float(Fraction(w, total) * 100):.2f}% ({w - r:,} votes ahead of {rname}).{said}", **common)
    conditions: list[Condition] = []
    deciding = None
    for i, c in enumerate(rule.clauses):
        share = _share_condition(i, c, w, total)
        conditions.append(share)
        ok = share.holds
        if c.min_lead is not None:
            lc = _lead_condition(i, c, w, r, total)
            conditions.append(lc)
            ok = ok and lc.holds
        if ok and deciding is None:
            deciding = i
    share_pct = float(Fraction(w, total) * 100)
    if deciding is not None:
        outcome = "first_round_win"
        text = (f"{wname} wins in the first round with {share_pct:.2f}% of valid votes and a lead of "
                f"{float(lead * 100):.2f} points over {rname}, under clause {deciding + 1} "
                f"({rule.clauses[deciding].describe()}) of {rule.name}.")
    else:
        outcome = "runoff"
        text = (f"Runoff between {wname} ({share_pct:.2f}%) and {rname} "
                f"({float(Fraction(r, total) * 100):.2f}%): no first-round clause of {rule.name} holds.")
    return Verdict(outcome=outcome, winner=wname, runner_up=rname, conditions=tuple(conditions), deciding_clause=deciding, explanation=text, **common)


# ------------------------------------------------------------------ presets
def _frac(x) -> Fraction:
    return Fraction(str(x))


def rule_from_dict(name: str, d: dict) -> PresidentialRule:
    clauses = tuple(
        Clause(
            min_share=_frac(c["share"]) / 100,
            share_strict=c.get("share_strict", False),
            min_lead=_frac(c["lead"]) / 100 if "lead" in c else None,
            lead_strict=c.get("lead_strict", False),
            article=c.get("article", ""),
        )
        for c in d.get("clauses", [])
    )
    return PresidentialRule(name=d.get("name", name), kind=d.get("kind", "threshold"), clauses=clauses,
                            base=d.get("base", "valid"), source=d.get("source", ""))


def presets() -> dict[str, PresidentialRule]:
    text = resources.files("escrutinio.law").joinpath("presets/presidential.toml").read_bytes()
    doc = tomllib.loads(text.decode("utf-8"))
    return {key: rule_from_dict(key, d) for key, d in doc.items()}


def preset(name: str) -> PresidentialRule:
    """A bundled preset by name, or the ``[presidential]`` rule of a law TOML file
    (:mod:`escrutinio.law.lawfile`) given by its path."""
    all_ = presets()
    if name in all_:
        return all_[name]
    if str(name).lower().endswith(".toml"):
        from escrutinio.law.lawfile import load_law

        law = load_law(name)
        if law.presidential is None:
            raise KeyError(f"law file {name} declares no [presidential] rule")
        return law.presidential
    raise KeyError(f"no presidential rule preset {name!r}; presets: {sorted(all_)}, or a law TOML file")


DEFAULT_SOURCE = ("default: no presidential rule is declared for these files (--rule, or the mapping's [law]); "
                  "plurality applies")


def resolve(name: str | None = None, declared: str | None = None) -> PresidentialRule:
    """The rule in force: the one asked for (``--rule``), else the one the mapping
    declares, else plurality, marked as a default so that the verdict says so."""
    key = name or declared
    if key:
        return preset(key)
    from dataclasses import replace

    # the name travels into every verdict text, so the default is said wherever the rule is
    return replace(preset("plurality"), name="Plurality (the default: no presidential rule is declared for these "
                   "files; --rule or the mapping's [law] declares one)", source=DEFAULT_SOURCE)
