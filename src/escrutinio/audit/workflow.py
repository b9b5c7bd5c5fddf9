"""The audit workflow: plan -> sample -> record -> status -> report, with its state kept
in the workspace (namespace ``"audit"``, one JSON document per audit name).

The audit is a batch-comparison audit of tally sheets (MACRO with the Kaplan-Markov
P-value, see :mod:`escrutinio.audit.kaplan_markov`): each polling table is a batch, its
ballot bound is the manifest's ballots (or registered voters), tables are drawn with
replacement with probability proportional to their error bound, using the SHA-256
counter-mode generator from a public seed (:mod:`escrutinio.audit.sampling`).

Everything that decides the sample is recorded: the seed and its ceremony note, the
manifest's SHA-256, the results file's SHA-256, every draw with its counter value. A
second, optional layer compares each sampled acta as read by the auditors with the
published digital record (transcription errors); it is reported, and does not enter the
risk, which is about the paper ballots.

Stopping rule: stop when every assertion's risk is at most the risk limit; otherwise
escalate (draw more). A sampled table whose ballots cannot be found has taint 1 and can
only be settled by a full hand count; ``status`` then says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.audit import assertions as A
from escrutinio.audit import kaplan_markov as km
from escrutinio.audit import sampling
# reading the inputs and rendering the report live in their own modules; their names are
# re-exported here, where callers have always found them
from escrutinio.audit.files import (_draws_from_times, _header, _read_counts, _read_draws, file_sha256,  # noqa: F401
                                    load_manifest, load_results, read_mapped_csv)
from escrutinio.audit.render import report_markdown, risk_plot_svg  # noqa: F401
from escrutinio.errors import InputError, UsageError

NAMESPACE = "audit"
STATE_VERSION = 1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------ inputs
def batch_inputs(snapshot, manifest: pl.DataFrame | None = None) -> dict:
    """Reported votes and ballot bounds per table. Tables of the manifest without a
    result, and result rows whose votes are missing, are worst-case (``missing``).
    Results for tables absent from the manifest are an error (the inventory must cover
    the count)."""
    f = snapshot.counted()
    choices = list(snapshot.counted_choices)
    f = f.with_columns(pl.col("unit").cast(pl.Utf8))
    key = "unit"
    if manifest is None:
        if f["registered"].null_count():
            raise InputError(snapshot.source, "registered voters missing: give a manifest", column="registered")
        frame = f.select(["unit", "registered", *choices]).rename({"registered": "ballots"})
    else:
        key = manifest.columns[0]
        f = f.with_columns(pl.col(key).cast(pl.Utf8))
        if f[key].null_count():
            raise InputError(snapshot.source, f"{f[key].null_count()} result rows have no {key} to match the manifest")
        extra = f.join(manifest, on=key, how="anti")
        if extra.height:
            raise InputError(snapshot.source, f"{extra.height} tables in the results are not in the manifest, "
                             f"e.g. {extra[key].head(5).to_list()}")
        frame = manifest.join(f.select([key, *choices]), on=key, how="left").rename({key: "unit"}) \
            if key != "unit" else manifest.join(f.select(["unit", *choices]), on="unit", how="left")
    missing = frame.select(pl.any_horizontal([pl.col(c).is_null() for c in choices])).to_series().to_numpy()
    votes = frame.select([pl.col(c).fill_null(0) for c in choices]).to_numpy().astype(np.int64)
    return {
        "ids": frame["unit"].to_list(),
        "ballots": frame["ballots"].to_numpy().astype(np.int64),
        "votes": votes,
        "choices": choices,
        "missing": missing.astype(bool),
        "key": key,
    }


def reported_totals(votes: np.ndarray, choices: Sequence[str], missing: np.ndarray) -> dict[str, int]:
    kept = votes[~missing]
    return {c: int(v) for c, v in zip(choices, kept.sum(axis=0))}


def make_assertions(kind: str, totals: dict[str, int], **kw) -> list[A.Assertion]:
    return A.build(kind, totals, **kw)


# ------------------------------------------------------------- discrepancy
def scenario_taints(model: km.BatchModel, choices: Sequence[str], other_ids: Sequence[str],
                    other_votes: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-batch MACRO taints if hand counts matched another publication (e.g. the TREP)
    wherever it has the table; batches it lacks show no discrepancy. Returns (taints,
    number of tables whose numbers differ)."""
    idx = model.index()
    rows, keep = [], []
    for k, u in enumerate(other_ids):
        j = idx.get(str(u))
        if j is not None:
            rows.append(j)
            keep.append(k)
    rows = np.asarray(rows, dtype=np.int64)
    ov = np.asarray(other_votes, dtype=np.float64)[keep]
    actual = np.column_stack([a.batch_totals(ov, choices, model.slots[rows]) for a in model.assertions])
    t = np.zeros(len(model.ids))
    tr = km.taints(model, rows, actual).max(axis=1)
    differ = np.abs(model.reported[rows] - actual).max(axis=1) > 1e-9
    t[rows] = np.where(differ, tr, 0.0)
    return t, int(differ.sum())


