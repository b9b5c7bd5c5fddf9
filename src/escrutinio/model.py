"""The data model: an election is a set of snapshots; a snapshot is one published
state of one contest's count, one row per reporting unit (polling table / acta).

A snapshot's ``frame`` is a Polars DataFrame with these columns (the *unit frame*):

==================  ========  ==========================================================
column              dtype     meaning
==================  ========  ==========================================================
``unit``            Utf8      table code as published; unique within a snapshot
``unit_id``         Utf8      national table id where derivable (Bolivia: 18 digits), else null
``place_id``        Utf8      polling-place id where known (Bolivia: 16 digits), else null
*levels*            Utf8      one column per geographic level, coarse to fine, named by
                              ``Snapshot.levels`` (e.g. country, department, ... polling_place)
*attributes*        any       extra descriptive columns named by ``Snapshot.attributes``
                              (e.g. ``constituency``, ``lat``, ``lon``)
``registered``      Int64     registered voters (inscritos)
*choices*           Int64     votes per choice, one column per name in ``Snapshot.choices``,
                              exactly as published (withdrawn choices included)
``blank``           Int64     blank ballots
``null``            Int64     null ballots as published
``emitted``         Int64     ballots cast as published (or valid+blank+null when the
                              source has no such column: see ``Snapshot.derived``)
``valid_reported``  Int64     valid votes written on the sheet, null when not published
``valid_system``    Int64     the count system's recomputation, null when not published
``emitted_system``  Int64     idem for emitted
``source_row``      Int64     1-based line (CSV) or row (XLSX) in the source file
==================  ========  ==========================================================

``Snapshot.place_level`` and ``Snapshot.area_level`` name the level that is the polling
place and the area within which tables are compared (forensics' outliers), as the mapping
declares them (``place_level = ...``, ``area_level = ...``); None when undeclared.

Votes are integers everywhere. Nothing is dropped: a row whose numbers are wrong is kept
as published and flagged by :mod:`escrutinio.checks`.

The *law view* of a snapshot applies counting rules such as "votes for withdrawn
candidacies count as null" (Bolivia 2020): see :meth:`Snapshot.counted`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable

import polars as pl

VOTE_DTYPE = pl.Int64
ID_COLUMNS = ("unit", "unit_id", "place_id")
TOTAL_COLUMNS = ("registered", "blank", "null", "emitted")
OPTIONAL_TOTALS = ("valid_reported", "valid_system", "emitted_system")
RESERVED = frozenset(ID_COLUMNS + TOTAL_COLUMNS + OPTIONAL_TOTALS + ("source_row", "valid"))


@dataclass(frozen=True)
class Snapshot:
    """One published state of one contest's count."""

    election: str
    contest: str
    frame: pl.DataFrame
    levels: tuple[str, ...]
    choices: tuple[str, ...]
    source: str = ""
    exported_at: datetime | None = None
    withdrawn: tuple[str, ...] = ()
    withdrawn_rule: bool = True
    attributes: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    label: str = ""
    notes: tuple[str, ...] = field(default=())
    # source rows whose record had to be repaired while reading (e.g. an unquoted
    # delimiter inside a name); they are read, counted and flagged by the checks.
    repaired_rows: tuple[int, ...] = ()
    # Which level is the polling place and which is the area that forensics' outlier checks
    # compare tables within, as the mapping declares them (contract C7); None when undeclared.
    place_level: str | None = None
    area_level: str | None = None
    # the presidential rule the mapping declares (a preset name or a law file), for
    # escrutinio.law.presidential.resolve; None when undeclared (then plurality, said)
    presidential_rule: str | None = None
    # the whole count's official totals as the mapping declares them ([expected]), for
    # completeness without a roll; None when undeclared
    expected_tables: int | None = None
    expected_registered: int | None = None
    expected_source: str | None = None
    # the election day as the mapping declares it ([election] date, ISO YYYY-MM-DD); None
    # when undeclared (an export date is not an election date)
    election_date: str | None = None

    def __post_init__(self) -> None:
        clash = RESERVED.intersection(self.choices) | RESERVED.intersection(self.levels)
        if clash:
            raise ValueError(f"choice or level names clash with reserved columns: {sorted(clash)}")
        for key in ("place_level", "area_level"):
            value = getattr(self, key)
            if value is not None and value not in self.levels:
                raise ValueError(f"{key} {value!r} is not one of the levels {list(self.levels)}")

    # ------------------------------------------------------------------ views
    @property
    def name(self) -> str:
        return self.label or self.source

    @property
    def n_units(self) -> int:
        return self.frame.height

    @property
    def counted_choices(self) -> tuple[str, ...]:
        """Choices whose votes are valid under the counting rule in force."""
        if not self.withdrawn_rule:
            return self.choices
        return tuple(c for c in self.choices if c not in self.withdrawn)

    def counted(self) -> pl.DataFrame:
        """The unit frame as the law counts it.

        Adds ``valid`` (sum of counted choices) and rewrites ``null`` to include votes for
        withdrawn candidacies when the rule is on. Published columns stay untouched in
        :attr:`frame`; checks always run on the published numbers.
        """
        counted = self.counted_choices
        moved = [c for c in self.choices if c not in counted]
        exprs = [pl.sum_horizontal([pl.col(c) for c in counted]).cast(VOTE_DTYPE).alias("valid")]
        if moved:
            exprs.append(
                (pl.col("null") + pl.sum_horizontal([pl.col(c) for c in moved])).cast(VOTE_DTYPE).alias("null")
            )
        return self.frame.with_columns(exprs).drop(moved)

    def with_rule(self, withdrawn_rule: bool) -> "Snapshot":
        return replace(self, withdrawn_rule=withdrawn_rule)

    def filter(self, predicate: pl.Expr) -> "Snapshot":
        return replace(self, frame=self.frame.filter(predicate))

    def describe(self) -> dict:
        return {
            "election": self.election,
            "contest": self.contest,
            "source": self.source,
            "label": self.label,
            "exported_at": self.exported_at.isoformat() if self.exported_at else None,
            "units": self.n_units,
            "levels": list(self.levels),
            "choices": list(self.choices),
            "withdrawn": list(self.withdrawn),
            "withdrawn_rule": self.withdrawn_rule,
            "derived": list(self.derived),
            "attributes": list(self.attributes),
            "notes": list(self.notes),
            "repaired_rows": list(self.repaired_rows),
            "place_level": self.place_level,
            "area_level": self.area_level,
            "presidential_rule": self.presidential_rule,
            "expected_tables": self.expected_tables,
            "expected_registered": self.expected_registered,
            "expected_source": self.expected_source,
            "election_date": self.election_date,
        }


@dataclass
class Election:
    """An election: every snapshot of every contest, ordered by export time."""

    name: str
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def contests(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.snapshots:
            seen.setdefault(s.contest, None)
        return list(seen)

    def series(self, contest: str) -> list[Snapshot]:
        """Snapshots of one contest in export order (undated ones last, in load order)."""
        items = [s for s in self.snapshots if s.contest == contest]
        return sorted(items, key=lambda s: (s.exported_at is None, s.exported_at or datetime.min))

    def latest(self, contest: str) -> Snapshot:
        series = self.series(contest)
        if not series:
            raise KeyError(f"no snapshot of contest {contest!r}; contests: {self.contests}")
        return series[-1]

    def add(self, snapshots: Iterable[Snapshot]) -> None:
        self.snapshots.extend(snapshots)

