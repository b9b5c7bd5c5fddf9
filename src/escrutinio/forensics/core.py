"""Shared pieces of the forensics battery: the station arrays every method reads, the
Kobak-style station filter, and the common result object.

Every method in :mod:`escrutinio.forensics` works on plain arrays (one entry per polling
table) so it can be reused outside escrutinio's data model; :func:`from_snapshot` builds
those arrays from a :class:`escrutinio.model.Snapshot`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict
from typing import Any, Mapping, Sequence

import numpy as np

from escrutinio.errors import InputError, UsageError


@dataclass(frozen=True)
class StationData:
    """Per-station counts.

    ``registered``, ``emitted`` (ballots cast), ``valid`` and ``votes`` (stations x choices)
    are int64; ``groups`` maps a level name (e.g. ``department``, ``polling_place``) to one
    string key per station. ``units`` and ``source_rows`` let a flag be traced to its acta.
    """

    registered: np.ndarray
    emitted: np.ndarray
    valid: np.ndarray
    votes: np.ndarray
    choices: tuple[str, ...]
    units: np.ndarray | None = None
    source_rows: np.ndarray | None = None
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)
    label: str = ""
    source: str = ""
    share_of: str = "valid"   # leader share denominator: "valid" or "valid+invalid" (ballots cast)
    # the levels from coarsest to finest, and which is the polling place / the area the
    # outlier checks compare tables within (contract C7: declared by the mapping)
    level_order: tuple[str, ...] = ()
    place_level: str | None = None
    area_level: str | None = None
    # invalid ballots found in the box (blank + null); None: emitted - valid stands for it
    invalid: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.registered)
        for name in ("emitted", "valid"):
            if len(getattr(self, name)) != n:
                raise UsageError(f"{name} has {len(getattr(self, name))} stations, registered has {n}")
        if self.votes.ndim != 2 or self.votes.shape[0] != n or self.votes.shape[1] != len(self.choices):
            raise UsageError(f"votes must be stations x choices = {n} x {len(self.choices)}, got {self.votes.shape}")
        for key, arr in self.groups.items():
            if len(arr) != n:
                raise UsageError(f"group {key!r} has {len(arr)} keys for {n} stations")

    @property
    def n(self) -> int:
        return int(len(self.registered))

    @property
    def leader_index(self) -> int:
        """The choice with most valid votes overall (the 'leader' of Kobak et al.)."""
        return int(np.argmax(self.votes.sum(axis=0)))

    @property
    def share_base(self) -> np.ndarray:
        """Denominator of the leader's share: valid votes (escrutinio's default) or valid +
        invalid votes, i.e. the ballots found in the box (Kobak et al. 2016's published
        analyses). Ballots *issued* (``emitted`` in some layouts, e.g. Russia's protocols)
        can exceed the ballots found, so the invalid count is used where it is known."""
        if self.share_of != "valid+invalid":
            return self.valid
        return self.emitted if self.invalid is None else self.valid + self.invalid

    def with_share_of(self, share_of: str) -> "StationData":
        if share_of not in ("valid", "valid+invalid"):
            raise UsageError(f"leader share denominator {share_of!r}: use 'valid' or 'valid+invalid'")
        from dataclasses import replace

        return replace(self, share_of=share_of)

    @property
    def leader(self) -> str:
        return self.choices[self.leader_index]

    def subset(self, mask: np.ndarray) -> "StationData":
        return StationData(
            registered=self.registered[mask], emitted=self.emitted[mask], valid=self.valid[mask],
            votes=self.votes[mask], choices=self.choices,
            units=None if self.units is None else self.units[mask],
            source_rows=None if self.source_rows is None else self.source_rows[mask],
            groups={k: v[mask] for k, v in self.groups.items()}, label=self.label, source=self.source,
            share_of=self.share_of, level_order=self.level_order, place_level=self.place_level,
            area_level=self.area_level, invalid=None if self.invalid is None else self.invalid[mask],
        )

    def unit_labels(self) -> np.ndarray:
        return self.units if self.units is not None else np.arange(self.n).astype(str)


def from_arrays(registered, emitted, valid, votes, choices: Sequence[str], **kw) -> StationData:
    """Build :class:`StationData` from array-likes, refusing missing or negative counts."""
    out = {}
    for name, arr in (("registered", registered), ("emitted", emitted), ("valid", valid)):
        a = np.asarray(arr)
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise InputError("<arrays>", f"{name} has {int(np.isnan(a).sum())} missing values")
        out[name] = a.astype(np.int64)
    v = np.asarray(votes)
    if v.dtype.kind == "f" and np.isnan(v).any():
        raise InputError("<arrays>", f"votes have {int(np.isnan(v).sum())} missing values")
    v = v.astype(np.int64)
    if (v < 0).any() or any((out[k] < 0).any() for k in out):
        raise InputError("<arrays>", "negative counts")
    return StationData(out["registered"], out["emitted"], out["valid"], v, tuple(choices), **kw)


def from_snapshot(snapshot, groups: Sequence[str] | None = None) -> StationData:
    """Station arrays from a Snapshot under the counting rule in force (``.counted()``).

    ``valid`` is the sum of counted choices; ``emitted`` is the published emitted column.
    Rows with a missing registered/emitted/choice value raise :class:`InputError` naming
    the source row: the battery never runs on rows it could not read.
    """
    frame = snapshot.counted()
    choices = tuple(snapshot.counted_choices)
    needed = ["registered", "emitted", *choices]
    for col in needed:
        nulls = frame.get_column(col).is_null()
        if nulls.any():
            rows = frame.filter(nulls).get_column("source_row").head(5).to_list()
            raise InputError(snapshot.source or snapshot.name, f"{int(nulls.sum())} rows have no value in {col!r} (first rows {rows})",
                             row=rows[0] if rows else None, column=col)
    levels = list(groups) if groups is not None else list(snapshot.levels)
    grp = {}
    for lv in levels:
        if lv in frame.columns:
            grp[lv] = frame.get_column(lv).cast(str).fill_null("").to_numpy()
    _qualify(grp, [lv for lv in snapshot.levels if lv in grp])
    if "place_id" in frame.columns and frame.get_column("place_id").null_count() < frame.height:
        grp.setdefault("place_id", frame.get_column("place_id").cast(str).fill_null("").to_numpy())
    return from_arrays(
        frame.get_column("registered").to_numpy(), frame.get_column("emitted").to_numpy(),
        frame.get_column("valid").to_numpy(), frame.select(list(choices)).to_numpy(), choices,
        units=frame.get_column("unit").cast(str).to_numpy(),
        source_rows=frame.get_column("source_row").to_numpy() if "source_row" in frame.columns else None,
        groups=grp, label=f"{snapshot.election} {snapshot.contest}".strip(), source=snapshot.source,
        level_order=tuple(lv for lv in snapshot.levels if lv in grp),
        invalid=_invalid(frame),
        place_level=getattr(snapshot, "place_level", None), area_level=getattr(snapshot, "area_level", None),
    )


def _qualify(groups: dict, order: list[str]) -> None:
    """An area is its full path: a level whose names repeat under different parents (Russia:
    territorial commissions named "Центральная" in several regions) is keyed "parent/name",
    so that --by and the outlier checks never merge two areas; levels whose names are
    unique keep their plain names."""
    import polars as pl

    for parent, child in zip(order, order[1:]):
        pairs = pl.DataFrame({"p": groups[parent], "c": groups[child]})
        if pairs.unique().height > pl.DataFrame({"c": groups[child]}).unique().height:
            groups[child] = (pairs.get_column("p") + "/" + pairs.get_column("c")).to_numpy()


def _invalid(frame) -> np.ndarray | None:
    """Blank + null ballots per row (an absent column counts 0); None if neither exists."""
    import polars as pl

    cols = [c for c in ("blank", "null") if c in frame.columns]
    if not cols:
        return None
    return frame.select(pl.sum_horizontal([pl.col(c).fill_null(0) for c in cols])).to_series().to_numpy().astype(np.int64)


@dataclass(frozen=True)
class StationFilter:
    """Which stations enter the share-based tests (defaults as Kobak et al. 2016):
    at least ``min_registered`` registered voters, turnout and leader share at most
    ``max_turnout`` / ``max_share``; stations with no ballots or no valid votes cannot have
    a share and are always excluded."""

    min_registered: int = 100
    max_turnout: float = 0.99
    max_share: float = 0.99

    def apply(self, data: StationData) -> tuple[np.ndarray, dict[str, int]]:
        reg, emi, val = data.registered, data.emitted, data.valid
        base = data.share_base
        lead = data.votes[:, data.leader_index]
        reasons: dict[str, int] = {}
        keep = np.ones(data.n, bool)

        def drop(mask, why):
            nonlocal keep
            new = mask & keep
            if new.any():
                reasons[why] = int(new.sum())
            keep &= ~mask

        drop(reg <= 0, "no registered voters")
        drop(emi <= 0, "no ballots cast")
        drop(val <= 0, "no valid votes")
        drop(emi > reg, "more ballots than registered voters (see outliers)")
        drop(reg < self.min_registered, f"fewer than {self.min_registered} registered voters")
        # exact comparison: emitted/registered > max  <=>  emitted*den > max_num*registered
        drop(emi * 1000 > round(self.max_turnout * 1000) * reg, f"turnout above {self.max_turnout:.0%}")
        drop(lead * 1000 > round(self.max_share * 1000) * np.maximum(base, 1), f"leader share above {self.max_share:.0%}")
        return keep, reasons

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Definitions:
    """Which published tool's definitions the battery follows (``--definitions``).

    * ``escrutinio`` (default): leader share over valid votes (what the law counts);
      Kobak's filter (>= 100 registered, turnout and share <= 99 %, so that the atoms at
      100 % do not dominate the share tests); digit tests on every (table, choice) count
      >= 10; P05 with exact half-up rounding; excess kurtosis.
    * ``kobak`` (Kobak, Shpilkin & Pshenichnikov 2016): turnout = ballots issued /
      registered; leader share = leader / (valid + invalid); tables with >= 100
      registered voters, leaving out tables above 99 % turnout or 99 % leader share (their
      code's cap); integer percentages within +-0.05 points against the Monte-Carlo
      expectation. On Russia 2016 and 2021 this gives their published excesses within
      0.1 sd (docs/forensics.md).
    * ``eftoolkit`` (Kalinin & Mebane's Election Forensics Toolkit): 2BL and last-digit
      tests on each table's ballot count, every table counted (tables with 0 registered
      voters too); P05 on round(100 x turnout) with R's half-to-even rounding; population
      skewness; kurtosis not in excess; no table filter (only tables whose turnout is
      undefined or above 100 % are left out); the dip test on the raw turnouts and shares
      of every table (no spreading over cells, no subsample: no seed dependence), its
      p-value from the table.
    """

    name: str = "escrutinio"
    share_of: str = "valid"
    station_filter: StationFilter = StationFilter()
    digit_counts: str = "choices"      # "choices": every (table, choice) count; "ballots": each table's ballots
    p05_rounding: str = "half-up"      # or "half-even" (R's round)
    kurtosis: str = "excess"           # or "pearson" (not in excess)
    # the dip test's values: "spread" ((k + U)/(n + 1): no atoms at 1/2, 2/3...; seeded) or
    # "raw" (k/n as EFToolkit computes them, every table, no subsample: no seed dependence)
    dip_values: str = "spread"

    def to_dict(self) -> dict:
        d = asdict(self)
        return d


DEFINITIONS = {
    "escrutinio": Definitions(),
    "kobak": Definitions("kobak", share_of="valid+invalid", station_filter=StationFilter(100, 0.99, 0.99)),
    "eftoolkit": Definitions("eftoolkit", station_filter=StationFilter(0, 1.0, 1.0), digit_counts="ballots",
                             p05_rounding="half-even", kurtosis="pearson", dip_values="raw"),
}


def fmt_p(p: float | None) -> str:
    """A p-value for people: "< 0.001" rather than 0 or 1e-83, three decimals otherwise."""
    if p is None or (isinstance(p, float) and not math.isfinite(p)):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def fmt_number(x: float | int | None) -> str:
    """Counts with thousands separators; other numbers with four significant digits."""
    if x is None:
        return "n/a"
    if isinstance(x, (int, np.integer)) or (isinstance(x, float) and x.is_integer() and abs(x) >= 1000):
        return f"{int(x):,}"
    if not math.isfinite(float(x)):
        return "n/a"
    return f"{x:,.4g}" if abs(x) >= 1000 else f"{x:.4g}"


def describe_filter(f: dict) -> str:
    parts = []
    if f.get("min_registered"):
        parts.append(f"at least {f['min_registered']:,} registered voters")
    if f.get("max_turnout", 1) < 1:
        parts.append(f"turnout at most {f['max_turnout']:.0%}")
    if f.get("max_share", 1) < 1:
        parts.append(f"leader share at most {f['max_share']:.0%}")
    return ", ".join(parts) if parts else "no filter (only tables whose turnout or share is undefined or above 100 %)"


def _json(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_json(v) for v in x.tolist()]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if math.isfinite(f) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass
class TestResult:
    """One test of the battery.

    ``p_value`` is the p-value under ``null`` (the null the battery uses for decisions:
    the simulated one where the method has it, see ``recommended``); ``p_value_classical``
    and ``p_value_simulated`` keep both when a method computes both.
    """

    __test__ = False  # not a pytest class

    name: str
    statistic: float
    p_value: float | None
    null: str
    n_units: int
    caveat: str
    scope: str = "all"
    effect_size: float | None = None
    effect: str = ""
    p_value_classical: float | None = None
    p_value_simulated: float | None = None
    recommended: str = ""
    excluded: dict[str, int] = field(default_factory=dict)
    p_adjusted: float | None = None
    p_adjusted_bh: float | None = None
    p_adjusted_areas: float | None = None
    citation: str = ""
    details: dict = field(default_factory=dict)

    def summary(self) -> str:
        p = "n/a" if self.p_value is None else f"{self.p_value:.4g}"
        adj = "" if self.p_adjusted is None else f", Holm-adjusted {self.p_adjusted:.4g}"
        eff = "" if self.effect_size is None else f"; effect {self.effect} = {self.effect_size:.4g}"
        exc = sum(self.excluded.values())
        return (f"{self.name} [{self.scope}]: statistic {self.statistic:.4g}, p = {p}{adj} "
                f"under {self.null}; {self.n_units} units ({exc} excluded){eff}. {self.caveat}")

    def to_dict(self) -> dict:
        return _json(asdict(self))


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (used for false-positive rates)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def mc_p_value(observed: float, simulated: np.ndarray, side: str = "greater") -> float:
    """Monte-Carlo p-value (1 + #{as extreme}) / (S + 1) (Davison & Hinkley 1997, eq. 4.11).

    ``side='two'`` measures extremeness as distance from the simulated mean (leave-one-out
    for the simulated values)."""
    sim = np.asarray(simulated, float)
    s = len(sim)
    if side == "greater":
        k = int((sim >= observed).sum())
    elif side == "less":
        k = int((sim <= observed).sum())
    else:
        c = sim.mean()
        # a simulated value is part of the mean it is compared with; its leave-one-out
        # deviation is s/(s-1) times larger, which puts it on the observed value's footing
        scale = s / (s - 1) if s > 1 else 1.0
        k = int((scale * np.abs(sim - c) >= abs(observed - c)).sum())
    return (1 + k) / (s + 1)


def smooth_p_value(observed: float, simulated: np.ndarray, side: str = "two", centre_draws: float = 1.0) -> float:
    """p-value from the simulated null's mean and sd instead of its rank.

    With S simulated values the rank p-value cannot go below 1/(S+1), which Holm across a
    battery can never push under alpha. For statistics that are sums or means over many
    units (normal by the central limit theorem) the prediction tail
    t_{S-1}(|obs - mean| / (sd sqrt(1 + k/S))) is exact under normality and has no floor;
    k = ``centre_draws`` counts how many S-draw means went into the centre (2 when the
    centre is bias-corrected with a second generation of draws)."""
    from escrutinio.forensics._stats import t_sf

    sim = np.asarray(simulated, float)
    s = len(sim)
    if s < 3:
        return float("nan")
    sd = sim.std(ddof=1) * np.sqrt(1 + centre_draws / s)
    if sd == 0:
        return 1.0 if observed == sim.mean() else 0.0
    t = (observed - sim.mean()) / sd
    if side == "greater":
        return float(t_sf(t, s - 1))
    return float(2 * t_sf(abs(t), s - 1))


def chi2_p_value(observed: float, simulated: np.ndarray, centre_draws: float = 1.0) -> float:
    """Upper tail for a chi-square-type distance against S simulated distances.

    The simulated distances are moment-matched to a * chi2_nu (nu = 2 m^2 / v); the
    observed distance over their mean is then F(nu, S nu)-distributed, which carries the
    uncertainty of the estimated scale a (a plain chi-square tail with a plugged-in a is
    anti-conservative with S ~ 30). The observed distance is scaled down by
    (1 + k/S) / (1 + 1/(S-1)) for its centre's extra noise (k as in :func:`smooth_p_value`)."""
    from escrutinio.forensics._stats import f_sf

    sim = np.asarray(simulated, float)
    s = len(sim)
    m, v = sim.mean(), sim.var(ddof=1)
    if s < 3 or m <= 0 or v <= 0:
        return float("nan")
    nu = 2 * m * m / v
    ratio = observed / m / ((1 + centre_draws / s) / (1 + 1 / (s - 1)))
    return float(f_sf(ratio, nu, s * nu))


def group_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for string group keys (vectorised)."""
    uniq, codes = np.unique(keys.astype(str), return_inverse=True)
    return uniq, codes
