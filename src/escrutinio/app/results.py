"""Read, check, tabulate and apply the law: what `escrutinio results`, `check` and
`report`, the server's results API and the Python API all call (contract C1)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import polars as pl

from escrutinio.errors import UsageError
from escrutinio.model import Election, Snapshot


# ------------------------------------------------------------------ reading
class ElectionData(Election):
    """An Election as read by :func:`read`, with the faces every API result has."""

    def to_dict(self) -> dict:
        return {"election": self.name, "contests": self.contests, "snapshots": [s.describe() for s in self.snapshots]}

    def to_polars(self) -> pl.DataFrame:
        """Every snapshot's unit frame, one after the other, with its contest and snapshot."""
        frames = [s.frame.with_columns(pl.lit(s.contest).alias("contest"), pl.lit(s.name).alias("snapshot"))
                  for s in self.snapshots]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()

    def summary(self) -> str:
        lines = [f"{self.name}: {len(self.snapshots)} snapshot(s), contests {self.contests}"]
        for s in self.snapshots:
            lines.append(f"  {s.contest} · {s.name} · {s.n_units:,} tables · levels {', '.join(s.levels)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td>{html.escape(s.contest)}</td><td>{html.escape(s.name)}</td><td>{s.n_units:,}</td></tr>"
                       for s in self.snapshots)
        return (f"<div><b>{html.escape(self.name)}</b><table><thead><tr><th>contest</th><th>snapshot</th>"
                f"<th>tables</th></tr></thead><tbody>{rows}</tbody></table></div>")


def read(paths, mapping=None, combine: bool = False, count_withdrawn: bool = False,
         progress: Callable[[str], None] | None = None) -> Election:
    """Read files (any layout a bundled or given mapping reads; CSV/XLSX/Parquet, gz/zip)
    into one Election. ``combine``: the files are disjoint parts of one count (e.g. one
    per region), added up into one snapshot per contest. ``count_withdrawn``: votes for
    withdrawn candidacies count as valid instead of null."""
    from escrutinio.io import _resolve_mapping, combine as combine_parts, read_election

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [str(p) for p in paths]
    seen: dict[Path, str] = {}
    for p in paths:
        key = Path(p.split("::", 1)[0]).resolve()
        if key in seen and p == seen[key]:
            raise UsageError(f"{p} is given twice: each file is read once")
        seen.setdefault(key, p)
    for p in paths:
        if Path(p).is_dir():
            raise UsageError(f"{p} is a directory: pass the files in it (e.g. {p.rstrip('/')}/*.csv)")
    election = read_election(paths, mapping=mapping, withdrawn_rule=False if count_withdrawn else None, progress=progress)
    if combine:
        parts: dict[tuple[str, str], list[Snapshot]] = {}
        for s in election.snapshots:
            parts.setdefault((s.election, s.contest), []).append(s)
        election = Election(election.name, [combine_parts(v) if len(v) > 1 else v[0] for v in parts.values()])
    election = ElectionData(election.name, election.snapshots)
    m = _resolve_mapping(mapping)
    election.law_preset = m.preset if m is not None else _builtin_preset(election)
    election.combined = combine
    return election


def _builtin_preset(election: Election) -> str | None:
    from escrutinio.io import builtin_mappings

    names = {s.election for s in election.snapshots}
    for m in builtin_mappings().values():
        if m.election in names and m.preset:
            return m.preset
    return None


def _as_election(data, **read_options) -> Election:
    return data if isinstance(data, Election) else read(data, **read_options)


def pick_contest(election: Election, contest: str | None) -> str:
    """The contest named (exactly, or by an unambiguous case-insensitive prefix), or the
    first one read."""
    contests = election.contests
    if not contests:
        raise UsageError("no contest was read")
    if contest is None:
        return contests[0]
    from escrutinio.tabulate import fold

    matches = [c for c in contests if c == contest] or [c for c in contests if fold(c).startswith(fold(contest))]
    if len(matches) != 1:
        raise UsageError(f"contest {contest!r} not found (or ambiguous); contests: {contests}")
    return matches[0]