# -------------------------------------------------------------------- state
@dataclass
class Audit:
    """The persisted state of one audit (a JSON document)."""

    state: dict

    @property
    def name(self) -> str:
        return self.state["name"]

    def model(self) -> km.BatchModel:
        b = self.state["batches"]
        asr = [A.Assertion.from_dict(d) for d in self.state["assertions"]]
        pub = self.state.get("published")
        if pub:
            return km.build_published(asr, b["ids"], np.asarray(b["votes"], dtype=np.int64), b["choices"],
                                      np.asarray(b["ballots"], dtype=np.int64),
                                      np.array([float(Fraction(m)) for m in pub["margins"]]), float(pub["total_bound"]))
        return km.build_batches(asr, b["ids"], np.asarray(b["votes"], dtype=np.int64), b["choices"],
                                np.asarray(b["ballots"], dtype=np.int64), np.asarray(b["missing"], bool))


def _load(ws, name: str) -> Audit:
    st = ws.get(NAMESPACE, name)
    if st is None:
        raise UsageError(f"no audit named {name!r} in {ws.path}: run `escrutinio audit plan` first")
    return Audit(st)


def _save(ws, audit: Audit) -> None:
    audit.state["updated_at"] = _now()
    ws.put(NAMESPACE, audit.name, audit.state)


def _log(audit: Audit, event: str, **data) -> None:
    audit.state.setdefault("log", []).append({"at": _now(), "event": event, **data})


def assertion_kind_in_force(kind: str | None, mapping=None, snapshot=None) -> tuple[str, str]:
    """The assertion set to audit and why: the one asked for, else the presidential rule
    the mapping (or the bundled layout) declares, else plurality, said as such."""
    if kind:
        return kind, "--assertions"
    from escrutinio.io import _resolve_mapping, builtin_mappings

    m = _resolve_mapping(mapping) if mapping is not None else None
    if m is None and snapshot is not None:
        m = next((b for b in builtin_mappings().values() if b.election == snapshot.election and b.preset), None)
    preset = m.preset if m is not None else None
    if preset:
        kind = preset if preset in A.RULES or preset == "plurality" else f"rule:{preset}"
        return kind, f"the presidential rule declared by mapping {m.name} ({preset})"
    return "plurality", "no presidential rule declared (mapping [law] or --assertions): plurality"


def estimate_plan(results: str | Path, *, risk_limit: float, assertion_kind: str | None = None,
                  manifest: str | Path | None = None, contest: str | None = None, threshold=None, lead=None,
                  seats: int | None = None, discrepancies: str | Path | None = None, reps: int = 1000,
                  seed: int = 0, strata: str | None = None, mapping=None) -> dict:
    """Everything ``plan`` computes, without touching a workspace (also used by
    ``audit sample-size --method macro``)."""
    if not 0 < risk_limit < 1:
        raise UsageError("risk limit must be in (0, 1)")
    if "times_drawn" in _header(results):
        raise UsageError(f"{results} has a times_drawn column: it is a published audit's file of sampled batches, "
                         "not the contest, and an audit cannot be planned on it; re-check its risk with `escrutinio "
                         "audit risk --method macro` and the contest's totals or margins and U")
    snap = load_results(results, contest, mapping)
    man = load_manifest(manifest) if manifest else None
    b = batch_inputs(snap, man)
    totals = reported_totals(b["votes"], b["choices"], b["missing"])
    assertion_kind, kind_source = assertion_kind_in_force(assertion_kind, mapping, snap)
    asr = make_assertions(assertion_kind, totals, threshold=threshold, lead=lead, seats=seats)
    model = km.build_batches(asr, b["ids"], b["votes"], b["choices"], b["ballots"], b["missing"])
    est = km.estimate(model, risk_limit)
    scen_d = None
    if discrepancies:
        other = load_results(discrepancies, snap.contest, mapping)
        of = other.counted().with_columns(pl.col(b["key"]).cast(pl.Utf8))
        of = of.drop_nulls([*b["choices"], b["key"]])
        t, ndiff = scenario_taints(model, b["choices"], of[b["key"]].to_list(),
                                   of.select(b["choices"]).to_numpy())
        scen = km.estimate(model, risk_limit, t, reps=reps, max_n=max(50, 12 * est.zero_discrepancy),
                           seed=seed, scenario=f"hand counts equal to {Path(discrepancies).name}")
        scen_d = scen.to_dict() | {"tables_differing": ndiff}
    by_stratum = None
    if strata:
        if strata not in snap.frame.columns:
            raise UsageError(f"no column {strata!r} for strata; levels: {list(snap.levels)}")
        # expected draws per stratum = n * (stratum's share of the error bound U)
        lab = dict(zip(snap.frame["unit"].cast(pl.Utf8).to_list(), snap.frame[strata].cast(pl.Utf8).to_list()))
        share = (pl.DataFrame({"stratum": [lab.get(u) or "(no result)" for u in b["ids"]], "u": model.bounds})
                 .group_by("stratum").agg(pl.col("u").sum(), pl.len().alias("tables")).sort("stratum"))
        U = model.total_bound
        by_stratum = [{"stratum": r["stratum"], "tables": int(r["tables"]), "bound_share": float(r["u"] / U),
                       "expected_draws": float(est.zero_discrepancy * r["u"] / U)}
                      for r in share.iter_rows(named=True)]
    margins = {a.name: float(a.assorter_margin(totals, int(b["ballots"].sum()))) for a in asr}
    summary = {
        "risk_limit": risk_limit,
        "contest": snap.contest,
        "assertion_kind": assertion_kind,
        "assertion_source": kind_source,
        "tables": len(b["ids"]),
        "missing_tables": int(b["missing"].sum()),
        "assertions": [{"name": a.name, "diluted_margin": margins[a.name]} for a in asr],
        "total_error_bound": est.total_bound,
        "expected": est.zero_discrepancy,
        "zero_discrepancy": est.zero_discrepancy,
        "with_discrepancies": scen_d,
        "strata": by_stratum,
    }
    return {"snapshot": snap, "batches": b, "totals": totals, "assertions": asr, "model": model,
            "estimate": est, "summary": summary}


