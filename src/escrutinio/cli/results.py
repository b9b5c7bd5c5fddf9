"""`escrutinio results`, `check`, `report`, `load`, `mappings`: the foundation's commands."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import polars as pl

from escrutinio.cli import main
from escrutinio.errors import UsageError

FORMATS = click.Choice(["table", "json", "csv"])


def _progress(label: str):
    """A progress line per file on stderr when it is a terminal (reading is the slow part)."""
    if not sys.stderr.isatty():
        return None
    state = {"n": 0}

    def tick(path: str) -> None:
        state["n"] += 1
        click.echo(f"\r{label} [{state['n']}] {Path(path).name[:60]:<60}", err=True, nl=False)

    return tick


def load_election(paths, mapping=None, count_withdrawn=False):
    from escrutinio.io import read_election

    tick = _progress("reading")
    election = read_election(list(paths), mapping=mapping, withdrawn_rule=False if count_withdrawn else None, progress=tick)
    if tick:
        click.echo("\r" + " " * 80 + "\r", err=True, nl=False)
    return election


def pick_contest(election, contest: str | None) -> str:
    contests = election.contests
    if contest is None:
        return contests[0]
    matches = [c for c in contests if c == contest] or [c for c in contests if c.lower().startswith(contest.lower())]
    if len(matches) != 1:
        raise UsageError(f"contest {contest!r} not found (or ambiguous); contests: {contests}")
    return matches[0]


def parse_pairs(items, option: str = "--filter", shape: str = "LEVEL=VALUE") -> dict[str, str]:
    """KEY=VALUE options (repeatable) into a dict."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"{option} takes {shape}, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


parse_filters = parse_pairs


def resolve_rule(name: str | None, mapping_preset: str | None):
    from escrutinio.law import presidential

    key = name or mapping_preset or "plurality"
    try:
        return presidential.preset(key)
    except KeyError as exc:
        raise UsageError(str(exc)) from exc


def _mapping_preset(election, mapping=None) -> str | None:
    from escrutinio.io import _resolve_mapping, builtin_mappings

    if mapping is not None:
        return _resolve_mapping(mapping).preset
    names = {s.election for s in election.snapshots}
    for m in builtin_mappings().values():
        if m.election in names and m.preset:
            return m.preset
    return None


def common_options(f):
    f = click.option("--mapping", "mapping", default=None, help="Mapping TOML file or bundled mapping name.")(f)
    f = click.option("--contest", default=None, help="Contest name (default: the first one read).")(f)
    f = click.option("--count-withdrawn", is_flag=True, help="Count votes for withdrawn candidacies as valid (default: as null where the law says so).")(f)
    return f


