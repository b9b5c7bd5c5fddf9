"""Risk-limiting audits, as use cases: one function per `escrutinio audit` command.

Direct math (rlacalc style): :func:`sample_size`, :func:`risk`, :func:`sample` with ``ids``.
Workflow, with its state in a workspace: :func:`plan`, :func:`sample`, :func:`import_draws`,
:func:`record`, :func:`status`, :func:`report`.

The command line calls these and prints; the Python API calls the same functions. Each
answer has ``.to_dict()`` (the command's JSON) and ``.summary()`` (its text). Options that
the command line passes as text (``"0.55,0.45"``, ``"A=1,B=2"``) are accepted as such, or
as the lists and dicts they stand for.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from escrutinio.app.answer import Printed
from escrutinio.errors import UsageError


AuditAnswer = Printed  # what the command prints: its JSON and its text


@dataclass
class AuditReport:
    """The audit's full record (``to_dict``, the report's JSON) and its Markdown
    (``summary``; with ``plot``, an inline SVG of the risk by draw)."""

    payload: dict
    plot: bool = False

    def to_dict(self) -> dict:
        return self.payload

    def summary(self) -> str:
        from escrutinio.audit.render import report_markdown

        return report_markdown(self.payload, plot=self.plot)


# ------------------------------------------------------------------ parsing
def parse_floats(text: str | Sequence[float], what: str) -> list[float]:
    """``0.55,0.45`` -> [0.55, 0.45] (a list of numbers is taken as it is)."""
    if not isinstance(text, str):
        return [float(x) for x in text]
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what}: comma-separated numbers expected, got {text!r}") from None


def parse_pairs(text: str | dict | None, what: str) -> dict[str, int] | None:
    """``A=155424,B=137971`` -> {"A": 155424, "B": 137971}: whole, non-negative numbers
    (a dict is taken as it is)."""
    if text is None or isinstance(text, dict):
        return text
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


def _fraction(x):
    if x is None:
        return None
    try:
        return Fraction(x)
    except ValueError:
        raise UsageError(f"not a number: {x!r}") from None


# ---------------------------------------------------------------- workspace
def open_workspace(path: str | Path, must_exist: bool = True):
    """The workspace; every command but ``plan`` needs one that exists (a mistyped path
    must not leave an empty workspace behind)."""
    from escrutinio.workspace import Workspace

    if Path(path).is_dir():
        raise UsageError(f"--workspace {path} is a directory: give a file name, e.g. {Path(path) / 'escrutinio.duckdb'}")
    if must_exist and not Path(path).exists():
        raise UsageError(f"no workspace {path}: run `escrutinio audit plan` first (or give --workspace)")
    return Workspace(path)


class _Opened:
    """A workspace given by path is opened (and closed) here; one given as an object (a
    Workspace, a MemoryWorkspace) is used as it is and left open."""

    def __init__(self, workspace, must_exist: bool = True) -> None:
        self.given = not isinstance(workspace, (str, Path))
        self.workspace = workspace if self.given else open_workspace(workspace, must_exist)

    def __enter__(self):
        return self.workspace if self.given else self.workspace.__enter__()

    def __exit__(self, *exc):
        return None if self.given else self.workspace.__exit__(*exc)


# --------------------------------------------------------------- use cases
def sample_size(method: str, risk_limit: float, *, results=None, assertion_kind: str | None = None, mapping=None,
                contest: str | None = None, manifest=None, discrepancies=None, shares=None,
                diluted_margin: float | None = None, gamma: float = 1.03905, error_rates=None,
                population: int | None = None, simulations: int = 0, seed: int = 0):
    """Sample size by formula or simulation (`escrutinio audit sample-size`): ``bravo``,
    ``supersimple``, ``alpha`` or ``macro`` (a batch audit of the tally sheets of ``results``)."""
    from escrutinio.audit import sample_size as ss

    if method == "macro":
        from escrutinio.audit import workflow

        if not results:
            raise UsageError("--method macro needs --results")
        e = workflow.estimate_plan(results, risk_limit=risk_limit, assertion_kind=assertion_kind, contest=contest,
                                   manifest=manifest, discrepancies=discrepancies, reps=simulations or 1000, seed=seed,
                                   mapping=mapping)
        return AuditAnswer(e["summary"] | {"method": "macro"},
                           f"Assertions: {e['summary']['assertion_kind']} ({e['summary']['assertion_source']}).\n"
                           + e["estimate"].summary())
    if method in ("bravo", "alpha") and not shares:
        raise UsageError(f"--method {method} needs --shares")
    if method == "bravo":
        return ss.bravo(parse_floats(shares, "--shares"), risk_limit, simulate=simulations, seed=seed)
    if method == "supersimple":
        if diluted_margin is None:
            raise UsageError("--method supersimple needs --diluted-margin")
        rates = parse_floats(error_rates, "--error-rates") if error_rates else [0, 0, 0, 0]
        if len(rates) != 4:
            raise UsageError("--error-rates needs four numbers o1,o2,u1,u2")
        return ss.supersimple(diluted_margin, risk_limit, gamma, *rates)
    if method == "alpha":
        return ss.alpha_polling(parse_floats(shares, "--shares"), risk_limit, population, reps=simulations or 1000,
                                seed=seed)
    raise UsageError(f"unknown method {method!r}: bravo, supersimple, alpha or macro")


def risk(method: str, *, tallies=None, diluted_margin: float | None = None, gamma: float = 1.03905,
         risk_limit: float | None = None, results=None, mapping=None, draws=None, counts=None, manifest=None,
         contest: str | None = None, assertion_kind: str | None = None, draws_mapping=None, counts_mapping=None,
         totals=None, margins=None, total_bound: float | None = None):
    """Measured risk from sample tallies (``bravo``, ``supersimple``), or (``macro``) the
    risk of a past batch audit re-checked from its files (`escrutinio audit risk`)."""
    if method == "macro":
        from escrutinio.audit import workflow

        lacking = [o for o, v in (("--results", results), ("--draws", draws), ("--counts", counts),
                                  ("--risk-limit", risk_limit)) if v is None]
        if lacking:
            raise UsageError(f"--method macro needs {', '.join(lacking)}")
        if total_bound is not None and not total_bound > 1:
            raise UsageError(f"--total-bound must be a number above 1, got {total_bound:g}")
        return workflow.recheck(results, draws, counts, risk_limit=risk_limit, assertion_kind=assertion_kind,
                                manifest=manifest, contest=contest, mapping=mapping, draws_mapping=draws_mapping,
                                counts_mapping=counts_mapping, totals=parse_pairs(totals, "--totals"),
                                margins=parse_pairs(margins, "--margins"), total_bound=total_bound)
    if tallies is None:
        raise UsageError(f"--method {method} needs --tallies")
    try:
        t = [int(x) for x in tallies.split(",")] if isinstance(tallies, str) else [int(x) for x in tallies]
    except ValueError:
        raise UsageError("--tallies: comma-separated integers") from None
    if method == "bravo":
        from escrutinio.audit.bravo import bravo_risk

        if len(t) != 4:
            raise UsageError("bravo needs four tallies")
        return bravo_risk(*t, risk_limit=risk_limit)
    if method == "supersimple":
        from escrutinio.audit.comparison import supersimple_risk

        if len(t) != 5 or diluted_margin is None:
            raise UsageError("supersimple needs --diluted-margin and five tallies n,o1,o2,u1,u2")
        return supersimple_risk(t[0], diluted_margin, *t[1:], gamma=gamma, risk_limit=risk_limit)
    raise UsageError(f"unknown method {method!r}: bravo, supersimple or macro")


def plan(results, *, risk_limit: float, workspace="escrutinio.duckdb", name: str = "default",
         overwrite: bool = False, manifest=None, contest: str | None = None, assertion_kind: str | None = None,
         mapping=None, threshold=None, lead=None, seats: int | None = None, discrepancies=None,
         simulations: int = 1000, strata: str | None = None) -> AuditAnswer:
    """Create a batch-comparison audit of the tally sheets in ``workspace`` and estimate
    its size (`escrutinio audit plan`)."""
    from escrutinio.audit import workflow

    options = dict(risk_limit=risk_limit, assertion_kind=assertion_kind, manifest=manifest, contest=contest,
                   threshold=_fraction(threshold), lead=_fraction(lead), seats=seats, discrepancies=discrepancies,
                   reps=simulations, strata=strata, mapping=mapping)
    # everything is read and checked before the workspace is opened: a bad input leaves no file
    estimate = workflow.estimate_plan(results, **options)
    with _Opened(workspace, must_exist=False) as ws:
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
    return AuditAnswer(out, "\n".join(text))


def sample_ids(ids, seed, n: int | None = None, with_replacement: bool = False) -> AuditAnswer:
    """Direct mode of `escrutinio audit sample --ids`: Rivest's consistent sampler over
    ``ids`` (comma-separated text or a list) with a public ``seed``."""
    from escrutinio.audit.sampling import consistent_sample

    if seed is None:
        raise UsageError("--seed is required")
    items = [i.strip() for i in (ids.split(",") if isinstance(ids, str) else ids) if i.strip()]
    if n is not None and n < 0:
        raise UsageError("--n must be non-negative")
    if n is not None and n > len(items) and not with_replacement:
        raise UsageError(f"--n {n} exceeds the {len(items)} ids (without replacement)")
    tickets = consistent_sample(items, seed, n, with_replacement=with_replacement)
    out = {"sample": [t.id for t in tickets], "seed": seed, "method": "rivest-consistent-sampler",
           "with_replacement": with_replacement, "tickets": [t.to_dict() for t in tickets]}
    return AuditAnswer({"sample": out["sample"], **{k: v for k, v in out.items() if k != "sample"}},
                       f"{len(tickets)} of {len(items)} ids, seed {seed}, Rivest consistent sampler"
                       f"{' with replacement' if with_replacement else ''}; hand-count in this order\n"
                       "id\tticket number\tgeneration\n" +
                       "\n".join(f"{t.id}\t{t.number[:14]}\t{t.generation}" for t in tickets))


def draw(workspace="escrutinio.duckdb", name: str = "default", seed=None, n: int | None = None,
         ceremony: str | None = None) -> AuditAnswer:
    """Workflow mode of `escrutinio audit sample`: draw ``n`` more tables of the audit
    (the first round: the planned size, with the public ``seed``)."""
    from escrutinio.audit import workflow

    with _Opened(workspace) as ws:
        out = workflow.draw(ws, name, seed=seed, n=n, ceremony=ceremony)
    return AuditAnswer({"sample": [d["id"] for d in out["draws"]], **out},
                       f"{len(out['draws'])} draws, seed {out.get('seed', seed)}\ndraw\tid\tcounter\n" +
                       "\n".join(f"{d['draw']}\t{d['id']}\t{d['counter']}" for d in out["draws"]))


def sample(seed=None, ids=None, n: int | None = None, with_replacement: bool = False, ceremony: str | None = None,
           name: str = "default", workspace="escrutinio.duckdb") -> AuditAnswer:
    """`escrutinio audit sample`: with ``ids``, :func:`sample_ids`; otherwise :func:`draw`."""
    if ids is not None:
        return sample_ids(ids, seed, n, with_replacement)
    return draw(workspace, name, seed=seed, n=n, ceremony=ceremony)


def import_draws(draws, *, workspace="escrutinio.duckdb", name: str = "default", draws_mapping=None,
                 note: str | None = None) -> AuditAnswer:
    """Record a sample drawn elsewhere (`escrutinio audit import-draws`)."""
    from escrutinio.audit import workflow

    with _Opened(workspace) as ws:
        out = workflow.import_draws(ws, name, draws, note=note, mapping=draws_mapping)
    return AuditAnswer(out, f"Imported {out['imported']} draws ({len(out['tables_to_count'])} tables to count). The "
                            "risk is valid only if they were drawn with replacement, proportional to the plan's error "
                            "bounds.")


def record(counts, *, workspace="escrutinio.duckdb", name: str = "default", layer: str = "hand",
           counts_mapping=None) -> AuditAnswer:
    """Record hand counts (``layer="hand"``) or acta readings (``"acta"``) of sampled
    tables (`escrutinio audit record`)."""
    from escrutinio.audit import workflow

    with _Opened(workspace) as ws:
        out = workflow.record(ws, name, counts, layer, mapping=counts_mapping)
    return AuditAnswer(out, f"Recorded {out['recorded']} tables ({layer}); not in the sample: {out['not_in_sample']}")


def status(workspace="escrutinio.duckdb", name: str = "default"):
    """Measured risk per assertion and the decision: stop, count, escalate or a full
    hand count (`escrutinio audit status`)."""
    from escrutinio.audit import workflow

    with _Opened(workspace) as ws:
        return workflow.status(ws, name)


def report(workspace="escrutinio.duckdb", name: str = "default", plot: bool = False) -> AuditReport:
    """The audit's full record: inputs' hashes, seed, draws, risks, decision
    (`escrutinio audit report`)."""
    from escrutinio.audit import workflow

    with _Opened(workspace) as ws:
        rep = workflow.report(ws, name)
    return AuditReport(rep, plot)