def plan(ws, results: str | Path, *, risk_limit: float, assertion_kind: str | None = None,
         manifest: str | Path | None = None, contest: str | None = None, name: str = "default",
         threshold=None, lead=None, seats: int | None = None, discrepancies: str | Path | None = None,
         reps: int = 1000, seed: int = 0, overwrite: bool = False, strata: str | None = None,
         mapping=None, estimate: dict | None = None) -> dict:
    """Create an audit and estimate its sample size. ``estimate``: the result of
    :func:`estimate_plan` with the same arguments, when the caller computed it first (so
    that a bad input fails before any workspace is opened)."""
    if ws.get(NAMESPACE, name) is not None and not overwrite:
        raise UsageError(f"audit {name!r} already exists in {ws.path}; use another --name or --overwrite")
    e = estimate or estimate_plan(results, risk_limit=risk_limit, assertion_kind=assertion_kind, manifest=manifest,
                                  contest=contest, threshold=threshold, lead=lead, seats=seats,
                                  discrepancies=discrepancies, reps=reps, seed=seed, strata=strata, mapping=mapping)
    snap, b, totals, asr, est = e["snapshot"], e["batches"], e["totals"], e["assertions"], e["estimate"]
    assertion_kind = e["summary"]["assertion_kind"]
    state = {
        "version": STATE_VERSION,
        "name": name,
        "created_at": _now(),
        "method": "macro-kaplan-markov",
        "risk_limit": risk_limit,
        "contest": snap.contest,
        "election": snap.election,
        "results": {"path": str(results), "sha256": file_sha256(results)},
        "mapping": _mapping_record(mapping),
        "manifest": ({"path": str(manifest), "sha256": file_sha256(manifest),
                      "units_sha256": sampling.manifest_hash(b["ids"], b["ballots"])}
                     if manifest else {"path": None, "from": "registered voters in the results",
                                        "units_sha256": sampling.manifest_hash(b["ids"], b["ballots"])}),
        "assertion_kind": assertion_kind,
        "assertions": [a.to_dict() for a in asr],
        "reported_totals": totals,
        "batches": {"ids": b["ids"], "ballots": b["ballots"].tolist(), "votes": b["votes"].tolist(),
                    "choices": b["choices"], "missing": b["missing"].tolist()},
        "plan": {"zero_discrepancy": est.zero_discrepancy, "total_bound": est.total_bound,
                 "scenario": e["summary"]["with_discrepancies"], "strata": e["summary"]["strata"]},
        "seed": None,
        "draws": [],
        "hand_counts": {},
        "acta_readings": {},
        "log": [],
    }
    audit = Audit(state)
    _log(audit, "plan", risk_limit=risk_limit, assertions=[a.name for a in asr])
    _save(ws, audit)
    return {"name": name, **e["summary"]}