def parse_pairs(items, option: str = "--filter", shape: str = "LEVEL=VALUE") -> dict[str, str]:
    """KEY=VALUE strings (or a dict) into a dict."""
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    out = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"{option} takes {shape}, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def resolve_rule(rule, election: Election | None = None):
    """A presidential rule: a PresidentialRule, a preset name, or the mapping's preset
    (plurality when neither names one)."""
    from escrutinio.law import presidential

    if isinstance(rule, presidential.PresidentialRule):
        return rule
    declared = getattr(election, "law_preset", None) or (_builtin_preset(election) if election else None)
    try:
        # plurality when nothing is declared, marked so that the verdict says so (issue 14)
        return presidential.resolve(rule, declared)
    except KeyError as exc:
        raise UsageError(exc.args[0] if exc.args else str(exc)) from exc


def series_to_tabulate(election: Election, contest: str, each_snapshot: bool = False) -> list[Snapshot]:
    """The snapshots of ``contest`` to tabulate: the latest of one election's dated
    exports, or every snapshot with ``each_snapshot``. Any other set of files (parts of
    a count, several elections, undated files) is refused with the flag to use, never
    reduced silently to its last file."""
    series = election.series(contest)
    if not series:
        raise UsageError(f"no snapshot of contest {contest!r}; contests: {election.contests}")
    sources = list(dict.fromkeys(s.source for s in election.snapshots))
    used = {s.source for s in series}
    missing = [Path(s).name for s in sources if s not in used]
    if missing and not each_snapshot:
        raise UsageError(
            f"{', '.join(missing)} hold(s) no {contest!r} contest, which is what was tabulated; "
            f"use --contest to choose one, or read those files separately. Contests: {election.contests}")
    if len(series) == 1 or each_snapshot:
        return series
    names = ", ".join(Path(s.source).name for s in series)
    elections = list(dict.fromkeys(s.election for s in series))
    if len(elections) > 1:
        raise UsageError(
            f"the files hold different elections ({', '.join(elections)}): {names}. "
            "Tabulate each election separately, or use --each-snapshot to get every file's totals")
    undated = [Path(s.source).name for s in series if s.exported_at is None]
    if undated:
        raise UsageError(
            f"{len(series)} files of one contest, and {', '.join(undated)} carry no export time, so they cannot be "
            "ordered as successive exports. If they are parts of one count (e.g. one file per region) use --combine; "
            "to see each file's totals use --each-snapshot")
    times = [s.exported_at for s in series]
    if len(set(times)) < len(times):
        raise UsageError(
            f"several files share one export time ({names}): if they are parts of one count use --combine; "
            "otherwise use --each-snapshot")
    latest = series[-1]
    have = latest.frame.get_column("unit")
    for earlier in series[:-1]:
        kept = earlier.frame.get_column("unit").is_in(have.implode()).mean() or 0.0
        if kept < 0.5:
            raise UsageError(
                f"{Path(latest.source).name} holds only {100 * kept:.0f}% of the tables of the earlier "
                f"{Path(earlier.source).name}, so these are not successive exports of one cumulative count. If they are "
                "parts of one count use --combine; to see each file's totals use --each-snapshot")
    return [latest]


