"""How complete a count is (contract C8), and what a verdict on it may claim.

A verdict under the law is a result only on the whole, complete count. On a partial count
it is provisional; on a filtered subset (one department, votes abroad) it is no result at
all. Completeness is measured against a roll of expected tables (``--roll``) or against
the official totals the count's mapping declares (``[expected]``). Without either, it is
unknown, and the verdict says so rather than pretending to be final.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from escrutinio.errors import InputError

OUTCOME_PHRASE = {
    "first_round_win": "a first-round win",
    "runoff": "a runoff",
    "winner": "a plurality win",
    "tie": "a tie",
}


@dataclass(frozen=True)
class Completeness:
    counted_tables: int
    expected_tables: int | None
    counted_registered: int
    expected_registered: int | None
    note: str
    filtered: bool = False
    # what the note says, for a page to say it in its own language: "roll", "official",
    # "whole_in", "no_roll_filter" or "no_roll", with its figures
    note_kind: str = ""
    note_args: dict = field(default_factory=dict)

    @property
    def table_share(self) -> float | None:
        return self.counted_tables / self.expected_tables if self.expected_tables else None

    @property
    def registered_share(self) -> float | None:
        return self.counted_registered / self.expected_registered if self.expected_registered else None

    @property
    def complete(self) -> bool:
        return self.expected_tables is not None and self.counted_tables >= self.expected_tables

    @property
    def final(self) -> bool:
        """A result under the law: the whole count, every expected table in."""
        return self.complete and not self.filtered

    def to_dict(self) -> dict:
        def part(counted, expected, share):
            return {"counted": counted, "expected": expected, "share": round(share, 6) if share is not None else None}

        return {
            "tables": part(self.counted_tables, self.expected_tables, self.table_share),
            "registered": part(self.counted_registered, self.expected_registered, self.registered_share),
            "status": status(self),
            "note": self.note,
            "note_kind": self.note_kind,
            "note_args": self.note_args,
        }


def measure(expected: dict | None, counted_tables: int, counted_registered: int,
            filters: dict | None = None, progress: dict | None = None, whole_tables: int | None = None) -> Completeness:
    """Completeness from a roll's progress (preferred) or the official totals the mapping
    declares (``expected``: {tables, registered, source}, or None).
    ``whole_tables``: tables in the whole (unfiltered) snapshot; when the whole count is
    complete, so is any subset of it."""
    filtered = bool(filters)
    where_list = ", ".join(f"{k}={v}" for k, v in filters.items()) if filtered else ""
    where = f" within {where_list}" if filtered else ""
    if progress:
        missing = int(progress.get("counted_not_in_roll") or 0)
        c = Completeness(progress["counted_units"], progress["expected_units"], progress["registered_covered"],
                         progress["registered_expected"], f"measured against the roll{where}", filtered,
                         "roll", {"filters": where_list, "not_in_roll": missing})
        if missing:
            c = replace(c, note=c.note + f"; {missing:,} counted tables are not in the roll")
        return c
    known = expected
    if known and not filtered:
        return Completeness(counted_tables, known["tables"], counted_registered, known["registered"],
                            f"measured against the official totals: {known['tables']:,} tables, "
                            f"{known['registered']:,} registered voters ({known['source']})", False, "official",
                            {"source": known["source"], "tables": known["tables"], "registered": known["registered"]})
    if known and whole_tables is not None and whole_tables >= known["tables"]:
        return Completeness(counted_tables, counted_tables, counted_registered, counted_registered,
                            f"every table of the count is in ({known['source']}), so every table{where} is too",
                            filtered, "whole_in", {"source": known["source"], "filters": where_list})
    if known:
        return Completeness(counted_tables, None, counted_registered, None,
                            "no roll was given, and expected tables within a filter are known only from a roll "
                            "(--roll FILE)", filtered, "no_roll_filter", {"filters": where_list})
    return Completeness(counted_tables, None, counted_registered, None,
                        "completeness unknown: no roll of expected tables (--roll FILE) and no official totals in the "
                        "mapping ([expected]), so nothing says whether every table is in", filtered, "no_roll")


def status(c: Completeness) -> str:
    if c.filtered:
        return "not_a_result"
    if c.final:
        return "final"
    return "provisional" if c.expected_tables is not None else "completeness_unknown"


def check_roll(progress: dict | None, count: str, roll: str) -> None:
    """A roll must be this count's: when most counted tables are not in it (another
    election's roll, another country's), a share "counted" against it means nothing, so
    it is an error naming both files rather than "0.0% of tables counted"."""
    if not progress:
        return
    matched, unknown = int(progress["counted_units"]), int(progress.get("counted_not_in_roll") or 0)
    if unknown and unknown >= matched:
        raise InputError(roll, f"shares {matched:,} of the {matched + unknown:,} counted tables of {count} (by "
                         f"{progress.get('key', 'unit')}): it is not this count's roll (another election's?)")


def prefix(c: Completeness, filters: dict | None) -> str | None:
    """The first words of a verdict that is not final; None when it is, and None when
    completeness is unknown: the verdict then stands as the file's, and the completeness
    line says once, plainly, that nothing tells whether every table is in."""
    if c.filtered:
        what = ", ".join(f"{k}={v}" for k, v in (filters or {}).items())
        return f"Not a result under the law: only the tables where {what} (the law applies to the whole count)"
    if c.final:
        return None
    if c.expected_tables is None:
        return None
    # rounded down, so that a count one table short never reads "100.0%"
    share = math.floor(1000 * (c.table_share or 0)) / 10
    return f"Provisional, {share:.1f}% of tables counted ({c.counted_tables:,} of {c.expected_tables:,})"


def reword(verdict, c: Completeness, filters: dict | None):
    """The verdict with its explanation starting with what it is (C8). Decisions and
    numbers are untouched; only the claim changes from "wins" to "leads ... would give"."""
    if verdict is None:
        return None
    head = prefix(c, filters)
    if head is None:
        return verdict
    v = verdict
    if v.outcome in OUTCOME_PHRASE and v.winner is not None:
        share = 100 * v.winner_votes / v.base_votes if v.base_votes else 0.0
        body = (f"{v.winner} leads with {share:.2f}% of valid votes, {v.lead_points:.2f} points "
                f"({v.lead_votes:,} votes) ahead of {v.runner_up}; on these tables alone {v.rule} would give "
                f"{OUTCOME_PHRASE[v.outcome]}.")
        if v.outcome == "tie":
            body = v.explanation
    else:
        body = v.explanation
    tail = "" if c.filtered else " Not the result until every table is counted."
    return replace(v, explanation=f"{head}: {body}{tail}")
