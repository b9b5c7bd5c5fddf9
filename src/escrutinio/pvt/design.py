"""A parallel vote tabulation's sample design: frame, strata, allocation, the seeded draw.

* **Frame.** Every expected polling table (the roll) with its registered voters. Its
  SHA-256 is taken over a canonical text: one line ``unit,registered\\n`` per table,
  tables sorted by ``unit`` in UTF-8 byte order (the audit manifest form of
  :func:`escrutinio.audit.sampling.manifest_hash`). Stratum membership is hashed the same
  way with lines ``unit\\tstratum\\n``.
* **Strata.** One stratum per value of a geographic level (labelled by its path from the
  top level, ``"Bolivia / La Paz"``), optionally crossed with an attribute
  (``"Bolivia / La Paz | urban"``). Strata too small to receive ``min_per_stratum`` tables
  under proportional allocation are pooled into one stratum ``"(other: K strata)"``:
  a stratum with fewer than two sampled tables has no variance estimate.
* **Allocation.** Proportional (``n_h`` ∝ ``N_h``) or Neyman (``n_h`` ∝ ``N_h S_h``,
  Cochran 1977 §5.5; ``S_h`` is the standard deviation of the previous election's
  lead residual per table in stratum ``h``), with ``min(N_h, 2) <= n_h <= N_h`` and
  largest-remainder rounding.
* **Selection.** Simple random sampling without replacement within each stratum by
  Rivest's consistent sampler (:mod:`escrutinio.audit.sampling`): every table gets the
  ticket ``first_ticket(unit, seed)``, and stratum ``h`` takes its ``n_h`` tables with
  the smallest tickets. The sample is a function of the seed and the frame alone.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import polars as pl
from scipy.stats import norm

from escrutinio.errors import UsageError
from escrutinio.pvt.tickets import pick, ticket_order, tickets_for

DESIGN_KIND = "escrutinio.pvt.design"
DESIGN_VERSION = 1
OTHER = "(other: {k} strata)"
UNKNOWN = "(unknown)"
FRAME_FORM = ("UTF-8 text, one line 'unit,registered\\n' per table, tables sorted by unit in "
              "UTF-8 byte order (docs/pvt.md)")
STRATA_FORM = "UTF-8 text, one line 'unit\\tstratum\\n' per table, sorted by unit in UTF-8 byte order"
SELECTION_RULE = ("Within each stratum h, the n_h tables with the smallest tickets of Rivest's consistent "
                  "sampler: ticket(unit) = '0.' + reverse(decimal(int(SHA256(hex(SHA256(seed)) + unit), 16))), "
                  "decimal left-padded to 64 digits, tickets compared as strings (docs/audit.md §3, docs/pvt.md)")


@dataclass
class Previous:
    """The previous election, for Neyman allocation and expected margins: a counted unit
    frame (``Snapshot.counted()``) and its counted choices."""

    frame: pl.DataFrame
    choices: Sequence[str]
    source: str = ""


@dataclass
class Design:
    seed: str
    n: int
    allocation: str
    strata_by: list[str]
    strata: dict[str, dict]
    sample: list[str]
    sample_strata: list[str]
    frame: dict
    collapsed: list[str] = field(default_factory=list)
    expected_moe: dict | None = None
    expected_moe_bound: float | None = None
    level: float = 0.95
    first_draws: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the election the roll belongs to ({"name", "date"}, as its mapping declares them);
    #: None for a bare roll file. An estimate from another election's reports is refused.
    election: dict | None = None
    #: registered voters of each sampled table (same order as ``sample``): reports whose
    #: tables carry other rolls are another election's, whatever their ids
    sample_registered: list[int] | None = None

    # ------------------------------------------------------------- export
    def to_dict(self) -> dict:
        return {
            "kind": DESIGN_KIND,
            "version": DESIGN_VERSION,
            "seed": self.seed,
            "n": self.n,
            "allocation": self.allocation,
            "frame": self.frame,
            "strata_by": self.strata_by,
            "strata": self.strata,
            "collapsed": self.collapsed,
            "selection": {"method": "stratified simple random sampling without replacement",
                          "rule": SELECTION_RULE},
            "expected_moe": self.expected_moe,
            "expected_moe_bound": self.expected_moe_bound,
            "level": self.level,
            "first_draws": self.first_draws,
            "notes": self.notes,
            "sample": self.sample,
            "sample_strata": self.sample_strata,
            # written only when known, so that a design file from before keeps its hash
            **({"election": self.election} if self.election is not None else {}),
            **({"sample_registered": self.sample_registered} if self.sample_registered is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"

    @property
    def sha256(self) -> str:
        """SHA-256 of the design file as written by :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, d: dict) -> "Design":
        if d.get("kind") != DESIGN_KIND:
            raise UsageError(f"not a PVT design file (kind {d.get('kind')!r}, expected {DESIGN_KIND!r})")
        if d.get("version") != DESIGN_VERSION:
            raise UsageError(f"PVT design version {d.get('version')!r} is not supported (expected {DESIGN_VERSION})")
        try:
            design = cls(seed=str(d["seed"]), n=int(d["n"]), allocation=d["allocation"], strata_by=list(d["strata_by"]),
                         strata=dict(d["strata"]), sample=[str(u) for u in d["sample"]],
                         sample_strata=[str(s) for s in d["sample_strata"]], frame=dict(d["frame"]),
                         collapsed=list(d.get("collapsed") or []), expected_moe=d.get("expected_moe"),
                         expected_moe_bound=d.get("expected_moe_bound"), level=float(d.get("level", 0.95)),
                         first_draws=list(d.get("first_draws") or []), notes=list(d.get("notes") or []),
                         election=dict(d["election"]) if d.get("election") is not None else None,
                         sample_registered=[int(v) for v in d["sample_registered"]]
                         if d.get("sample_registered") is not None else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"PVT design file is incomplete or malformed: {exc}") from exc
        if len(design.sample) != len(design.sample_strata):
            raise UsageError("PVT design file: 'sample' and 'sample_strata' differ in length")
        unknown = set(design.sample_strata) - set(design.strata)
        if unknown:
            raise UsageError(f"PVT design file: sampled tables in undeclared strata {sorted(unknown)[:5]}")
        if design.sample_registered is not None and len(design.sample_registered) != len(design.sample):
            raise UsageError("PVT design file: 'sample' and 'sample_registered' differ in length")
        if len(set(design.sample)) != len(design.sample):
            raise UsageError("PVT design file: the sample lists a table twice")
        counts: dict[str, int] = {}
        for s in design.sample_strata:
            counts[s] = counts.get(s, 0) + 1
        for name, s in design.strata.items():
            if not isinstance(s, dict) or not all(isinstance(s.get(k), int) and not isinstance(s.get(k), bool)
                                                  for k in ("tables", "sample")):
                raise UsageError(f"PVT design file: stratum {name!r} needs integer 'tables' and 'sample'")
            if counts.get(name, 0) != s["sample"] or not 0 <= s["sample"] <= s["tables"]:
                raise UsageError(f"PVT design file: stratum {name!r} declares {s['sample']} sampled of {s['tables']} "
                                 f"tables but the sample holds {counts.get(name, 0)}")
        if not isinstance(design.frame.get("units"), int):
            raise UsageError("PVT design file: frame.units must be an integer")
        return design

    @classmethod
    def load(cls, path) -> "Design":
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except OSError as exc:
            raise UsageError(f"cannot read design file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise UsageError(f"design file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
        return cls.from_dict(d)

    # ------------------------------------------------------------ display
    def summary(self) -> str:
        lines = [
            f"PVT design: {self.n:,} of {self.frame['units']:,} tables, seed {self.seed!r}, "
            f"{self.allocation} allocation over {len(self.strata)} strata"
            + (f" by {', '.join(self.strata_by)}" if self.strata_by else ""),
            f"  frame SHA-256 {self.frame['sha256']}",
            f"  {'stratum':<40} {'tables':>9} {'sample':>7}",
        ]
        for name, s in self.strata.items():
            lines.append(f"  {name[:40]:<40} {s['tables']:>9,} {s['sample']:>7,}")
        if self.collapsed:
            lines.append(f"  pooled small strata: {len(self.collapsed)} ({', '.join(self.collapsed[:6])}"
                         + (", ..." if len(self.collapsed) > 6 else "") + ")")
        pct = round(100 * self.level)
        if self.expected_moe:
            lines.append(f"  expected margin of error ({pct}%, from the previous election's variance):")
            for c, m in self.expected_moe.items():
                lines.append(f"    {c:<24} ±{m:.2f} points")
        if self.expected_moe_bound is not None:
            lines.append(f"  worst-case margin for any share ({pct}%, every table voting all-or-nothing): "
                         f"±{self.expected_moe_bound:.2f} points")
        lines.append("  first draws: " + ", ".join(f"{d['unit']} ({d['stratum']})" for d in self.first_draws))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


# ------------------------------------------------------------------ frame
def frame_sha256(units: pl.Series, registered: pl.Series) -> str:
    """SHA-256 of the canonical frame text (see module docstring)."""
    return frame_hashes(units, registered)[0]


def frame_hashes(units: pl.Series, registered: pl.Series, strata: pl.Series | None = None) -> tuple[str, str | None]:
    """SHA-256 of the canonical frame text and of the canonical strata text."""
    cols = {"unit": units, "registered": registered}
    if strata is not None:
        cols["stratum"] = strata
    f = pl.DataFrame(cols).sort("unit")
    sorted_units = f.get_column("unit")
    dup_mask = sorted_units.is_not_null() & (sorted_units == sorted_units.shift(1))
    if dup_mask.any():
        dup = sorted_units.filter(dup_mask).unique().sort().head(5).to_list()
        raise UsageError(f"duplicate table ids in the roll: {dup}")

    def digest(parts) -> str:
        text = f.select(pl.concat_str(parts).alias("t")).to_series().str.join("").item()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    frame = digest([pl.col("unit"), pl.lit(","), pl.col("registered").cast(pl.Utf8), pl.lit("\n")])
    strata_hash = digest([pl.col("unit"), pl.lit("\t"), pl.col("stratum"), pl.lit("\n")]) if strata is not None else None
    return frame, strata_hash


def stratum_labels(frame: pl.DataFrame, levels: Sequence[str], by: Sequence[str], what: str = "the roll") -> pl.Series:
    """Stratum label per table: the path of ``levels`` down to ``by[0]`` (joined by
    ``" / "``), then ``" | " + by[1]`` when an attribute is given."""
    if not by:
        return pl.Series("stratum", ["(all)"] * frame.height, pl.Utf8)
    level, *attrs = by
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise UsageError(f"--strata: no column {missing} in {what}; levels: {list(levels)}, columns: {frame.columns}")
    if level in levels:
        path = list(levels[: list(levels).index(level) + 1])
    else:
        path = [level]
    parts = [pl.col(c).cast(pl.Utf8).fill_null(UNKNOWN) for c in path]
    expr = pl.concat_str(parts, separator=" / ")
    for a in attrs:
        expr = pl.concat_str([expr, pl.lit(" | "), pl.col(a).cast(pl.Utf8).fill_null(UNKNOWN)])
    return frame.select(expr.alias("stratum")).to_series()


# ------------------------------------------------------------- allocation
def allocate(sizes: np.ndarray, weights: np.ndarray, n: int, min_n: int = 2) -> np.ndarray:
    """Integer ``n_h`` with ``sum = n``, ``min(N_h, min_n) <= n_h <= N_h`` and ``n_h``
    as close to proportional to ``weights`` as the bounds allow: the continuous solution
    ``clip(λ w_h, lo_h, N_h)`` (λ by bisection), then floors plus largest remainders (ties
    to the earlier stratum)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    lo = np.minimum(sizes, min_n)
    if n > sizes.sum():
        raise UsageError(f"--n {n:,} exceeds the {int(sizes.sum()):,} tables in the frame")
    if n < lo.sum():
        raise UsageError(f"--n {n:,} is below {int(lo.sum()):,}, the minimum of {min_n} tables in each of "
                         f"{len(sizes)} strata; use coarser strata or a larger n")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise UsageError("allocation weights must be finite and non-negative")
    if w.sum() <= 0:
        w = sizes.astype(np.float64)

    def total(lam: float) -> float:
        return float(np.clip(lam * w, lo, sizes).sum())

    a, b = 0.0, 1.0
    while total(b) < n:
        b *= 2
        if b > 1e300:
            break
    for _ in range(200):
        mid = (a + b) / 2
        if total(mid) < n:
            a = mid
        else:
            b = mid
    ideal = np.clip(b * w, lo, sizes)
    out = np.minimum(np.floor(ideal + 1e-9).astype(np.int64), sizes)
    out = np.maximum(out, lo)
    short = n - int(out.sum())
    frac = ideal - out
    while short != 0:
        if short > 0:
            room = np.flatnonzero(out < sizes)
            pick = room[np.argsort(-frac[room], kind="stable")][:short]
            out[pick] += 1
            frac[pick] -= 1
            short = n - int(out.sum())
        else:
            room = np.flatnonzero(out > lo)
            pick = room[np.argsort(frac[room], kind="stable")][: -short]
            out[pick] -= 1
            frac[pick] += 1
            short = n - int(out.sum())
    return out


# ------------------------------------------------------- expected margins
def previous_moments(previous: Previous, labels: pl.Series, rename: dict[str, str]) -> dict:
    """Per stratum of the previous election: tables, mean valid votes, and the variance
    of each choice's (and the top-two lead's) ratio residual ``y - R x``."""
    f = previous.frame
    choices = list(previous.choices)
    labs = labels.replace(rename) if rename else labels
    y = f.select(choices).to_numpy().astype(np.float64)
    x = y.sum(axis=1)
    tot = y.sum(axis=0)
    if x.sum() <= 0:
        raise UsageError(f"previous election {previous.source}: no valid votes")
    order = np.argsort(-tot, kind="stable")
    top = [choices[order[0]], choices[order[1]]] if len(choices) > 1 else [choices[0]]
    cols = y
    if len(top) == 2:
        cols = np.column_stack([y, y[:, order[0]] - y[:, order[1]]])
    ratio = cols.sum(axis=0) / x.sum()
    e = cols - np.outer(x, ratio)
    names, codes = np.unique(np.asarray(labs.to_list(), dtype=object), return_inverse=True)
    k = len(names)
    cnt = np.bincount(codes, minlength=k).astype(np.float64)
    xsum = np.bincount(codes, weights=x, minlength=k)
    pooled_var = e.var(axis=0, ddof=1) if e.shape[0] > 1 else np.zeros(e.shape[1])
    var = np.empty((k, e.shape[1]))
    for j in range(e.shape[1]):
        s1 = np.bincount(codes, weights=e[:, j], minlength=k)
        s2 = np.bincount(codes, weights=e[:, j] ** 2, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            var[:, j] = np.where(cnt > 1, (s2 - s1 ** 2 / np.maximum(cnt, 1)) / np.maximum(cnt - 1, 1), pooled_var[j])
    out = {str(nm): {"tables": int(cnt[i]), "xbar": float(xsum[i] / cnt[i]), "var": var[i]} for i, nm in enumerate(names)}
    return {"strata": out, "names": choices + (["lead"] if len(top) == 2 else []), "top": top,
            "pooled_var": pooled_var, "xbar": float(x.mean())}


def expected_margins(N: np.ndarray, n: np.ndarray, names: list[str], moments: dict, z: float) -> dict[str, float]:
    """``z * sqrt(Σ N_h² (1 - n_h/N_h) S²_h / n_h) / Σ N_h x̄_h`` in points, per choice
    (Cochran 1977 §6.11; Lohr 2019 §4.5, combined ratio estimator)."""
    var = np.zeros(len(moments["names"]))
    X = 0.0
    for h, nm in enumerate(names):
        m = moments["strata"].get(nm)
        s2 = m["var"] if m else moments["pooled_var"]
        xbar = m["xbar"] if m else moments["xbar"]
        if n[h] > 0:
            var += N[h] ** 2 * (1 - n[h] / N[h]) * s2 / n[h]
        X += N[h] * xbar
    moe = 100 * z * np.sqrt(var) / X
    labels = list(moments["names"])
    if "lead" in labels:
        labels[-1] = f"lead ({moments['top'][0]} - {moments['top'][1]})"
    return {c: round(float(m), 4) for c, m in zip(labels, moe)}


def worst_case_margin(N: np.ndarray, n: np.ndarray, reg_mean: np.ndarray, reg_sq_mean: np.ndarray, z: float) -> float | None:
    """Upper bound on the margin for any share when every table votes all-or-nothing
    (residuals ``±x/2`` at a 50% share) and valid votes are proportional to registration:
    ``S²_h <= mean(reg²)/4``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > 0, N.astype(float) ** 2 * (1 - n / N) * reg_sq_mean / 4 / np.maximum(n, 1), 0.0)
    X = float((N * reg_mean).sum())
    return round(float(100 * z * math.sqrt(terms.sum()) / X), 4) if X > 0 else None