# ------------------------------------------------------------------ results
@dataclass
class Results:
    """Totals, shares, completeness and the verdict of one contest (one tabulation per
    snapshot asked for). ``to_dict()`` is the `escrutinio results --format json` contract."""

    tabulations: list
    checks: object = None
    election: Election | None = None
    contest: str = ""

    @property
    def latest(self):
        return self.tabulations[-1]

    @property
    def final(self) -> bool:
        return self.latest.final

    @property
    def completeness(self):
        return self.latest.completeness

    @property
    def verdict(self):
        return self.latest.verdict

    def to_dict(self) -> dict:
        if len(self.tabulations) == 1:
            return self.tabulations[0].to_dict()
        return {"snapshots": [t.to_dict() for t in self.tabulations]}

    def summary(self) -> str:
        from escrutinio.app.present import rows_table

        parts = []
        for t in self.tabulations:
            text = t.summary()
            if t.rows is not None:
                text += "\n" + rows_table(t)
            parts.append(text)
        return "\n\n".join(parts)

    def to_polars(self) -> pl.DataFrame:
        """One row per snapshot (or per area with a level): counts per choice and totals."""
        frames = []
        for t in self.tabulations:
            choices = list(t.choices)
            if t.rows is not None:
                f = t.rows.select(["path", "units", "registered", "valid", "blank", "null", "emitted", *choices])
            else:
                f = pl.DataFrame([{"path": "(total)", "units": t.units, **t.totals, **t.choices}]).select(
                    ["path", "units", "registered", "valid", "blank", "null", "emitted", *choices])
            frames.append(f.with_columns(pl.lit(t.snapshot.name).alias("snapshot")))
        return pl.concat(frames, how="diagonal")

    def to_csv(self) -> str:
        return self.to_polars().write_csv()

    def _repr_html_(self) -> str:
        from escrutinio.app.present import results_html

        return results_html(self)

    def __repr__(self) -> str:
        return self.summary()


def results(election, contest: str | None = None, level: str | None = "country", filters=None, rule=None,
            roll=None, share_base: str = "valid", each_snapshot: bool = False, combine: bool = False,
            mapping=None, count_withdrawn: bool = False, checks: bool = True,
            progress: Callable[[str], None] | None = None) -> Results:
    """Totals of a contest under the law, with completeness (C8).

    ``election``: an Election from :func:`read`, or paths (read with ``mapping``,
    ``combine``, ``count_withdrawn``). ``level``: also one row per area at this level
    (``"country"`` by default when the data has that level; None for none).
    ``filters``: ``{level: value}`` or ``["level=value", ...]``. ``rule``: a preset name
    or rule (default: the mapping's preset, else plurality). ``roll``: a roll path or
    frame of expected tables. ``each_snapshot``: every snapshot, not only the latest.
    ``progress``: called with each file's path as it is read.
    """
    from escrutinio.checks import run_checks
    from escrutinio.io import read_roll
    from escrutinio.tabulate import tabulate

    election = _as_election(election, mapping=mapping, combine=combine, count_withdrawn=count_withdrawn,
                            progress=progress)
    filt = parse_pairs(filters)
    name = pick_contest(election, contest)
    law = resolve_rule(rule, election)
    roll_frame = read_roll(roll) if isinstance(roll, (str, Path)) else roll
    chosen = series_to_tabulate(election, name, each_snapshot)
    report = run_checks(election.series(name), series=not getattr(election, "combined", False)) if checks else None
    if level == "country" and all("country" not in (*s.levels, *s.attributes) for s in chosen):
        level = None
    tabs = [tabulate(s, level=level, filters=filt, share_base=share_base, rule=law, roll=roll_frame,
                     flagged_units=report.flagged_units(s.name) if report is not None else None) for s in chosen]
    if roll_frame is not None:
        from escrutinio.completeness import check_roll

        for t in tabs:
            check_roll(t.progress, t.snapshot.source or t.snapshot.name, str(roll) if isinstance(roll, (str, Path))
                       else "the roll")
    return Results(tabs, report, election, name)


# ------------------------------------------------------------------ checks
def check(election, contest: str | None = None, rules: Sequence[str] | None = None, severity: str | None = None,
          mapping=None, count_withdrawn: bool = False, progress: Callable[[str], None] | None = None):
    """Every acta's arithmetic and its consistency across snapshots (a CheckReport)."""
    from escrutinio.checks import RULES, run_checks

    unknown = [r for r in rules or () if r not in RULES]
    if unknown:
        raise UsageError(f"unknown rule(s) {unknown}; rules: {list(RULES)}")
    election = _as_election(election, mapping=mapping, count_withdrawn=count_withdrawn, progress=progress)
    snaps = election.snapshots if contest is None else election.series(pick_contest(election, contest))
    return run_checks(snaps).filter(list(rules) if rules else None, severity)


