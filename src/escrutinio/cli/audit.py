"""CLI commands for the audit capability: ``escrutinio audit ...``.

Direct math (rlacalc style): ``sample-size``, ``risk``, ``sample --ids``.
Workflow (state in the workspace): ``plan``, ``sample``, ``record``, ``status``, ``report``.
"""
from __future__ import annotations

import json

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError

FORMATS = click.Choice(["table", "json"])


def _emit(obj: dict, fmt: str, text: str | None = None) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, ensure_ascii=False))
    else:
        click.echo(text if text is not None else json.dumps(obj, ensure_ascii=False, indent=2))


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what}: comma-separated numbers expected, got {text!r}") from None


def _pairs(text: str | None, what: str) -> dict[str, int] | None:
    """``A=155424,B=137971`` -> {"A": 155424, "B": 137971}: whole, non-negative numbers."""
    if text is None:
        return None
    out: dict[str, int] = {}
    for item in (x for x in text.split(",") if x.strip()):
        if "=" not in item:
            raise UsageError(f"{what} takes NAME=NUMBER pairs separated by commas, got {item!r}")
        name, value = (x.strip() for x in item.rsplit("=", 1))
        try:
            n = int(value.replace("_", ""))
        except ValueError:
            raise UsageError(f"{what}: {name}={value!r} is not a whole number") from None
        if n < 0:
            raise UsageError(f"{what}: {name}={n} is negative")
        if name in out:
            raise UsageError(f"{what}: {name!r} given twice")
        out[name] = n
    if not out:
        raise UsageError(f"{what} is empty")
    return out


def _workspace(path: str, must_exist: bool = True):
    """The workspace; every command but ``plan`` needs one that exists (a mistyped path
    must not leave an empty workspace behind)."""
    from pathlib import Path

    from escrutinio.workspace import Workspace

    if Path(path).is_dir():
        raise UsageError(f"--workspace {path} is a directory: give a file name, e.g. {Path(path) / 'escrutinio.duckdb'}")
    if must_exist and not Path(path).exists():
        raise UsageError(f"no workspace {path}: run `escrutinio audit plan` first (or give --workspace)")
    return Workspace(path)


@main.group("audit")
def audit() -> None:
    """Risk-limiting audits of tally sheets and ballots."""


@audit.command("sample-size")
@click.option("--method", type=click.Choice(["bravo", "supersimple", "alpha", "macro"]), required=True)
@click.option("--risk-limit", type=float, required=True)
@click.option("--results", type=click.Path(exists=True, dir_okay=False), help="macro: results file")
@click.option("--assertions", "kind", default=None,
              type=click.Choice(["plurality", "majority", "share", "lead", "bolivia", "argentina", "ecuador", "dhondt"]),
              help="macro: assertion set (default: the rule the mapping declares, else plurality, said in the output)")
@click.option("--mapping", default=None, help="macro: mapping TOML (or bundled mapping name) for the results file")
@click.option("--contest", help="macro: contest in the results file")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="macro: tables with ballots (CSV unit,ballots) or a roll; default: registered voters")
@click.option("--discrepancies", type=click.Path(exists=True, dir_okay=False),
              help="macro: another publication whose differences model the discrepancies")
@click.option("--shares", help="bravo/alpha: reported shares of all ballots, e.g. 0.55,0.45")
@click.option("--diluted-margin", type=float, help="supersimple: smallest margin / ballots cast")
@click.option("--gamma", type=float, default=1.03905, show_default=True)
@click.option("--error-rates", help="supersimple: expected o1,o2,u1,u2 rates per ballot")
@click.option("--population", type=int, help="alpha: ballots (sampling without replacement)")
@click.option("--simulations", type=int, default=0, help="simulated audits for quantiles (alpha: default 1000)")
@click.option("--seed", type=int, default=0, show_default=True, help="simulation seed")
@click.option("--format", "fmt", type=FORMATS, default="table")
def sample_size_cmd(method, risk_limit, results, kind, mapping, contest, manifest, discrepancies, shares, diluted_margin, gamma,
                    error_rates, population, simulations, seed, fmt):
    """Sample size by formula or simulation."""
    from escrutinio.audit import sample_size as ss

    if method == "macro":
        from escrutinio.audit import workflow

        if not results:
            raise UsageError("--method macro needs --results")
        e = workflow.estimate_plan(results, risk_limit=risk_limit, assertion_kind=kind, contest=contest,
                                   manifest=manifest, discrepancies=discrepancies, reps=simulations or 1000, seed=seed,
                                   mapping=mapping)
        _emit(e["summary"] | {"method": "macro"}, fmt,
              f"Assertions: {e['summary']['assertion_kind']} ({e['summary']['assertion_source']}).\n"
              + e["estimate"].summary())
        return
    if method in ("bravo", "alpha") and not shares:
        raise UsageError(f"--method {method} needs --shares")
    if method == "bravo":
        res = ss.bravo(_floats(shares, "--shares"), risk_limit, simulate=simulations, seed=seed)
    elif method == "supersimple":
        if diluted_margin is None:
            raise UsageError("--method supersimple needs --diluted-margin")
        rates = _floats(error_rates, "--error-rates") if error_rates else [0, 0, 0, 0]
        if len(rates) != 4:
            raise UsageError("--error-rates needs four numbers o1,o2,u1,u2")
        res = ss.supersimple(diluted_margin, risk_limit, gamma, *rates)
    else:
        res = ss.alpha_polling(_floats(shares, "--shares"), risk_limit, population, reps=simulations or 1000, seed=seed)
    _emit(res.to_dict(), fmt, res.summary())


