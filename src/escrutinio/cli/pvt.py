"""`escrutinio pvt design|estimate|compare`: parallel vote tabulation (docs/pvt.md)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from escrutinio.cli import main

FORMATS = click.Choice(["table", "json"])


@main.group()
def pvt() -> None:
    """Parallel vote tabulation: a seeded random sample of tables, estimated with margins."""


@pvt.command("design")
@click.option("--roll", required=True, type=click.Path(exists=True, dir_okay=False), help="Every expected table with its registered voters (a roll or a count file).")
@click.option("--n", "n", required=True, type=int, help="Number of tables to sample.")
@click.option("--seed", required=True, help="Public seed (e.g. dice rolled in public); the sample depends on it and the roll alone.")
@click.option("--strata", default=None, help="LEVEL[,ATTR]: stratify by a geographic level, optionally crossed with an attribute.")
@click.option("--allocation", type=click.Choice(["proportional", "neyman"]), default="proportional", show_default=True)
@click.option("--previous", type=click.Path(exists=True, dir_okay=False), default=None, help="Previous election's results: expected margins per choice (and Neyman's S_h).")
@click.option("--mapping", default=None, help="Mapping TOML file or bundled mapping name for the roll and --previous.")
@click.option("--min-per-stratum", type=int, default=2, show_default=True, help="Strata smaller than this under proportional allocation are pooled.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level of the expected margins.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write the design JSON here.")
def design_cmd(roll, n, seed, strata, allocation, previous, mapping, min_per_stratum, level, fmt, output):
    """Draw a stratified random sample of tables for a PVT and write its design."""
    from escrutinio import app
    from escrutinio.app.pvt import design

    d = design(roll, n, seed, strata, allocation=allocation, previous=previous, mapping=mapping,
               min_per_stratum=min_per_stratum, level=level)
    text = d.to_json()
    if output:
        app.write_atomic(output, text)
    if fmt == "json":
        click.echo(text, nl=False)
    else:
        click.echo(d.summary())
        if output:
            click.echo(f"  design written to {output} (SHA-256 {d.sha256})")


def _estimate_options(f):
    f = click.option("--draws", type=int, default=20000, show_default=True, help="Draws from the joint normal for P(verdict).")(f)
    f = click.option("--combine", is_flag=True, help="The files are disjoint parts of the reports: add them up.")(f)
    f = click.option("--level", type=float, default=0.95, show_default=True)(f)
    f = click.option("--rule", default=None, help="Presidential rule preset (default: the mapping's, e.g. bolivia).")(f)
    f = click.option("--contest", default=None)(f)
    f = click.option("--mapping", default=None, help="Mapping TOML file or bundled mapping name.")(f)
    f = click.option("--design", "design_path", required=True, type=click.Path(exists=True, dir_okay=False))(f)
    return f


@pvt.command("estimate")
@click.argument("reports", nargs=-1, required=True, type=click.Path())
@_estimate_options
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def estimate_cmd(reports, design_path, mapping, contest, rule, level, combine, draws, fmt):
    """Estimate shares, lead, turnout and P(verdict) from the sampled tables' reports.

    REPORTS may hold more than the sample (e.g. the whole count): only sampled tables are used.
    """
    from escrutinio.app.pvt import estimate

    est = estimate(reports, design_path, mapping, contest, rule, level, combine, draws)
    if fmt == "json":
        click.echo(json.dumps(est.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(est.summary())


@pvt.command("compare")
@click.argument("reports", type=click.Path())
@click.argument("official", type=click.Path())
@_estimate_options
@click.option("--official-mapping", default=None, help="Mapping for OFFICIAL when it differs from the reports'.")
@click.option("--against", "against_level", type=float, default=0.99, show_default=True, help="Confidence level of the interval the official shares are judged against.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def compare_cmd(reports, official, design_path, mapping, contest, rule, level, combine, draws, official_mapping, against_level, fmt):
    """The official count against the PVT: per choice "consistent" or "outside the 99%
    interval by X points", a joint test, and table-by-table differences on sampled tables."""
    from escrutinio.app.pvt import compare

    res = compare(reports, official, design_path, mapping, contest, rule, level, combine, draws,
                  official_mapping=official_mapping, against_level=against_level)
    if fmt == "json":
        click.echo(json.dumps(res.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(res.summary())


@pvt.command("verify")
@click.option("--design", "design_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--roll", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", default=None)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def verify_cmd(design_path, roll, mapping, fmt):
    """Re-draw a design's sample from its seed and the roll, without trusting the design.

    Exit status 1 when a check fails."""
    import sys

    from escrutinio.app.pvt import verify

    out = verify(design_path, roll, mapping)
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        click.echo(f"PVT design {Path(design_path).name} (SHA-256 {out['design_sha256']}) against {Path(roll).name}:")
        for c in out["checks"]:
            click.echo(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}")
        click.echo("  the sample is exactly what the seed and the roll give" if out["ok"] else "  the design does NOT match the roll")
    if not out["ok"]:
        sys.exit(1)