@dataclass
class Findings:
    """`escrutinio check`: the checks' report, rendered in one format, and the file it
    was written to (None: nothing written)."""

    report: object
    text: str
    output: str | None = None

    @property
    def count(self) -> int:
        return self.report.findings.height

    def to_dict(self) -> dict:
        return self.report.to_dict()

    def summary(self) -> str:
        return self.text


def check_findings(paths, contest: str | None = None, rules: Sequence[str] | None = None,
                   severity: str | None = None, fmt: str = "table", output: str | Path | None = None,
                   mapping=None, count_withdrawn: bool = False, limit: int = 200,
                   progress: Callable[[str], None] | None = None) -> Findings:
    """`escrutinio check`: check the actas of ``paths`` (or an Election), render the
    findings as ``fmt`` (``"table"``: a listing of at most ``limit``; ``"json"``;
    ``"csv"``), and write them whole to ``output`` when given (refused before any reading
    when it cannot be written)."""
    import json

    if output:
        check_output(output)
    report = check(paths, contest=contest, rules=rules, severity=severity, mapping=mapping,
                   count_withdrawn=count_withdrawn, progress=progress)
    if fmt == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str)
    elif fmt == "csv":
        text = report.findings.write_csv()
    else:
        text = report.listing(limit=limit)
    if output:
        write_atomic(output, text)
    return Findings(report, text, str(output) if output else None)


# ------------------------------------------------------------------ report
@dataclass
class Report:
    """`escrutinio report`: the results it shows and the HTML file written."""

    results: Results
    output: str

    def to_dict(self) -> dict:
        return {**self.results.latest.to_dict(), "report": self.output}

    def summary(self) -> str:
        return f"{self.results.latest.summary()}\n\nreport written to {self.output}"


def write_report(paths, output: str | Path = "escrutinio-report.html", contest: str | None = None, filters=None,
                 rule=None, roll=None, lang: str = "en", mapping=None, count_withdrawn: bool = False,
                 progress: Callable[[str], None] | None = None) -> Report:
    """`escrutinio report`: the results of ``paths`` (or an Election) and their
    self-contained HTML report written whole to ``output`` (``lang="es"``: in Spanish).
    An output that is not .html, or that cannot be written, is refused before any reading."""
    suffix = Path(output).suffix.lower()
    if suffix and suffix not in (".html", ".htm"):
        # a .pdf holding HTML opens as a broken PDF: say so instead of writing it
        raise UsageError(f"-o {output}: the report is HTML; name the file .html "
                         "(a browser's Print to PDF makes the PDF)")
    check_output(output)
    res = results(paths, contest=contest, level=None, filters=filters, rule=rule, roll=roll, mapping=mapping,
                  count_withdrawn=count_withdrawn, progress=progress)
    write_atomic(output, report_html(res, lang=lang))
    return Report(res, str(output))


def report_html(res: Results, lang: str = "en") -> str:
    """The self-contained HTML results report of the latest tabulation, in English or
    Spanish (``lang="es"``)."""
    from escrutinio.report.html import results_report

    return results_report(res.latest, res.checks, res.election, lang=lang)


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write whole or not at all (:func:`escrutinio.io.atomic.write_atomic`): a missing
    folder or a directory as target is refused, and no temporary file is left behind."""
    from escrutinio.io.atomic import write_atomic as write

    return write(path, text)


def check_output(path: str | Path) -> Path:
    """Refuse an output path that cannot be written, before any work is done."""
    from escrutinio.io.atomic import check_target

    return check_target(path)


# ------------------------------------------------------------------ mappings
@dataclass
class Mappings:
    """`escrutinio mappings`: the bundled mappings (file layouts read without a mapping file)."""

    items: dict

    def to_dict(self) -> dict:
        return {k: {"election": m.election, "detect": m.detect_columns, "preset": m.preset} for k, m in self.items.items()}

    def summary(self) -> str:
        return "\n".join(f"{k:<24} {m.election:<14} detects {', '.join(m.detect_columns[:4])} ..."
                         for k, m in self.items.items())


def mappings() -> Mappings:
    """The bundled mappings, by name (`escrutinio mappings`)."""
    from escrutinio.io import builtin_mappings

    return Mappings(builtin_mappings())
