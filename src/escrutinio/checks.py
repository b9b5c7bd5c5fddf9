"""Per-acta checks: named rules with a severity, run over whole columns.

A failing acta is never dropped: it stays in the totals as published, and the check
report says how many actas failed and how many ballots they hold. Checks always run on
the *published* numbers (withdrawn candidacies included), not on the law view.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import polars as pl

from escrutinio.model import Snapshot

SEVERITIES = ("error", "warning", "info")
ACTA_KEY = ["contest", "snapshot", "unit"]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    description: str


RULES: dict[str, Rule] = {r.name: r for r in [
    Rule("choices_sum_to_valid", "error", "the votes per choice add up to the valid votes written on the acta"),
    Rule("valid_blank_null_sum_to_emitted", "error", "valid + blank + null = emitted"),
    Rule("emitted_within_registered", "error", "ballots emitted do not exceed registered voters"),
    Rule("matches_system_recount", "error", "reported valid and emitted match the count system's recomputation (*_SISTEMA)"),
    Rule("unique_unit", "error", "each table code appears once in a snapshot"),
    Rule("non_negative", "error", "no vote count is negative (non-integer values are refused when reading)"),
    Rule("record_repaired", "warning", "the record was malformed in the source (e.g. an unquoted delimiter) and repaired while reading"),
    Rule("present_in_later_snapshot", "error", "a table published in one snapshot is still published in every later one"),
    Rule("unchanged_between_snapshots", "error", "a table's published numbers do not change between snapshots"),
]}

FINDING_SCHEMA = {
    "rule": pl.Utf8, "severity": pl.Utf8, "contest": pl.Utf8, "snapshot": pl.Utf8, "source": pl.Utf8,
    "source_row": pl.Int64, "unit": pl.Utf8, "detail": pl.Utf8, "emitted": pl.Int64,
}


@dataclass
class CheckReport:
    """All findings, one row each (a table can fail several rules)."""

    findings: pl.DataFrame
    snapshots: list[str] = field(default_factory=list)
    units_checked: int = 0
    notes: list[str] = field(default_factory=list)
    contests: list[str] = field(default_factory=list)

    def filter(self, rules: Sequence[str] | None = None, severity: str | None = None) -> "CheckReport":
        f = self.findings
        if rules:
            f = f.filter(pl.col("rule").is_in(list(rules)))
        if severity:
            allowed = SEVERITIES[: SEVERITIES.index(severity) + 1]
            f = f.filter(pl.col("severity").is_in(list(allowed)))
        return CheckReport(f, self.snapshots, self.units_checked, self.notes, self.contests)

    def counts(self) -> list[dict]:
        """Per rule: actas failing and the ballots they hold."""
        out = []
        for name, rule in RULES.items():
            hit = self.findings.filter(pl.col("rule") == name)
            units = hit.select(ACTA_KEY).unique().height
            out.append({
                "rule": name, "severity": rule.severity, "description": rule.description,
                "failing_units": units,
                "ballots": int(hit.unique(ACTA_KEY).get_column("emitted").fill_null(0).sum()),
            })
        return out

    def flagged_units(self, snapshot: str | None = None) -> pl.Series:
        f = self.findings if snapshot is None else self.findings.filter(pl.col("snapshot") == snapshot)
        return f.get_column("unit").unique()

    def to_dict(self) -> dict:
        return {
            "snapshots": self.snapshots,
            "units_checked": self.units_checked,
            "failing_units": self.failing_units,
            "rules": self.counts(),
            "findings": self.findings.to_dicts(),
            **({"notes": self.notes} if self.notes else {}),
        }

    def to_polars(self) -> pl.DataFrame:
        """The findings, one row each."""
        return self.findings

    def _repr_html_(self) -> str:
        import html

        from escrutinio.notebook import frame_html

        return f"<div><pre>{html.escape(self.summary())}</pre>{frame_html(self.findings)}</div>"

    def __repr__(self) -> str:
        return self.summary()

    @property
    def failing_units(self) -> int:
        """Actas failing at least one rule. An acta is one contest's sheet at one table in
        one snapshot: a file holding two contests has two actas per table."""
        return self.findings.select(ACTA_KEY).unique().height

    def listing(self, limit: int = 200) -> str:
        """The summary, then the findings grouped by contest and snapshot, one line each."""
        text = self.summary()
        f = self.findings
        if not f.height:
            return text
        lines = []
        shown = f.head(limit)
        groups = shown.select(["contest", "snapshot"]).unique(maintain_order=True).rows()
        for contest, snapshot in groups:
            part = shown.filter((pl.col("contest") == contest) & (pl.col("snapshot") == snapshot))
            total = f.filter((pl.col("contest") == contest) & (pl.col("snapshot") == snapshot))
            n = total.select("unit").unique().height
            lines.append(f"\n{contest} · {snapshot}: {n:,} acta{'s' if n != 1 else ''}, {total.height:,} finding{'s' if total.height != 1 else ''}")
            for r in part.iter_rows(named=True):
                lines.append(f"  {r['rule']:<30} {Path(r['source']).name} row {r['source_row']}  table {r['unit']}: {r['detail']}")
        text += "\n" + "\n".join(lines)
        if f.height > limit:
            text += f"\n  ... {f.height - limit:,} more findings (use --format csv -o FILE)"
        return text

    def summary(self) -> str:
        n = self.failing_units
        where = f"{len(self.snapshots)} snapshot(s)" + (f" of {len(self.contests)} contests" if len(self.contests) > 1 else "")
        lines = [f"{self.units_checked:,} actas checked in {where}; "
                 f"{n:,} fail{'s' if n == 1 else ''} at least one rule, with {self.findings.height:,} finding(s) in all"]
        for c in self.counts():
            lines.append(f"  [{c['severity']:<7}] {c['rule']:<34} {c['failing_units']:>6,} actas  {c['ballots']:>10,} ballots")
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def _findings(snapshot: Snapshot, mask: pl.Expr, rule: str, detail: pl.Expr) -> pl.DataFrame:
    f = snapshot.frame
    # rechunked: polars 2.1 panics in pl.format ("i < self.len()") on some filtered frames
    # (Russia 2016's protocols), and a contiguous copy of the failing rows avoids it
    hit = f.filter(mask).rechunk()
    return hit.select(
        pl.lit(rule).alias("rule"),
        pl.lit(RULES[rule].severity).alias("severity"),
        pl.lit(snapshot.contest).alias("contest"),
        pl.lit(snapshot.name).alias("snapshot"),
        pl.lit(snapshot.source).alias("source"),
        pl.col("source_row").cast(pl.Int64),
        pl.col("unit").cast(pl.Utf8),
        detail.cast(pl.Utf8).alias("detail"),
        pl.col("emitted").cast(pl.Int64),
    )


def _s(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Utf8)


@functools.lru_cache(maxsize=256)
def _layout_rules(choices: tuple[str, ...], valid_reported: bool, emitted_derived: bool) -> tuple:
    """The rules whose expressions depend on the layout alone, built once per layout:
    building them took about a third of a one-row check (an observer's copy, checked on
    every second entry; issue 26). Polars expressions are immutable, so they are shared."""
    cols = [pl.col(c) for c in choices]
    choice_sum = pl.sum_horizontal(cols)
    valid = pl.coalesce(pl.col("valid_reported"), choice_sum)
    rules: list[tuple[str, pl.Expr, pl.Expr]] = []  # (rule, mask, detail)
    if valid_reported:
        m = pl.col("valid_reported").is_not_null() & (choice_sum != pl.col("valid_reported"))
        rules.append(("choices_sum_to_valid", m,
                      pl.format("choices add up to {}, the acta says valid = {}", choice_sum, pl.col("valid_reported"))))
    if not emitted_derived:
        total = valid + pl.col("blank") + pl.col("null")
        rules.append(("valid_blank_null_sum_to_emitted", total != pl.col("emitted"),
                      pl.format("valid {} + blank {} + null {} = {}, the acta says emitted = {}",
                                valid, pl.col("blank"), pl.col("null"), total, pl.col("emitted"))))
    rules.append(("emitted_within_registered", pl.col("emitted") > pl.col("registered"),
                  pl.format("emitted {} > registered {}", pl.col("emitted"), pl.col("registered"))))
    sys_v = pl.col("valid_system").is_not_null() & pl.col("valid_reported").is_not_null() & (pl.col("valid_system") != pl.col("valid_reported"))
    sys_e = pl.col("emitted_system").is_not_null() & (pl.col("emitted_system") != pl.col("emitted"))
    rules.append(("matches_system_recount", sys_v | sys_e,
                  pl.format("valid {} vs system {}; emitted {} vs system {}", pl.col("valid_reported"),
                            pl.col("valid_system"), pl.col("emitted"), pl.col("emitted_system"))))
    numeric = ["registered", *choices, "blank", "null", "emitted"]
    neg = pl.any_horizontal([pl.col(c) < 0 for c in numeric])
    neg_cols = pl.concat_str([pl.when(pl.col(c) < 0).then(pl.lit(f"{c}=") + _s(pl.col(c))) for c in numeric],
                             separator=" ", ignore_nulls=True)
    rules.append(("non_negative", neg, pl.format("negative: {}", neg_cols)))
    return tuple(rules)


def check_snapshot(snapshot: Snapshot) -> list[pl.DataFrame]:
    f = snapshot.frame
    rules = list(_layout_rules(tuple(snapshot.choices), f.get_column("valid_reported").null_count() < f.height,
                               "emitted" in snapshot.derived))
    # distinct hashes prove distinct codes (equal codes hash alike); polars' is_duplicated on
    # text is ten times slower, so it runs only when two hashes meet
    if f.height > 1 and f.select(pl.col("unit").hash().n_unique()).item() < f.height:
        rules.append(("unique_unit", pl.col("unit").is_duplicated(),
                      pl.format("table code {} appears {} times", pl.col("unit"), pl.len().over("unit"))))
    if snapshot.repaired_rows:
        rules.append(("record_repaired", pl.col("source_row").is_in(list(snapshot.repaired_rows)),
                      pl.lit("the source line had more fields than the header; extra fields merged into the place name")))
    # every rule's count in one pass over the frame (the rules run in parallel); only the
    # rules that some acta fails go back to the frame for their findings
    hits = f.select([m.fill_null(False).sum().alias(name) for name, m, _ in rules]).row(0, named=True)
    return [_findings(snapshot, m, name, detail) for name, m, detail in rules if hits[name]]


def check_series(series: Sequence[Snapshot]) -> list[pl.DataFrame]:
    """Cross-snapshot rules over one contest's snapshots in export order."""
    out = []
    for before, after in zip(series, series[1:]):
        numeric = ["registered", *before.choices, "blank", "null", "emitted"]
        common = [c for c in numeric if c in after.frame.columns]
        a = before.frame.select(["unit", *common]).unique("unit", keep="first")
        b = after.frame.select(["unit", "source_row", *common]).unique("unit", keep="first")
        gone = a.join(b.select("unit"), on="unit", how="anti")
        if gone.height:
            detail = f"published in {before.name}, missing from later {after.name}"
            hit = before.frame.join(gone.select("unit"), on="unit", how="semi")
            out.append(_findings(before, pl.col("unit").is_in(hit.get_column("unit").implode()), "present_in_later_snapshot", pl.lit(detail)))
        joined = a.join(b, on="unit", suffix="__after")
        diff = pl.any_horizontal([pl.col(c) != pl.col(f"{c}__after") for c in common])
        changed = joined.filter(diff)
        if changed.height:
            detail = pl.concat_str(
                [pl.when(pl.col(c) != pl.col(f"{c}__after")).then(pl.format(f"{c} {{}}→{{}}", pl.col(c), pl.col(f"{c}__after")))
                 for c in common], separator=", ", ignore_nulls=True)
            details = changed.select("unit", detail.alias("detail"))
            hit = after.frame.join(details, on="unit", how="inner")
            out.append(hit.select(
                pl.lit("unchanged_between_snapshots").alias("rule"), pl.lit("error").alias("severity"),
                pl.lit(after.contest).alias("contest"), pl.lit(after.name).alias("snapshot"), pl.lit(after.source).alias("source"),
                pl.col("source_row").cast(pl.Int64), pl.col("unit").cast(pl.Utf8),
                (pl.lit(f"changed since {before.name}: ") + pl.col("detail")).alias("detail"), pl.col("emitted").cast(pl.Int64)))
    return out


