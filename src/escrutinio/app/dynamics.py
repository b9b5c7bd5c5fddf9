"""The count's dynamics as use cases, once, for the command line (`escrutinio timeline`,
`diff`, `compare`, `counting-order`, `backtest`, `calibrate`, `dynamics-report`) and the
Python API. Each function takes paths (or a Snapshot already read) and returns an
answer whose ``.to_dict()`` is the command's ``--format json`` and whose ``.summary()``
is its text; the method's own result stays reachable as ``.value``. Nothing here prints.

The projection (`escrutinio project`) is :mod:`escrutinio.app.projection`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from escrutinio.app.answer import Answer
from escrutinio.app.projection import json_safe, read_roll_with, roll_levels
from escrutinio.app.results import parse_pairs
from escrutinio.errors import UsageError
from escrutinio.model import Snapshot

BACKTEST_ORDERS = ("trep_arrival_pct", "computo_arrival_pct")  # Bolivia 2019's two arrival orders


class DynamicsAnswer(Answer):
    """A method's result with the command's JSON (``to_dict``, JSON-safe: NaN/inf are null)
    and text (``summary``); the result's own fields stay reachable as attributes."""

    def __init__(self, value: Any, payload: Callable[[], dict], text: Callable[[], str]):
        super().__init__(value, lambda: json_safe(payload()), text)


def _answer(result) -> DynamicsAnswer:
    return DynamicsAnswer(result, result.to_dict, result.summary)


def _snapshot(data, contest: str | None = None, mapping=None) -> Snapshot:
    from escrutinio.dynamics.sources import read_snapshot

    return data if isinstance(data, Snapshot) else read_snapshot(data, contest, mapping=mapping)


def snapshots(paths: Sequence[str | Path], contest: str | None = None, times=None, time_column: str | None = None,
              mapping=None) -> tuple[list[Snapshot], list]:
    """Each file's snapshot and its export time: ``times`` (FILE=TIME strings or a dict)
    first, then the latest value of ``time_column``, then the file name."""
    import polars as pl

    from escrutinio.dynamics.sources import read_snapshot
    from escrutinio.timeparse import parse_times, resolve_times

    snaps = [read_snapshot(p, contest, mapping=mapping) for p in paths]
    resolved = resolve_times(paths, parse_pairs(times, "--time", "FILE=TIME"))
    if time_column:
        out = []
        for s, p in zip(snaps, paths):
            if time_column not in s.frame.columns:
                raise UsageError(f"{p}: no column {time_column!r}")
            ts = parse_times(s.frame[time_column].cast(pl.Utf8).drop_nulls().to_list(), source=str(p))
            out.append(max(ts) if ts else None)
        resolved = [r or o for r, o in zip(out, resolved)]
    return snaps, resolved


def timeline(paths: Sequence[str | Path], roll: str | Path | None = None, contest: str | None = None, times=None,
             time_column: str | None = None, arrival: str | None = None, missing_above: float | None = None,
             mapping=None, roll_mapping=None) -> DynamicsAnswer:
    """Tables counted, shares and lead over a series of snapshots of one count
    (`escrutinio timeline`); with ``arrival``, one final snapshot replayed by that per-table
    arrival column. ``.first_seen`` is each table's first-seen snapshot and time."""
    from escrutinio.dynamics.timeline import arrival_timeline
    from escrutinio.dynamics.timeline import timeline as count_timeline

    paths = list(paths)
    if arrival:
        if len(paths) != 1:
            raise UsageError("--arrival replays one file")
        t = arrival_timeline(_snapshot(paths[0], contest, mapping), arrival, missing_above=missing_above)
    else:
        snaps, ts = snapshots(paths, contest, times, time_column, mapping=mapping)
        roll_frame = roll_levels(read_roll_with(roll, roll_mapping, mapping), None)[0] if roll else None
        t = count_timeline(snaps, roll=roll_frame, times=ts)
    return _answer(t)


def diff(a, b, contest: str | None = None, key: str = "unit", mapping=None) -> DynamicsAnswer:
    """Tables added, removed and changed between two snapshots, with the net effect
    (`escrutinio diff`)."""
    from escrutinio.dynamics.diff import diff as snapshot_diff

    r = snapshot_diff(_snapshot(a, contest, mapping), _snapshot(b, contest, mapping), key=key)

    def payload() -> dict:
        return {"added": r.added, "removed": r.removed, "changed": r.changed,
                "changed_units": [{"unit": u["unit"], "before": u["before"], "after": u["after"]}
                                  for u in r.changed_units],
                "net": r.net, **{k: v for k, v in r.to_dict().items()
                                 if k not in ("added", "removed", "changed", "changed_units", "net")}}

    return DynamicsAnswer(r, payload, r.summary)


