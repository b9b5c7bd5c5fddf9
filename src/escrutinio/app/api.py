"""The Python API (``import escrutinio``): read, check, tabulate, project, forensics,
audit. Every call takes paths or an Election from :func:`read`; every result has
``.to_dict()`` (the command's JSON), ``.to_polars()`` (a tidy frame), ``.summary()``
(the command's text) and an HTML repr for notebooks. See docs/python.md.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import polars as pl

from escrutinio.app.results import Results, pick_contest, read, results
from escrutinio.errors import UsageError
from escrutinio.model import Election

__all__ = ["read", "check", "tabulate", "project", "forensics", "audit", "Result", "Results"]


class Result:
    """A uniform face on a capability's own result object (kept as ``.value``; its fields
    stay reachable as attributes of this one)."""

    def __init__(self, value: Any, to_dict: Callable[[], dict], to_polars: Callable[[], pl.DataFrame],
                 summary: Callable[[], str], title: str = ""):
        self.value, self._to_dict, self._to_polars, self._summary, self.title = value, to_dict, to_polars, summary, title

    def to_dict(self) -> dict:
        return self._to_dict()

    def to_polars(self) -> pl.DataFrame:
        return self._to_polars()

    def summary(self) -> str:
        return self._summary()

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "value":
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from escrutinio.app.present import frame_html

        head = f"<b>{html.escape(self.title)}</b>" if self.title else ""
        return f"<div>{head}<pre>{html.escape(self.summary())}</pre>{frame_html(self.to_polars())}</div>"


def _whole(name: str, value, minimum: int, what: str = "") -> None:
    """The CLI's own bounds on a count argument (``--seed`` >= 0, ``--draws`` >= 10),
    said as one line before any file is read."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise UsageError(f"{name} must be a whole number >= {minimum}{what}, got {value!r}")


def _election(data, mapping=None, combine: bool = False, count_withdrawn: bool = False) -> Election:
    return data if isinstance(data, Election) else read(data, mapping=mapping, combine=combine, count_withdrawn=count_withdrawn)


def _snapshot(data, contest=None, mapping=None):
    """The latest snapshot of one election's dated exports (any other set of files is
    refused with the option to use, as the commands do)."""
    from escrutinio.app.results import series_to_tabulate

    election = _election(data, mapping=mapping)
    return series_to_tabulate(election, pick_contest(election, contest))[-1]


def check(data, contest: str | None = None, rules=None, severity: str | None = None, mapping=None):
    """Every acta's arithmetic and consistency across snapshots (`escrutinio check`)."""
    from escrutinio.app.results import check as run

    return run(_election(data, mapping=mapping), contest=contest, rules=rules, severity=severity)


def tabulate(data, contest: str | None = None, level: str | None = None, filters=None, rule=None, roll=None,
             share_base: str = "valid", each_snapshot: bool = False, mapping=None, combine: bool = False) -> Results:
    """Totals, shares, completeness and the verdict (`escrutinio results`)."""
    return results(_election(data, mapping=mapping, combine=combine), contest=contest, level=level, filters=filters,
                   rule=rule, roll=roll, share_base=share_base, each_snapshot=each_snapshot)


def project(data, roll=None, previous=None, seed: int = 0, contest: str | None = None, mapping=None, **options) -> Result:
    """The final result projected from a partial count, with intervals (`escrutinio project`).
    ``roll``: every expected table (path or frame); ``previous``: a previous election."""
    try:
        from escrutinio.app.projection import project as run
    except ImportError:
        run = None
    _whole("seed", seed, 0)
    if "simulations" in options:
        _whole("simulations", options["simulations"], 1)
    snap = _snapshot(data, contest, mapping)
    if run is not None:
        value = run(snap, roll=roll, previous=previous, seed=seed, **options)
    else:
        value = _project_fallback(snap, roll, previous, seed, **options)
    return Result(value, value.to_dict, lambda: _projection_frame(value), value.summary, "projection")


