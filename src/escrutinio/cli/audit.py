"""CLI commands for the audit capability: ``escrutinio audit ...``.

Direct math (rlacalc style): ``sample-size``, ``risk``, ``sample --ids``.
Workflow (state in the workspace): ``plan``, ``sample``, ``record``, ``status``, ``report``.
"""
from __future__ import annotations

import json

import click

from escrutinio.cli import main

FORMATS = click.Choice(["table", "json"])


def _app():
    """The audit's use cases, imported when a command runs (the CLI starts fast)."""
    from escrutinio.app import audit

    return audit


def _emit(obj: dict, fmt: str, text: str | None = None) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, ensure_ascii=False))
    else:
        click.echo(text if text is not None else json.dumps(obj, ensure_ascii=False, indent=2))


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
    res = _app().sample_size(method, risk_limit, results=results, assertion_kind=kind, mapping=mapping,
                             contest=contest, manifest=manifest, discrepancies=discrepancies, shares=shares,
                             diluted_margin=diluted_margin, gamma=gamma, error_rates=error_rates,
                             population=population, simulations=simulations, seed=seed)
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
    res = _app().risk(method, tallies=tallies, diluted_margin=diluted_margin, gamma=gamma, risk_limit=risk_limit,
                      results=results, mapping=mapping, draws=draws_path, counts=counts, manifest=manifest,
                      contest=contest, assertion_kind=kind, draws_mapping=draws_mapping, counts_mapping=counts_mapping,
                      totals=totals, margins=margins, total_bound=total_bound)
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
    res = _app().plan(results, risk_limit=risk_limit, workspace=workspace, name=name, overwrite=overwrite,
                      manifest=manifest, contest=contest, assertion_kind=kind, mapping=mapping, threshold=threshold,
                      lead=lead, seats=seats, discrepancies=discrepancies, simulations=simulations, strata=strata)
    _emit(res.to_dict(), fmt, res.summary())


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
    res = _app().sample(seed=seed, ids=ids, n=n, with_replacement=with_replacement, ceremony=ceremony, name=name,
                        workspace=workspace)
    _emit(res.to_dict(), fmt, res.summary())


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
    res = _app().import_draws(draws_path, workspace=workspace, name=name, draws_mapping=draws_mapping, note=note)
    _emit(res.to_dict(), fmt, res.summary())


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
    res = _app().record(counts, workspace=workspace, name=name, layer=layer, counts_mapping=counts_mapping)
    _emit(res.to_dict(), fmt, res.summary())


@audit.command("status")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
def status_cmd(name, workspace, fmt):
    """Measured risk per assertion; stop, continue counting, or escalate."""
    res = _app().status(workspace, name)
    _emit(res.to_dict(), fmt, res.summary())


@audit.command("report")
@click.option("--name", default="default", show_default=True)
@click.option("--workspace", default="escrutinio.duckdb", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("--plot", is_flag=True, help="markdown: include an inline SVG of the risk by draw")
def report_cmd(name, workspace, fmt, plot):
    """Full record of the audit: inputs' hashes, seed, draws, risks, decision."""
    res = _app().report(workspace, name, plot=plot)
    _emit(res.to_dict(), fmt, res.summary() if fmt != "json" else None)
