"""The Python API (``import escrutinio``): read, check, tabulate, project, forensics,
audit, the PVT (design, estimate, compare), verify-log and export. Every call takes paths or an Election from :func:`read`; every result has
``.to_dict()`` (the command's JSON), ``.to_polars()`` (a tidy frame), ``.summary()``
(the command's text) and an HTML repr for notebooks. See docs/python.md.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import polars as pl

from escrutinio.app.answer import Answer
from escrutinio.app.results import Results, pick_contest, read, results
from escrutinio.errors import UsageError
from escrutinio.model import Election

__all__ = ["read", "check", "tabulate", "report", "load", "bundled_mappings", "project", "forensics", "audit", "audit_sample_size", "audit_risk", "audit_plan",
           "audit_sample", "audit_import_draws", "audit_record", "audit_status", "audit_report", "seats", "apportion",
           "timeline", "diff", "compare", "counting_order", "backtest", "calibrate", "dynamics_report",
           "pvt_design",
           "pvt_estimate", "pvt_compare", "pvt_verify", "verify_log", "export", "Result", "Results"]


class Result(Answer):
    """A uniform face on a capability's own result object (kept as ``.value``; its fields
    stay reachable as attributes of this one), with a tidy frame and a notebook view."""

    def __init__(self, value: Any, to_dict: Callable[[], dict], to_polars: Callable[[], pl.DataFrame],
                 summary: Callable[[], str], title: str = ""):
        super().__init__(value, to_dict, summary)
        self._to_polars, self.title = to_polars, title

    def to_polars(self) -> pl.DataFrame:
        return self._to_polars()

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
    if options.get("simulations") is not None:  # None: chosen from a pilot (dynamics.projection.auto)
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
              mapping=None, placebo_sims: int = 0, **options) -> Result:
    """The forensics battery (`escrutinio forensics`): tests with their nulls, p-values
    and caveats. An anomaly is never evidence of fraud by itself. The same use case as the
    command (:func:`escrutinio.app.forensics.forensics`); ``placebo_sims`` is 0 here unless
    asked for (the command's default is 20)."""
    from escrutinio.app.forensics import forensics as run

    if seed is not None:
        _whole("seed", seed, 0, " (or None)")
    _whole("draws", draws, 10, " (Monte-Carlo draws of the round-number nulls)")
    _whole("placebo_sims", placebo_sims, 0)
    for key in ("area_draws", "digit_sims"):
        if options.get(key) is not None:
            _whole(key, options[key], 10)
    if "min_area_units" in options:
        options["min_tables"] = options.pop("min_area_units")
    value = run(_election(data, mapping=mapping), contest, by=by, seed=seed, draws=draws, placebo_sims=placebo_sims,
                **options)

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


def _rows_frame(rows: dict, key: str) -> pl.DataFrame:
    return pl.DataFrame([{key: k, **{f: v for f, v in row.items() if not isinstance(v, (dict, list))}}
                         for k, row in rows.items()])


def pvt_design(roll, n: int, seed, strata=None, allocation: str = "proportional", previous=None, mapping=None,
               min_per_stratum: int = 2, level: float = 0.95) -> Result:
    """A PVT sample: ``n`` tables drawn from the roll with a public seed (`escrutinio pvt
    design`); ``.to_dict()`` is the design JSON, ``.to_polars()`` the sampled tables."""
    from escrutinio.app import pvt

    d = pvt.design(str(roll), n, seed, strata, allocation=allocation, previous=None if previous is None else str(previous),
                   mapping=mapping, min_per_stratum=min_per_stratum, level=level)
    return Result(d, d.to_dict, lambda: pl.DataFrame({"unit": d.sample, "stratum": d.sample_strata},
                                                     schema={"unit": pl.Utf8, "stratum": pl.Utf8}),
                  d.summary, "PVT design")


def pvt_estimate(reports, design, mapping=None, contest: str | None = None, rule=None, level: float = 0.95,
                 combine: bool = False, draws: int = 20000) -> Result:
    """Shares, lead and P(verdict) from the sampled tables' reports (`escrutinio pvt
    estimate`); ``design``: the design's JSON file, its dict, or a :func:`pvt_design` result."""
    from escrutinio.app import pvt

    est = pvt.estimate(reports, getattr(design, "value", design), mapping, contest, rule, level, combine, draws)
    return Result(est, est.to_dict, lambda: _rows_frame(est.to_dict()["choices"], "choice"), est.summary, "PVT estimate")


def pvt_compare(reports, official, design, mapping=None, contest: str | None = None, rule=None, level: float = 0.95,
                combine: bool = False, draws: int = 20000, official_mapping=None, against_level: float = 0.99) -> Result:
    """The official count against the PVT (`escrutinio pvt compare`)."""
    from escrutinio.app import pvt

    res = pvt.compare(reports, official, getattr(design, "value", design), mapping, contest, rule, level, combine, draws,
                      official_mapping=official_mapping, against_level=against_level)
    return Result(res, res.to_dict, lambda: _rows_frame(res.to_dict()["choices"], "choice"), res.summary,
                  "official count against the PVT")


def pvt_verify(design, roll, mapping=None) -> Result:
    """Re-draw a PVT design's sample from its seed and the roll, without trusting the design
    (`escrutinio pvt verify`): ``.ok`` and each check."""
    from pathlib import Path as _Path

    from escrutinio.app import pvt

    out = pvt.verify(getattr(design, "value", design), roll, mapping)
    name = _Path(design).name if isinstance(design, (str, _Path)) else "design"

    def text() -> str:
        lines = [f"PVT design {name} (SHA-256 {out['design_sha256']}) against {_Path(str(roll)).name}:"]
        lines += [f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}" for c in out["checks"]]
        lines.append("  the sample is exactly what the seed and the roll give" if out["ok"]
                     else "  the design does NOT match the roll")
        return "\n".join(lines)

    return Result(out, lambda: out, lambda: pl.DataFrame(out["checks"]), text, "PVT design verified")


def verify_log(source, public_key=None, checkpoints=None, inclusion: str | None = None, contest: str | None = None,
               totals: bool = True, save=None) -> Result:
    """Verify a results log (`escrutinio verify-log`): a server URL, a saved JSON Lines log
    (with ``public_key`` and ``checkpoints``) or a folder saved with ``save``.
    ``.to_dict()`` is the command's JSON (``ok``, ``problems``, ``first_bad_entry``...)."""
    from types import SimpleNamespace

    from escrutinio.app.publication import verify_log as run

    doc = run(str(source), None if public_key is None else str(public_key),
              None if checkpoints is None else str(checkpoints), inclusion, contest, totals,
              None if save is None else str(save))
    out = {k: v for k, v in doc.items() if k != "summary"}
    problems = pl.DataFrame(doc["problems"]) if doc["problems"] else pl.DataFrame({"message": []}, schema={"message": pl.Utf8})
    return Result(SimpleNamespace(**out), lambda: out, lambda: problems, lambda: doc["summary"], "results log")


def export(data, format: str = "nist-1500-100", contest: str | None = None, status: str = "unofficial-partial",
           election_date: str | None = None, units: bool = True, mapping=None, count_withdrawn: bool = False) -> Result:
    """The latest snapshot of each contest in a standard format (`escrutinio export`):
    ``format="nist-1500-100"`` gives the NIST SP 1500-100 v2 document as ``.to_dict()``;
    ``format="csv"`` gives one table per contest and level (``.value``: file name to frame)."""
    from escrutinio.app.publication import export as run

    out = run(data, format, mapping=mapping, contest=contest, count_withdrawn=count_withdrawn, status=status,
              election_date=election_date, units=units)
    if format == "nist-1500-100":
        units_frame = lambda: pl.DataFrame([{k: v for k, v in u.items() if not isinstance(v, (dict, list))}  # noqa: E731
                                            for u in out["GpUnit"]])
        return Result(out, lambda: out, units_frame, lambda: f"NIST SP 1500-100 report: {len(out['GpUnit']):,} reporting "
                      f"units, {len(out['Election'][0]['Contest'])} contest(s)", "export")
    return Result(out, lambda: {name: t.to_dicts() for name, t in out.items()},
                  lambda: pl.concat([t.with_columns(pl.lit(name).alias("file")) for name, t in out.items()],
                                    how="diagonal_relaxed"),
                  lambda: "\n".join(f"{name} ({t.height:,} rows)" for name, t in out.items()), "export")


def _seat_frame(payload: dict) -> pl.DataFrame:
    rows = [{"chamber": chamber, "choice": choice, "seats": n}
            for chamber, c in payload.get("chambers", {}).items() for choice, n in (c.get("total") or {}).items()]
    return pl.DataFrame(rows, schema={"chamber": pl.Utf8, "choice": pl.Utf8, "seats": pl.Int64})


def seats(paths, preset: str | None = "bolivia", options=(), roll=None, mapping=None, tie: str = "block",
          seed: int | None = None, simulations: int | None = None) -> Result:
    """Seats under a country's law (`escrutinio seats FILES --preset ...`): ``preset`` is
    ``"bolivia"``, a law TOML file, or None for the law file the mapping's [law] names."""
    from escrutinio.app import seats as use_case

    paths = [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if preset == "bolivia":
        answer = use_case.bolivia(paths, options, roll=roll, mapping=mapping, tie=tie, seed=seed, simulations=simulations)
    else:
        if options or roll is not None or simulations:
            raise UsageError("options, roll and simulations go with preset='bolivia'")
        answer = use_case.by_law_file(paths, preset, mapping=mapping, tie=tie, seed=seed)
    return Result(answer, answer.to_dict, lambda: _seat_frame(answer.to_dict()), answer.summary, "Seats")


def apportion(votes: dict[str, int], seats: int, method: str = "dhondt", threshold: str | None = None,
              tie: str = "block", seed: int | None = None) -> Result:
    """One district's seats, exactly (`escrutinio seats --method --seats --votes`);
    ``threshold`` like ``"3%"`` or ``"3/100"``."""
    from escrutinio.app import seats as use_case

    answer = use_case.ad_hoc(dict(votes), seats, method, threshold=use_case.parse_threshold(threshold), tie=tie,
                             seed=seed)
    return Result(answer, answer.to_dict, lambda: _seat_frame(answer.to_dict()), answer.summary, "Apportionment")


def _scalars(payload: dict) -> pl.DataFrame:
    """The answer's top-level numbers and words, one row per field (nested parts stay in ``.to_dict()``)."""
    rows = [{"field": k, "value": str(v)} for k, v in payload.items() if isinstance(v, (str, int, float, bool)) or v is None]
    return pl.DataFrame(rows, schema={"field": pl.Utf8, "value": pl.Utf8})


def _use_case_call(module: str, name: str, title: str, call_name: str, command: str):
    """A use case of ``escrutinio.app.<module>`` as a call of the Python API: the command's
    JSON and text, a tidy frame (the method's own, else the answer's top-level fields)."""

    def call(*args, **kwargs) -> Result:
        import importlib

        answer = getattr(importlib.import_module(f"escrutinio.app.{module}"), name)(*args, **kwargs)
        own = getattr(getattr(answer, "value", None), "to_polars", None)
        frame = own if callable(own) else (lambda: _scalars(answer.to_dict()))
        return Result(answer, answer.to_dict, frame, answer.summary, title)

    call.__name__ = call_name
    call.__doc__ = (f"`escrutinio {command}` as a call: the arguments of :func:`escrutinio.app.{module}.{name}` "
                    "(options as in the command; lists and dicts accepted).")
    return call


def _audit_call(name: str, title: str):
    return _use_case_call("audit", name, title, f"audit_{name}", f"audit {name.replace('_', '-')}")


audit_sample_size = _audit_call("sample_size", "Audit sample size")
audit_risk = _audit_call("risk", "Measured risk")
audit_plan = _audit_call("plan", "Audit plan")
audit_sample = _audit_call("sample", "Audit sample")
audit_import_draws = _audit_call("import_draws", "Imported draws")
audit_record = _audit_call("record", "Recorded counts")
audit_status = _audit_call("status", "Audit status")
audit_report = _audit_call("report", "Audit report")


def report(data, output: str = "escrutinio-report.html", contest: str | None = None, filters=None, rule=None,
           roll=None, lang: str = "en", mapping=None) -> Result:
    """Write the self-contained HTML report (`escrutinio report`); the result is the
    totals it shows and the file's path."""
    from escrutinio.app.results import write_report

    answer = write_report(data, output, contest=contest, filters=filters, rule=rule, roll=roll, lang=lang,
                          mapping=mapping)
    return Result(answer, answer.to_dict, lambda: answer.results.latest.to_polars(), answer.summary, "Report")


def load(paths, workspace: str = "escrutinio.duckdb", mapping=None) -> Result:
    """Store every snapshot of ``paths`` in a DuckDB workspace (`escrutinio load`)."""
    from escrutinio.app.workspace_load import load as run

    answer = run(paths, workspace, mapping=mapping)
    frame = lambda: pl.DataFrame([{"id": i, "contest": s.contest, "snapshot": s.name, "tables": s.n_units}  # noqa: E731
                                  for i, s in answer.stored],
                                 schema={"id": pl.Int64, "contest": pl.Utf8, "snapshot": pl.Utf8, "tables": pl.Int64})
    return Result(answer, answer.to_dict, frame, answer.summary, "Loaded")


def bundled_mappings() -> Result:
    """The bundled mappings, by name (`escrutinio mappings`)."""
    from escrutinio.app.results import mappings as run

    answer = run()
    frame = lambda: pl.DataFrame([{"name": k, **v, "detect": ", ".join(v["detect"])}  # noqa: E731
                                  for k, v in answer.to_dict().items()])
    return Result(answer, answer.to_dict, frame, answer.summary, "Bundled mappings")


def _dynamics_call(name: str, title: str):
    return _use_case_call("dynamics", name, title, name, name.replace("_", "-"))


timeline = _dynamics_call("timeline", "Count timeline")
diff = _dynamics_call("diff", "Differences between two snapshots")
compare = _dynamics_call("compare", "Two elections compared")
counting_order = _dynamics_call("counting_order", "Counting order")
backtest = _dynamics_call("backtest", "Projection backtest")
calibrate = _dynamics_call("calibrate", "Projection calibration")


def dynamics_report(data_dir="examples/bolivia", simulations: int = 2000, seed: int = 0):
    """The Bolivia count-dynamics report as one HTML page (`escrutinio dynamics-report`;
    ``.html``, shown inline in a notebook)."""
    from escrutinio.app.dynamics import dynamics_report as run

    return run(data_dir, simulations=simulations, seed=seed)