# ----------------------------------------------------------------- design
def make_design(frame: pl.DataFrame, n: int, seed, strata: Sequence[str] = (), levels: Sequence[str] = (),
                allocation: str = "proportional", previous: Previous | None = None, min_per_stratum: int = 2,
                level: float = 0.95, source: str = "", election: dict | None = None) -> Design:
    """Draw a stratified PVT sample from ``frame`` (columns ``unit``, ``registered`` and
    the strata columns)."""
    seed = str(seed)
    if allocation not in ("proportional", "neyman"):
        raise UsageError(f"--allocation must be proportional or neyman, not {allocation!r}")
    if allocation == "neyman" and previous is None:
        raise UsageError("Neyman allocation needs the previous election's variance per stratum: give --previous FILE")
    for col in ("unit", "registered"):
        if col not in frame.columns:
            raise UsageError(f"the roll has no {col!r} column (columns: {frame.columns})")
    if frame.height == 0:
        raise UsageError("the roll is empty")
    units = frame.get_column("unit").cast(pl.Utf8)
    if units.null_count():
        raise UsageError(f"{units.null_count()} tables in the roll have no id")
    bad = units.filter(units.str.contains(r"[\n\t,]"))
    if bad.len():
        raise UsageError(f"table ids may not contain commas, tabs or newlines: {bad.head(3).to_list()}")
    registered = frame.get_column("registered").cast(pl.Int64)
    if registered.null_count():
        miss = units.filter(registered.is_null()).head(5).to_list()
        raise UsageError(f"{registered.null_count()} tables in the roll have no registered voters (e.g. {miss})")
    if n <= 0:
        raise UsageError("--n must be positive")

    labels = stratum_labels(frame, levels, list(strata))
    # -- pool strata too small to get min_per_stratum tables under proportional allocation
    sizes_all = labels.value_counts().sort("stratum")
    total_units = frame.height
    small = sizes_all.filter(pl.col("count") * n / total_units < min_per_stratum).get_column("stratum").to_list()
    rename: dict[str, str] = {}
    notes = []
    if small and len(small) < sizes_all.height:
        pooled = OTHER.format(k=len(small))
        rename = {s: pooled for s in small}
        labels = labels.replace(rename)
        notes.append(f"{len(small)} strata too small for {min_per_stratum} sampled tables under proportional "
                     f"allocation are pooled into {pooled!r}")
    else:
        small = []
    frame_hash, strata_hash = frame_hashes(units, registered, labels)  # also refuses duplicate ids
    stratum_table = labels.value_counts().sort("stratum")
    names = stratum_table.get_column("stratum").to_list()
    code_of = {s: i for i, s in enumerate(names)}
    codes = labels.replace_strict(code_of, return_dtype=pl.Int64).to_numpy()
    N = np.bincount(codes, minlength=len(names)).astype(np.int64)
    reg = registered.to_numpy().astype(np.float64)
    reg_sum = np.bincount(codes, weights=reg, minlength=len(names))
    reg_sq = np.bincount(codes, weights=reg * reg, minlength=len(names))

    z = float(norm.ppf(0.5 + level / 2))
    moments = previous_moments(previous, stratum_labels(previous.frame, levels, list(strata), f"the previous election {previous.source}".strip()), rename) if previous else None
    if allocation == "neyman":
        lead_col = -1 if "lead" in moments["names"] else 0
        sd = np.array([math.sqrt(moments["strata"][s]["var"][lead_col]) if s in moments["strata"] else np.nan for s in names])
        fill = np.nanmean(sd) if np.any(np.isfinite(sd)) else 1.0
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, fill)
        weights = N * sd
        if moments and any(s not in moments["strata"] for s in names):
            notes.append("strata absent from the previous election get the mean standard deviation for Neyman allocation")
    else:
        weights = N.astype(np.float64)
    nh = allocate(N, weights, n, min_per_stratum)

    chosen = pick(ticket_order(units.to_list(), seed, strings=True), codes, N, nh)  # in national ticket order
    sample = units.gather(chosen).to_list()
    sample_registered = [int(v) for v in registered.gather(chosen).to_list()]
    sample_strata = [names[codes[i]] for i in chosen]

    first = []
    for u, s, t in zip(sample[:5], sample_strata[:5], tickets_for(sample[:5], seed)):
        first.append({"unit": u, "stratum": s, "hashed": _hashed_string(seed, u),
                      "sha256": hashlib.sha256(_hashed_string(seed, u).encode("utf-8")).hexdigest(), "ticket": t})

    strata_out = {}
    for h, s in enumerate(names):
        strata_out[s] = {"tables": int(N[h]), "sample": int(nh[h]), "registered": int(reg_sum[h]),
                         "fraction": round(float(nh[h] / N[h]), 6)}
    moe = None
    if moments:
        moe = expected_margins(N, nh, names, moments, z)
        if previous.source:
            notes.append(f"expected margins use the variance of {previous.source}")
    bound = worst_case_margin(N, nh, reg_sum / N, reg_sq / N, z)
    frame_info = {"source": source, "units": int(total_units), "registered": int(reg.sum()),
                  "sha256": frame_hash, "canonical_form": FRAME_FORM,
                  "strata_sha256": strata_hash, "strata_canonical_form": STRATA_FORM}
    return Design(seed=seed, n=int(nh.sum()), allocation=allocation, strata_by=list(strata), strata=strata_out,
                  sample=sample, sample_strata=sample_strata, frame=frame_info, collapsed=sorted(small),
                  expected_moe=moe, expected_moe_bound=bound, level=level, first_draws=first, notes=notes,
                  election=_election(election), sample_registered=sample_registered)


