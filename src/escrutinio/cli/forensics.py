"""CLI commands for the forensics capability: ``escrutinio forensics PATH...``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError


def load_data(paths, contest=None, mapping=None):
    """Station arrays of the latest snapshot of one contest from the given files."""
    from escrutinio.forensics.core import from_snapshot
    from escrutinio.io import read_election

    election = read_election(list(paths), mapping=mapping)
    contests = election.contests
    if contest is None:
        name = contests[0]
    else:
        m = [c for c in contests if c == contest] or [c for c in contests if c.lower().startswith(contest.lower())]
        if len(m) != 1:
            raise UsageError(f"contest {contest!r} not found (or ambiguous); contests: {contests}")
        name = m[0]
    return from_snapshot(election.latest(name))


@main.command("forensics")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--contest", default=None, help="Contest name (default: the first in the files).")
@click.option("--mapping", default=None, help="Mapping TOML for files that are not a bundled format.")
@click.option("--by", "by", default=None, help="Also run the tests per area of this level (e.g. department).")
@click.option("--placebo", "placebo_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A reference election (repeatable for several files of it).")
@click.option("--placebo-mapping", default=None, help="Mapping for the placebo files, if not bundled.")
@click.option("--placebo-sims", default=20, show_default=True, help="Clean simulations like this election (0: none).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--draws", default=1000, show_default=True, help="Monte-Carlo draws of the integer-percentage null.")
@click.option("--min-registered", default=100, show_default=True)
@click.option("--max-turnout", default=0.99, show_default=True)
@click.option("--max-share", default=0.99, show_default=True)
@click.option("--klimek/--no-klimek", default=True, show_default=True, help="Fit the Klimek fraud model.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False), help="Write an HTML report.")
def forensics_cmd(paths, contest, mapping, by, placebo_paths, placebo_mapping, placebo_sims, seed, draws,
                  min_registered, max_turnout, max_share, klimek, fmt, report_path):
    """Statistical forensics battery on table-level results, with multiple-testing control
    and placebo elections. Anomalies are not fraud: read the caveats."""
    from escrutinio.forensics.battery import NullCache, run_battery
    from escrutinio.forensics.core import StationFilter
    from escrutinio.forensics.placebo import mark_uninformative, placebo_reference, placebo_simulated

    if not (0 < max_turnout <= 1 and 0 < max_share <= 1) or min_registered < 0:
        raise UsageError("--max-turnout and --max-share must be in (0, 1]; --min-registered >= 0")
    data = load_data(paths, contest, mapping)
    filt = StationFilter(min_registered, max_turnout, max_share)
    cache = NullCache().prepare(data)
    result = run_battery(data, by=by, seed=seed, draws=draws, station_filter=filt, klimek=klimek, cache=cache)
    if placebo_paths:
        ref = load_data(placebo_paths, contest, placebo_mapping)
        mark_uninformative(result, placebo_reference(ref, seed=seed + 1, station_filter=filt), "reference")
    if placebo_sims:
        mark_uninformative(result, placebo_simulated(data, n_sims=placebo_sims, seed=seed + 2, station_filter=filt,
                                                     cache=cache), "simulated")
    if report_path:
        from escrutinio.forensics.report import html_page

        Path(report_path).write_text(html_page(result), encoding="utf-8")
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.summary())