@audit.command("risk")
@click.option("--method", type=click.Choice(["bravo", "supersimple", "macro"]), required=True)
@click.option("--tallies",
              help="bravo: reported_winner,reported_loser,sample_winner,sample_loser; "
                   "supersimple: n,o1,o2,u1,u2")
@click.option("--diluted-margin", type=float)
@click.option("--gamma", type=float, default=1.03905, show_default=True)
@click.option("--risk-limit", type=float)
@click.option("--results", type=click.Path(exists=True, dir_okay=False), help="macro: the results the audit checked")
@click.option("--mapping", default=None, help="macro: mapping TOML (or bundled mapping name) for the results")
@click.option("--draws", "draws_path", type=click.Path(exists=True, dir_okay=False),
              help="macro: CSV of the draws in order (column unit)")
@click.option("--counts", type=click.Path(exists=True, dir_okay=False),
              help="macro: CSV of hand counts (unit, one column per choice)")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), help="macro: tables with ballots")
@click.option("--contest", help="macro: contest in the results file")
@click.option("--assertions", "kind", default=None,
              type=click.Choice(["plurality", "majority", "share", "lead", "bolivia", "argentina", "ecuador", "dhondt"]),
              help="macro: assertion set (default: the rule the mapping declares, else plurality)")
@click.option("--draws-mapping", type=click.Path(exists=True, dir_okay=False),
              help="macro: TOML naming the draws file's columns (unit, times_drawn or draw; docs/audit.md)")
@click.option("--counts-mapping", type=click.Path(exists=True, dir_okay=False),
              help="macro: TOML naming the hand counts' columns (unit; [choices] rename; docs/audit.md)")
@click.option("--totals", metavar="A=N,B=N[,ballots=N]",
              help="macro, results holding only the sampled batches: the whole contest's votes per choice "
                   "(and ballots, for an upper bound on U)")
@click.option("--margins", metavar="LOSER=N,...",
              help="macro, results holding only the sampled batches: the winner's lead in votes over each loser")
@click.option("--total-bound", type=float, metavar="U",
              help="macro, results holding only the sampled batches: the contest's total error bound U")
@click.option("--format", "fmt", type=FORMATS, default="table")
def risk_cmd(method, tallies, diluted_margin, gamma, risk_limit, results, mapping, draws_path, counts, manifest,
             contest, kind, draws_mapping, counts_mapping, totals, margins, total_bound, fmt):
    """Measured risk from sample tallies, or (macro) re-check a past batch audit from its files."""
    if method == "macro":
        from escrutinio.audit import workflow

        lacking = [o for o, v in (("--results", results), ("--draws", draws_path), ("--counts", counts),
                                  ("--risk-limit", risk_limit)) if v is None]
        if lacking:
            raise UsageError(f"--method macro needs {', '.join(lacking)}")
        if total_bound is not None and not total_bound > 1:
            raise UsageError(f"--total-bound must be a number above 1, got {total_bound:g}")
        s = workflow.recheck(results, draws_path, counts, risk_limit=risk_limit, assertion_kind=kind,
                             manifest=manifest, contest=contest, mapping=mapping, draws_mapping=draws_mapping,
                             counts_mapping=counts_mapping, totals=_pairs(totals, "--totals"),
                             margins=_pairs(margins, "--margins"), total_bound=total_bound)
        _emit(s.to_dict(), fmt, s.summary())
        return
    if tallies is None:
        raise UsageError(f"--method {method} needs --tallies")
    try:
        t = [int(x) for x in tallies.split(",")]
    except ValueError:
        raise UsageError("--tallies: comma-separated integers") from None
    if method == "bravo":
        from escrutinio.audit.bravo import bravo_risk

        if len(t) != 4:
            raise UsageError("bravo needs four tallies")
        res = bravo_risk(*t, risk_limit=risk_limit)
    else:
        from escrutinio.audit.comparison import supersimple_risk

        if len(t) != 5 or diluted_margin is None:
            raise UsageError("supersimple needs --diluted-margin and five tallies n,o1,o2,u1,u2")
        res = supersimple_risk(t[0], diluted_margin, *t[1:], gamma=gamma, risk_limit=risk_limit)
    _emit(res.to_dict(), fmt, res.summary())