def _mapping_record(mapping) -> dict | None:
    """The mapping that read the results, by name and (for a file) its SHA-256."""
    if mapping is None:
        return None
    from escrutinio.io import _resolve_mapping

    m = _resolve_mapping(mapping)
    src = Path(m.source_file)
    return {"name": m.name, "path": str(mapping) if isinstance(mapping, (str, Path)) else m.source_file,
            "sha256": file_sha256(src) if src.is_file() else None}


def draw(ws, name: str, seed: str | None = None, n: int | None = None, ceremony: str | None = None) -> dict:
    """Draw ``n`` more tables (default: the planned zero-discrepancy size on the first
    round). The seed is fixed on the first call and cannot change."""
    audit = _load(ws, name)
    st = audit.state
    if st.get("draws_imported"):
        raise UsageError(f"audit {name!r} holds draws made elsewhere ({st['draws_imported']['path']}); import the "
                         "further draws too (`escrutinio audit import-draws`) instead of drawing here")
    if st["seed"] is None:
        if seed is None:
            raise UsageError("the first sample needs --seed (from a public ceremony)")
        st["seed"] = str(seed)
        st["seed_ceremony"] = {"note": ceremony, "recorded_at": _now()}
    elif seed is not None and str(seed) != st["seed"]:
        raise UsageError(f"audit {name!r} already uses seed {st['seed']!r}; the seed cannot change")
    if n is None:
        n = st["plan"]["zero_discrepancy"] if not st["draws"] else None
    if n is None or n <= 0:
        raise UsageError("say how many more draws with --n")
    model = audit.model()
    # continue the counter where the previous round stopped: one stream for the whole audit
    gen = sampling.SHA256Counter(st["seed"], st.get("counter", 0))
    cum = np.cumsum(model.bounds) / model.bounds.sum()
    start = len(st["draws"])
    new = []
    for k in range(n):
        c0 = gen.counter
        r = gen.random()
        j = min(int(np.searchsorted(cum, r, side="right")), len(model.ids) - 1)
        while model.bounds[j] == 0:
            j -= 1
        new.append({"draw": start + k + 1, "id": model.ids[j], "counter": c0, "value": repr(r)})
    st["counter"] = gen.counter
    st["draws"].extend(new)
    _log(audit, "sample", n=n, first_draw=start + 1)
    _save(ws, audit)
    distinct = list(dict.fromkeys(d["id"] for d in new if d["id"] not in st["hand_counts"]))
    return {"name": name, "seed": st["seed"], "draws": new, "tables_to_count": distinct}


def import_draws(ws, name: str, draws: str | Path, note: str | None = None, mapping: str | Path | None = None) -> dict:
    """Record a sample drawn elsewhere (another tool, a past audit) so that its hand
    counts can be re-checked here. The risk is computed as for our own draws, which is
    valid only if the draws were made with replacement with probability proportional to
    each table's MACRO error bound, as the plan's ``bounds`` give; the audit record says
    that they were imported and from which file (SHA-256)."""
    audit = _load(ws, name)
    st = audit.state
    if st["draws"] and not st.get("draws_imported"):
        raise UsageError(f"audit {name!r} already has draws from seed {st['seed']!r}; plan a new audit to import "
                         "draws made elsewhere")
    rows = _read_draws(draws, mapping)
    model = audit.model()
    idx = model.index()
    unknown = [d["id"] for d in rows if d["id"] not in idx]
    if unknown:
        raise InputError(str(draws), f"{len(unknown)} drawn tables are not in the audit's manifest, e.g. {unknown[:5]}")
    zero = sorted({d["id"] for d in rows if model.bounds[idx[d["id"]]] == 0})
    if zero:
        raise InputError(str(draws), f"tables with no error bound (no usable tally) cannot be drawn: {zero[:5]}")
    start = len(st["draws"])
    for d in rows:
        d["draw"] += start
    st["draws"].extend(rows)
    st["draws_imported"] = {"path": str(draws), "sha256": file_sha256(draws), "note": note,
                            "recorded_at": _now(), "draws": len(st["draws"])}
    _log(audit, "import_draws", n=len(rows), first_draw=start + 1, file_sha256=file_sha256(draws))
    _save(ws, audit)
    distinct = list(dict.fromkeys(d["id"] for d in rows if d["id"] not in st["hand_counts"]))
    return {"name": name, "imported": len(rows), "draws": len(st["draws"]), "tables_to_count": distinct}


class MemoryWorkspace:
    """A workspace that lives only in memory: re-checking a past audit from its files
    (``audit risk --method macro``) writes nothing."""

    path = "<memory>"

    def __init__(self) -> None:
        self._docs: dict = {}

    def get(self, namespace: str, key: str, default=None):
        import copy

        return copy.deepcopy(self._docs.get((namespace, key), default))

    def put(self, namespace: str, key: str, body) -> None:
        import copy

        self._docs[(namespace, key)] = copy.deepcopy(body)


