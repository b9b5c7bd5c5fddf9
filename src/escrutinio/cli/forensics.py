"""CLI commands for the forensics capability: ``escrutinio forensics PATH...``."""
from __future__ import annotations

import json

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError


def load_data(paths, contest=None, mapping=None, combine: bool = False):
    """Station arrays of one contest from the given files: one file, one election's dated
    exports (the latest is used), or with ``combine`` the parts of one count. Any other set
    of files is refused with the flag to use (never reduced silently to one file)."""
    from escrutinio.forensics.core import from_snapshot

    try:
        from escrutinio.app.results import pick_contest, read, series_to_tabulate
    except ImportError:  # the application layer predates this command on old trees
        from escrutinio.io import read_election

        election = read_election(list(paths), mapping=mapping)
        name = contest or election.contests[0]
        return from_snapshot(election.latest(name))
    election = read(list(paths), mapping=mapping, combine=combine)
    name = pick_contest(election, contest)
    return from_snapshot(series_to_tabulate(election, name)[-1])


@main.command("forensics")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--contest", default=None, help="Contest name (default: the first in the files).")
@click.option("--mapping", default=None, help="Mapping TOML for files that are not a bundled format.")
@click.option("--combine", is_flag=True, help="The files are parts of one count (e.g. one per region): add them up.")
@click.option("--by", "by", default=None, help="Also run the tests per area of this level (e.g. department).")
@click.option("--definitions", type=click.Choice(["escrutinio", "kobak", "eftoolkit"]), default="escrutinio",
              show_default=True, help="Follow a published tool's definitions (see docs/forensics.md).")
@click.option("--leader-share", "share_of", type=click.Choice(["valid", "valid+invalid"]), default=None,
              help="Denominator of the leader's share (default: the definitions'; escrutinio: valid).")
@click.option("--placebo", "placebo_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A reference election (repeatable for several files of it).")
@click.option("--placebo-mapping", default=None, help="Mapping for the placebo files, if not bundled.")
@click.option("--placebo-sims", default=20, show_default=True, type=click.IntRange(min=0),
              help="Clean simulations like this election (0: none).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(min=10),
              help="Monte-Carlo draws of the round-number nulls (at least 10).")
@click.option("--min-registered", default=None, type=click.IntRange(min=0),
              help="Share-based tests use tables with at least this many registered voters [default: 100; "
                   "eftoolkit: 0].")
@click.option("--max-turnout", default=None, type=float, help="... and turnout at most this [default: 0.99; kobak, "
                                                                "eftoolkit: 1].")
@click.option("--max-share", default=None, type=float, help="... and leader share at most this [default: 0.99; kobak, "
                                                              "eftoolkit: 1].")
@click.option("--klimek/--no-klimek", default=True, show_default=True, help="Fit the Klimek fraud model.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False), help="Write an HTML report.")
def forensics_cmd(paths, contest, mapping, combine, by, definitions, share_of, placebo_paths, placebo_mapping,
                  placebo_sims, seed, draws, min_registered, max_turnout, max_share, klimek, fmt, report_path):
    """Statistical forensics battery on table-level results, with multiple-testing control
    and placebo elections. Anomalies are not fraud: read the caveats."""
    from dataclasses import replace

    from escrutinio.forensics.battery import NullCache, run_battery
    from escrutinio.forensics.core import DEFINITIONS, StationFilter
    from escrutinio.forensics.placebo import mark_uninformative, placebo_reference, placebo_simulated

    defs = DEFINITIONS[definitions]
    if share_of is not None:
        defs = replace(defs, share_of=share_of)
    base = defs.station_filter
    filt = StationFilter(base.min_registered if min_registered is None else min_registered,
                         base.max_turnout if max_turnout is None else max_turnout,
                         base.max_share if max_share is None else max_share)
    if not (0 < filt.max_turnout <= 1 and 0 < filt.max_share <= 1):
        raise UsageError("--max-turnout and --max-share must be in (0, 1]")
    defs = replace(defs, station_filter=filt)
    if report_path:
        try:
            from escrutinio.app.results import check_output

            check_output(report_path)
        except ImportError:
            pass
    try:
        from escrutinio.cli.progress import progress
    except ImportError:  # no shared helper: no bar
        from contextlib import nullcontext

        def progress(*_a, **_k):
            return nullcontext(lambda *a, **k: None)

    steps = 2 + bool(klimek) + len(placebo_paths) + placebo_sims
    with progress("forensics", total=steps) as step:
        data = load_data(paths, contest, mapping, combine).with_share_of(defs.share_of)
        step(label_text="forensics: battery")
        cache = NullCache(p05_rounding=defs.p05_rounding).prepare(data)
        result = run_battery(data, by=by, seed=seed, draws=draws, klimek=klimek, cache=cache, definitions=defs)
        step(advance=1 + bool(klimek), label_text="forensics: placebo")
        if placebo_paths:
            ref = load_data(placebo_paths, contest, placebo_mapping).with_share_of(defs.share_of)
            mark_uninformative(result, placebo_reference(ref, seed=seed + 1, definitions=defs), "reference")
            step(advance=len(placebo_paths))
        if placebo_sims:
            mark_uninformative(result, placebo_simulated(data, n_sims=placebo_sims, seed=seed + 2, cache=cache,
                                                         definitions=defs, progress=step), "simulated")
    if report_path:
        from escrutinio.forensics.report import html_page

        try:
            from escrutinio.app.results import write_atomic

            write_atomic(report_path, html_page(result))
        except ImportError:
            from pathlib import Path

            Path(report_path).write_text(html_page(result), encoding="utf-8")
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.summary())
