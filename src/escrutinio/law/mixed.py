"""Mixed-member compensation: list seats computed on a proportional entitlement, minus the
seats a party already won in single-member districts.

A party's *entitlement* is its share of the ``base_seats`` under a divisor method. Its
single-member wins are deducted from the entitlement; the list seats fill the gap.
When a party wins more single-member seats than its entitlement (*overhang*), a policy
decides what happens:

``"fixed"`` (Bolivia, Ley 026): the house size is fixed. The quotients are walked from the
    highest; a party's first *w* quotients are cancelled by its *w* single-member wins and
    each further quotient earns a list seat, until the list seats are filled. An
    overhanging party keeps its wins and gets no list seat; the parties with the lowest
    quotients lose the list seats that the overhang used up.
``"keep"``: every other party still gets its full entitlement; the house grows by the
    overhang (Germany 1956–2008; New Zealand).
``"level"``: the house grows until no party overhangs (every entitlement covers the
    party's wins), and each party's list seats make up the difference (Germany 2013–2020,
    "Ausgleichsmandate"; Pukelsheim 2017, ch. 14).

Parties below the threshold keep their single-member wins and get no list seats under
every policy.

References: Pukelsheim, F. (2017), *Proportional Representation*, 2nd ed., ch. 14
(personalized PR, overhang and leveling seats); Bolivia: Ley 026 de Régimen Electoral
(2010), the chapter on the election of deputies (arts. 50–61 as cited in issue 3).

Caveat: the result is exact for the votes and wins given. With a partial count, both the
entitlement and the single-member winners can still change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping

from escrutinio.errors import UsageError
from escrutinio.law.apportionment import (
    Step,
    Threshold,
    Tie,
    _approx,
    _fstr,
    _key,
    _min_votes_to_beat,
    _ordinal,
    _resolve_tie,
    apportion,
    check_votes,
    closing_lines,
    json_safe,
    method,
    qualifying,
)

POLICIES = ("fixed", "keep", "level")


@dataclass
class MixedResult:
    """Seats of one district under a mixed-member system."""

    district: str | None
    method: str
    policy: str
    base_seats: int
    list_seats_available: int
    votes: dict[str, int]
    wins: dict[str, int]
    list_seats: dict[str, int]
    seats: dict[str, int]
    eligible: list[str]
    excluded: dict[str, str]
    entitlement: dict[str, int]
    steps: list[Step]
    house_size: int
    overhang: dict[str, int] = field(default_factory=dict)
    undetermined: int = 0
    tie: Tie | None = None
    last_seat: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        return self.tie is None or self.tie.resolved_by is not None

    def explanation(self) -> str:
        where = f" in {self.district}" if self.district else ""
        lines = [f"Mixed-member ({self.policy} house size), {method(self.method).title}{where}: "
                 f"base {self.base_seats} seat(s), {self.list_seats_available} list seat(s)."]
        wins = ", ".join(f"{p} {n}" for p, n in self.wins.items() if n)
        if wins:
            lines.append(f"  Single-member wins: {wins}; they cancel each party's highest quotients first.")
        for p, why in self.excluded.items():
            extra = f" (keeps {self.wins[p]} single-member seat(s))" if self.wins.get(p) else ""
            lines.append(f"  {p} gets no list seat: {why}{extra}.")
        for p, n in self.overhang.items():
            if n:
                lines.append(f"  {p} won {n} single-member seat(s) beyond its proportional entitlement (overhang).")
        if self.undetermined:
            lines.append(f"  {self.undetermined} single-member seat(s) have no winner in the data yet.")
        lines.extend(closing_lines(self.last_seat, self.tie, self.notes))
        return "\n".join(lines)

    def summary(self) -> str:
        order = sorted(self.seats, key=lambda p: (-self.seats[p], -self.votes.get(p, 0), p))
        body = ", ".join(f"{p} {self.seats[p]} ({self.wins.get(p, 0)}+{self.list_seats.get(p, 0)})"
                         for p in order if self.seats[p])
        return f"{body or 'no seats'}  [single-member+list]\n{self.explanation()}"

    def to_dict(self) -> dict:
        return json_safe({
            "district": self.district, "method": self.method, "policy": self.policy,
            "base_seats": self.base_seats, "list_seats_available": self.list_seats_available,
            "house_size": self.house_size, "decided": self.decided,
            "seats": dict(self.seats), "single_member": dict(self.wins), "list": dict(self.list_seats),
            "entitlement": dict(self.entitlement), "overhang": dict(self.overhang),
            "undetermined": self.undetermined, "votes": dict(self.votes),
            "eligible": list(self.eligible), "excluded": dict(self.excluded),
            "steps": [s.to_dict() for s in self.steps],
            "tie": self.tie.to_dict() if self.tie else None, "last_seat": self.last_seat,
            "explanation": self.explanation(), "notes": list(self.notes),
        })


def _check_wins(wins: Mapping[str, int] | None) -> dict[str, int]:
    out = check_votes(wins or {}, "single-member wins")
    return out


def compensate(
    votes: Mapping[str, int],
    base_seats: int,
    wins: Mapping[str, int] | None = None,
    *,
    list_seats: int | None = None,
    method_name: str = "dhondt",
    policy: str = "fixed",
    threshold: Threshold | None = None,
    national_votes: Mapping[str, int] | None = None,
    abroad_votes: Mapping[str, int] | None = None,
    eligible: Iterable[str] | None = None,
    tie: str = "block",
    seed: int | None = None,
    district: str | None = None,
) -> MixedResult:
    """Compensatory list seats for one district.

    ``base_seats``: seats on which the entitlement is computed (single-member + list).
    ``wins``: single-member seats won per party (any party, eligible or not).
    ``list_seats``: list seats to fill; default ``base_seats − sum(wins)``. Pass it
    explicitly when some single-member results are still unknown (a partial count): the
    unknown seats are then reported as ``undetermined``.
    """
    m = method(method_name)
    if m.kind != "divisor":
        raise UsageError("mixed-member compensation needs a divisor method")
    if policy not in POLICIES:
        raise UsageError(f"policy must be one of {POLICIES}, got {policy!r}")
    votes = check_votes(votes)
    wins = _check_wins(wins)
    for p in wins:
        votes.setdefault(p, 0)
    total_wins = sum(wins.values())
    if list_seats is None:
        list_seats = base_seats - total_wins
    if list_seats < 0:
        raise UsageError(f"{district or 'district'}: {total_wins} single-member wins exceed the base of {base_seats} seats")
    undetermined = base_seats - list_seats - total_wins
    if undetermined < 0:
        raise UsageError(f"{district or 'district'}: {total_wins} single-member wins + {list_seats} list seats exceed {base_seats}")
    if eligible is not None:
        elig = [p for p in votes if p in set(eligible)]
        excluded = {p: "not eligible" for p in votes if p not in set(eligible)}
    else:
        elig, excluded = qualifying(threshold, votes, national_votes=national_votes,
                                    abroad_votes=abroad_votes, seats_won=wins)
    notes: list[str] = []
    ent = apportion(votes, base_seats, m, eligible=elig, tie=tie, seed=seed, district=district)
    entitlement = {p: ent.seats.get(p, 0) for p in votes}
    res = MixedResult(district=district, method=m.key, policy=policy, base_seats=base_seats,
                      list_seats_available=list_seats, votes=votes, wins={p: wins.get(p, 0) for p in votes},
                      list_seats={p: 0 for p in votes}, seats={}, eligible=elig, excluded=excluded,
                      entitlement=entitlement, steps=[], house_size=base_seats, undetermined=undetermined,
                      notes=notes)
    if policy == "fixed":
        _walk_fixed(res, m, list_seats, tie, seed)
    else:
        target = base_seats
        if policy == "level":
            # Smallest house where every eligible party's entitlement covers its wins. Divisor
            # methods are house-monotone, so "covered" is monotone in the size: double, then bisect.
            def covered(size):
                e = apportion(votes, size, m, eligible=elig, tie=tie, seed=seed)
                # A party with no list votes can never be levelled: its wins stay overhang.
                return e, all(e.seats.get(p, 0) >= wins.get(p, 0) for p in elig if votes[p] > 0)

            cap = max(10 * base_seats, 1000)
            e, ok = covered(target)
            lo, hi = target, target
            while not ok:
                lo, hi = hi, max(1, hi * 2)
                if hi > cap:
                    raise UsageError(f"{district or 'district'}: leveling the overhang would need more than "
                                     f"{cap} seats; use policy 'keep' or 'fixed'")
                e, ok = covered(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                e_mid, ok_mid = covered(mid)
                if ok_mid:
                    hi = mid
                else:
                    lo = mid
            e, _ = covered(hi)
            target = hi
            ent = e
            if target > base_seats:
                res.notes.append(f"leveling: the proportional base grew from {base_seats} to {target} seats")
        for p in elig:
            res.list_seats[p] = max(0, ent.seats.get(p, 0) - wins.get(p, 0))
        res.tie = ent.tie
        res.steps = ent.steps
        res.last_seat = ent.last_seat
        res.entitlement = {p: ent.seats.get(p, 0) for p in votes}
    res.overhang = {p: max(0, wins.get(p, 0) - res.entitlement.get(p, 0)) for p in votes
                    if wins.get(p, 0) > res.entitlement.get(p, 0)}
    res.seats = {p: res.wins.get(p, 0) + res.list_seats.get(p, 0) for p in votes}
    res.house_size = sum(res.seats.values()) + undetermined + (
        res.tie.seats_at_stake if res.tie and res.tie.resolved_by is None else 0)
    return res


def _exact(q: Fraction | None, approx: float, squared: bool = False) -> str:
    """A quotient as the exact fraction it is, with its decimal value when not whole:
    ``29,929/3 ≈ 9,976.33``; ``6,179``. (Squared quotients, Huntington-Hill, and
    unbounded ones show the decimal value only.)"""
    if q is None or squared:
        return f"{approx:,.2f}"
    if q.denominator == 1:
        return f"{q.numerator:,}"
    return f"{q.numerator:,}/{q.denominator:,} ≈ {approx:,.2f}"


def _walk_fixed(res: MixedResult, m, list_seats: int, tie: str, seed) -> None:
    """Walk the merged quotient sequence: cancel wins, award list seats (see module doc)."""
    votes, wins = res.votes, res.wins
    elig = [p for p in res.eligible if votes[p] > 0]
    consumed = {p: 0 for p in votes}
    awarded = 0
    number = 0
    while awarded < list_seats and elig:
        keys = {p: _key(m, votes[p], consumed[p]) for p in elig}
        best = max(keys.values())
        group = [p for p in elig if keys[p] == best]
        cancels = [p for p in group if consumed[p] < wins.get(p, 0)]
        awards = [p for p in group if consumed[p] >= wins.get(p, 0)]
        if len(awards) > list_seats - awarded:
            t = _resolve_tie(awards, list_seats - awarded, _fstr(best[1]) if best[0] == 0 else "unbounded", tie, seed)
            res.tie = t
            if t.resolved_by is None:
                awards = []
            else:
                awards = t.winners
        for p in sorted(cancels, key=lambda p: (-votes[p], p)):
            number += 1
            consumed[p] += 1
            res.steps.append(Step(number, p, best[1] if best[0] == 0 else None, _approx(m, best),
                                  "cancelled by a single-member win", kind="cancelled", squared=m.power == 2))
        for p in sorted(awards, key=lambda p: (-votes[p], p)):
            number += 1
            consumed[p] += 1
            awarded += 1
            res.list_seats[p] += 1
            rule = "tie decided by lot" if res.tie and p in res.tie.winners else "list seat, highest quotient"
            res.steps.append(Step(number, p, best[1] if best[0] == 0 else None, _approx(m, best), rule,
                                  squared=m.power == 2))
        if res.tie and res.tie.resolved_by is None:
            break
    seat_steps = [s for s in res.steps if s.kind == "seat"]
    if seat_steps:
        last = seat_steps[-1]
        last_key = (1, Fraction(votes[last.party])) if last.quotient is None else (0, last.quotient)
        # The next in line is the best quotient that would earn a list seat.
        best_p, best_k, best_need = None, None, None
        for p in elig:
            if p == last.party:
                continue
            k = max(consumed[p], wins.get(p, 0))
            kk = _key(m, votes[p], k)
            if best_k is None or kk > best_k:
                best_p, best_k = p, kk
                need = _min_votes_to_beat(m, k, last_key)
                best_need = None if need is None else max(0, need - votes[p])
        text = (f"The last list seat (the {_ordinal(awarded)}, step {last.number} of the quotient walk) went to "
                f"{last.party} with quotient {_exact(last.quotient, last.quotient_approx, m.power == 2)}")
        info = {"party": last.party, "quotient": _fstr(last.quotient), "quotient_approx": last.quotient_approx,
                "runner_up": None}
        if best_p is not None:
            info["runner_up"] = {"party": best_p, "quotient_approx": _approx(m, best_k), "votes_needed": best_need}
            if best_need is not None:
                text += (f"; next in line was {best_p} (quotient "
                         f"{_exact(best_k[1] if best_k[0] == 0 else None, _approx(m, best_k), m.power == 2)}), which needed "
                         f"{best_need:,} more vote(s) to take it")
        info["text"] = text + "."
        res.last_seat = info