def recheck(results: str | Path, draws: str | Path, counts: str | Path, *, risk_limit: float,
            assertion_kind: str | None = None, manifest: str | Path | None = None, contest: str | None = None,
            mapping=None, threshold=None, lead=None, seats: int | None = None,
            draws_mapping: str | Path | None = None, counts_mapping: str | Path | None = None,
            totals: dict[str, int] | None = None, margins: dict[str, int] | None = None,
            total_bound: float | None = None) -> "Status":
    """The MACRO risk of a past batch-comparison audit, from its files alone: the results
    it audited, its draws (in order, or ``times_drawn`` per batch) and its hand counts.

    When the results file holds only the sampled batches (as published audits do), the
    contest is described by ``totals`` (votes per choice, optionally ``ballots``) or
    ``margins`` (the winner's margin in votes over each loser), and ``total_bound`` (U):
    see :func:`recheck_published`. Without them, a file whose every batch was drawn is
    refused: the risk is never computed as if the sample were the contest."""
    if totals is not None or margins is not None or total_bound is not None:
        return recheck_published(results, draws, counts, risk_limit=risk_limit, assertion_kind=assertion_kind,
                                 manifest=manifest, contest=contest, mapping=mapping, threshold=threshold, lead=lead,
                                 seats=seats, draws_mapping=draws_mapping, counts_mapping=counts_mapping,
                                 totals=totals, margins=margins, total_bound=total_bound)
    rows = _read_draws(draws, draws_mapping)
    snap = load_results(results, contest, mapping)
    b = batch_inputs(snap, load_manifest(manifest) if manifest else None)
    usable = {u for u, m in zip(b["ids"], b["missing"]) if not m}
    if "times_drawn" in _header(results):
        raise UsageError(
            f"{results} has a times_drawn column: it is a published audit's file of sampled batches, not the "
            "contest; give the contest's totals (--totals A=N,B=N,ballots=N) or margins (--margins LOSER=N) and "
            "its total error bound (--total-bound U)")
    if usable and usable <= {d["id"] for d in rows}:
        raise UsageError(
            f"{results}: every one of its {len(b['ids'])} batches was drawn, so it holds the sample, not the contest; "
            "give the contest's totals (--totals A=N,B=N,ballots=N) or margins (--margins LOSER=N) and its total "
            "error bound (--total-bound U)")
    ws = MemoryWorkspace()
    plan(ws, results, risk_limit=risk_limit, assertion_kind=assertion_kind, manifest=manifest, contest=contest,
         mapping=mapping, threshold=threshold, lead=lead, seats=seats, reps=1)
    import_draws(ws, "default", draws, mapping=draws_mapping)
    record(ws, "default", counts, mapping=counts_mapping)
    return status(ws, "default")


def contest_from_totals(asr: Sequence[A.Assertion], totals: dict[str, int], file_totals: dict[str, int],
                        file_ballots: int, file_bound: float, ballots: int | None) -> float | None:
    """An upper bound on the contest's U from its totals (``None`` without the contest's
    ballots). The batches not in the file hold, together, the contest's votes minus the
    file's; for each of them ``u_p = max_a A_pa / M_a <= sum_a A_pa / M_a``, so their
    bounds add up to at most ``sum_a (sum of their A_pa) / M_a``, and that sum of assorter
    totals is known from the totals: score / 2m plus half their ballots."""
    if ballots is None:
        return None
    rest_ballots = ballots - file_ballots
    if rest_ballots < 0:
        raise UsageError(f"--totals ballots={ballots:,} is less than the {file_ballots:,} ballots of the file's batches")
    rest_votes = {c: totals[c] - file_totals.get(c, 0) for c in totals}
    if sum(rest_votes.values()) > rest_ballots:
        raise UsageError(f"--totals: the {sum(rest_votes.values()):,} votes outside the file exceed the "
                         f"{rest_ballots:,} ballots outside it")
    bound = Fraction(0)
    for a in asr:
        m = a.score_total(totals) / (2 * a.scale)
        rest = a.score_total(rest_votes) / (2 * a.scale) + Fraction(rest_ballots, 2)
        bound += rest / m
    return file_bound + float(bound)