def _project_fallback(snap, roll, previous, seed, **options):
    from escrutinio.dynamics.projection import previous_place_rates, project_snapshot
    from escrutinio.dynamics.sources import read_roll, read_snapshot

    if roll is None:
        raise UsageError("a projection needs the roll of every expected table (roll=...)")
    roll_frame = read_roll(roll) if isinstance(roll, (str, Path)) else roll
    levels = tuple(c for c in snap.levels if c in roll_frame.columns and roll_frame[c].null_count() < roll_frame.height)
    prev = None
    if previous is not None:
        ps = read_snapshot(str(previous))
        prev = previous_place_rates(ps.frame, ps.choices)
    return project_snapshot(snap, roll_frame, levels=levels or snap.levels, seed=seed, previous=prev, **options)


def _projection_frame(value) -> pl.DataFrame:
    d = value.to_dict()
    rows = [{"choice": c, **{k: v for k, v in s.items() if k in ("share", "lo", "hi")}} for c, s in d["choices"].items()]
    return pl.DataFrame(rows)


def forensics(data, contest: str | None = None, by: str | None = None, seed: int = 0, draws: int = 1000,
              mapping=None, **options) -> Result:
    """The forensics battery (`escrutinio forensics`): tests with their nulls, p-values
    and caveats. An anomaly is never evidence of fraud by itself."""
    from escrutinio.forensics.battery import run_battery
    from escrutinio.forensics.core import from_snapshot

    if seed is not None:
        _whole("seed", seed, 0, " (or None)")
    _whole("draws", draws, 10, " (Monte-Carlo draws of the round-number nulls)")
    for key in ("area_draws", "digit_sims"):
        if options.get(key) is not None:
            _whole(key, options[key], 10)
    value = run_battery(from_snapshot(_snapshot(data, contest, mapping)), by=by, seed=seed, draws=draws, **options)

    def frame() -> pl.DataFrame:
        keep = ("name", "scope", "statistic", "p_value", "p_adjusted", "null", "n_units", "caveat")
        return pl.DataFrame([{k: t[k] for k in keep} for t in value.to_dict()["tests"]],
                            schema={"name": pl.Utf8, "scope": pl.Utf8, "statistic": pl.Float64, "p_value": pl.Float64,
                                    "p_adjusted": pl.Float64, "null": pl.Utf8, "n_units": pl.Int64, "caveat": pl.Utf8})

    return Result(value, value.to_dict, frame, value.summary, "forensics battery")


def audit(data, risk_limit: float = 0.05, kind: str | None = None, contest: str | None = None, manifest=None,
          mapping=None, seed: int = 0, simulations: int = 1000) -> Result:
    """A risk-limiting audit plan of the tally sheets (MACRO batch comparison): how many
    actas to hand-count for ``risk_limit`` (`escrutinio audit sample-size --method macro`).
    The workflow (sample, record, status) and the other methods are in
    :mod:`escrutinio.audit`."""
    from escrutinio.audit import workflow

    _whole("seed", seed, 0)
    _whole("simulations", simulations, 1)
    if isinstance(risk_limit, bool) or not isinstance(risk_limit, (int, float)) or not 0 < risk_limit < 1:
        raise UsageError(f"risk_limit must be in (0, 1), got {risk_limit!r}")
    if isinstance(data, Election):
        sources = {s.source for s in data.snapshots}
        if len(sources) != 1:
            raise UsageError("audit plans one results file: pass its path")
        data = sources.pop()
    e = workflow.estimate_plan(str(data), risk_limit=risk_limit, assertion_kind=kind, contest=contest,
                               manifest=manifest, mapping=mapping, reps=simulations, seed=seed)
    summary = e["summary"]

    def text() -> str:
        return f"Assertions: {summary['assertion_kind']} ({summary.get('assertion_source', '')}).\n" + e["estimate"].summary()

    return Result(e, lambda: dict(summary, method="macro"), lambda: pl.DataFrame(summary["assertions"]), text,
                  "audit plan")