def _election(election: dict | None) -> dict | None:
    if not election:
        return None
    out = {k: str(election[k]) for k in ("name", "date") if election.get(k)}
    return out or None


def election_of(snapshot) -> dict | None:
    """{"name", "date"} of a snapshot read through a mapping (None when it names no election)."""
    name = getattr(snapshot, "election", None)
    out = {"name": name} if name and name != "election" else {}
    if getattr(snapshot, "election_date", None):
        out["date"] = snapshot.election_date
    return out or None


def election_of_file(path, mapping=None) -> dict | None:
    """The election of a count file: as ``mapping`` declares it, else as the bundled
    mapping that reads it (by its header) declares it; None for a bare roll or an
    unknown layout."""
    from escrutinio.io import _resolve_mapping, builtin_mappings, read_header

    try:
        m = _resolve_mapping(mapping) if mapping is not None else None
        if m is None:
            header = read_header(str(path))
            m = next((b for b in builtin_mappings().values() if b.matches(header)), None)
    except Exception:  # the roll itself is read elsewhere; naming its election is a bonus
        return None
    if m is None:
        return None
    return _election({"name": m.election if m.election != "election" else None, "date": m.election_date})


#: above this share of the sampled tables found in the reports with other registered
#: voters than the design's roll, the reports are another election's
REGISTERED_MISMATCH_LIMIT = 0.5


