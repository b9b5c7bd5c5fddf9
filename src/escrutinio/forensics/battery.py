"""The forensics battery: every method on one election, with multiple-testing control.

Runs digit tests (:mod:`.digits`), distribution tests (:mod:`.distributions`), integer
percentages and coarse spikes (:mod:`.integer_percentages`), the fingerprint and the
Klimek fit (:mod:`.fingerprint`) and the outlier tables (:mod:`.outliers`), nationally
and optionally per area (``by`` = a level such as ``department``).

Multiple testing (Holm 1979; Benjamini & Hochberg 1995, see :mod:`.multiple_testing`):

* the *family* is every test whose p-value is computed under a null that holds for clean
  elections (simulated/binomial-resampling nulls, the dip test's conservative uniform
  null); descriptive tests with classical nulls (normality, zero correlation, classical
  2BL) are shown with their raw p-value but never adjusted, because clean elections
  reject them (Deckert, Myagkov & Ordeshook 2011);
* ``p_adjusted`` (Holm) and ``p_adjusted_bh`` are computed across the national family;
  with ``by``, area tests get their own Holm and BH adjustment across every area x test
  pair (``p_adjusted`` of an area test is that one).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from escrutinio.forensics.core import DEFINITIONS, Definitions, StationData, StationFilter, TestResult, _json
from escrutinio.forensics.digits import digit_tests
from escrutinio.forensics.distributions import distribution_tests
from escrutinio.forensics.fingerprint import KlimekFit, fingerprint, fit_klimek
from escrutinio.forensics.integer_percentages import RoundNumberResult, round_number_tests
from escrutinio.forensics.multiple_testing import benjamini_hochberg, holm
from escrutinio.forensics.outliers import CAVEAT as OUTLIER_CAVEAT, find_outliers, grouping

GENERAL_CAVEAT = ("Statistical anomalies are not fraud. Every test here can fire on an honest count when voters, "
                  "regions or counting habits differ from the test's null; compare with the placebo rows and "
                  "check flagged actas before drawing conclusions.")


# what each test's statistic is measured in (the JSON's "unit"): shares are fractions in
# [0, 1] of the units the test counts, counts are numbers of tables
UNITS = {
    "2bl_mean": "mean second digit", "2bl_distribution": "chi-square", "last_digit_distribution": "chi-square",
    "last_digit_mean": "mean last digit", "last_digit_zero_five": "share of counts",
    "last_pair_repeated": "share of counts", "last_pair_adjacent": "share of counts",
    "p05_turnout": "share of tables", "p05_leader": "share of tables",
    "turnout_skewness": "skewness", "leader_share_skewness": "skewness",
    "turnout_kurtosis": "kurtosis", "leader_share_kurtosis": "kurtosis",
    "turnout_dip": "dip (probability)", "leader_share_dip": "dip (probability)",
    "turnout_share_correlation": "Pearson r", "sobyanin_sukhovolsky_slope": "slope",
}


def unit_of(t: TestResult) -> str:
    if t.details.get("unit"):
        return t.details["unit"]
    return UNITS.get(t.name, "tables" if t.name.startswith(("integer_pct", "coarse_spikes")) else "")


def in_family(t: TestResult) -> bool:
    return bool(t.details.get("in_family", True)) and t.p_value is not None


@dataclass
class BatteryResult:
    label: str
    n_units: int
    filter: dict
    tests: list[TestResult]
    integer_percentages: RoundNumberResult | None
    coarse_spikes: RoundNumberResult | None
    klimek: KlimekFit | None
    fingerprint: list
    outliers: list[dict]
    by: str | None = None
    seed: int | None = None
    alpha: float = 0.05
    timings: dict = field(default_factory=dict)
    placebo: dict | None = None
    caveat: str = GENERAL_CAVEAT
    digit_counts: dict = field(default_factory=dict)
    distributions: dict = field(default_factory=dict)
    definitions: Definitions = field(default_factory=Definitions)
    outlier_note: str | None = None
    # --by: the areas left out for having fewer than ``min_area_tables`` tables
    skipped_areas: list = field(default_factory=list)
    min_area_tables: int | None = None

    def national(self) -> list[TestResult]:
        return [t for t in self.tests if t.scope == "all"]

    def summary(self) -> str:
        """The battery for people: one aligned line per test, then what the marks mean,
        the nulls and the caveats. No Python structures, no truncated columns."""
        from escrutinio.forensics.core import describe_filter, fmt_number, fmt_p

        d = self.definitions
        share = "valid + invalid votes (all ballots cast)" if d.share_of == "valid+invalid" else "valid votes"
        lines = [f"Forensics battery: {self.label} ({self.n_units:,} tables)",
                 f"Definitions: {d.name}. Leader share = leader's votes / {share}. Share-based tests use tables with "
                 f"{describe_filter(self.filter)}. Seed {self.seed}.", ""]
        header = ("test", "scope", "statistic", "p", "p (Holm)", "flagged", "placebo")
        rows = []
        for t in self.tests:
            fam = in_family(t)
            flagged = fam and t.p_adjusted is not None and t.p_adjusted < self.alpha
            placebo = t.details.get("uninformative")
            rows.append((t.name, t.scope, fmt_number(t.statistic), fmt_p(t.p_value),
                         fmt_p(t.p_adjusted) if fam else "-", "*" if flagged else "",
                         "fires on " + " and ".join(placebo) if placebo else ""))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        right = {2, 3, 4}

        def line(r):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

        lines.append(line(header))
        lines += [line(r) for r in rows]
        n_fam = sum(1 for t in self.tests if in_family(t) and t.scope == "all")
        lines += ["",
                  f"p (Holm): the p-value adjusted for testing {n_fam} national tests at once (Holm 1979; area tests "
                  "are adjusted across all area x test pairs). "
                  f"* = flagged: adjusted p below {self.alpha:g}. "
                  "- = descriptive test, outside the multiple-testing family: its classical null (normality, no "
                  "correlation) is rejected by clean elections too, so it is never adjusted or flagged. "
                  "\"fires on ...\": the test also fires on that placebo (a reference election, or clean copies "
                  "of this election more often than chance), so it is uninformative here. p < 0.001 is printed as "
                  "\"< 0.001\"."]
        nulls: dict[str, list[str]] = {}
        cav: dict[str, list[str]] = {}
        for t in self.tests:
            if t.scope == "all":
                nulls.setdefault(t.null, []).append(t.name)
                cav.setdefault(t.caveat, []).append(t.name)
        lines += ["", "Nulls:"] + [f"  {', '.join(v)}: {k}" for k, v in nulls.items()]
        for r in (self.integer_percentages, self.coarse_spikes):
            if r is not None:
                lines += ["", r.summary()]
        if self.klimek is not None:
            lines += ["", self.klimek.summary()]
        kinds: dict[str, int] = {}
        for o in self.outliers:
            kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
        counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        lines += ["", f"Outliers: {len(self.outliers):,} flags" + (f" ({counts})" if counts else "")
                  + f". {OUTLIER_CAVEAT}"]
        if self.outlier_note:
            lines.append(self.outlier_note)
        if self.by is not None:
            lines += ["", self.areas_line()]
        if self.placebo:
            lines += ["", "Placebo:"]
            for name, info in self.placebo.items():
                fired = ", ".join(info.get("fired", [])) or "none"
                lines.append(f"  {name} ({info.get('kind', '')}): tests firing: {fired}")
        lines += ["", "Caveats:", f"  {self.caveat}"] + [f"  {', '.join(v)}: {k}" for k, v in cav.items()]
        return "\n".join(lines)

    def areas_line(self) -> str:
        """Which areas of ``by`` were tested and which were left out (never silently)."""
        tested = sorted({t.scope for t in self.tests if t.scope != "all"})
        line = f"Areas ({self.by}): {len(tested):,} tested"
        if not self.skipped_areas:
            return line + f"; none left out (each has at least {self.min_area_tables:,} tables)."
        names = ", ".join(f"{a} ({n:,})" for a, n in self.skipped_areas[:30])
        more = f" and {len(self.skipped_areas) - 30:,} more" if len(self.skipped_areas) > 30 else ""
        return (line + f"; {len(self.skipped_areas):,} left out for having fewer than {self.min_area_tables:,} tables "
                f"(--min-tables): {names}{more}.")

    def to_dict(self) -> dict:
        tests = []
        for t in self.tests:
            d = {"name": t.name, "scope": t.scope, "statistic": t.statistic, "unit": unit_of(t), "p_value": t.p_value,
                 "p_adjusted": t.p_adjusted, "null": t.null, "n_units": t.n_units, "caveat": t.caveat,
                 "p_adjusted_bh": t.p_adjusted_bh, "p_value_classical": t.p_value_classical,
                 "p_value_simulated": t.p_value_simulated, "recommended": t.recommended,
                 "in_family": in_family(t), "effect_size": t.effect_size, "effect": t.effect,
                 "excluded": t.excluded, "citation": t.citation, "uninformative": t.details.get("uninformative")}
            tests.append(d)
        ip = {}
        if self.integer_percentages is not None:
            ip = self.integer_percentages.to_dict()
        out = {"label": self.label, "n_units": self.n_units, "filter": self.filter, "seed": self.seed,
               "tests": tests, "integer_percentages": ip,
               "coarse_spikes": self.coarse_spikes.to_dict() if self.coarse_spikes else {},
               "klimek": self.klimek.to_dict() if self.klimek else None,
               "outliers": self.outliers, "placebo": self.placebo, "timings": self.timings, "caveat": self.caveat,
               "definitions": self.definitions.to_dict(), "outlier_note": self.outlier_note,
               "by": self.by, "min_area_tables": self.min_area_tables,
               "areas_skipped": [{"area": a, "tables": n} for a, n in self.skipped_areas]}
        return _json(out)


def _adjust(tests: list[TestResult], areas: bool = False) -> None:
    fam = [t for t in tests if in_family(t)]
    if not fam:
        return
    ph = holm([t.p_value for t in fam])
    pb = benjamini_hochberg([t.p_value for t in fam])
    for t, a, b in zip(fam, ph, pb):
        t.p_adjusted = float(a)
        t.p_adjusted_bh = float(b)
        if areas:
            t.p_adjusted_areas = float(a)


class NullCache:
    """Binomial nulls shared by an election, its areas and its placebo copies: the digit
    class probabilities and the round-number hit probabilities of every distinct
    (size, count) pair, each computed once per run."""

    def __init__(self, min_count: int = 10, p05_rounding: str = "half-up"):
        from escrutinio.forensics.binomial import HitCache
        from escrutinio.forensics.digits import DigitNull
        from escrutinio.forensics.integer_percentages import hit_coarse, hit_integer_percent, hit_p05, hit_p05_half_even

        self.digits = DigitNull(min_count=min_count)
        self.p05_rounding = p05_rounding
        self.hits = HitCache([hit_integer_percent, hit_coarse,
                              hit_p05_half_even if p05_rounding == "half-even" else hit_p05])

    GRID_LIMIT = 700

    def prepare(self, data: StationData) -> "NullCache":
        """With tables of at most ``GRID_LIMIT`` registered voters, compute every (size,
        count) pair up to the largest electorate at once: the election and all its placebo
        copies (same electorates) then look their pmfs up instead of computing them."""
        top = int(data.registered.max()) if data.n else 0
        if 0 < top <= self.GRID_LIMIT and int(data.votes.max(initial=0)) <= top:
            self.digits.prepare_grid(top)
            self.hits.prepare_grid(top)
        return self


def core_tests(data: StationData, seed, draws: int, station_filter: StationFilter, scope: str,
               digit_sims: int | None, dip_max_n: int, cache: NullCache | None = None,
               definitions: Definitions = DEFINITIONS["escrutinio"]) -> tuple[list[TestResult], dict]:
    if cache is None or cache.p05_rounding != definitions.p05_rounding:
        cache = NullCache(p05_rounding=definitions.p05_rounding)
    ss = np.random.SeedSequence(seed)
    s1, s2, s3 = (int(x.generate_state(1)[0]) for x in ss.spawn(3))
    rn = round_number_tests(data, draws=draws, seed=s1, station_filter=station_filter, scope=scope,
                            which=("integer", "coarse", "p05"), hit_cache=cache.hits,
                            p05_rounding=definitions.p05_rounding)
    tests = digit_tests(data, sims=digit_sims, seed=s2, scope=scope, null=cache.digits,
                        counts=definitions.digit_counts)
    tests += distribution_tests(data, station_filter=station_filter, seed=s3, draws=draws, scope=scope,
                                dip_max_n=dip_max_n, kurtosis=definitions.kurtosis, dip_values=definitions.dip_values)
    tests += rn["p05"].as_tests() + rn["integer"].as_tests() + rn["coarse"].as_tests()
    return tests, rn


def _check_counts(**values) -> None:
    """The Python API's bounds, as the command line's: a seed is a whole number >= 0, draws
    at least 10 (a Monte-Carlo null needs them), other counts >= 0 (a one-line UsageError,
    never a numpy traceback)."""
    from escrutinio.errors import UsageError

    least = {"draws": 10, "area_draws": 10, "min_area_units": 1}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name} must be a whole number, got {value!r}")
        if value < least.get(name, 0):
            raise UsageError(f"{name} must be at least {least.get(name, 0)}, got {value}")


def run_battery(data: StationData, by: str | None = None, seed: int | None = 0, draws: int = 1000,
                station_filter: StationFilter | None = None, klimek: bool = True, klimek_boot: int = 100,
                digit_sims: int | None = None, area_draws: int = 1000, outliers: bool = True,
                outlier_options: dict | None = None, dip_max_n: int = 20_000, alpha: float = 0.05,
                min_area_units: int = 200, cache: NullCache | None = None,
                definitions: Definitions | str | None = None, on_national=None) -> BatteryResult:
    """Run the whole battery on ``data``. ``by`` names a key of ``data.groups`` for the
    area-level tests (areas with fewer than ``min_area_units`` tables are skipped and
    listed in the result's timings as skipped). ``definitions`` (a :class:`Definitions` or
    one of "escrutinio", "kobak", "eftoolkit") sets the leader-share denominator, the
    default table filter and the digit, P05 and kurtosis conventions; an explicit
    ``station_filter`` overrides its filter. ``on_national()``, if given, is called once the
    national tests are done (their pairs are then in ``cache``): the command line starts
    the placebo copies there, beside the areas, the Klimek fit and the outliers."""
    _check_counts(seed=seed, draws=draws, area_draws=area_draws, min_area_units=min_area_units,
                  klimek_boot=klimek_boot, digit_sims=digit_sims)
    if isinstance(definitions, str):
        if definitions not in DEFINITIONS:
            from escrutinio.errors import UsageError
            raise UsageError(f"definitions {definitions!r}: use one of {', '.join(DEFINITIONS)}")
        definitions = DEFINITIONS[definitions]
    if definitions is None:
        # a data set whose share denominator was chosen keeps it
        definitions = DEFINITIONS["escrutinio"]
        if data.share_of != definitions.share_of:
            from dataclasses import replace
            definitions = replace(definitions, share_of=data.share_of)
    if data.share_of != definitions.share_of:
        data = data.with_share_of(definitions.share_of)
    filt = station_filter or definitions.station_filter
    if cache is None or cache.p05_rounding != definitions.p05_rounding:
        cache = NullCache(p05_rounding=definitions.p05_rounding)
    if by is not None and by not in data.groups:
        from escrutinio.errors import UsageError
        raise UsageError(f"--by {by!r}: no such level; available: {sorted(data.groups)}")
    timings: dict = {}
    t0 = time.perf_counter()
    tests, rn = core_tests(data, seed, draws, filt, "all", digit_sims, dip_max_n, cache, definitions)
    _adjust(tests)
    timings["national_tests_s"] = time.perf_counter() - t0
    if on_national is not None:
        on_national()
    if by is not None:
        t1 = time.perf_counter()
        keys = data.groups[by]
        area_tests: list[TestResult] = []
        skipped = []
        areas, codes, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for k, area in enumerate(areas):
            if sizes[k] < min_area_units:
                skipped.append((str(area), int(sizes[k])))
                continue
            sub = data.subset(np.sort(order[bounds[k]:bounds[k + 1]]))
            at, _ = core_tests(sub, None if seed is None else seed + 1000 + k, area_draws, filt, f"{by}={area}",
                               digit_sims, dip_max_n, cache, definitions)
            area_tests += at
        _adjust(area_tests, areas=True)
        tests += area_tests
        timings["area_tests_s"] = time.perf_counter() - t1
        timings["areas_skipped_fewer_than_%d_tables" % min_area_units] = [a for a, _ in skipped]
    kl = None
    if klimek:
        t2 = time.perf_counter()
        kl = fit_klimek(data, boot=klimek_boot, seed=seed)
        timings["klimek_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    outs = find_outliers(data, **(outlier_options or {})) if outliers else []
    outlier_note = grouping(data, (outlier_options or {}).get("group_levels"))[3] if outliers else None
    timings["outliers_s"] = time.perf_counter() - t3
    # chart data for the report: digit frequencies and marginal histograms
    keep, _ = filt.apply(data)
    t = data.emitted[keep] / data.registered[keep]
    s = data.votes[keep, data.leader_index] / data.share_base[keep]
    dig = {x.name: x.details for x in tests if x.scope == "all" and x.name in ("2bl_mean", "last_digit_distribution")}
    timings["total_s"] = time.perf_counter() - t0
    return BatteryResult(label=data.label, n_units=data.n, filter=filt.to_dict(), tests=tests,
                         integer_percentages=rn["integer"], coarse_spikes=rn["coarse"], klimek=kl,
                         fingerprint=fingerprint(data).tolist(), outliers=outs, by=by, seed=seed, alpha=alpha,
                         timings=timings, digit_counts=dig, definitions=definitions, outlier_note=outlier_note,
                         skipped_areas=skipped if by is not None else [],
                         min_area_tables=min_area_units if by is not None else None,
                         distributions={"turnout": np.histogram(t, 100, (0, 1))[0].tolist(),
                                        "leader_share": np.histogram(s, 100, (0, 1))[0].tolist(),
                                        "leader": data.leader})
