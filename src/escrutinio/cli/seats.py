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


def parse_votes(text: str) -> dict[str, int]:
    """``A=100000,B=80000`` → {"A": 100000, "B": 80000}; integers only."""
    out: dict[str, int] = {}
    for item in (x for x in text.split(",") if x.strip()):
        if "=" not in item:
            raise UsageError(f"--votes takes PARTY=VOTES pairs separated by commas, got {item!r}")
        name, value = item.rsplit("=", 1)
        name, value = name.strip(), value.strip().replace("_", "")
        try:
            n = int(value)
        except ValueError:
            raise UsageError(f"--votes: votes for {name!r} must be an integer, got {value!r}") from None
        if name in out:
            raise UsageError(f"--votes: party {name!r} given twice")
        out[name] = n
    if not out:
        raise UsageError("--votes is empty")
    return out


def _threshold(text: str | None):
    from escrutinio.law.apportionment import Threshold

    if not text:
        return None
    try:
        from fractions import Fraction  # here: decimal's import is a tenth of --help's start-up

        share = Fraction(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--threshold must look like 3% or 3/100, got {text!r}") from None
    return Threshold(share)


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
    from escrutinio.law.apportionment import apportion

    res = apportion(parse_votes(votes), n_seats, method_name or "dhondt", threshold=_threshold(threshold),
                    tie=tie, seed=seed)
    payload = {"chambers": {"ad hoc": {
        "total": {p: n for p, n in res.seats.items() if n},
        "by_district": {"all": {p: n for p, n in res.seats.items() if n}},
        "decided": res.decided,
        "explanation": res.explanation(),
        "details": res.to_dict(),
    }}}
    text = res.summary()
    table = res.quotient_table()
    if table and len(table) <= 30 and res.house_size <= 60:
        width = max(len(p) for p in table)
        text += "\n\nQuotients (seats won + the next one):"
        for p, row in table.items():
            text += f"\n  {p:<{width}} " + "  ".join("inf" if q == float("inf") else f"{q:,.2f}" for q in row)
    _emit(payload, text, fmt)


def _law_file(paths, law_path, mapping, options, roll, tie, seed, fmt, simulations):
    """Chambers declared by a law TOML file (``--preset FILE``, or the mapping's [law] file)."""
    from escrutinio.io import _resolve_mapping, read_election
    from escrutinio.law.lawfile import load_law, seats_from_election

    if options or roll or simulations:
        raise UsageError("--option, --roll and --probabilities go with --preset bolivia")
    if law_path is None:
        m = _resolve_mapping(mapping) if mapping else None
        law_path = m.law_file if m is not None else None
        if law_path is None:
            raise UsageError("count files need rules: --preset bolivia, --preset LAW.toml (a law file declaring "
                             "chambers, docs/seats.md), or a mapping whose [law] names such a file")
    law = load_law(law_path)
    election = read_election(list(paths), mapping=mapping)
    results = seats_from_election(election, law, tie=tie, seed=seed)
    payload = {"law": {"name": law.name, "file": str(law_path)},
               "chambers": {k: r.to_dict() for k, r in results.items()}}
    text = "\n\n".join([f"Rules in force: {law.name} ({law_path})"] + [r.summary() for r in results.values()])
    _emit(payload, text, fmt)


def _preset(paths, preset, options, roll, mapping, tie, seed, fmt, simulations=None):
    from escrutinio.io import read_election, read_roll
    from escrutinio.law.bolivia_seats import BoliviaOptions, seats_from_election

    pairs = list(options)
    if tie != "block":
        pairs.append(f"tie={tie}")
    if seed is not None:
        pairs.append(f"seed={seed}")
    opts = BoliviaOptions.from_pairs(pairs)
    election = read_election(list(paths), mapping=mapping)
    roll_frame = read_roll(roll) if roll else None
    result = seats_from_election(election, opts, roll=roll_frame)
    payload, text = result.to_dict(), result.summary()
    if simulations is not None:
        from escrutinio.law.bolivia_seats import PRESIDENT, seat_probabilities

        if roll_frame is None:
            raise UsageError("--probabilities needs --roll (the expected tables)")
        if simulations < 1:
            raise UsageError("--probabilities takes a positive number of simulations")
        probs = seat_probabilities(election.latest(PRESIDENT), roll_frame, options=opts,
                                   simulations=simulations, seed=seed if seed is not None else 0)
        payload["probabilities"] = probs.to_dict()
        text += "\n\n" + probs.summary()
    _emit(payload, text, fmt)