def recheck_published(results: str | Path, draws: str | Path, counts: str | Path, *, risk_limit: float,
                      assertion_kind: str | None = None, manifest: str | Path | None = None,
                      contest: str | None = None, mapping=None, threshold=None, lead=None, seats: int | None = None,
                      draws_mapping: str | Path | None = None, counts_mapping: str | Path | None = None,
                      totals: dict[str, int] | None = None, margins: dict[str, int] | None = None,
                      total_bound: float | None = None) -> "Status":
    """The MACRO risk of an audit published as its sampled batches only (Lindeman 2010,
    CA-CD3): the batches' reported and hand-counted votes come from the files, the
    margins from the contest's ``totals`` (or ``margins``: the winner's lead in votes over
    each loser, pairwise assertions), ``U`` from ``total_bound`` or, failing it, an upper
    bound from ``totals`` with the contest's ``ballots`` (conservative, said so)."""
    if not 0 < risk_limit < 1:
        raise UsageError("risk limit must be in (0, 1)")
    if totals is None and margins is None:
        raise UsageError("--total-bound alone does not give the margins: add the contest's totals (--totals A=N,...) "
                         "or margins (--margins LOSER=N,...)")
    if totals is not None and margins is not None:
        raise UsageError("give either --totals or --margins, not both")
    snap = load_results(results, contest, mapping)
    b = batch_inputs(snap, load_manifest(manifest) if manifest else None)
    if b["missing"].any():
        k = int(np.argmax(b["missing"]))
        raise InputError(str(results), f"batch {b['ids'][k]!r} has no reported votes: a published batch file must "
                         "give every batch's reported count")
    choices = b["choices"]
    file_totals = reported_totals(b["votes"], b["choices"], b["missing"])
    ballots = None
    if totals is not None:
        t = dict(totals)
        ballots = t.pop("ballots", None)
        unknown = [c for c in t if c not in choices]
        lacking = [c for c in choices if c not in t]
        if unknown or lacking:
            raise UsageError(f"--totals must name exactly the choices of {Path(str(results)).name} {choices}"
                             + (f"; unknown: {unknown}" if unknown else "") + (f"; lacking: {lacking}" if lacking else ""))
        over = [c for c in choices if file_totals[c] > t[c]]
        if over:
            c = over[0]
            raise UsageError(f"--totals {c}={t[c]:,} is less than the file's own {file_totals[c]:,} votes for {c}: "
                             "the totals must be the whole contest's")
        kind, kind_source = assertion_kind_in_force(assertion_kind, mapping, snap)
        asr = make_assertions(kind, t, threshold=threshold, lead=lead, seats=seats)
        m = [a.score_total(t) / (2 * a.scale) for a in asr]
        contest_totals = t
        described = "the contest's totals (--totals)"
    else:
        if assertion_kind not in (None, "plurality"):
            raise UsageError("--margins gives pairwise margins (plurality): for other assertions give --totals")
        unknown = [c for c in margins if c not in choices]
        winners = [c for c in choices if c not in margins]
        if unknown or len(winners) != 1:
            raise UsageError(f"--margins names each loser once with the winner's lead over it in votes, and every "
                             f"choice of the file {choices} but the winner" + (f"; unknown: {unknown}" if unknown else ""))
        if any(v <= 0 for v in margins.values()):
            raise UsageError("--margins must be positive (the reported winner's lead in votes)")
        kind, kind_source = "plurality", "--margins"
        asr = [A.pairwise(winners[0], l) for l in choices if l in margins]
        m = [Fraction(margins[l], 2) for l in choices if l in margins]
        contest_totals = None
        described = "the margins given (--margins)"
    inside = km.build_published(asr, b["ids"], b["votes"], choices, b["ballots"], np.array([float(x) for x in m]), None)
    file_bound = inside.total_bound
    if total_bound is not None:
        U, u_source = float(total_bound), "given (--total-bound)"
    else:
        U = contest_from_totals(asr, contest_totals, file_totals, int(b["ballots"].sum()), file_bound, ballots) \
            if contest_totals is not None else None
        if U is None:
            raise UsageError("the contest's total error bound U is unknown: give --total-bound U (published with the "
                             "audit), or the contest's ballots in --totals (ballots=N) for an upper bound")
        u_source = "an upper bound from the contest's totals and ballots (conservative: a larger P-value)"
    km.build_published(asr, b["ids"], b["votes"], choices, b["ballots"], np.array([float(x) for x in m]), U)
    ws = MemoryWorkspace()
    state = {
        "version": STATE_VERSION, "name": "default", "created_at": _now(), "method": "macro-kaplan-markov",
        "risk_limit": risk_limit, "contest": snap.contest, "election": snap.election,
        "results": {"path": str(results), "sha256": file_sha256(results)}, "mapping": _mapping_record(mapping),
        "manifest": {"path": str(manifest) if manifest else None,
                     "units_sha256": sampling.manifest_hash(b["ids"], b["ballots"])},
        "assertion_kind": kind, "assertions": [a.to_dict() for a in asr], "reported_totals": file_totals,
        "batches": {"ids": b["ids"], "ballots": b["ballots"].tolist(), "votes": b["votes"].tolist(),
                    "choices": choices, "missing": b["missing"].tolist()},
        "published": {"margins": [str(x) for x in m], "total_bound": U, "total_bound_source": u_source,
                      "described_by": described, "contest_totals": contest_totals, "contest_ballots": ballots},
        "plan": {"zero_discrepancy": km.km_zero_error_size(U, risk_limit), "total_bound": U},
        "seed": None, "draws": [], "hand_counts": {}, "acta_readings": {}, "log": [],
    }
    audit = Audit(state)
    _log(audit, "plan", risk_limit=risk_limit, assertions=[a.name for a in asr], published=True)
    _save(ws, audit)
    import_draws(ws, "default", draws, mapping=draws_mapping)
    record(ws, "default", counts, mapping=counts_mapping)
    s = status(ws, "default")
    order_unknown = any(d.get("order_unknown") for d in ws.get(NAMESPACE, "default")["draws"])
    s.contest = {"batches_in_file": len(b["ids"]), "described_by": described, "assertions": kind,
                 "assertion_source": kind_source, "margins_votes": {a.name: float(2 * x) for a, x in zip(asr, m)},
                 "total_bound": U, "total_bound_source": u_source, "file_bound": file_bound,
                 "draw_order_known": not order_unknown}
    s.note += (f" The file holds {len(b['ids'])} batches, not the contest: margins from {described}, "
               f"U = {U:.6g} {u_source}.")
    if order_unknown:
        s.note += " The draws' order is unknown (times_drawn): the final P-value does not depend on it, the risk " \
                  "after each draw does."
        s.risk_by_draw = []
    return s


