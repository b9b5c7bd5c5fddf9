"""`escrutinio results`, `check`, `report`, `load`, `mappings`: the foundation's commands."""
from __future__ import annotations

import json

import click

from escrutinio.cli import main

FORMATS = click.Choice(["table", "json", "csv"])


def load_election(paths, mapping=None, count_withdrawn=False, combine=False):
    """Read files for a command, with a progress bar on a terminal."""
    from escrutinio import app
    from escrutinio.cli.progress import progress

    with progress("reading", total=len(paths)) as step:
        return app.read(list(paths), mapping=mapping, combine=combine, count_withdrawn=count_withdrawn, progress=step)


def pick_contest(election, contest: str | None) -> str:
    from escrutinio.app import pick_contest as pick

    return pick(election, contest)


def parse_pairs(items, option: str = "--filter", shape: str = "LEVEL=VALUE") -> dict[str, str]:
    """KEY=VALUE options (repeatable) into a dict."""
    from escrutinio.app import parse_pairs as parse

    return parse(items, option, shape)


parse_filters = parse_pairs


def common_options(f):
    f = click.option("--mapping", "mapping", default=None, help="Mapping TOML file or bundled mapping name.")(f)
    f = click.option("--contest", default=None, help="Contest name (default: the first one read).")(f)
    f = click.option("--count-withdrawn", is_flag=True, help="Count votes for withdrawn candidacies as valid (default: as null where the law says so).")(f)
    return f


def tabulate_paths(paths, mapping, contest, filters, level, rule, share_base, roll, count_withdrawn, each_snapshot, combine):
    """Read and tabulate (kept for callers of the earlier CLI helper; see escrutinio.app.results)."""
    from escrutinio import app

    election = load_election(paths, mapping, count_withdrawn, combine)
    res = app.results(election, contest=contest, level=level, filters=filters, rule=rule, roll=roll,
                      share_base=share_base, each_snapshot=each_snapshot)
    return election, res.tabulations, res.checks


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
    from escrutinio import app

    election = load_election(paths, mapping, count_withdrawn, combine)
    res = app.results(election, contest=contest, level=level, filters=parse_filters(filters), rule=rule, roll=roll,
                      share_base=share_base, each_snapshot=each_snapshot)
    if fmt == "json":
        click.echo(json.dumps(res.to_dict(), ensure_ascii=False, indent=1))
    elif fmt == "csv":
        click.echo(res.to_csv(), nl=False)
    else:
        click.echo(res.summary())
        click.echo("")


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
    from escrutinio import app

    if output:
        app.check_output(output)  # refused before any reading
    election = load_election(paths, mapping, count_withdrawn)
    report = app.check(election, contest=contest, rules=rules, severity=severity)
    if fmt == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str)
    elif fmt == "csv":
        text = report.findings.write_csv()
    else:
        text = report.listing(limit=200)
    if output:
        app.write_atomic(output, text)
        click.echo(f"wrote {report.findings.height} findings to {output}", err=True)
    else:
        click.echo(text)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@common_options
@click.option("--filter", "filters", multiple=True, help="LEVEL=VALUE (repeatable).")
@click.option("--rule", default=None, help="Presidential rule preset.")
@click.option("--roll", default=None, type=click.Path(), help="File listing every expected table.")
@click.option("--output", "-o", type=click.Path(), default="escrutinio-report.html", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
              help="Language of the HTML report: English or Spanish (español).")
def report(paths, mapping, contest, count_withdrawn, filters, rule, roll, output, fmt, lang):
    """Print the verdict and write a self-contained HTML report (--lang es: en español)."""
    from pathlib import Path

    from escrutinio import app
    from escrutinio.errors import UsageError

    suffix = Path(output).suffix.lower()
    if suffix and suffix not in (".html", ".htm"):
        # a .pdf holding HTML opens as a broken PDF: say so instead of writing it
        raise UsageError(f"-o {output}: the report is HTML; name the file .html "
                         "(a browser's Print to PDF makes the PDF)")
    app.check_output(output)  # refused before any reading
    election = load_election(paths, mapping, count_withdrawn)
    res = app.results(election, contest=contest, level=None, filters=parse_filters(filters), rule=rule, roll=roll)
    app.write_atomic(output, app.report_html(res, lang=lang))
    tab = res.latest
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
