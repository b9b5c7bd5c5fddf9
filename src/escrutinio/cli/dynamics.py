"""CLI commands for the dynamics capability: ``timeline``, ``diff``, ``project``,
``compare``, ``counting-order``, ``backtest``, ``calibrate`` and ``dynamics-report``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError

FORMAT = click.Choice(["table", "json"])
MAPPING = dict(default=None, help="mapping TOML file or bundled mapping name for the count files")


def _emit(answer, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        click.echo(answer.summary())


@main.command("timeline")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--roll", "roll_path", type=click.Path(exists=True, dir_okay=False), help="every expected table")
@click.option("--contest", default=None, help="contest name (default: the presidential one)")
@click.option("--time", "times", multiple=True, help="FILE=TIME export time, overrides the file name")
@click.option("--time-column", default=None, help="column holding each row's export time (latest is used)")
@click.option("--arrival", default=None, help="replay one final snapshot by this per-table arrival column")
@click.option("--missing-above", default=None, type=float, help="with --arrival: values marking never-published tables")
@click.option("--first-seen", "first_seen_csv", default=None, type=click.Path(dir_okay=False),
              help="write each table's first-seen snapshot and time (arrival order) to this CSV")
@click.option("--mapping", **MAPPING)
@click.option("--roll-mapping", default=None, help="mapping for the roll file when it is not a bundled layout")
@click.option("--format", "fmt", type=FORMAT, default="table")
def timeline_cmd(paths, roll_path, contest, times, time_column, arrival, missing_above, first_seen_csv, mapping,
                 roll_mapping, fmt):
    """Tables counted, shares and lead over a series of snapshots of one count."""
    from escrutinio.app.dynamics import timeline

    t = timeline(paths, roll=roll_path, contest=contest, times=times, time_column=time_column, arrival=arrival,
                 missing_above=missing_above, mapping=mapping, roll_mapping=roll_mapping)
    if first_seen_csv:
        t.first_seen.write_csv(first_seen_csv)
    _emit(t, fmt)


@main.command("diff")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
@click.option("--contest", default=None)
@click.option("--key", default="unit", show_default=True, help="table identity column")
@click.option("--mapping", **MAPPING)
@click.option("--format", "fmt", type=FORMAT, default="table")
def diff_cmd(a, b, contest, key, mapping, fmt):
    """Tables added, removed and changed between two snapshots, with the net effect."""
    from escrutinio.app.dynamics import diff

    _emit(diff(a, b, contest=contest, key=key, mapping=mapping), fmt)


@main.command("project")
@click.argument("partial", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--roll", "roll_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="every expected table with its registered voters (e.g. roll_2020.csv.gz or a final count)")
@click.option("--previous", type=click.Path(exists=True, dir_okay=False), help="previous election (a covariate)")
@click.option("--places", type=click.Path(exists=True, dir_okay=False),
              help="polling places: area type (URB/area), province/municipality, density, by place id")
@click.option("--mapping", **MAPPING)
@click.option("--roll-mapping", default=None, help="mapping for the roll file when it is not a bundled layout")
@click.option("--previous-mapping", default=None, help="mapping for the --previous file")
@click.option("--strata", default=None,
              help="comma-separated roll columns, coarse to fine, for the multilevel model "
                   "(default with an area type: area,<first level>,municipality); 'none' for the hot deck")
@click.option("--model", type=click.Choice(["auto", "multilevel", "hotdeck"]), default="auto", show_default=True,
              help="auto: multilevel by stratum when an area type is known; without one, the counted tables are "
                   "measured against the uncounted ones on the roll (settlement size, place and table size), and an "
                   "unrepresentative count gets the multilevel model by settlement size, a representative one the "
                   "geographic hot deck")
@click.option("--covariate", "covariates", multiple=True, help="numeric place column used as a log covariate")
@click.option("--selection-r", type=click.FloatRange(0, 1), default=None,
              help="multilevel: prior scale of the count order's correlation with the vote inside strata "
                   "(default 0.21, or 0.12 when the polling places have coordinates and the voters within 5 km "
                   "are a covariate; measured on Bolivia's 2019 count orders; 0 if tables arrive at random)")
@click.option("--simulations", default=None, type=click.IntRange(1),
              help="simulations of the uncounted tables (default: a pilot of 2,000, raised until ten seeds would move "
                   "no bound by more than 0.05 points, at most 64,000; the summary says how many and the cost)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--min-donors", default=2, show_default=True, type=click.IntRange(1))
@click.option("--arrival", default=None, help="column (in the partial or in --arrival-from) giving counted tables' arrival order")
@click.option("--arrival-from", type=click.Path(exists=True, dir_okay=False), help="file holding the --arrival column by table")
@click.option("--correct-bias", is_flag=True, help="shift by the mean arrival-replay error (with --arrival)")
@click.option("--completion-adjustment/--no-completion-adjustment", default=True, show_default=True,
              help="hot deck: adjust wholly uncounted places when slow places are shown to vote differently (tested)")
@click.option("--contest", default=None)
@click.option("--rule", default=None,
              help="presidential rule for the outcome probabilities (preset or law TOML); default: the mapping's")
@click.option("--format", "fmt", type=FORMAT, default="table")
def project_cmd(partial, roll_path, previous, places, mapping, roll_mapping, previous_mapping, strata, model, covariates,
                selection_r, simulations, seed, level, min_donors, arrival, arrival_from, correct_bias, completion_adjustment,
                contest, rule, fmt):
    """Project the final result from each partial count (multilevel by stratum, or hot deck)."""
    from escrutinio.app.projection import project, read_roll_with
    from escrutinio.dynamics.sources import read_places

    from escrutinio.dynamics.projection import previous_place_rates
    from escrutinio.dynamics.sources import read_snapshot

    places_frame = read_places(places) if places else None
    roll = read_roll_with(roll_path, roll_mapping, mapping)
    if previous:  # read once for every partial count
        ps = read_snapshot(previous, mapping=previous_mapping)
        previous = previous_place_rates(ps.frame, ps.choices)
    strata_list = None
    if strata is not None:
        strata_list = [] if strata.strip().lower() == "none" else [c.strip() for c in strata.split(",") if c.strip()]
    from escrutinio.cli.progress import progress

    results = []
    with progress("projecting", total=len(partial)) as step:  # a bar on a terminal, nothing when piped
        for p in partial:
            try:
                r = project(p, roll, previous, seed, places=places_frame, contest=contest, mapping=mapping,
                            previous_mapping=previous_mapping, simulations=simulations, level=level,
                            min_donors=min_donors, strata=strata_list, model=model,
                            covariates=list(covariates) or None, arrival=arrival, arrival_from=arrival_from,
                            correct_bias=correct_bias, completion_adjustment=completion_adjustment, rule=rule,
                            selection_r=selection_r)
            except UsageError as e:  # the roll was read here, so name its file
                if str(e).startswith("the roll"):
                    raise UsageError(f"{Path(roll_path).name}: {e}") from None
                raise
            results.append((p, r))
            step(p)
    if fmt == "json":
        if len(results) == 1:
            click.echo(json.dumps(results[0][1].to_dict(), ensure_ascii=False))
        else:
            click.echo(json.dumps({"projections": [{"partial": p, **r.to_dict()} for p, r in results]},
                                  ensure_ascii=False))
    else:
        for p, r in results:
            click.echo(f"== {p}")
            click.echo(r.summary())


@main.command("compare")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", default=None, help="geographic level (default department)")
@click.option("--group-by", default=None, help="polling-place attribute from --places (e.g. area)")
@click.option("--places", type=click.Path(exists=True, dir_okay=False), help="polling-place list with attributes")
@click.option("--focus", multiple=True, help="choices to show in the text table")
@click.option("--contest", default=None)
@click.option("--mapping", **MAPPING)
@click.option("--mapping-before", default=None, help="mapping for A only (when the two elections' layouts differ)")
@click.option("--format", "fmt", type=FORMAT, default="table")
def compare_cmd(a, b, by, group_by, places, focus, contest, mapping, mapping_before, fmt):
    """Compare two elections over the polling places present in both."""
    from escrutinio.app.dynamics import compare

    _emit(compare(a, b, by=by, group_by=group_by, places=places, focus=focus, contest=contest, mapping=mapping,
                  mapping_before=mapping_before), fmt)


@main.command("counting-order")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--order", "order", default="trep_arrival_pct", show_default=True, help="arrival-order column")
@click.option("--cut", default=83.85, show_default=True, type=float, help="percent of tables at the cut point")
@click.option("--placebo", multiple=True, type=float, help="placebo cut points (default 50 60 70 80 90 95)")
@click.option("--bins", default=20, show_default=True, type=click.IntRange(2, 100))
@click.option("--simulations", default=1000, show_default=True, type=click.IntRange(10))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--format", "fmt", type=FORMAT, default="table")
def counting_order_cmd(path, order, cut, placebo, bins, simulations, seed, fmt):
    """Lead by arrival order; late tables vs their hierarchical expectation; placebos."""
    from escrutinio.app.dynamics import counting_order

    _emit(counting_order(path, order, cut=cut, placebo=placebo, bins=bins, simulations=simulations, seed=seed), fmt)


@main.command("backtest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--order", "orders", multiple=True, help="arrival-order column(s); default: both 2019 orders")
@click.option("--random", "random_orders", default=0, show_default=True, type=click.IntRange(0),
              help="also replay this many random orders")
@click.option("--simulations", default=500, show_default=True, type=click.IntRange(10))
@click.option("--level", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--arrival-calibrated", is_flag=True, help="widen by arrival-replay errors of the counted part")
@click.option("--format", "fmt", type=FORMAT, default="table")
def backtest_cmd(path, orders, random_orders, simulations, level, seed, arrival_calibrated, fmt):
    """Replay a final count in its arrival order(s) and report error and coverage."""
    from escrutinio.app.dynamics import backtest

    _emit(backtest(path, orders, random_orders=random_orders, simulations=simulations, level=level, seed=seed,
                   arrival_calibrated=arrival_calibrated), fmt)


@main.command("calibrate")
@click.option("--elections", default=100, show_default=True, type=click.IntRange(5))
@click.option("--cut", default=60.0, show_default=True, type=float)
@click.option("--level", default=0.9, show_default=True, type=float)
@click.option("--simulations", default=300, show_default=True, type=click.IntRange(10))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--municipalities", default=8, show_default=True, type=click.IntRange(1),
              help="municipalities per department (4 departments)")
@click.option("--place-effect", default=0.0, show_default=True, type=float,
              help="slow places within a municipality lean to choice A by this much (0: they do not)")
@click.option("--completion-adjustment/--no-completion-adjustment", default=True, show_default=True)
@click.option("--format", "fmt", type=FORMAT, default="table")
def calibrate_cmd(elections, cut, level, simulations, seed, municipalities, place_effect, completion_adjustment, fmt):
    """Interval coverage of the projection on simulated elections with known truth."""
    from escrutinio.app.dynamics import calibrate

    _emit(calibrate(elections, cut=cut, level=level, simulations=simulations, seed=seed, municipalities=municipalities,
                    place_effect=place_effect, completion_adjustment=completion_adjustment), fmt)


@main.command("dynamics-report")
@click.option("--data", "data_dir", default="examples/bolivia", show_default=True,
              type=click.Path(exists=True, file_okay=False), help="folder with the bundled Bolivia 2019/ and 2020/")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--simulations", default=2000, show_default=True, type=click.IntRange(10))
@click.option("--seed", default=0, show_default=True, type=int)
def report_cmd(data_dir, out, simulations, seed):
    """The Bolivia count-dynamics report (2019 and 2020) as one HTML file."""
    from escrutinio.app.dynamics import dynamics_report

    Path(out).write_text(dynamics_report(data_dir, simulations=simulations, seed=seed).html, encoding="utf-8")
    click.echo(f"wrote {out}")