def run_checks(snapshots: Iterable[Snapshot], series: bool = True) -> CheckReport:
    """Run every rule on every snapshot, and the cross-snapshot rules on each contest's
    snapshots in export order."""
    snapshots = list(snapshots)
    parts: list[pl.DataFrame] = []
    for s in snapshots:
        parts.extend(check_snapshot(s))
    notes: list[str] = []
    if series:
        # successive snapshots are one election's dated exports of one contest; files of
        # different elections, or undated files, have no order to check against
        by_contest: dict[tuple[str, str], list[Snapshot]] = {}
        for s in snapshots:
            by_contest.setdefault((s.election, s.contest), []).append(s)
        for (election, contest), items in by_contest.items():
            if len(items) < 2:
                continue
            undated = [s.name for s in items if s.exported_at is None]
            if undated:
                notes.append(f"{election} · {contest}: cross-snapshot rules skipped, {len(undated)} file(s) carry no "
                             f"export time to order them by ({', '.join(undated[:3])})")
                continue
            ordered = sorted(items, key=lambda s: s.exported_at)
            latest_units = ordered[-1].frame.get_column("unit").implode()
            disjoint = [s.name for s in ordered[:-1]
                        if (s.frame.get_column("unit").is_in(latest_units).mean() or 0.0) < 0.5]
            if disjoint:
                # parts of one count, not successive exports: every table would be "missing later"
                notes.append(f"{election} · {contest}: cross-snapshot rules skipped, {', '.join(disjoint[:3])} shares "
                             f"fewer than half its tables with the latest export, so these are not successive exports")
                continue
            parts.extend(check_series(ordered))
    parts = [p.cast(FINDING_SCHEMA) for p in parts if p.height]
    findings = pl.concat(parts) if parts else pl.DataFrame(schema=FINDING_SCHEMA)
    findings = findings.sort(["contest", "snapshot", "rule", "source_row"])
    return CheckReport(findings, list(dict.fromkeys(s.name for s in snapshots)), sum(s.n_units for s in snapshots), notes,
                       list(dict.fromkeys(s.contest for s in snapshots)))
