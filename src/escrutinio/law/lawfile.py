"""Any country's electoral law as data: a law TOML file declares the presidential rule
and the chambers (districts, magnitudes, method, threshold), so that ``results`` and
``seats`` work for a country without new code.

```toml
name = "Ruritania, Electoral Code (2021)"

[presidential]               # same keys as law/presets/presidential.toml
name = "Ruritania, Constitution art. 90"
clauses = [{ share = 50, share_strict = true, article = "art. 90" }]

[chambers.assembly]
name = "National Assembly"
method = "dhondt"            # any method of escrutinio.law.apportionment
district_level = "region"    # a level of the count's mapping; omit for one national district
magnitudes = { "Norte" = 40, "Centro" = 45, "Sur" = 35 }   # or seats = 120 without districts
threshold = "5%"             # of valid votes (optional)
threshold_base = "national"  # or "district" (default: national)
article = "Electoral Code art. 12"
```

A mapping points at its law with ``[law] file = "law.toml"`` (relative to the mapping).
The votes apportioned are each district's valid votes per choice in the law's view
(withdrawn candidacies count as null). Every seat is computed with exact integers, and
each district's last seat is explained (:mod:`escrutinio.law.apportionment`).

Caveat: with a partial count every figure describes the tables counted so far, and a
district without counted tables gets no seats; the result says which districts those are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from escrutinio.errors import InputError, MappingError, UsageError
from escrutinio.law.apportionment import Apportionment, Threshold, apportion, json_safe, method
from escrutinio.law.presidential import PresidentialRule, rule_from_dict
from escrutinio.model import Snapshot


@dataclass(frozen=True)
class ChamberRule:
    key: str
    name: str
    method: str
    seats: int | None = None
    district_level: str | None = None
    magnitudes: dict[str, int] = field(default_factory=dict)
    threshold: Threshold | None = None
    article: str = ""
    contest: str | None = None  # the contest whose votes it apportions (default: the first read)

    def describe(self) -> str:
        m = method(self.method)
        size = (f"{sum(self.magnitudes.values())} seats in {len(self.magnitudes)} districts by {self.district_level}"
                if self.district_level else f"{self.seats} seats in one national district")
        thr = f", threshold {self.threshold.describe()}" if self.threshold else ""
        art = f" ({self.article})" if self.article else ""
        return f"{self.name}: {size}, {m.title}{thr}{art}"


@dataclass(frozen=True)
class Law:
    name: str
    source_file: str
    presidential: PresidentialRule | None
    chambers: tuple[ChamberRule, ...] = ()

    @classmethod
    def from_toml(cls, path: str | Path) -> "Law":
        from escrutinio.tomlfile import read_toml

        return cls.from_dict(read_toml(path, "law"), str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], origin: str = "<law>") -> "Law":
        name = doc.get("name", Path(origin).stem)
        pres = None
        if "presidential" in doc:
            p = dict(doc["presidential"])
            p.setdefault("name", name)
            p.setdefault("source", origin)
            try:
                pres = rule_from_dict(Path(origin).stem, p)
            except (KeyError, ValueError, TypeError) as exc:
                raise MappingError(f"{origin}: [presidential] is malformed: {exc}") from exc
        chambers = []
        for key, c in doc.get("chambers", {}).items():
            chambers.append(_chamber(key, c, origin))
        if pres is None and not chambers:
            raise MappingError(f"{origin}: a law file declares [presidential] and/or [chambers.NAME]")
        return cls(name, origin, pres, tuple(chambers))


def _chamber(key: str, c: dict, origin: str) -> ChamberRule:
    where = f"{origin}: [chambers.{key}]"
    meth = c.get("method")
    if not meth:
        raise MappingError(f"{where} needs method = \"dhondt\" (or sainte_lague, hare, ...)")
    try:
        method(meth)
    except (KeyError, UsageError) as exc:
        raise MappingError(f"{where}: {exc}") from exc
    level = c.get("district_level")
    mags = {str(k): v for k, v in c.get("magnitudes", {}).items()}
    seats = c.get("seats")
    if level:
        if not mags:
            raise MappingError(f"{where}: district_level needs magnitudes = {{ \"district\" = seats, ... }}")
        if seats is not None and seats != sum(mags.values()):
            raise MappingError(f"{where}: seats = {seats} but the magnitudes add up to {sum(mags.values())}")
    elif seats is None:
        raise MappingError(f"{where} needs seats = N (one national district) or district_level and magnitudes")
    for d, m in ({**mags, "seats": seats} if seats is not None else mags).items():
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise MappingError(f"{where}: {d} must be a whole number of seats, got {m!r}")
    threshold = None
    if c.get("threshold"):
        text = str(c["threshold"]).strip()
        try:
            share = Fraction(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except (ValueError, ZeroDivisionError):
            raise MappingError(f"{where}: threshold must look like \"5%\" or \"1/20\", got {text!r}") from None
        threshold = Threshold(share, base=c.get("threshold_base", "national"))
    return ChamberRule(key, c.get("name", key), meth, seats, level, mags, threshold, c.get("article", ""),
                       c.get("contest"))


def load_law(path: str | Path) -> Law:
    return Law.from_toml(path)


# ------------------------------------------------------------------ apportionment
@dataclass
class ChamberResult:
    rule: ChamberRule
    districts: dict[str, Apportionment]
    units: int
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.districts.values():
            for p, n in a.seats.items():
                out[p] = out.get(p, 0) + n
        return {p: n for p, n in sorted(out.items(), key=lambda kv: (-kv[1], kv[0])) if n}

    @property
    def decided(self) -> bool:
        return all(a.decided for a in self.districts.values())

    def to_dict(self) -> dict:
        return json_safe({
            "name": self.rule.name,
            "rule": self.rule.describe(),
            "method": self.rule.method,
            "threshold": self.rule.threshold.describe() if self.rule.threshold else None,
            "total": self.total,
            "by_district": {d: {p: n for p, n in a.seats.items() if n} for d, a in self.districts.items()},
            "decided": self.decided,
            "tables": self.units,
            "notes": self.notes,
            "explanation": "\n".join(a.explanation() for a in self.districts.values()),
            "details": {d: a.to_dict() for d, a in self.districts.items()},
        })

    def summary(self) -> str:
        lines = [self.rule.describe() + f"; {self.units:,} tables counted."]
        lines.append("  " + ", ".join(f"{p} {n}" for p, n in self.total.items()))
        if len(self.districts) > 1:
            for d, a in self.districts.items():
                lines.append(f"    {d}: " + ", ".join(f"{p} {n}" for p, n in
                                                       sorted(a.seats.items(), key=lambda kv: -kv[1]) if n))
        for a in self.districts.values():
            if a.last_seat or a.tie:
                lines.append("  " + a.explanation().replace("\n", "\n  "))
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def seats_from_election(election, law: Law, contest: str | None = None, tie: str = "block",
                        seed: int | None = None) -> dict[str, ChamberResult]:
    """Each chamber apportioned on the latest snapshot of its contest (the chamber's
    ``contest``, else ``contest``, else the first contest read)."""
    if not law.chambers:
        raise UsageError(f"{law.source_file} declares no chambers ([chambers.NAME])")
    out = {}
    for ch in law.chambers:
        name = ch.contest or contest or election.contests[0]
        if name not in election.contests:
            raise UsageError(f"chamber {ch.key!r} apportions contest {name!r}, which the files do not hold; "
                             f"contests: {election.contests}")
        out.update(apportion_chambers(election.latest(name), Law(law.name, law.source_file, None, (ch,)), tie, seed))
    return out


def apportion_chambers(snapshot: Snapshot, law: Law, tie: str = "block", seed: int | None = None) -> dict[str, ChamberResult]:
    """Every chamber of ``law`` apportioned on the snapshot's valid votes."""
    if not law.chambers:
        raise UsageError(f"{law.source_file} declares no chambers ([chambers.NAME])")
    frame = snapshot.counted()
    choices = list(snapshot.counted_choices)
    national = {c: int(frame[c].sum()) for c in choices}
    out = {}
    for ch in law.chambers:
        notes: list[str] = []
        if ch.district_level:
            if ch.district_level not in frame.columns:
                raise UsageError(f"chamber {ch.key!r}: no level {ch.district_level!r} in the count; levels: "
                                 f"{list(snapshot.levels)}")
            by = frame.group_by(ch.district_level).agg([pl.col(c).sum() for c in choices]).sort(ch.district_level)
            found = {str(r[ch.district_level]): {c: int(r[c]) for c in choices} for r in by.iter_rows(named=True)}
            unknown = sorted(d for d in found if d not in ch.magnitudes)
            if unknown:
                raise InputError(snapshot.source, f"chamber {ch.key!r}: the law gives no magnitude for districts "
                                 f"{unknown[:5]} (known: {sorted(ch.magnitudes)[:10]})", column=ch.district_level)
            districts = {d: found[d] for d in ch.magnitudes if d in found}
            empty = [d for d in ch.magnitudes if d not in found]
            if empty:
                notes.append(f"no tables counted in {empty}: their {sum(ch.magnitudes[d] for d in empty)} seats "
                             "are not apportioned")
            mags = ch.magnitudes
        else:
            districts = {"national": national}
            mags = {"national": ch.seats}
        res = {}
        for d, votes in districts.items():
            res[d] = apportion(votes, mags[d], ch.method, threshold=ch.threshold, national_votes=national,
                               tie=tie, seed=seed, district=d if ch.district_level else None,
                               rule=ch.article or None)
        out[ch.key] = ChamberResult(ch, res, snapshot.n_units, notes)
    return out