def record(ws, name: str, counts: str | Path, layer: str = "hand", mapping: str | Path | None = None) -> dict:
    """Record hand counts (``layer="hand"``) or acta readings (``layer="acta"``) from a CSV:
    ``unit``, one column per choice, optional ``blank``, ``null``, ``ballots`` and
    ``status`` (``counted`` or ``missing``: ballots not found)."""
    audit = _load(ws, name)
    st = audit.state
    choices = st["batches"]["choices"]
    rows = _read_counts(counts, choices, mapping)
    known = set(st["batches"]["ids"])
    unknown = [u for u in rows if u not in known]
    if unknown:
        raise InputError(str(counts), f"tables not in the audit's manifest: {unknown[:5]}")
    drawn = {d["id"] for d in st["draws"]}
    key = "hand_counts" if layer == "hand" else "acta_readings"
    if layer not in ("hand", "acta"):
        raise UsageError("layer must be 'hand' or 'acta'")
    st[key].update(rows)
    _log(audit, "record", layer=layer, units=len(rows), not_drawn=len([u for u in rows if u not in drawn]),
         file_sha256=file_sha256(counts))
    _save(ws, audit)
    return {"name": name, "layer": layer, "recorded": len(rows),
            "not_in_sample": sorted(u for u in rows if u not in drawn)}


