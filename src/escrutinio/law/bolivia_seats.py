"""Bolivia's Plurinational Legislative Assembly: the Senate and the Chamber of Deputies,
apportioned from the count.

Rules as implemented (every choice we could not read in the law text is an option, see
:class:`BoliviaOptions` and docs/seats.md):

* **Inputs.** Senators and list (plurinominal) deputies are apportioned on the
  *presidential* contest's valid votes per party per department, cast inside Bolivia
  only; votes cast abroad count for president only. Withdrawn candidacies' votes count as
  null (``Snapshot.counted``). Single-member (uninominal) and special seats come from
  their own contests.
* **Senate** (CPE art. 148; Ley 026 on the election of senators): 4 senators per
  department, D'Hondt on the department's presidential votes.
* **Chamber** (130 seats; per-department table of Ley 421 of 2013, a per-election
  parameter since Ley 1614 of 2025 redistributes it):
  - each uninominal district's seat goes to its plurality winner; each special
    (indigenous) district's seat to its plurality winner;
  - list seats follow D'Hondt on the department's presidential votes among parties with at
    least 3% of valid votes (national by default); the department's base is uninominal +
    plurinominal seats (special seat optionally included);
  - a party's single-member wins cancel its highest quotients first; a party whose wins
    exceed its entitlement keeps them and gets no list seats; the department's total
    stays fixed (:func:`escrutinio.law.mixed.compensate`, policy ``"fixed"``).

Caveat. With a partial count every figure describes the tables counted so far; the result
states its coverage (tables counted / expected, districts without data). An apportionment
is arithmetic on the votes, not a forecast and not a finding about the count.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

import polars as pl

from escrutinio.errors import InputError, UsageError
from escrutinio.law.apportionment import Apportionment, Threshold, apportion
from escrutinio.law.mixed import MixedResult, compensate
from escrutinio.model import Election, Snapshot

PRESIDENT = "PRESIDENTE"
UNINOMINAL = "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL"
SPECIAL = "DIPUTADO CIRCUNSCRIPCIÓN ESPECIAL"
COUNTRY = "Bolivia"

# INE department codes, as in the 18-digit table id (digits 6–7) and ID_DEPARTAMENTO.
DEPARTMENT_CODES = {
    "01": "Chuquisaca", "02": "La Paz", "03": "Cochabamba", "04": "Oruro", "05": "Potosí",
    "06": "Tarija", "07": "Santa Cruz", "08": "Beni", "09": "Pando",
}


# The steps of the Chamber's apportionment and the law that sets each one. CPE = the
# Constitution of 2009 (art. 146 on the Chamber, 148 on the Senate); Ley 026 del Régimen
# Electoral (2010) sets the procedure, Ley 421 (2013) the seats per department. The CPE
# paragraphs are quoted in docs/seats.md; Ley 026's article numbers were not at hand
# offline, so its steps name the law and what it provides, not an article number.
ARTICLES = {
    "chamber": "CPE art. 146.I: 130 deputies",
    "seat_table": "CPE art. 146.V and Ley 421 (2013): the seats of each department, half uninominal",
    "uninominal": "CPE art. 146.II-III: uninominal districts, simple majority of the votes in each",
    "special": "CPE art. 146.VII: special indigenous districts, part of the 130 (Ley 026: simple majority)",
    "list": "CPE art. 146.II-III, Ley 026: plurinominal seats by D'Hondt (divisores naturales) on the "
            "department's votes for the presidential lists, parties with 3% of the valid votes",
    "compensation": "CPE art. 146.IV, Ley 026: the number of deputies reflects each party's proportional vote: "
                    "its uninominal wins are deducted from its D'Hondt share, an overhang keeps its seats and "
                    "the department total stays fixed",
    "senate": "CPE art. 148: four senators per department, proportional (D'Hondt)",
}


@dataclass(frozen=True)
class DepartmentSeats:
    uninominal: int
    plurinominal: int
    special: int

    @property
    def total(self) -> int:
        return self.uninominal + self.plurinominal + self.special


# Ley 421 (2013), distribution of the 130 seats of the Chamber of Deputies (issue 3).
LEY_421_2013: dict[str, DepartmentSeats] = {
    "La Paz": DepartmentSeats(14, 14, 1),
    "Santa Cruz": DepartmentSeats(14, 13, 1),
    "Cochabamba": DepartmentSeats(9, 9, 1),
    "Potosí": DepartmentSeats(7, 6, 0),
    "Chuquisaca": DepartmentSeats(5, 5, 0),
    "Oruro": DepartmentSeats(4, 4, 1),
    "Tarija": DepartmentSeats(4, 4, 1),
    "Beni": DepartmentSeats(4, 3, 1),
    "Pando": DepartmentSeats(2, 2, 1),
}


def uninominal_numbers(table: Mapping[str, DepartmentSeats]) -> dict[str, list[str]]:
    """Expected uninominal district numbers per department: consecutive blocks in INE
    department order (Chuquisaca 1–5, La Paz 6–19, …, Pando 62–63). This numbering is an
    inference, consistent with every district number in the 2020 exports."""
    out, n = {}, 0
    for code in sorted(DEPARTMENT_CODES):
        dep = DEPARTMENT_CODES[code]
        k = table[dep].uninominal if dep in table else 0
        out[dep] = [str(n + i + 1) for i in range(k)]
        n += k
    return out


@dataclass(frozen=True)
class BoliviaOptions:
    """Choices of the preset. Defaults follow our reading of the law (docs/seats.md).

    ``threshold_base``: ``"national"`` (default) or ``"department"`` for the 3% barrier.
    ``threshold_include_abroad``: whether votes abroad enter the national 3% base.
    ``senate_threshold``: apply the barrier to the Senate too (default no).
    ``special_in_base``: whether the special seat enters the department's D'Hondt base
    (and its winner's seat then cancels a quotient like a uninominal win).
    ``policy``: overhang policy (``fixed`` = the department total never changes).
    ``tie``: ``block`` (report) or ``lot`` (seeded, ``seed``).
    """

    seat_table: Mapping[str, DepartmentSeats] = field(default_factory=lambda: dict(LEY_421_2013))
    table_name: str = "Ley 421 (2013)"
    senators_per_department: int = 4
    threshold: Fraction = Fraction(3, 100)
    threshold_base: str = "national"
    threshold_include_abroad: bool = False
    senate_threshold: bool = False
    special_in_base: bool = False
    policy: str = "fixed"
    tie: str = "block"
    seed: int | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> "BoliviaOptions":
        """Parse ``KEY=VALUE`` strings (CLI ``--option``)."""
        kw: dict = {}
        known = {f.name: f for f in fields(cls)}
        for item in pairs:
            if "=" not in item:
                raise UsageError(f"option {item!r} must look like KEY=VALUE")
            key, value = (x.strip() for x in item.split("=", 1))
            key = key.replace("-", "_")
            if key not in known or key == "seat_table":
                raise UsageError(f"unknown option {key!r}; known: {', '.join(k for k in known if k != 'seat_table')}")
            if key in ("threshold_include_abroad", "senate_threshold", "special_in_base"):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise UsageError(f"option {key} takes true/false, got {value!r}")
                kw[key] = value.lower() in ("true", "yes", "1")
            elif key == "threshold":
                try:
                    frac = Fraction(value.rstrip("%")) / (100 if value.endswith("%") else 1)
                except (ValueError, ZeroDivisionError):
                    raise UsageError(f"option threshold must be a fraction like 3/100 or 3%, got {value!r}")
                kw[key] = frac
            elif key in ("senators_per_department", "seed"):
                try:
                    kw[key] = int(value)
                except ValueError:
                    raise UsageError(f"option {key} must be an integer, got {value!r}")
            else:
                kw[key] = value
        opts = cls(**kw)
        opts.validate()
        return opts

    def validate(self) -> None:
        if self.threshold_base not in ("national", "department"):
            raise UsageError("threshold_base must be 'national' or 'department'")
        if self.policy not in ("fixed", "keep", "level"):
            raise UsageError("policy must be fixed, keep or level")
        if self.tie not in ("block", "lot"):
            raise UsageError("tie must be block or lot")

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "seat_table"}
        d["threshold"] = str(self.threshold)
        d["seat_table"] = {k: asdict(v) | {"total": v.total} for k, v in self.seat_table.items()}
        return d

    def threshold_rule(self) -> Threshold:
        return Threshold(self.threshold, base="national" if self.threshold_base == "national" else "district",
                         include_abroad=self.threshold_include_abroad)


# --------------------------------------------------------------------------- inputs
@dataclass
class DepartmentVotes:
    """Presidential valid votes per party: per department (inside Bolivia) and abroad."""

    by_department: dict[str, dict[str, int]]
    abroad: dict[str, int]
    tables: dict[str, int]
    tables_abroad: int
    parties: list[str]
    source: str = ""

    @property
    def national(self) -> dict[str, int]:
        out = {p: 0 for p in self.parties}
        for votes in self.by_department.values():
            for p, v in votes.items():
                out[p] += v
        return out


def _require(snapshot: Snapshot, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in snapshot.frame.columns]
    if missing:
        raise InputError(snapshot.source or snapshot.contest,
                         f"contest {snapshot.contest!r} has no column(s) {missing}; the Bolivia preset needs "
                         "country and department levels")


def department_votes(snapshot: Snapshot, country: str = COUNTRY) -> DepartmentVotes:
    """Sum the presidential contest's counted votes per (country, department).

    Grouping keys are the full path (country, department): the 2019 file also has an
    Argentine province called "Santa Cruz" under "Argentina"."""
    _require(snapshot, ("country", "department"))
    frame = snapshot.counted()
    parties = list(snapshot.counted_choices)
    for c in parties:
        if frame.get_column(c).null_count():
            bad = frame.filter(pl.col(c).is_null()).get_column("source_row").head(1).to_list()
            raise InputError(snapshot.source, "missing vote count", row=bad[0] if bad else None, column=c)
    dom = frame.filter(pl.col("country") == country)
    if dom.get_column("department").null_count():
        row = dom.filter(pl.col("department").is_null()).get_column("source_row").head(1).to_list()
        raise InputError(snapshot.source, "table inside Bolivia without a department", row=row[0] if row else None)
    agg = dom.group_by("department").agg([pl.col(p).sum() for p in parties] + [pl.len().alias("__n")])
    by_dep, tables = {}, {}
    for row in agg.sort("department").iter_rows(named=True):
        dep = row.pop("department")
        tables[dep] = int(row.pop("__n"))
        by_dep[dep] = {p: int(row[p]) for p in parties}
    ab = frame.filter(pl.col("country") != country)
    abroad = {p: int(ab.get_column(p).sum()) for p in parties}
    return DepartmentVotes(by_dep, abroad, tables, ab.height, parties, snapshot.source)


@dataclass
class DistrictWinner:
    department: str
    district: str
    winner: str | None
    votes: dict[str, int]
    tables: int
    tie: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        ranked = sorted(self.votes.items(), key=lambda kv: -kv[1])
        margin = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else None
        return {"department": self.department, "district": self.district, "winner": self.winner,
                "tables": self.tables, "margin": margin, "tie": self.tie,
                "votes": dict(ranked)}


def plurality_winners(snapshot: Snapshot, district_column: str, country: str = COUNTRY) -> dict[str, dict[str, DistrictWinner]]:
    """Plurality winner of each single-member district: {department: {district: winner}}.

    An exact tie for first place leaves the district without a winner (reported)."""
    _require(snapshot, ("country", "department", district_column))
    frame = snapshot.counted().filter(pl.col("country") == country)
    parties = list(snapshot.counted_choices)
    missing = frame.filter(pl.col(district_column).is_null() | (pl.col(district_column).cast(pl.Utf8) == "0"))
    if missing.height:
        raise InputError(snapshot.source, f"{missing.height} table(s) of contest {snapshot.contest!r} have no "
                         f"{district_column}", row=missing.get_column("source_row")[0], column=district_column)
    agg = frame.group_by(["department", district_column]).agg(
        [pl.col(p).sum() for p in parties] + [pl.len().alias("__n")])
    out: dict[str, dict[str, DistrictWinner]] = {}
    for row in agg.iter_rows(named=True):
        dep, dist, n = row.pop("department"), str(row.pop(district_column)), int(row.pop("__n"))
        votes = {p: int(row[p]) for p in parties}
        top = max(votes.values())
        leaders = sorted(p for p, v in votes.items() if v == top)
        if top == 0:
            w = DistrictWinner(dep, dist, None, votes, n, tie=leaders)
        elif len(leaders) > 1:
            w = DistrictWinner(dep, dist, None, votes, n, tie=leaders)
        else:
            w = DistrictWinner(dep, dist, leaders[0], votes, n)
        out.setdefault(dep, {})[dist] = w
    return out


# --------------------------------------------------------------------------- results
@dataclass
class Chamber:
    """One chamber: per-department results plus coverage."""

    name: str
    by_district: dict[str, Apportionment | MixedResult | None]
    seats_expected: dict[str, int]
    single_member: dict[str, list[DistrictWinner]] = field(default_factory=dict)
    special: dict[str, list[DistrictWinner]] = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # departments whose seats depend on districts without a winner: the seats each party
    # holds whatever those districts give (uninominal wins + guaranteed list seats)
    guaranteed: dict[str, dict[str, int]] = field(default_factory=dict)
    # per department, the seats not assigned: {"seats", "kind", "why", "districts"}
    unassigned: dict[str, list[dict]] = field(default_factory=dict)

    def district_seats(self, dep: str) -> dict[str, int]:
        res = self.by_district.get(dep)
        seats: dict[str, int] = {}
        if dep in self.guaranteed:
            seats = {p: n for p, n in self.guaranteed[dep].items() if n}
        elif res is not None:
            seats = {p: n for p, n in res.seats.items() if n}
        for w in self.special.get(dep, []):
            if w.winner is not None and not getattr(res, "special_counted", False):
                seats[w.winner] = seats.get(w.winner, 0) + 1
        return seats

    @property
    def total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for dep in self.by_district:
            for p, n in self.district_seats(dep).items():
                out[p] = out.get(p, 0) + n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def assigned(self) -> int:
        return sum(self.total.values())

    @property
    def size(self) -> int:
        return sum(self.seats_expected.values())

    @property
    def not_assigned(self) -> int:
        return self.size - self.assigned

    def summary(self) -> str:
        head = (f"{self.name}: {self.assigned} of {self.size} seats assigned — "
                + ", ".join(f"{p} {n}" for p, n in self.total.items()))
        if self.unassigned:
            kinds: dict[str, int] = {}
            for items in self.unassigned.values():
                for u in items:
                    kinds[u["kind"]] = kinds.get(u["kind"], 0) + u["seats"]
            head += f"; not assigned: {self.not_assigned} (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"
        lines = [head]
        if self.unassigned:
            lines.extend("  Rule: " + r for r in self.rules)
        for dep in sorted(self.seats_expected):
            res = self.by_district.get(dep)
            seats = self.district_seats(dep)
            body = ", ".join(f"{p} {n}" for p, n in sorted(seats.items(), key=lambda kv: -kv[1])) or "—"
            lines.append(f"  {dep:<11} {sum(seats.values()):>2}/{self.seats_expected[dep]:<2} {body}")
            if res is None and dep not in self.unassigned:
                lines.append("      no data for this department")
            elif res is not None and res.last_seat and dep not in self.guaranteed:
                lines.append("      " + res.last_seat["text"])
            if res is not None and res.tie:
                lines.append("      " + res.tie.describe())
            for u in self.unassigned.get(dep, []):
                lines.append(f"      not assigned: {u['seats']} {u['kind']} seat(s): {u['why']}")
        lines.extend("  Note: " + n for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "by_district": {dep: self.district_seats(dep) for dep in sorted(self.seats_expected)},
            "seats": self.size,
            "assigned": self.assigned,
            "explanation": {dep: (res.last_seat or {}).get("text") if res else "no data"
                            for dep, res in sorted(self.by_district.items())},
            "details": {dep: res.to_dict() if res else None for dep, res in sorted(self.by_district.items())},
            "single_member": {dep: [w.to_dict() for w in ws] for dep, ws in sorted(self.single_member.items())},
            "special": {dep: [w.to_dict() for w in ws] for dep, ws in sorted(self.special.items())},
            "coverage": self.coverage,
            "rules": self.rules,
            "notes": self.notes,
            "not_assigned": self.not_assigned,
            "unassigned": {dep: items for dep, items in sorted(self.unassigned.items())},
        }


@dataclass
class BoliviaSeats:
    election: str
    chambers: dict[str, Chamber]
    options: BoliviaOptions
    coverage: dict
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"Bolivia seat apportionment — {self.election}"]
        cov = self.coverage.get("president", {})
        if cov:
            exp = cov.get("tables_expected")
            parts.append(f"Presidential tables counted inside Bolivia: {cov['tables_counted']:,}"
                         + (f" of {exp:,} expected ({100 * cov['tables_counted'] / exp:.2f}%)" if exp else "")
                         + f"; abroad (president only): {cov['tables_abroad']:,}"
                         + (f"; all tables {cov['tables_counted_all']:,} of {cov['tables_expected_all']:,}" if exp else ""))
        uni = self.coverage.get("uninominal", {})
        if uni:
            parts.append(f"Uninominal districts with data: {uni['districts_with_data']} of {uni['districts_expected']}")
        spe = self.coverage.get("special", {})
        if spe:
            parts.append(f"Special districts with data: {spe['districts_with_data']} of {spe['districts_expected']}")
        for ch in self.chambers.values():
            parts.append(ch.summary())
        parts.extend("Note: " + n for n in self.notes)
        return "\n".join(parts)

    def to_dict(self) -> dict:
        return {"election": self.election, "chambers": {k: c.to_dict() for k, c in self.chambers.items()},
                "coverage": self.coverage, "options": self.options.to_dict(), "notes": self.notes}


# --------------------------------------------------------------------------- chambers
def senate(votes: DepartmentVotes, options: BoliviaOptions | None = None) -> Chamber:
    """Senate: ``senators_per_department`` seats per department by D'Hondt."""
    o = options or BoliviaOptions()
    rules = ["CPE art. 148: four senators per department",
             "D'Hondt on the department's presidential valid votes cast inside Bolivia"]
    th = o.threshold_rule() if o.senate_threshold else None
    if th:
        rules.append(f"threshold (option): {th.describe()}")
    by: dict[str, Apportionment | None] = {}
    expected = {dep: o.senators_per_department for dep in o.seat_table}
    for dep in o.seat_table:
        dv = votes.by_department.get(dep)
        if dv is None or sum(dv.values()) == 0:
            by[dep] = None
            continue
        by[dep] = apportion(dv, o.senators_per_department, "dhondt", threshold=th, national_votes=votes.national,
                            abroad_votes=votes.abroad, tie=o.tie, seed=o.seed, district=dep,
                            rule="CPE art. 148: senator, highest D'Hondt quotient")
    notes = [f"no presidential votes for {dep}: its senators are not assigned" for dep, r in by.items() if r is None]
    extra = sorted(set(votes.by_department) - set(o.seat_table))
    if extra:
        raise InputError(votes.source, f"departments not in the seat table: {extra}")
    return Chamber("Senate", by, expected, rules=rules, notes=notes)


def chamber_of_deputies(
    votes: DepartmentVotes,
    uninominal: Mapping[str, Mapping[str, DistrictWinner]] | None = None,
    special: Mapping[str, Mapping[str, DistrictWinner]] | None = None,
    options: BoliviaOptions | None = None,
) -> Chamber:
    """Chamber of Deputies: uninominal and special winners plus compensatory list seats."""
    o = options or BoliviaOptions()
    uninominal = uninominal or {}
    special = special or {}
    th = o.threshold_rule()
    rules = [f"{ARTICLES['chamber']}; seat table: {o.table_name} ({ARTICLES['seat_table']})",
             ARTICLES["uninominal"],
             ARTICLES["special"],
             f"{ARTICLES['list']}; here: {th.describe()}, votes cast inside Bolivia",
             f"{ARTICLES['compensation']}; wins cancel the party's highest quotients first (policy {o.policy})",
             f"special seat {'inside' if o.special_in_base else 'outside'} the department's D'Hondt base"]
    expected_districts = uninominal_numbers(o.seat_table)
    guaranteed: dict[str, dict[str, int]] = {}
    unassigned: dict[str, list[dict]] = {}
    by: dict[str, MixedResult | None] = {}
    sm: dict[str, list[DistrictWinner]] = {}
    sp: dict[str, list[DistrictWinner]] = {}
    notes: list[str] = []
    national = votes.national
    for dep, seats in o.seat_table.items():
        wins_u = sorted(uninominal.get(dep, {}).values(), key=lambda w: int(w.district) if w.district.isdigit() else 0)
        wins_s = list(special.get(dep, {}).values())
        sm[dep], sp[dep] = wins_u, wins_s
        if len(wins_u) > seats.uninominal:
            raise InputError(votes.source, f"{dep}: {len(wins_u)} uninominal districts in the data, "
                             f"{seats.uninominal} in the seat table")
        if len(wins_s) > seats.special:
            raise InputError(votes.source, f"{dep}: {len(wins_s)} special districts in the data, "
                             f"{seats.special} in the seat table")
        wins: dict[str, int] = {}
        for w in wins_u + (wins_s if o.special_in_base else []):
            if w.winner is not None:
                wins[w.winner] = wins.get(w.winner, 0) + 1
        base = seats.uninominal + seats.plurinominal + (seats.special if o.special_in_base else 0)
        dv = votes.by_department.get(dep)
        if dv is None or sum(dv.values()) == 0:
            by[dep] = None
            notes.append(f"no presidential votes for {dep}: its list seats are not assigned")
            continue
        res = compensate(dv, base, wins, list_seats=seats.plurinominal, method_name="dhondt", policy=o.policy,
                         threshold=th, national_votes=national, abroad_votes=votes.abroad,
                         tie=o.tie, seed=o.seed, district=dep)
        res.special_counted = o.special_in_base  # type: ignore[attr-defined]
        by[dep] = res
        items = _unknown_seats(dep, seats, wins_u, wins_s, expected_districts.get(dep, []), o)
        unknown_in_base = sum(u["seats"] for u in items if u["kind"] == "uninominal"
                              or (u["kind"] == "special" and o.special_in_base))
        if unknown_in_base:
            held = _guaranteed_list_seats(dv, base, wins, seats.plurinominal, unknown_in_base, res, o, th,
                                          national, votes.abroad, dep)
            guaranteed[dep] = {p: wins.get(p, 0) + held.get(p, 0) for p in set(wins) | set(held)}
            moving = seats.plurinominal - sum(held.values())
            if moving:
                items.append({"seats": moving, "kind": "list", "districts": [],
                              "why": (f"they depend on who wins the {unknown_in_base} district(s) without a "
                                      "winner, since a win cancels one of the winner's D'Hondt quotients "
                                      "(compensation); whoever wins them, the list seats held are at least " + (", ".join(
                                          f"{p} {n}" for p, n in sorted(held.items(), key=lambda kv: -kv[1]) if n)
                                          or "none"))})
        elif res.tie is not None and res.tie.resolved_by is None and res.tie.seats_at_stake:
            items.append({"seats": res.tie.seats_at_stake, "kind": "list", "districts": [],
                          "why": res.tie.describe()})
        if items:
            unassigned[dep] = items
    expected = {dep: s.total for dep, s in o.seat_table.items()}
    for dep, res in by.items():
        if res is None:
            unassigned[dep] = [{"seats": o.seat_table[dep].total, "kind": "department", "districts": [],
                                "why": "no presidential votes counted in the department"}]
    ch = Chamber("Chamber of Deputies", by, expected, single_member=sm, special=sp, rules=rules, notes=notes,
                 guaranteed=guaranteed, unassigned=unassigned)
    return ch


def _ranges(numbers: Sequence[str]) -> str:
    """["33", "34", "35", "38"] -> "33-35, 38"."""
    nums = sorted(int(n) for n in numbers if n.isdigit())
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(out)


def _unknown_seats(dep: str, seats: DepartmentSeats, wins_u: Sequence[DistrictWinner],
                   wins_s: Sequence[DistrictWinner], expected: Sequence[str], o: BoliviaOptions) -> list[dict]:
    """The single-member seats of a department without a winner, and why."""
    items = []
    have = {w.district: w for w in wins_u}
    no_data = [d for d in expected if d not in have]
    missing = seats.uninominal - len(have)
    tied = [w for w in wins_u if w.winner is None]
    if missing > 0:
        named = no_data if len(no_data) == missing else []
        items.append({"seats": missing, "kind": "uninominal", "districts": named,
                      "why": (f"district(s) {_ranges(named)}: no table of the uninominal contest counted there"
                              if named else f"{missing} of its {seats.uninominal} uninominal districts have no "
                              "table of the uninominal contest counted")})
    for w in tied:
        items.append({"seats": 1, "kind": "uninominal", "districts": [w.district],
                      "why": f"district {w.district}: " + (f"exact tie for first place between {', '.join(w.tie)}"
                                                            if w.tie and len(w.tie) > 1 else "no valid vote counted")})
    s_known = [w for w in wins_s if w.winner is not None]
    s_missing = seats.special - len(s_known)
    if s_missing > 0:
        tied_s = [w for w in wins_s if w.winner is None]
        why = ("exact tie for first place in the special district" if tied_s else
               "no table of the special contest counted in the department")
        items.append({"seats": s_missing, "kind": "special", "districts": [w.district for w in tied_s],
                      "why": why})
    return items


def _guaranteed_list_seats(votes: Mapping[str, int], base: int, wins: Mapping[str, int], list_seats: int,
                           unknown: int, res: MixedResult, o: BoliviaOptions, th, national, abroad,
                           dep: str) -> dict[str, int]:
    """List seats each party holds whoever wins the ``unknown`` districts.

    In the quotient walk a single-member win cancels one of the winner's quotients, so
    a party's list seats can only fall when it wins more districts and only rise when
    another party does. Its fewest list seats are therefore those it gets when it wins
    every undecided district: one walk per party, exact. The seats these minima leave
    over depend on the undecided districts and are not assigned."""
    if o.policy == "level":
        return {}
    held = {}
    for p in res.eligible:
        if not votes.get(p):
            continue
        w = dict(wins)
        w[p] = w.get(p, 0) + unknown
        r = compensate(votes, base, w, list_seats=list_seats, method_name="dhondt", policy=o.policy,
                       threshold=th, national_votes=national, abroad_votes=abroad, tie=o.tie, seed=o.seed,
                       district=dep)
        # a tie left open in the walk awards none of the tied seats: they stay unassigned
        held[p] = r.list_seats.get(p, 0)
    return held


# --------------------------------------------------------------------------- whole election
def _latest(election: Election, contest: str) -> Snapshot | None:
    return election.latest(contest) if contest in election.contests else None


def _roll_expected(roll: pl.DataFrame | None) -> dict[str, int] | None:
    if roll is None:
        return None
    ids = roll.get_column("unit_id")
    if ids.null_count() == roll.height:
        return None
    dom = roll.filter(pl.col("unit_id").str.slice(1, 1) == "0")
    counts = dom.group_by(pl.col("unit_id").str.slice(5, 2).alias("code")).agg(pl.len())
    out = {DEPARTMENT_CODES.get(c, c): int(n) for c, n in counts.iter_rows()}
    out["__abroad__"] = roll.height - dom.height
    return out


def seats_from_election(
    election: Election | Sequence[Snapshot],
    options: BoliviaOptions | None = None,
    roll: pl.DataFrame | None = None,
) -> BoliviaSeats:
    """The Bolivia preset on an Election: latest snapshot of each contest.

    Needs the presidential contest. The Chamber's single-member and special seats use the
    uninominal and special contests when present; their absence is stated in coverage."""
    o = options or BoliviaOptions()
    o.validate()
    if not isinstance(election, Election):
        election = Election("snapshots", list(election))
    pres = _latest(election, PRESIDENT)
    if pres is None:
        raise UsageError(f"the Bolivia preset needs the {PRESIDENT!r} contest; found {election.contests}")
    votes = department_votes(pres)
    uni_snap = _latest(election, UNINOMINAL)
    spe_snap = _latest(election, SPECIAL)
    uni = plurality_winners(uni_snap, "constituency") if uni_snap is not None else {}
    spe = plurality_winners(spe_snap, "special_constituency") if spe_snap is not None else {}

    expected_tables = _roll_expected(roll)
    expected_abroad = expected_tables.pop("__abroad__") if expected_tables else None
    counted = sum(votes.tables.values())
    cov_pres = {
        "source": pres.source, "exported_at": pres.exported_at.isoformat() if pres.exported_at else None,
        "tables_counted": counted, "tables_abroad": votes.tables_abroad,
        "tables_expected": sum(expected_tables.values()) if expected_tables else None,
        "tables_expected_abroad": expected_abroad,
        "tables_counted_all": counted + votes.tables_abroad,
        "tables_expected_all": (sum(expected_tables.values()) + expected_abroad) if expected_tables else None,
        "by_department": {dep: {"tables_counted": votes.tables.get(dep, 0),
                                "tables_expected": (expected_tables or {}).get(dep)} for dep in o.seat_table},
        "departments_without_data": [d for d in o.seat_table if votes.tables.get(d, 0) == 0],
    }
    expected_uni = uninominal_numbers(o.seat_table)
    cov_uni = {
        "contest_present": uni_snap is not None,
        "source": uni_snap.source if uni_snap is not None else None,
        "districts_expected": sum(len(v) for v in expected_uni.values()),
        "districts_with_data": sum(len(v) for v in uni.values()),
        "districts_without_data": {dep: [d for d in nums if d not in uni.get(dep, {})]
                                   for dep, nums in expected_uni.items() if any(d not in uni.get(dep, {}) for d in nums)},
        "tables_counted": uni_snap.n_units if uni_snap is not None else 0,
        "note": "each district's winner is the plurality among the tables counted so far",
    }
    cov_spe = {
        "contest_present": spe_snap is not None,
        "districts_expected": sum(s.special for s in o.seat_table.values()),
        "districts_with_data": sum(len(v) for v in spe.values()),
        "departments_without_data": [d for d, s in o.seat_table.items() if s.special and d not in spe],
        "tables_counted": spe_snap.n_units if spe_snap is not None else 0,
    }
    coverage = {"president": cov_pres, "uninominal": cov_uni, "special": cov_spe}
    sen = senate(votes, o)
    sen.coverage = {"tables_counted": counted, "tables_expected": cov_pres["tables_expected"],
                    "departments_without_data": cov_pres["departments_without_data"]}
    dep = chamber_of_deputies(votes, uni, spe, o)
    dep.coverage = coverage
    notes = []
    complete = cov_pres["tables_expected"] is not None and counted >= cov_pres["tables_expected"]
    official = getattr(pres, "expected_tables", None)
    if roll is None and official:
        # no roll, but the mapping declares the whole count's tables (abroad included)
        cov_pres["tables_expected_all"] = official
        cov_pres["tables_expected_source"] = getattr(pres, "expected_source", None) or "declared by the mapping"
        complete = counted + votes.tables_abroad >= official
        if not complete:
            notes.append(f"partial count: {counted + votes.tables_abroad:,} of {official:,} tables "
                         f"({cov_pres['tables_expected_source']}); seats describe the tables counted so far, "
                         "not the final result")
    elif not complete:
        notes.append("partial count: seats describe the tables counted so far, not the final result"
                     if cov_pres["tables_expected"] else
                     "no roll given: completeness of the count is not checked (pass --roll)")
    for present, kind, contest in ((uni_snap is not None, "uninominal", UNINOMINAL),
                                   (spe_snap is not None, "special", SPECIAL)):
        if present:
            continue
        for items in dep.unassigned.values():
            for u in items:
                if u["kind"] == kind:
                    u["why"] = f"the contest {contest!r} is not in the input files"
        notes.append(f"contest {contest!r} not in the input: its seats are not assigned"
                     + (", and only the list seats that no uninominal winner could move are" if kind == "uninominal"
                        else ""))
    return BoliviaSeats(election.name, {"senate": sen, "deputies": dep}, o, coverage, notes)


# --------------------------------------------------------------------------- seat probabilities
@dataclass
class SeatProbabilities:
    """Seat distributions from the projection's simulations of a partial count.

    Method: for each department, :func:`escrutinio.dynamics.projection.project`
    (hierarchical hot-deck imputation with a nested bootstrap; CEPR 2019, Curiel &
    Williams 2020) simulates the uncounted tables' presidential votes; each simulation's
    integer totals (counted + rounded imputed) are apportioned exactly:

    * Senate: D'Hondt, 4 per department, as in :func:`senate`.
    * Chamber, *proportional part only*: each department's D'Hondt entitlement on its
      uninominal + plurinominal seats among parties at or above the threshold. Under the
      fixed-house rule this equals a party's final seats whenever no party overhangs;
      uninominal winners are not simulated, and the 7 special seats are left out.

    Statistic: seats per party per simulation. Interval: equal-tailed simulation quantiles.
    No null hypothesis: this is an estimate. Departments are simulated independently, so
    correlation between departments' uncounted tables is not modelled.

    Caveat: these are probabilities *under the projection's assumption* that uncounted
    tables vote like counted tables nearby. They are not a count, they say nothing about
    fraud, and exact ties inside a simulation are drawn by a seeded lot.
    """

    simulations: int
    seed: int
    level: float
    chambers: dict[str, dict]
    coverage: dict
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Seat probabilities from {self.simulations} simulations of the uncounted tables (seed {self.seed}); "
                 f"{self.coverage['tables_counted']:,} of {self.coverage['tables_expected']:,} tables inside Bolivia counted"]
        for name, ch in self.chambers.items():
            lines.append(f"{name} ({ch['seats']} seats{', ' + ch['scope'] if ch.get('scope') else ''}):")
            for p, d in ch["total"].items():
                lines.append(f"  {p:<12} mean {d['mean']:6.2f}  [{d['lo']}, {d['hi']}]  "
                             f"P(majority ≥{ch['majority']}) = {d['p_majority']:.3f}")
        lines.extend("Note: " + n for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"simulations": self.simulations, "seed": self.seed, "level": self.level,
                "chambers": self.chambers, "coverage": self.coverage, "notes": self.notes,
                "caveat": "projection-based: assumes uncounted tables vote like counted ones nearby; not a count"}


def seat_distribution(matrix, parties, seats_total: int, level: float) -> dict:
    import numpy as np

    a = (1 - level) / 2
    majority = seats_total // 2 + 1
    out = {}
    for j, p in enumerate(parties):
        col = matrix[:, j]
        if not col.any():
            continue
        lo, hi = np.quantile(col, [a, 1 - a], method="inverted_cdf")
        out[p] = {"mean": float(col.mean()), "lo": int(lo), "hi": int(hi),
                  "p_majority": float((col >= majority).mean()),
                  "distribution": {int(k): float((col == k).mean()) for k in np.unique(col)}}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["mean"])), majority
