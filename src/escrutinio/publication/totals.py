"""Every published total, recomputed from the results log alone (contract C3).

- Official totals of a contest are the sum of the ``official_record`` values of the
  ``official_snapshot`` in force for it: the one exported last (``publication.precedence``;
  the one announced last among equal or missing export times). A snapshot replaces the
  previous one wholly, contest by contest; an earlier export announced later is history:
  its records are checked and counted against its declaration, and not added.
- Copy totals take, for each (unit, contest), the latest ``copy_agreed``,
  ``copy_resolved`` or ``quarantine_released`` entry.

Records are buffered as columns and folded with Polars in batches: an official snapshot
is summed to one row per finest area as it streams past, so memory grows with the
number of areas (and, for copies, of distinct actas), never with the log's length.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import polars as pl

from escrutinio.publication.precedence import precedence

TOTAL_FIELDS = ("registered", "blank", "null", "emitted")
# Numbers an acta may carry that are not votes for a choice.
NOT_CHOICES = frozenset(TOTAL_FIELDS) | {"valid", "valid_reported", "valid_system", "emitted_system"}
COPY_KINDS = frozenset({"copy_agreed", "copy_resolved", "quarantine_released"})
KNOWN_KINDS = COPY_KINDS | {"official_snapshot", "official_record", "discrepancy_explained", "pvt_design_attached"}
PATH_SEPARATOR = " / "
_L, _V = "L\x1f", "V\x1f"  # column prefixes: level names and value names cannot clash


class _Columns:
    """Rows with varying keys, stored as lists per column (None where a row lacks one)."""

    __slots__ = ("n", "cols")

    def __init__(self) -> None:
        self.n = 0
        self.cols: dict[str, list] = {}

    def add(self, row: dict) -> None:
        cols, n = self.cols, self.n
        for k, v in row.items():
            col = cols.get(k)
            if col is None:
                col = cols[k] = [None] * n
            col.append(v)
        self.n = n = n + 1
        if len(row) != len(cols):
            for col in cols.values():
                if len(col) < n:
                    col.append(None)

    def frame(self) -> pl.DataFrame:
        schema = {}
        for k in self.cols:
            schema[k] = pl.Int64 if k.startswith(_V) or k in ("_seq", "_area") else pl.Utf8
        return pl.DataFrame(self.cols, schema=schema, strict=True)


def _row(seq: int, payload: dict) -> dict:
    row = {"_seq": seq, "_unit": payload["unit"]}
    for k, v in payload["levels"].items():
        row[_L + k] = v
    for k, v in payload["values"].items():
        row[_V + k] = v
    return row


class RecordError(ValueError):
    def __init__(self, seq: int, message: str):
        self.seq = seq
        super().__init__(message)


def _check_payload(seq: int, kind: str, payload: dict) -> None:
    for key in ("unit", "contest", "levels", "values"):
        if key not in payload:
            raise RecordError(seq, f"{kind} entry has no {key!r}")
    if not isinstance(payload["unit"], str) or not isinstance(payload["contest"], str):
        raise RecordError(seq, f"{kind} entry: unit and contest must be strings")
    levels, values = payload["levels"], payload["values"]
    if not isinstance(levels, dict) or not all(isinstance(v, str) or v is None for v in levels.values()):
        raise RecordError(seq, f"{kind} entry: levels must map level names to area names")
    if not isinstance(values, dict) or not values:
        raise RecordError(seq, f"{kind} entry: values must be an object of integers")
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise RecordError(seq, f"{kind} entry: value {k!r} is {v!r}, not an integer")
        if v < 0:
            raise RecordError(seq, f"{kind} entry: value {k!r} is negative ({v})")
        if v > MAX_VALUE:
            raise RecordError(seq, f"{kind} entry: value {k!r} is {v}, beyond any count (at most {MAX_VALUE})")


@dataclass
class SnapshotInfo:
    seq: int
    snapshot_id: int
    contests: list[str]
    units: int | None
    election: str | None
    source: str | None
    exported_at: str | None
    levels: list[str] | None
    records: int = 0


#: a value the log may carry: it fits int64; sums are taken in Int128, so that no total
#: of up to 2^64 such values wraps (the server itself refuses counts over 2^31 - 1)
MAX_VALUE = 2**63 - 1


def _fold(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Sum record frames to one row per finest area (all level columns), exactly."""
    df = pl.concat(frames, how="diagonal_relaxed")
    keys = [c for c in df.columns if c.startswith(_L)]
    values = [c for c in df.columns if c.startswith(_V)]
    aggs = [pl.col(c).cast(pl.Int128).sum() for c in values]
    aggs.append(pl.col("_units").sum() if "_units" in df.columns else pl.len().cast(pl.Int64).alias("_units"))
    if not keys:
        return df.select(aggs)
    return df.group_by(keys).agg(aggs)


