"""CLI commands for the forensics capability: ``escrutinio forensics PATH...``."""
from __future__ import annotations

import json

import click

from escrutinio.cli import main


def __getattr__(name: str):
    # the use case's helpers, still importable from here under their old names (tests,
    # benchmarks and docs/forensics.md use them), without loading the use case on start-up
    if name in ("load_data", "placebo_hint"):
        from escrutinio.app import forensics

        return getattr(forensics, {"load_data": "station_data"}.get(name, name))
    raise AttributeError(name)


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
@click.option("--min-tables", default=200, show_default=True, type=click.IntRange(min=1),
              help="With --by: areas with fewer tables are left out (and listed).")
@click.option("--klimek/--no-klimek", default=True, show_default=True, help="Fit the Klimek fraud model.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False), help="Write an HTML report.")
def forensics_cmd(paths, contest, mapping, combine, by, definitions, share_of, placebo_paths, placebo_mapping,
                  placebo_sims, seed, draws, min_registered, max_turnout, max_share, min_tables, klimek, fmt,
                  report_path):
    """Statistical forensics battery on table-level results, with multiple-testing control
    and placebo elections. Anomalies are not fraud: read the caveats."""
    from escrutinio.app.forensics import forensics, progress_steps
    from escrutinio.cli.progress import progress

    with progress("forensics", total=progress_steps(placebo_paths, placebo_sims)) as step:
        run = forensics(paths, contest, mapping, combine, by=by, definitions=definitions, share_of=share_of,
                        placebo=placebo_paths, placebo_mapping=placebo_mapping, placebo_sims=placebo_sims, seed=seed,
                        draws=draws, min_registered=min_registered, max_turnout=max_turnout, max_share=max_share,
                        min_tables=min_tables, klimek=klimek, report=report_path, progress=step)
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), ensure_ascii=False))
    else:
        click.echo(run.summary())