@dataclass
class Status:
    risk_limit: float
    assertions: list[dict]
    sampled_units: int
    discrepancies: int
    draws: int
    draws_recorded: int
    decision: str
    transcription_discrepancies: int = 0
    next_round: int | None = None
    note: str = ""
    risk_by_draw: list = field(default_factory=list)  # MACRO risk after each counted draw
    risk: float = 1.0  # MACRO Kaplan-Markov P-value (worst taint over assertions per draw)
    risk_method: str = ("MACRO Kaplan-Markov: per draw the worst taint over all assertions (Stark 2009); "
                        "one P-value for every assertion")
    contest: dict | None = None  # a published batch file: how the contest was described (totals, margins, U)

    def summary(self) -> str:
        lines = [f"Audit at risk limit {self.risk_limit:g}: {self.draws_recorded} of {self.draws} draws counted "
                 f"({self.sampled_units} tables), {self.discrepancies} with discrepancies.",
                 f"Measured risk (MACRO, the worst taint over all assertions in each draw): {self.risk:.6g}."]
        for a in self.assertions:
            lines.append(f"  {a['name']}: {'confirmed' if a['confirmed'] else 'not yet confirmed'} "
                         f"(its own Kaplan-Markov P-value {a['risk_assertion']:.4g})")
        lines.append(f"Decision: {self.decision}. {self.note}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def status(ws, name: str) -> Status:
    audit = _load(ws, name)
    st = audit.state
    model = audit.model()
    idx = model.index()
    hc = st["hand_counts"]
    # sequential validity: use the draws in order up to the first one not yet counted
    used = []
    for d in st["draws"]:
        if d["id"] not in hc:
            break
        used.append(d["id"])
    choices = st["batches"]["choices"]
    nA = len(model.assertions)
    taint_rows, disc, full_count, over_bound = [], set(), False, []
    per_unit: dict[str, np.ndarray] = {}
    for u in dict.fromkeys(used):
        j = idx[u]
        rec = hc[u]
        if rec["status"] == "missing":
            actual = np.zeros(nA)
            full_count = True
        else:
            v = np.array([[rec["votes"][c] for c in choices]], dtype=np.float64)
            if v.sum() > model.slots[j]:
                # the audit assumed at most c_p ballots in this box; the premise is broken
                over_bound.append(u)
                full_count = True
            actual = np.array([a.batch_totals(v, choices, model.slots[[j]])[0] for a in model.assertions])
            reported = np.asarray(st["batches"]["votes"][j])
            if st["batches"]["missing"][j] or np.any(v[0] != reported):
                disc.add(u)
        if rec["status"] == "missing":
            disc.add(u)
        per_unit[u] = km.taints(model, np.array([j]), actual[None, :])[0]
    t = np.array([per_unit[u] for u in used]).reshape(len(used), nA)
    # MACRO: one P-value from each draw's worst taint over all assertions (what the plan's
    # simulation assumes); each assertion's own Kaplan-Markov P-value is kept for reference
    # and is never larger.
    t_macro = t.max(axis=1) if used else np.zeros(0)
    own = km.km_risk(t, model.total_bound) if used else np.ones(nA)
    macro = km.macro_risk(t_macro, model.total_bound)
    with np.errstate(divide="ignore"):
        steps = math.log(1 - 1 / model.total_bound) - np.log1p(-np.minimum(t_macro, 1.0))
    trajectory = np.minimum(1.0, np.exp(np.cumsum(steps))) if used else np.ones(0)
    if full_count:
        own, macro = np.ones(nA), 1.0
    risks = np.full(nA, macro)
    alpha = st["risk_limit"]
    rows = [{"name": a.name, "risk": float(r), "risk_assertion": float(o), "confirmed": bool(r <= alpha)}
            for a, r, o in zip(model.assertions, risks, own)]
    done = all(r["confirmed"] for r in rows)
    # transcription layer: acta as read vs the published digital record
    tr = 0
    for u, rec in st["acta_readings"].items():
        j = idx[u]
        if rec["status"] == "missing" or any(rec["votes"][c] != st["batches"]["votes"][j][k] for k, c in enumerate(choices)):
            tr += 1
    next_round = None
    if over_bound:
        decision = "full hand count"
        note = (f"Hand counts exceed the ballot bound (registered voters / manifest) in {over_bound[:5]}: "
                "the audit's premise is broken; only a full hand count can settle the outcome.")
    elif full_count:
        decision = "full hand count"
        note = "A sampled table's ballots were not found: only a full hand count can settle the outcome."
    elif done:
        decision = "stop"
        note = "Every assertion is confirmed: the reported outcome stands at this risk limit."
    elif len(used) < len(st["draws"]):
        decision = "count"
        note = f"Draw {len(used) + 1} ({st['draws'][len(used)]['id']}) is not counted yet."
    else:
        decision = "escalate"
        worst = float(macro)
        U = model.total_bound
        # draws still needed if no further discrepancy appears
        need = math.ceil(math.log(alpha / worst) / math.log(1 - 1 / U)) if worst > alpha else 0
        next_round = max(1, need)
        note = (f"Not confirmed yet: draw at least {next_round} more tables (more if discrepancies continue); "
                "escalation ends in a full hand count.")
    return Status(alpha, rows, len(set(used)), len(disc), len(st["draws"]), len(used), decision, tr,
                  next_round, note, trajectory.round(12).tolist(), float(macro))


def report(ws, name: str) -> dict:
    audit = _load(ws, name)
    st = audit.state
    s = status(ws, name)
    return {
        "name": name,
        "election": st["election"],
        "contest": st["contest"],
        "method": st["method"],
        "risk_limit": st["risk_limit"],
        "results": st["results"],
        "manifest": st["manifest"],
        "assertions": st["assertions"],
        "reported_totals": st["reported_totals"],
        "plan": st["plan"],
        "seed": st["seed"],
        "seed_ceremony": st.get("seed_ceremony"),
        "draws": st["draws"],
        "status": s.to_dict(),
        "log": st["log"],
        "caveat": ("A risk-limiting audit bounds the chance of confirming a wrong outcome. Discrepancies are "
                   "differences between paper and published numbers; they are not evidence of fraud by "
                   "themselves."),
    }