class ContestTotals:
    """The totals of one contest from one source, at every level."""

    def __init__(self, source: str, contest: str, leaves: pl.DataFrame, level_order: list[str] | None,
                 snapshot: SnapshotInfo | None = None):
        self.source, self.contest, self.snapshot = source, contest, snapshot
        # leaves: one row per finest area; columns L<level>, V<field>, _units
        self._leaves = leaves
        present = [c[len(_L):] for c in leaves.columns if c.startswith(_L)]
        if level_order:
            order = [lv for lv in level_order if lv in present] + [lv for lv in present if lv not in level_order]
        else:
            # Coarse levels have fewer distinct areas; a path prefix never has more.
            counts = {lv: leaves.select(pl.col(_L + lv).n_unique()).item() for lv in present}
            order = sorted(present, key=lambda lv: (counts[lv], present.index(lv)))
        self.levels: list[str] = order
        fields = [c[len(_V):] for c in leaves.columns if c.startswith(_V)]
        self.choices: list[str] = [f for f in fields if f not in NOT_CHOICES]
        self.fields = fields

    def with_level_order(self, order: list[str]) -> "ContestTotals":
        return ContestTotals(self.source, self.contest, self._leaves, order, self.snapshot)

    def _sums(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.sum_horizontal([pl.col(_V + c).cast(pl.Int128) for c in self.choices]).alias(_V + "valid")
            if self.choices else pl.lit(0, pl.Int64).alias(_V + "valid"))

    def total(self) -> dict:
        leaves = self._sums(self._leaves)
        present = [f for f in (*TOTAL_FIELDS, "valid", *self.choices) if _V + f in leaves.columns]
        sums = leaves.select([pl.col("_units").sum()] + [pl.col(_V + f).cast(pl.Int128).sum() for f in present]).row(0, named=True)
        out = {"units": int(sums["_units"] or 0)}
        for f in (*TOTAL_FIELDS, "valid"):
            out[f] = int(sums.get(_V + f) or 0)
        out["choices"] = {c: int(sums[_V + c] or 0) for c in self.choices}
        return out

    def by_level(self, level: str) -> pl.DataFrame:
        """One row per area at ``level``: path, area, units, totals and choices."""
        if level not in self.levels:
            raise KeyError(f"no level {level!r} in the log's records (levels: {self.levels})")
        keys = self.levels[: self.levels.index(level) + 1]
        leaves = self._sums(self._leaves)
        present = [f for f in (*TOTAL_FIELDS, "valid", *self.choices) if _V + f in leaves.columns]
        rows = (
            leaves.group_by([_L + k for k in keys])
            .agg([pl.col("_units").sum().alias("units")] + [pl.col(_V + f).cast(pl.Int128).sum().alias(f) for f in present])
            .with_columns(
                pl.concat_str([pl.col(_L + k).fill_null("?") for k in keys], separator=PATH_SEPARATOR).alias("path"),
                pl.col(_L + keys[-1]).alias("area"),
            )
            .select(["path", "area", "units", *present])
            .sort("path")
        )
        return rows

    def to_dict(self, levels: bool = True) -> dict:
        out = {"source": self.source, "contest": self.contest, **self.total()}
        if self.snapshot is not None:
            out["snapshot_id"] = self.snapshot.snapshot_id
            out["snapshot_seq"] = self.snapshot.seq
        if levels:
            out["levels"] = {}
            for lv in self.levels:
                out["levels"][lv] = [
                    {"path": r["path"], "area": r["area"], "units": r["units"],
                     **{f: r[f] for f in (*TOTAL_FIELDS, "valid") if f in r},
                     "choices": {c: r[c] for c in self.choices}}
                    for r in self.by_level(lv).iter_rows(named=True)]
        return out