def tabulate_paths(paths, mapping, contest, filters, level, rule, share_base, roll, count_withdrawn, each_snapshot, combine):
    from escrutinio.checks import run_checks
    from escrutinio.io import combine as combine_parts, read_roll
    from escrutinio.tabulate import tabulate

    election = load_election(paths, mapping, count_withdrawn)
    contest = pick_contest(election, contest)
    law = resolve_rule(rule, _mapping_preset(election, mapping))
    roll_frame = read_roll(roll) if roll else None
    series = election.series(contest)
    if combine:
        series = [combine_parts(series)]
    chosen = series if each_snapshot else [series[-1]]
    flagged = run_checks(series, series=not combine)
    tabs = []
    for snap in chosen:
        tabs.append(tabulate(snap, level=level, filters=filters, share_base=share_base, rule=law,
                             roll=roll_frame, flagged_units=flagged.flagged_units(snap.name)))
    return election, tabs, flagged


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--filter", "filters", multiple=True, help="LEVEL=VALUE (repeatable), e.g. country=Bolivia or department='Bolivia / Santa Cruz'.")
@click.option("--level", default=None, help="Also give one row per area at this level (e.g. department).")
@click.option("--rule", default=None, help="Presidential rule preset: bolivia, argentina, ecuador, costa_rica, majority, plurality.")
@click.option("--share-base", type=click.Choice(["valid", "emitted"]), default="valid", show_default=True)
@click.option("--roll", default=None, type=click.Path(), help="File listing every expected table (progress).")
@click.option("--each-snapshot", is_flag=True, help="Totals for every snapshot of the contest, not only the latest.")
@click.option("--combine", is_flag=True, help="The files are disjoint parts of one count: add them up as one snapshot.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def results(paths, mapping, contest, count_withdrawn, filters, level, rule, share_base, roll, each_snapshot, combine, fmt):
    """Totals, shares and the verdict under the law.

    With several files of one count (successive exports), the latest snapshot is used
    unless --each-snapshot is given.
    """
    _, tabs, _ = tabulate_paths(paths, mapping, contest, parse_filters(filters), level, rule, share_base, roll,
                             count_withdrawn, each_snapshot, combine)
    if fmt == "json":
        payload = tabs[0].to_dict() if len(tabs) == 1 else {"snapshots": [t.to_dict() for t in tabs]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        click.echo(_results_csv(tabs), nl=False)
    else:
        for t in tabs:
            click.echo(t.summary())
            if t.rows is not None:
                click.echo(_rows_table(t))
            click.echo("")


def _results_csv(tabs) -> str:
    frames = []
    for t in tabs:
        choices = list(t.choices)
        if t.rows is not None:
            f = t.rows.select(["path", "units", "registered", "valid", "blank", "null", "emitted", *choices])
        else:
            f = pl.DataFrame([{"path": "(total)", "units": t.units, **t.totals, **t.choices}]).select(
                ["path", "units", "registered", "valid", "blank", "null", "emitted", *choices])
        frames.append(f.with_columns(pl.lit(t.snapshot.name).alias("snapshot")))
    return pl.concat(frames, how="diagonal").write_csv()


def _rows_table(t) -> str:
    choices = sorted(t.choices, key=lambda c: -t.choices[c])[:4]
    head = f"  {'area':<40} {'tables':>7} {'valid':>11} " + " ".join(f"{c[:10]:>10}" for c in choices)
    lines = [head]
    for r in t.rows.iter_rows(named=True):
        base = r[t.share_base] or 1
        lines.append(f"  {r['path'][:40]:<40} {r['units']:>7,} {r['valid']:>11,} " +
                     " ".join(f"{100 * r[c] / base:>9.2f}%" for c in choices))
    return "\n".join(lines)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--rule-name", "rules", multiple=True, help="Only these rules (repeatable).")
@click.option("--severity", type=click.Choice(["error", "warning", "info"]), default=None, help="Minimum severity.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(), default=None, help="Write findings (CSV or JSON by --format) here.")
def check(paths, mapping, contest, count_withdrawn, rules, severity, fmt, output):
    """Check every acta's arithmetic and consistency across snapshots.

    Exit status is 0 even when actas fail: failing actas are findings, not errors.
    """
    from escrutinio.checks import RULES, run_checks

    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise UsageError(f"unknown rule(s) {unknown}; rules: {list(RULES)}")
    election = load_election(paths, mapping, count_withdrawn)
    snaps = election.snapshots if contest is None else election.series(pick_contest(election, contest))
    report = run_checks(snaps).filter(rules or None, severity)
    if fmt == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str)
    elif fmt == "csv":
        text = report.findings.write_csv()
    else:
        text = report.summary()
        if report.findings.height:
            text += "\n\n" + "\n".join(
                f"  {r['rule']:<30} {Path(r['source']).name} row {r['source_row']}  table {r['unit']}: {r['detail']}"
                for r in report.findings.head(200).iter_rows(named=True))
            if report.findings.height > 200:
                text += f"\n  ... {report.findings.height - 200} more (use --format csv -o FILE)"
    if output:
        _atomic_write(output, text)
        click.echo(f"wrote {report.findings.height} findings to {output}", err=True)
    else:
        click.echo(text)


def _atomic_write(path: str, text: str) -> None:
    """Write whole or not at all: a temporary file renamed into place."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--filter", "filters", multiple=True, help="LEVEL=VALUE (repeatable).")
@click.option("--rule", default=None, help="Presidential rule preset.")
@click.option("--roll", default=None, type=click.Path(), help="File listing every expected table.")
@click.option("--output", "-o", type=click.Path(), default="escrutinio-report.html", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def report(paths, mapping, contest, count_withdrawn, filters, rule, roll, output, fmt):
    """Print the verdict and write a self-contained HTML report."""
    from escrutinio.report.html import results_report

    election, tabs, checks = tabulate_paths(paths, mapping, contest, parse_filters(filters), None, rule, "valid", roll,
                                    count_withdrawn, False, False)
    tab = tabs[0]
    html = results_report(tab, checks, election)
    _atomic_write(output, html)
    if fmt == "json":
        click.echo(json.dumps({**tab.to_dict(), "report": output}, ensure_ascii=False, indent=1))
    else:
        click.echo(tab.summary())
        click.echo(f"\nreport written to {output}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--mapping", default=None)
@click.option("--count-withdrawn", is_flag=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True, type=click.Path())
def load(paths, mapping, count_withdrawn, workspace):
    """Read files and store their snapshots in the workspace (one DuckDB file)."""
    from escrutinio.workspace import Workspace

    election = load_election(paths, mapping, count_withdrawn)  # everything is read before anything is written
    with Workspace(workspace) as ws:
        for s in election.snapshots:
            i = ws.put_snapshot(s)
            click.echo(f"snapshot {i}: {s.contest} · {s.name} · {s.n_units:,} tables")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def mappings(fmt):
    """List the bundled mappings (file layouts read without a mapping file)."""
    from escrutinio.io import builtin_mappings

    items = builtin_mappings()
    if fmt == "json":
        click.echo(json.dumps({k: {"election": m.election, "detect": m.detect_columns, "preset": m.preset} for k, m in items.items()}, ensure_ascii=False))
    else:
        for k, m in items.items():
            click.echo(f"{k:<24} {m.election:<14} detects {', '.join(m.detect_columns[:4])} ...")