def compare(a, b, by: str | None = None, group_by: str | None = None, places: str | Path | None = None,
            focus: Sequence[str] = (), contest: str | None = None, mapping=None, mapping_before=None) -> DynamicsAnswer:
    """Two elections over the polling places present in both (`escrutinio compare`), by a
    geographic level (default department) or by a polling-place attribute of ``places``
    (``group_by``); ``focus`` names the choices the text shows."""
    from escrutinio.dynamics.compare import compare as compare_elections
    from escrutinio.dynamics.sources import read_places

    if by and group_by:
        raise UsageError("give --by or --group-by, not both")
    places_frame = None
    if group_by:
        if not places:
            raise UsageError("--group-by needs --places")
        places_frame = read_places(places)
    r = compare_elections(_snapshot(a, contest, mapping_before or mapping), _snapshot(b, contest, mapping),
                          by=group_by or by or "department", places=places_frame)
    focus = list(focus)
    r.focus(focus)  # an unknown choice is an error in either format
    return DynamicsAnswer(r, r.to_dict, lambda: r.summary(focus or None))


def counting_order(path, order: str = "trep_arrival_pct", cut: float = 83.85, placebo: Sequence[float] = (),
                   bins: int = 20, simulations: int = 1000, seed: int = 0) -> DynamicsAnswer:
    """Lead by arrival order; late tables against their hierarchical expectation; placebo
    cut points (`escrutinio counting-order`)."""
    from escrutinio.dynamics.counting_order import counting_order as order_analysis

    s = _snapshot(path)
    kw = {"placebo_cuts": tuple(placebo)} if placebo else {}
    return _answer(order_analysis(s.counted(), order, s.counted_choices, levels=s.levels, cut=cut, bins=bins,
                                  simulations=simulations, seed=seed, **kw))


def backtest(path, orders: Sequence[str] = (), random_orders: int = 0, simulations: int = 500, level: float = 0.9,
             seed: int = 0, arrival_calibrated: bool = False) -> DynamicsAnswer:
    """A final count replayed in its arrival order(s) (default: the 2019 orders present)
    and ``random_orders`` random ones, with error and coverage (`escrutinio backtest`).
    ``.value`` is the list of backtests."""
    from escrutinio.dynamics.backtest import backtest as replay

    s = _snapshot(path)
    frame = s.counted()
    orders = list(orders) or [c for c in BACKTEST_ORDERS if c in frame.columns]
    if not orders and not random_orders:
        raise UsageError("no arrival-order column found; give --order or --random N")
    results = [replay(frame, s.counted_choices, levels=s.levels, order=o, simulations=simulations, level=level,
                      seed=seed, arrival_calibrated=arrival_calibrated) for o in orders]
    results += [replay(frame, s.counted_choices, levels=s.levels, random_seed=seed + i, simulations=simulations,
                       level=level, seed=seed) for i in range(random_orders)]
    return DynamicsAnswer(results, lambda: {"backtests": [r.to_dict() for r in results]},
                          lambda: "\n\n".join(r.summary() for r in results))


def calibrate(elections: int = 100, cut: float = 60.0, level: float = 0.9, simulations: int = 300, seed: int = 0,
              municipalities: int = 8, place_effect: float = 0.0, completion_adjustment: bool = True) -> DynamicsAnswer:
    """Interval coverage of the projection on simulated elections with known truth
    (`escrutinio calibrate`)."""
    from escrutinio.dynamics.backtest import calibration

    return _answer(calibration(elections, seed=seed, cut=cut, level=level, simulations=simulations,
                               arrival_effect=0.5, municipalities=municipalities, place_effect=place_effect,
                               completion_adjustment=completion_adjustment))


class DynamicsReport:
    """The Bolivia count-dynamics report as one HTML page (``.html``)."""

    def __init__(self, html: str):
        self.html = html

    def to_html(self) -> str:
        return self.html

    def _repr_html_(self) -> str:
        return self.html


def dynamics_report(data_dir: str | Path = "examples/bolivia", simulations: int = 2000, seed: int = 0) -> DynamicsReport:
    """The Bolivia count-dynamics report, 2019 and 2020 (`escrutinio dynamics-report`),
    from a folder holding the bundled 2019/ and 2020/."""
    from escrutinio.dynamics.report import bolivia_report

    return DynamicsReport(bolivia_report(Path(data_dir), simulations=simulations, seed=seed))


__all__ = ["DynamicsAnswer", "DynamicsReport", "backtest", "calibrate", "compare", "counting_order", "diff",
           "dynamics_report", "snapshots", "timeline"]