@dataclass
class Totals:
    official: dict[str, ContestTotals] = field(default_factory=dict)
    copies: dict[str, ContestTotals] = field(default_factory=dict)
    snapshots: list[SnapshotInfo] = field(default_factory=list)

    def source(self, name: str) -> dict[str, ContestTotals]:
        return {"official": self.official, "copies": self.copies}[name]

    def to_dict(self, levels: bool = True) -> dict:
        return {"official": {c: t.to_dict(levels) for c, t in self.official.items()},
                "copies": {c: t.to_dict(levels) for c, t in self.copies.items()}}


class TotalsBuilder:
    """Feed entries one at a time (:meth:`add`), then :meth:`finish`.

    :meth:`add` raises :class:`RecordError` naming the entry when a record cannot be
    counted (a float, a missing field, a record of a snapshot that is not current);
    the entry is then left out and the caller reports it as a problem.
    """

    def __init__(self, batch: int = 20_000, keep_records: bool = False):
        self.batch = batch
        self.keep_records = keep_records
        self.snapshots: dict[int, SnapshotInfo] = {}
        self.current: dict[str, int] = {}  # contest -> snapshot_id in force
        self._history: set[tuple[int, str]] = set()  # (snapshot_id, contest) announced but not in force
        self._official_buf: dict[str, _Columns] = {}
        self._official_parts: dict[str, list[pl.DataFrame]] = {}
        self._copy_buf: dict[str, _Columns] = {}
        self._copy_parts: dict[str, list[pl.DataFrame]] = {}
        self._areas: dict[tuple, int] = {}  # sorted (level, name) pairs -> area id, for copies
        self.problems: list[RecordError] = []
        self._counted: set[int] = set()

    # ------------------------------------------------------------------ feed
    def add(self, entry: dict) -> None:
        kind, payload, seq = entry.get("kind"), entry.get("payload"), entry.get("seq")
        if kind == "official_snapshot":
            self._snapshot(seq, payload)
        elif kind == "official_record":
            self._record(seq, payload)
        elif kind in COPY_KINDS:
            _check_payload(seq, kind, payload)
            buf = self._copy_buf.setdefault(payload["contest"], _Columns())
            # Copies are kept per acta until the end (a later copy replaces an earlier
            # one): their area is stored as a small integer, not as its names.
            levels = payload["levels"]
            key = tuple(sorted(levels.items()))
            area = self._areas.get(key)
            if area is None:
                area = self._areas[key] = len(self._areas)
            row = {"_seq": seq, "_unit": payload["unit"], "_area": area}
            for k, v in payload["values"].items():
                row[_V + k] = v
            buf.add(row)
            if buf.n >= self.batch:
                self._flush_copies(payload["contest"])

    def _snapshot(self, seq: int, p: dict) -> None:
        try:
            sid = p["snapshot_id"]
            contests = p["contests"]
        except KeyError as exc:
            raise RecordError(seq, f"official_snapshot entry has no {exc.args[0]!r}") from None
        if isinstance(sid, bool) or not isinstance(sid, int) or not isinstance(contests, list) \
                or not all(isinstance(c, str) for c in contests):
            raise RecordError(seq, "official_snapshot entry: snapshot_id must be an integer and contests a list of names")
        if sid in self.snapshots:
            raise RecordError(seq, f"snapshot {sid} is announced a second time (first at entry {self.snapshots[sid].seq})")
        self._check_counts()
        levels = p.get("levels") if isinstance(p.get("levels"), list) else None
        units = p.get("units") if isinstance(p.get("units"), int) else None
        self.snapshots[sid] = SnapshotInfo(seq, sid, list(contests), units, p.get("election"), p.get("source"),
                                           p.get("exported_at"), levels)
        exported = p.get("exported_at")
        for c in contests:
            held = self.current.get(c)
            if held is not None and precedence(self.snapshots[held].exported_at, self.snapshots[held].seq) \
                    > precedence(exported, seq):
                self._history.add((sid, c))  # an earlier export, loaded later: kept, not in force
                continue
            self.current[c] = sid
            self._official_buf[c] = _Columns()
            self._official_parts[c] = []  # the previous snapshot of this contest is replaced wholly

    def _record(self, seq: int, p: dict) -> None:
        _check_payload(seq, "official_record", p)
        sid, contest = p.get("snapshot_id"), p["contest"]
        if sid not in self.snapshots:
            raise RecordError(seq, f"official_record of snapshot {sid!r}, which no earlier official_snapshot entry announced")
        if (sid, contest) in self._history:
            self.snapshots[sid].records += 1
            return
        if self.current.get(contest) != sid:
            if contest not in self.snapshots[sid].contests:
                raise RecordError(seq, f"official_record of contest {contest!r}, which snapshot {sid} does not include")
            raise RecordError(seq, f"official_record of snapshot {sid} after snapshot {self.current.get(contest)} replaced it")
        self.snapshots[sid].records += 1
        buf = self._official_buf[contest]
        buf.add(_row(seq, p))
        if buf.n >= self.batch:
            self._flush_official(contest)

    def _flush_official(self, contest: str) -> None:
        buf = self._official_buf[contest]
        if not buf.n:
            return
        frame = buf.frame()
        self._official_buf[contest] = _Columns()
        parts = self._official_parts[contest]
        parts.append(frame if self.keep_records else _fold([frame]))
        if not self.keep_records and len(parts) > 8:
            self._official_parts[contest] = [_fold(parts)]

    def _flush_copies(self, contest: str) -> None:
        buf = self._copy_buf.get(contest)
        if buf is None or not buf.n:
            return
        frame = buf.frame()
        self._copy_buf[contest] = _Columns()
        parts = self._copy_parts.setdefault(contest, [])
        parts.append(frame)
        if len(parts) > 8:
            self._copy_parts[contest] = [self._latest_copies(parts)]

    def _with_levels(self, latest: pl.DataFrame) -> pl.DataFrame:
        """Copies with their area's level columns back in place of the area id."""
        names = sorted({lv for key in self._areas for lv, _ in key})
        table = {"_area": list(self._areas.values())}
        for lv in names:
            table[_L + lv] = [dict(key).get(lv) for key in self._areas]
        areas = pl.DataFrame(table, schema={"_area": pl.Int64, **{_L + lv: pl.Utf8 for lv in names}})
        return latest.join(areas, on="_area", how="left").drop("_seq", "_unit", "_area")

    @staticmethod
    def _latest_copies(parts: list[pl.DataFrame]) -> pl.DataFrame:
        df = pl.concat(parts, how="diagonal_relaxed")
        return df.sort("_seq").unique(subset=["_unit"], keep="last", maintain_order=True)

    def _check_counts(self) -> None:
        """Every announced snapshot must be followed by exactly the actas it declares."""
        for info in self.snapshots.values():
            if info.snapshot_id in self._counted:
                continue
            self._counted.add(info.snapshot_id)
            if info.units is not None and info.records != info.units:
                self.problems.append(RecordError(
                    info.seq, f"official_snapshot {info.snapshot_id} declares {info.units} actas "
                              f"but the log holds {info.records} official_record entries for it"))

    # ---------------------------------------------------------------- finish
    def finish(self) -> Totals:
        self._check_counts()
        out = Totals(snapshots=list(self.snapshots.values()))
        for contest, sid in self.current.items():
            self._flush_official(contest)
            parts = self._official_parts[contest]
            info = self.snapshots[sid]
            if self.keep_records:
                records = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
                out.official[contest] = ContestTotals("official", contest, _fold([records]) if parts else _empty(),
                                                      info.levels, info)
                out.official[contest].records = records  # type: ignore[attr-defined]
            else:
                out.official[contest] = ContestTotals("official", contest, _fold(parts) if parts else _empty(),
                                                      info.levels, info)
        for contest in list(self._copy_buf):
            self._flush_copies(contest)
        for contest, parts in self._copy_parts.items():
            latest = self._latest_copies(parts)
            order = None
            if contest in self.current:
                order = self.snapshots[self.current[contest]].levels or out.official[contest].levels
            out.copies[contest] = ContestTotals("copies", contest, _fold([self._with_levels(latest)]), order)
        return out


def _empty() -> pl.DataFrame:
    return pl.DataFrame({"_units": pl.Series([], dtype=pl.Int64)})


def recompute_totals(entries: Iterable[dict], batch: int = 20_000) -> Totals:
    """Totals of every contest, official and copies, from log entries alone.

    Raises :class:`RecordError` (naming the entry) on the first record that cannot be
    counted; :func:`escrutinio.publication.verify.verify_log` reports such entries
    alongside the chain checks instead of stopping.
    """
    builder = TotalsBuilder(batch=batch)
    for e in entries:
        builder.add(e)
    if builder.problems:
        raise builder.problems[0]
    return builder.finish()
