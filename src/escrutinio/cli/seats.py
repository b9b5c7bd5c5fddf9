"""`escrutinio seats`: seat apportionment, ad hoc or with a country preset.

    escrutinio seats --method dhondt --seats 8 --votes A=100000,B=80000,C=30000,D=20000
    escrutinio seats computo_2019-10-25.csv.gz --preset bolivia --format json
    escrutinio seats computo_2020*.xlsx --preset bolivia --roll roll_2020.csv.gz --option threshold_base=department
"""
from __future__ import annotations

import json

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError


def _emit(payload: dict, text: str, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(text)


@main.command("seats")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--preset", default=None, metavar="bolivia|LAW.toml",
              help="Country rules to apply to the count files: bolivia, or a law TOML file declaring chambers "
                   "(docs/seats.md). Default: the law file the mapping's [law] names.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Preset option (repeatable), e.g. threshold_base=department, special_in_base=true.")
@click.option("--roll", type=click.Path(exists=True, dir_okay=False),
              help="Voter roll (expected tables) to state the count's coverage.")
@click.option("--mapping", default=None, help="Mapping file for count files of an unknown layout.")
@click.option("--method", "method_name", default=None, help="Ad hoc: apportionment method (dhondt, sainte_lague, hare, …).")
@click.option("--seats", "n_seats", type=int, default=None, help="Ad hoc: number of seats.")
@click.option("--votes", default=None, metavar="A=N,B=M", help="Ad hoc: votes per party.")
@click.option("--threshold", default=None, help="Ad hoc: minimum share of valid votes, e.g. 3% or 3/100.")
@click.option("--tie", type=click.Choice(["block", "lot"]), default="block", show_default=True,
              help="Exact ties: report them (block) or draw a seeded lot.")
@click.option("--seed", type=int, default=None, help="Seed of the lot (with --tie lot).")
@click.option("--probabilities", "simulations", type=int, default=None, metavar="N",
              help="With --preset bolivia and --roll: seat distributions from N projection simulations of the uncounted tables.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def seats(paths, preset, options, roll, mapping, method_name, n_seats, votes, threshold, tie, seed, simulations, fmt):
    """Apportion seats with exact arithmetic, and explain the last seat of each district."""
    if paths or preset:
        if method_name or n_seats is not None or votes or threshold:
            raise UsageError("use either count files with --preset, or --method/--seats/--votes, not both")
        if not paths:
            raise UsageError("--preset needs count files (PATH...)")
        if preset is None or preset.lower().endswith(".toml"):
            _law_file(paths, preset, mapping, options, roll, tie, seed, fmt, simulations)
            return
        if preset != "bolivia":
            raise UsageError(f"--preset {preset!r}: use bolivia, or the path of a law TOML file (docs/seats.md)")
        _preset(paths, preset, options, roll, mapping, tie, seed, fmt, simulations)
        return
    if options or roll or simulations:
        raise UsageError("--option and --roll go with count files and --preset")
    if n_seats is None or votes is None:
        raise UsageError("ad hoc use needs --seats N and --votes A=N,B=M (and optionally --method)")
    from escrutinio.app import seats as use_case

    answer = use_case.ad_hoc(use_case.parse_votes(votes), n_seats, method_name or "dhondt",
                             threshold=use_case.parse_threshold(threshold), tie=tie, seed=seed)
    _emit(answer.to_dict(), answer.summary(), fmt)


def _law_file(paths, law_path, mapping, options, roll, tie, seed, fmt, simulations):
    """Chambers declared by a law TOML file (``--preset FILE``, or the mapping's [law] file)."""
    from escrutinio.app import seats as use_case

    if options or roll or simulations:
        raise UsageError("--option, --roll and --probabilities go with --preset bolivia")
    answer = use_case.by_law_file(paths, law_path, mapping=mapping, tie=tie, seed=seed)
    _emit(answer.to_dict(), answer.summary(), fmt)


def _preset(paths, preset, options, roll, mapping, tie, seed, fmt, simulations=None):
    from escrutinio.app import seats as use_case

    answer = use_case.bolivia(paths, options, roll=roll, mapping=mapping, tie=tie, seed=seed, simulations=simulations)
    _emit(answer.to_dict(), answer.summary(), fmt)
