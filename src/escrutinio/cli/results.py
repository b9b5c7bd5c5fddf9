"""`escrutinio results`, `check`, `report`, `load`, `mappings`: the foundation's commands."""
from __future__ import annotations

import json

import click

from escrutinio.cli import main

FORMATS = click.Choice(["table", "json", "csv"])


def reading(paths):
    """A progress bar for the files being read (on a terminal; nothing when piped)."""
    from escrutinio.cli.progress import progress

    return progress("reading", total=len(paths))


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

    with reading(paths) as step:
        res = app.results(list(paths), contest=contest, level=level, filters=filters, rule=rule, roll=roll,
                          share_base=share_base, each_snapshot=each_snapshot, combine=combine, mapping=mapping,
                          count_withdrawn=count_withdrawn, progress=step)
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
    from escrutinio.app.results import check_findings

    with reading(paths) as step:
        run = check_findings(list(paths), contest=contest, rules=rules, severity=severity, fmt=fmt, output=output,
                             mapping=mapping, count_withdrawn=count_withdrawn, progress=step)
    if output:
        click.echo(f"wrote {run.count} findings to {output}", err=True)
    else:
        click.echo(run.text)


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
    from escrutinio.app.results import write_report

    with reading(paths) as step:
        out = write_report(list(paths), output, contest=contest, filters=filters, rule=rule, roll=roll, lang=lang,
                           mapping=mapping, count_withdrawn=count_withdrawn, progress=step)
    if fmt == "json":
        click.echo(json.dumps(out.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(out.summary())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--mapping", default=None)
@click.option("--count-withdrawn", is_flag=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True, type=click.Path())
def load(paths, mapping, count_withdrawn, workspace):
    """Read files and store their snapshots in the workspace (one DuckDB file)."""
    from escrutinio.app.workspace_load import load as load_files, stored_line

    with reading(paths) as step:
        # everything is read before anything is written; each line as its snapshot is stored
        load_files(list(paths), workspace, mapping=mapping, count_withdrawn=count_withdrawn, progress=step,
                   on_stored=lambda i, s: click.echo(stored_line(i, s)))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def mappings(fmt):
    """List the bundled mappings (file layouts read without a mapping file)."""
    from escrutinio.app.results import mappings as bundled

    items = bundled()
    if fmt == "json":
        click.echo(json.dumps(items.to_dict(), ensure_ascii=False))
    else:
        click.echo(items.summary())