def check_election(design: Design, reports: pl.DataFrame, election: dict | None = None) -> list[str]:
    """Refuse reports of another election than the design's; returns notes for small
    differences. Two tests: the elections' names and days as their mappings declare them,
    and the sampled tables' registered voters (a table id can be reused from one election
    to the next, its roll rarely is the same)."""
    mine, theirs = design.election or {}, election or {}
    for key in ("name", "date"):
        if mine.get(key) and theirs.get(key) and mine[key] != theirs[key]:
            raise UsageError(f"the design was drawn for {_describe(mine)} and the reports are of {_describe(theirs)}: "
                             "a PVT estimates the election its sample was drawn from; draw a design from this "
                             "election's roll (escrutinio pvt design --roll)")
    if design.sample_registered is None or "registered" not in reports.columns:
        return []
    expected = pl.DataFrame({"unit": design.sample, "_design_registered": design.sample_registered},
                            schema={"unit": pl.Utf8, "_design_registered": pl.Int64})
    got = (reports.select(pl.col("unit").cast(pl.Utf8), pl.col("registered").cast(pl.Int64))
           .join(expected, on="unit", how="inner"))
    if got.height == 0:
        return []
    differ = int((got["registered"] != got["_design_registered"]).sum())
    if differ > REGISTERED_MISMATCH_LIMIT * got.height:
        raise UsageError(f"{differ:,} of the {got.height:,} sampled tables found in the reports have other registered "
                         f"voters than the design's roll{' (' + _describe(mine) + ')' if mine else ''}: these reports "
                         "are of another election (or another roll); draw a design from this election's roll")
    if differ:
        return [f"{differ:,} of {got.height:,} sampled tables report other registered voters than the design's roll"]
    return []


