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

    import time

    # one step per stage and per placebo copy; the label says how long the rest should take,
    # from the time the first copies took (a placebo copy costs about one battery)
    steps = 2 + len(placebo_paths) + placebo_sims
    t_start = time.perf_counter()
    with progress("forensics", total=steps) as step:
        data = load_data(paths, contest, mapping, combine).with_share_of(defs.share_of)
        step(label_text="forensics: battery" + (f" and {by} areas" if by else ""))
        cache = NullCache(p05_rounding=defs.p05_rounding).prepare(data)
        result = run_battery(data, by=by, seed=seed, draws=draws, klimek=klimek, cache=cache, definitions=defs,
                             min_area_units=min_tables)
        t_battery = time.perf_counter() - t_start
        step(label_text="forensics: placebo")
        if placebo_paths:
            ref = load_data(placebo_paths, contest, placebo_mapping).with_share_of(defs.share_of)
            mark_uninformative(result, placebo_reference(ref, seed=seed + 1, definitions=defs), "reference")
            step(advance=len(placebo_paths))
        t_placebo = time.perf_counter()
        if placebo_sims:
            import threading

            done, lock = [0], threading.Lock()   # copies finish in worker threads

            def copy_done(advance=1):
                with lock:
                    done[0] += advance
                    spent = time.perf_counter() - t_placebo
                    left = spent / done[0] * (placebo_sims - done[0])
                    step(advance=advance, label_text=f"forensics: placebo copy {done[0]}/{placebo_sims}, "
                                                     f"about {_duration(left)} left")

            mark_uninformative(result, placebo_simulated(data, n_sims=placebo_sims, seed=seed + 2, cache=cache,
                                                         definitions=defs, progress=copy_done), "simulated")
        result.timings["placebo_s"] = time.perf_counter() - t_placebo
        result.timings["whole_s"] = time.perf_counter() - t_start
    hint = placebo_hint(result.timings["placebo_s"], result.timings["whole_s"], placebo_sims)
    if report_path:
        from escrutinio.forensics.report import html_page

        try:
            from escrutinio.app.results import write_atomic

            write_atomic(report_path, html_page(result))
        except ImportError:
            from pathlib import Path

            Path(report_path).write_text(html_page(result), encoding="utf-8")
    if fmt == "json":
        # the hint rides in the JSON, so that stdout and stderr stay machine-readable
        click.echo(json.dumps({**result.to_dict(), "hint": hint}, ensure_ascii=False))
    else:
        click.echo(result.summary())
        if hint:
            click.echo("\n" + hint)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def placebo_hint(placebo_s: float, whole_s: float, sims: int) -> str | None:
    """One line when the simulated placebo took most of the run, naming the option that cuts it."""
    if not sims or whole_s < 10 or placebo_s < 0.5 * whole_s:
        return None
    return (f"hint: the {sims} placebo copies took {_duration(placebo_s)} of {_duration(whole_s)}; "
            f"--placebo-sims 5 takes about a quarter of that and --placebo-sims 0 none (no false-positive check).")
