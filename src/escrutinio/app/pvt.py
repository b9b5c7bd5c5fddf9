"""The parallel vote tabulation's use cases, once, for the command line (`escrutinio pvt
design|estimate|compare|verify`), the server (``/api/v1/pvt``) and the Python API
(docs/pvt.md). Each takes paths or frames and returns the method's own result (its
``to_dict()`` is the command's ``--format json``); nothing here prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import polars as pl

from escrutinio.dynamics.roll import ROLL_IDENTITY
from escrutinio.errors import UsageError
from escrutinio.model import Election, Snapshot


def roll_frame(path: str, mapping: str | None = None, needed: Sequence[str] = ()) -> tuple[pl.DataFrame, list[str]]:
    """The sampling frame and its levels: a roll file, or any count file a mapping reads
    (its latest snapshot of the first contest)."""
    from escrutinio.app.results import read
    from escrutinio.io import read_roll

    if mapping is None:
        frame = read_roll(path)
        levels = [c for c in frame.columns if c not in ROLL_IDENTITY]
        if all(c in frame.columns for c in needed):
            return frame, levels
    election = read([path], mapping=mapping)
    snap = election.series(election.contests[0])[-1]
    return snap.frame, list(snap.levels)


def previous_results(path: str, mapping: str | None = None):
    """A previous election's counted tables and choices (expected margins, Neyman's S_h)."""
    from escrutinio.app.results import read
    from escrutinio.pvt.design import Previous

    election = read([path], mapping=mapping)
    snap = election.series(election.contests[0])[-1]
    return Previous(frame=snap.counted(), choices=list(snap.counted_choices), source=Path(path).name)


def strata_levels(strata: str | Sequence[str] | None) -> list[str]:
    """``LEVEL[,ATTR]`` (or a list of at most two names) as the levels to stratify by."""
    if not strata:
        return []
    by = [s.strip() for s in strata.split(",") if s.strip()] if isinstance(strata, str) else [str(s) for s in strata]
    if len(by) > 2:
        raise UsageError("--strata takes LEVEL or LEVEL,ATTR")
    return by


def design(roll: str, n: int, seed, strata: str | Sequence[str] | None = None, allocation: str = "proportional",
           previous: str | None = None, mapping: str | None = None, min_per_stratum: int = 2, level: float = 0.95):
    """A stratified random sample of ``n`` tables drawn from the roll with a public seed
    (`escrutinio pvt design`): a :class:`~escrutinio.pvt.design.Design`."""
    from escrutinio.pvt.design import election_of_file, make_design

    by = strata_levels(strata)
    frame, levels = roll_frame(roll, mapping, by)
    prev = previous_results(previous, mapping) if previous else None
    # the design records its election, so that another election's reports are refused
    return make_design(frame, n, seed, by, levels, allocation=allocation, previous=prev,
                       min_per_stratum=min_per_stratum, level=level, source=Path(roll).name,
                       election=election_of_file(roll, mapping))


def load_design(design):
    """A design from its JSON file, its dict, or as it is."""
    from escrutinio.pvt.design import Design

    if isinstance(design, Design):
        return design
    if isinstance(design, dict):
        return Design.from_dict(design)
    return Design.load(design)


def reports_snapshot(paths, mapping=None, contest: str | None = None, combine: bool = False) -> tuple[Snapshot, Election]:
    """The latest snapshot of the contest (or, with ``combine``, the files added up)."""
    from escrutinio.app.results import pick_contest, read

    election = read([paths] if isinstance(paths, (str, Path)) else list(paths), mapping=mapping, combine=combine)
    contest = pick_contest(election, contest)
    return election.series(contest)[-1], election


def estimate_snapshot(design, snapshot: Snapshot, rule=None, *, law_preset: str | None = None,
                      official: Snapshot | None = None, level: float = 0.95, draws: int | None = None):
    """The estimate from the sampled tables found in ``snapshot`` (tables outside the
    sample are ignored; the server's watchers' copies), under ``rule``, else
    ``law_preset``, else the law of ``official``'s election (or the snapshot's own)."""
    from escrutinio.app.results import resolve_rule
    from escrutinio.pvt.estimate import estimate as run

    law_from = official if official is not None else snapshot
    election = Election(law_from.election, [law_from])
    election.law_preset = law_preset
    options = {} if draws is None else {"draws": draws}
    return run(load_design(design), snapshot.counted(), list(snapshot.counted_choices), resolve_rule(rule, election),
               level=level, **options)


@dataclass
class EstimateRun:
    """An estimate with what it was made from (compare needs the design and the reports)."""
    design: object
    snapshot: Snapshot
    estimate: object
    rule: object


def _estimate_run(reports, design, mapping=None, contest=None, rule=None, level=0.95, combine=False,
                  draws=20000) -> EstimateRun:
    from escrutinio.app.results import resolve_rule
    from escrutinio.pvt.estimate import estimate as run

    d = load_design(design)
    snap, election = reports_snapshot(reports, mapping, contest, combine)
    law = resolve_rule(rule, election)
    from escrutinio.pvt.design import election_of

    est = run(d, snap.counted(), list(snap.counted_choices), law, level=level, draws=draws,
              election=election_of(snap))  # another election's reports are refused
    return EstimateRun(d, snap, est, law)


def estimate(reports, design, mapping=None, contest: str | None = None, rule=None, level: float = 0.95,
             combine: bool = False, draws: int = 20000):
    """Shares, lead, turnout and P(verdict) from the sampled tables' reports (`escrutinio
    pvt estimate`): a :class:`~escrutinio.pvt.estimate.PVTEstimate`. ``reports`` may hold
    more than the sample (e.g. the whole count): only sampled tables are used."""
    return _estimate_run(reports, design, mapping, contest, rule, level, combine, draws).estimate


def compare(reports, official, design, mapping=None, contest: str | None = None, rule=None, level: float = 0.95,
            combine: bool = False, draws: int = 20000, official_mapping=None, against_level: float = 0.99):
    """The official count against the PVT (`escrutinio pvt compare`): per choice consistent
    or outside the interval, a joint test, and table-by-table differences on the sampled
    tables. A :class:`~escrutinio.pvt.compare.PVTComparison`."""
    from escrutinio.app.results import pick_contest, read
    from escrutinio.pvt.compare import compare as run

    r = _estimate_run([reports] if isinstance(reports, (str, Path)) else reports, design, mapping, contest, rule,
                      level, combine, draws)
    election = read([official], mapping=official_mapping or mapping)
    off = election.series(pick_contest(election, contest or r.snapshot.contest))[-1]
    return run(r.design, r.estimate, off, r.snapshot, level=against_level)


def verify(design, roll: str, mapping: str | None = None) -> dict:
    """Re-draw a design's sample from its seed and the roll, without trusting the design
    (`escrutinio pvt verify`): ``{"ok", "design_sha256", "checks": [...]}``."""
    from escrutinio.pvt.design import verify as run

    d = load_design(design)
    frame, levels = roll_frame(roll, mapping, d.strata_by)
    return run(d, frame, levels)


def sample_progress(design, reported) -> dict:
    """How many of the design's sampled tables are reported, in all and per stratum (the
    server's ``/api/v1/pvt/progress``): ``reported`` is a snapshot, a frame with a
    ``unit`` column, or the units themselves."""
    d = load_design(design)
    reported = getattr(reported, "frame", reported)  # a snapshot's tables
    units = reported.get_column("unit").to_list() if isinstance(reported, pl.DataFrame) else list(reported)
    have = set(units)
    sample = pl.DataFrame({"unit": d.sample, "stratum": d.sample_strata}, schema={"unit": pl.Utf8, "stratum": pl.Utf8})
    flagged = sample.with_columns(pl.col("unit").is_in(list(have)).alias("reported"))
    by = flagged.group_by("stratum", maintain_order=True).agg(pl.len().alias("sampled"), pl.col("reported").sum())
    counts = {r["stratum"]: r for r in by.iter_rows(named=True)}
    strata = [{"stratum": name, "tables": s["tables"], "sampled": s["sample"],
               "reported": int(counts.get(name, {}).get("reported", 0))} for name, s in d.strata.items()]
    n_rep = int(flagged.get_column("reported").sum())
    return {"n": len(d.sample), "reported": n_rep, "missing": len(d.sample) - n_rep, "strata": strata}