@audit.command("plan")
@click.option("--results", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="tables with their ballots (CSV unit,ballots) or a roll; default: registered voters")
@click.option("--contest")
@click.option("--risk-limit", type=float, required=True)
@click.option("--assertions", "kind", default=None,
              type=click.Choice(["plurality", "majority", "share", "lead", "bolivia", "argentina", "ecuador", "dhondt"]),
              help="assertion set (default: the presidential rule the mapping declares, else plurality; the output "
                   "says which)")
@click.option("--mapping", default=None, help="mapping TOML (or bundled mapping name) for the results file")
@click.option("--threshold", help="share: threshold (e.g. 0.4)")
@click.option("--lead", help="lead: points as a fraction (e.g. 0.1)")
@click.option("--seats", type=int)
@click.option("--discrepancies", type=click.Path(exists=True, dir_okay=False),
              help="another publication (e.g. the TREP) whose differences model the hand-count discrepancies")
@click.option("--simulations", type=int, default=1000, show_default=True)
@click.option("--strata", help="a level column (e.g. department): expected draws per stratum")
@click.option("--name", default="default", show_default=True)
@click.option("--overwrite", is_flag=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def plan_cmd(results, manifest, contest, risk_limit, kind, mapping, threshold, lead, seats, discrepancies, simulations,
             strata, name, overwrite, workspace, fmt):
    """Create a batch-comparison audit of tally sheets and estimate its size."""
    from fractions import Fraction

    from escrutinio.audit import workflow

    def frac(x):
        if x is None:
            return None
        try:
            return Fraction(x)
        except ValueError:
            raise UsageError(f"not a number: {x!r}") from None

    options = dict(risk_limit=risk_limit, assertion_kind=kind, manifest=manifest, contest=contest,
                   threshold=frac(threshold), lead=frac(lead), seats=seats, discrepancies=discrepancies,
                   reps=simulations, strata=strata, mapping=mapping)
    # everything is read and checked before the workspace is opened: a bad input leaves no file
    estimate = workflow.estimate_plan(results, **options)
    with _workspace(workspace, must_exist=False) as ws:
        out = workflow.plan(ws, results, name=name, overwrite=overwrite, estimate=estimate, **options)
    text = [f"Audit {out['name']}: {out['tables']} tables ({out['missing_tables']} without a usable tally), "
            f"risk limit {out['risk_limit']:g}.",
            f"Assertions: {out['assertion_kind']} ({out['assertion_source']})."]
    text += [f"  {a['name']}: diluted margin {a['diluted_margin']:.4%}" for a in out["assertions"]]
    text.append(f"Tables to draw if no discrepancy is found: {out['zero_discrepancy']} "
                f"(total error bound {out['total_error_bound']:.2f}).")
    if out["with_discrepancies"]:
        w = out["with_discrepancies"]
        text.append(f"With discrepancies like {w['scenario']} ({w['tables_differing']} tables differ): expected "
                    f"{w['expected']:.1f} draws, quantiles {w['quantiles']}.")
    for st in out["strata"] or []:
        text.append(f"  {st['stratum']}: {st['tables']} tables, expected {st['expected_draws']:.1f} draws")
    _emit(out, fmt, "\n".join(text))


@audit.command("sample")
@click.option("--seed", help="public seed (digits from a dice ceremony)")
@click.option("--ids", help="direct mode: comma-separated ids, Rivest consistent sampler")
@click.option("--n", "n", type=int, help="sample size (workflow: draws in this round)")
@click.option("--with-replacement", is_flag=True, help="direct mode: sample with replacement")
@click.option("--ceremony", help="workflow: note on how the seed was generated")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def sample_cmd(seed, ids, n, with_replacement, ceremony, name, workspace, fmt):
    """List the tables (or ids) to hand-count."""
    if ids is not None:
        from escrutinio.audit.sampling import consistent_sample

        if seed is None:
            raise UsageError("--seed is required")
        items = [i.strip() for i in ids.split(",") if i.strip()]
        if n is not None and n < 0:
            raise UsageError("--n must be non-negative")
        if n is not None and n > len(items) and not with_replacement:
            raise UsageError(f"--n {n} exceeds the {len(items)} ids (without replacement)")
        tickets = consistent_sample(items, seed, n, with_replacement=with_replacement)
        out = {"sample": [t.id for t in tickets], "seed": seed, "method": "rivest-consistent-sampler",
               "with_replacement": with_replacement, "tickets": [t.to_dict() for t in tickets]}
        _emit({"sample": out["sample"], **{k: v for k, v in out.items() if k != "sample"}}, fmt,
              f"{len(tickets)} of {len(items)} ids, seed {seed}, Rivest consistent sampler"
              f"{' with replacement' if with_replacement else ''}; hand-count in this order\n"
              "id\tticket number\tgeneration\n" +
              "\n".join(f"{t.id}\t{t.number[:14]}\t{t.generation}" for t in tickets))
        return
    from escrutinio.audit import workflow

    with _workspace(workspace) as ws:
        out = workflow.draw(ws, name, seed=seed, n=n, ceremony=ceremony)
    _emit({"sample": [d["id"] for d in out["draws"]], **out}, fmt,
          f"{len(out['draws'])} draws, seed {out.get('seed', seed)}\ndraw\tid\tcounter\n" +
          "\n".join(f"{d['draw']}\t{d['id']}\t{d['counter']}" for d in out["draws"]))


@audit.command("import-draws")
@click.option("--draws", "draws_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV: one row per draw in draw order, column unit (optional draw, counter, value)")
@click.option("--draws-mapping", type=click.Path(exists=True, dir_okay=False),
              help="TOML naming the draws file's columns (unit, times_drawn or draw; docs/audit.md)")
@click.option("--note", help="where and how the draws were made")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def import_draws_cmd(draws_path, draws_mapping, note, name, workspace, fmt):
    """Record a sample drawn elsewhere, to re-check a past audit's hand counts."""
    from escrutinio.audit import workflow

    with _workspace(workspace) as ws:
        out = workflow.import_draws(ws, name, draws_path, note=note, mapping=draws_mapping)
    _emit(out, fmt, f"Imported {out['imported']} draws ({len(out['tables_to_count'])} tables to count). The risk is "
                    "valid only if they were drawn with replacement, proportional to the plan's error bounds.")


@audit.command("record")
@click.option("--counts", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV: unit, one column per choice, optional blank,null,ballots,status")
@click.option("--layer", type=click.Choice(["hand", "acta"]), default="hand", show_default=True,
              help="hand: ballots counted by hand; acta: the paper tally sheet as read")
@click.option("--counts-mapping", type=click.Path(exists=True, dir_okay=False),
              help="TOML naming the counts file's columns (unit; [choices] rename; docs/audit.md)")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def record_cmd(counts, layer, counts_mapping, name, workspace, fmt):
    """Record hand counts (or acta readings) of sampled tables."""
    from escrutinio.audit import workflow

    with _workspace(workspace) as ws:
        out = workflow.record(ws, name, counts, layer, mapping=counts_mapping)
    _emit(out, fmt, f"Recorded {out['recorded']} tables ({layer}); not in the sample: {out['not_in_sample']}")


@audit.command("status")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def status_cmd(name, workspace, fmt):
    """Measured risk per assertion; stop, continue counting, or escalate."""
    from escrutinio.audit import workflow

    with _workspace(workspace) as ws:
        s = workflow.status(ws, name)
    _emit(s.to_dict(), fmt, s.summary())


@audit.command("report")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--plot", is_flag=True, help="markdown: include an inline SVG of the risk by draw")
def report_cmd(name, workspace, fmt, plot):
    """Full record of the audit: inputs' hashes, seed, draws, risks, decision."""
    from escrutinio.audit import workflow

    with _workspace(workspace) as ws:
        rep = workflow.report(ws, name)
    _emit(rep, fmt, workflow.report_markdown(rep, plot=plot))