def _describe(e: dict) -> str:
    if e.get("name") and e.get("date"):
        return f"{e['name']} ({e['date']})"
    return str(e.get("name") or e.get("date") or "an unnamed election")


def _hashed_string(seed: str, unit: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest() + unit


# ----------------------------------------------------------------- verify
def verify(design: Design, frame: pl.DataFrame, levels: Sequence[str] = ()) -> dict:
    """Check a design against a roll without trusting it: the frame's SHA-256, the strata
    sizes, and that every stratum's sample is exactly its ``n_h`` smallest tickets under
    the design's seed (the selection rule; the allocation itself is the design's)."""
    checks = []
    units = frame.get_column("unit").cast(pl.Utf8)
    registered = frame.get_column("registered").cast(pl.Int64)
    labels = stratum_labels(frame, levels, design.strata_by)
    pooled = [s for s in design.strata if s.startswith("(other:")]
    if design.collapsed and pooled:
        labels = labels.replace({c: pooled[0] for c in design.collapsed})
    frame_hash, strata_hash = frame_hashes(units, registered, labels)
    checks.append({"check": "frame SHA-256", "ok": frame_hash == design.frame["sha256"],
                   "expected": design.frame["sha256"], "found": frame_hash})
    checks.append({"check": "strata SHA-256", "ok": strata_hash == design.frame.get("strata_sha256"),
                   "expected": design.frame.get("strata_sha256"), "found": strata_hash})
    names = list(design.strata)
    unknown = sorted(set(labels.unique().to_list()) - set(names))
    sizes = labels.value_counts().sort("stratum")
    found_sizes = dict(zip(sizes.get_column("stratum").to_list(), sizes.get_column("count").to_list()))
    bad_sizes = [s for s in names if found_sizes.get(s, 0) != design.strata[s]["tables"]]
    checks.append({"check": "strata and their sizes", "ok": not unknown and not bad_sizes,
                   "detail": {"strata not in the design": unknown[:10], "sizes differ": bad_sizes[:10]}})
    if not unknown:
        code_of = {s: i for i, s in enumerate(names)}
        codes = labels.replace_strict(code_of, return_dtype=pl.Int64).to_numpy()
        N = np.bincount(codes, minlength=len(names))
        take = np.array([design.strata[s]["sample"] for s in names])
        chosen = pick(ticket_order(units.to_list(), design.seed), codes, N, np.minimum(take, N))
        redrawn = units.gather(chosen).to_list()
        checks.append({"check": "sample = the n_h smallest tickets of each stratum, in ticket order",
                       "ok": redrawn == design.sample,
                       "detail": {"in design only": sorted(set(design.sample) - set(redrawn))[:10],
                                  "in redraw only": sorted(set(redrawn) - set(design.sample))[:10]}})
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "design_sha256": design.sha256}
