"""Reading the audit's input files: the results and manifest it audits, draws made
elsewhere, hand counts, and the SHA-256 that the audit record keeps of each.

A CSV may come with a small TOML mapping naming its columns (:func:`read_mapped_csv`,
docs/audit.md). Every reading error is an :class:`~escrutinio.errors.InputError` naming
the file, row and column.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import polars as pl

from escrutinio.errors import InputError, UsageError


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_results(path: str | Path, contest: str | None = None, mapping=None):
    """The contest's snapshot (law view) from a results file, via escrutinio.io (a bundled
    layout, or any layout through ``mapping``)."""
    from escrutinio.io import read_snapshots

    snaps = read_snapshots(path, mapping=mapping)
    if contest is None:
        if len(snaps) > 1:
            raise UsageError(f"{path} holds several contests {[s.contest for s in snaps]}: choose one with --contest")
        return snaps[0]
    for s in snaps:
        if s.contest == contest:
            return s
    raise UsageError(f"no contest {contest!r} in {path}; contests: {[s.contest for s in snaps]}")


def load_manifest(path: str | Path) -> pl.DataFrame:
    """Manifest: one row per table with its ballot bound. A CSV with columns ``unit`` and
    ``ballots`` is used as is; otherwise the file is read as a roll
    (:func:`escrutinio.io.read_roll`) and ``registered`` is the bound. The first column
    of the result is the key: ``unit`` (table code) or ``unit_id`` (national id, for rolls
    that only carry it, such as Bolivia 2020)."""
    path = str(path)
    try:
        head = pl.read_csv(path, n_rows=1, infer_schema_length=0)
        simple = {"unit", "ballots"} <= set(head.columns)
    except Exception:  # not a plain CSV: the roll reader gives the precise error
        simple = False
    if simple:
        frame = pl.read_csv(path, infer_schema_length=0).select(["unit", "ballots"])
        bad = frame.with_row_index("row").filter(
            pl.col("ballots").cast(pl.Int64, strict=False).is_null() | pl.col("unit").is_null())
        if bad.height:
            r = int(bad["row"][0]) + 2
            raise InputError(path, "unit or ballots missing or not an integer", row=r, column="ballots")
        frame = frame.with_columns(pl.col("ballots").cast(pl.Int64), pl.col("unit").str.strip_chars())
    else:
        from escrutinio.io import read_roll

        roll = read_roll(path)
        key = "unit" if roll["unit"].null_count() == 0 else "unit_id"
        if roll[key].null_count():
            raise InputError(path, "manifest rows without a table id")
        frame = roll.select(pl.col(key), pl.col("registered").alias("ballots"))
        if frame["ballots"].null_count():
            raise InputError(path, "manifest rows without registered voters", column="registered")
    key = frame.columns[0]
    dup = frame.filter(pl.col(key).is_duplicated())
    if dup.height:
        raise InputError(path, f"duplicate tables in the manifest: {dup[key].unique().to_list()[:5]}")
    if (frame["ballots"] < 0).any():
        raise InputError(path, "negative ballot bound", column="ballots")
    return frame


def _read_draws(path: str | Path, mapping: str | Path | None = None) -> list[dict]:
    """A CSV of draws made elsewhere: ``unit`` (or ``id``), in draw order, optionally
    ``draw`` (1, 2, ...; checked to be consecutive) and ``counter`` / ``value``. Or, as
    published audits give them, one row per batch with ``times_drawn`` (0, 1, 2, ...):
    the draws' order is then unknown, which changes nothing in the final Kaplan-Markov
    P-value (a product), only the risk after each draw. ``mapping``: a TOML naming the
    file's columns (:func:`read_mapped_csv`)."""
    path = str(path)
    frame = read_mapped_csv(path, mapping, "draws", ("unit", "id", "draw", "counter", "value", "times_drawn"))
    key = "unit" if "unit" in frame.columns else "id" if "id" in frame.columns else None
    if key is None:
        raise InputError(path, "draws need a 'unit' (or 'id') column, one row per draw in draw order", row=1)
    if "times_drawn" in frame.columns:
        return _draws_from_times(path, frame, key)
    out = []
    for i, row in enumerate(frame.iter_rows(named=True)):
        unit = (row[key] or "").strip()
        if not unit:
            raise InputError(path, "empty unit", row=i + 2, column=key)
        if "draw" in frame.columns:
            try:
                k = int(str(row["draw"]).strip())
            except ValueError:
                raise InputError(path, f"draw number {row['draw']!r} is not an integer", row=i + 2, column="draw") from None
            if k != i + 1:
                raise InputError(path, f"draws must be numbered 1, 2, ... in order; row {i + 2} says {k}", row=i + 2,
                                 column="draw")
        out.append({"draw": i + 1, "id": unit, "counter": row.get("counter"), "value": row.get("value"),
                    "imported": True})
    if not out:
        raise InputError(path, "no draws in the file")
    return out


def _draws_from_times(path: str, frame: pl.DataFrame, key: str) -> list[dict]:
    out, seen = [], set()
    for i, row in enumerate(frame.iter_rows(named=True)):
        unit = (row[key] or "").strip()
        if not unit:
            raise InputError(path, "empty unit", row=i + 2, column=key)
        if unit in seen:
            raise InputError(path, f"batch {unit!r} listed twice (times_drawn gives one row per batch)", row=i + 2,
                             column=key)
        seen.add(unit)
        raw = (row["times_drawn"] or "").strip()
        try:
            k = int(raw)
        except ValueError:
            raise InputError(path, f"times_drawn {raw!r} is not a whole number", row=i + 2, column="times_drawn") from None
        if k < 0:
            raise InputError(path, "times_drawn is negative", row=i + 2, column="times_drawn")
        out.extend({"draw": len(out) + 1, "id": unit, "counter": None, "value": None, "imported": True,
                    "order_unknown": True} for _ in range(k))
    if not out:
        raise InputError(path, "no draws in the file (times_drawn is 0 on every row)")
    return out


def read_mapped_csv(path: str | Path, mapping: str | Path | None, what: str, keys: Sequence[str]) -> pl.DataFrame:
    """A CSV as text columns; with ``mapping`` (a TOML like the results' mappings,
    docs/audit.md), only the columns it names, renamed to ours::

        [source]                 # optional: delimiter (","), encoding ("auto": UTF-8, else Latin-1)
        [columns]                # ours = the file's
        unit = "precinct"
        times_drawn = "times_drawn"
        [choices]                # counts: the file's vote columns, renamed to the results' choices
        rename = { "audit_Lungren" = "Lungren" }
    """
    path = str(path)
    src: dict = {}
    cols: dict = {}
    rename: dict = {}
    keep: list = []
    if mapping is not None:
        from escrutinio.errors import MappingError
        from escrutinio.io.mapping import read_toml

        doc = read_toml(mapping, f"{what} mapping")
        src, cols, ch = doc.get("source", {}), doc.get("columns", {}), doc.get("choices", {})
        if not isinstance(cols, dict) or not isinstance(src, dict) or not isinstance(ch, dict):
            raise MappingError(f"{mapping}: [source], [columns] and [choices] must be tables (docs/audit.md)")
        unknown = [k for k in cols if k not in keys]
        if unknown:
            raise MappingError(f"{mapping}: [columns] keys {unknown} are not {what} columns; known: {list(keys)}")
        if "unit" not in cols and "id" not in cols:
            raise MappingError(f"{mapping}: [columns] needs unit (the file's batch id column)")
        rename = dict(ch.get("rename", {}))
        keep = list(ch.get("columns", []))
        if not all(isinstance(v, str) for v in [*cols.values(), *rename, *rename.values(), *keep]):
            raise MappingError(f"{mapping}: column names must be strings")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    enc = src.get("encoding", "auto")
    try:
        text = raw.decode("utf-8-sig") if enc == "auto" else raw.decode(enc)
    except UnicodeDecodeError:
        if enc != "auto":
            raise InputError(path, f"not valid {enc} text") from None
        text = raw.decode("latin-1")
    except LookupError:
        raise InputError(path, f"unknown encoding {enc!r} in {mapping}") from None
    try:
        import io as _io

        frame = pl.read_csv(_io.StringIO(text), infer_schema_length=0, separator=src.get("delimiter", ","))
    except Exception as exc:  # noqa: BLE001 - any CSV failure is an input error
        raise InputError(path, f"cannot read CSV: {exc}") from exc
    if mapping is None:
        return frame
    wanted = {ours: theirs for ours, theirs in cols.items()} | {name: raw_ for raw_, name in rename.items()} \
        | {c: c for c in keep}
    lacking = [theirs for theirs in wanted.values() if theirs not in frame.columns]
    if lacking:
        raise InputError(path, f"no column(s) {lacking} that {mapping} names", row=1)
    return frame.select([pl.col(theirs).alias(ours) for ours, theirs in wanted.items()])


def _header(path: str | Path) -> list[str]:
    """The column names of a CSV (empty for anything else: a spreadsheet, a roll)."""
    try:
        return pl.read_csv(str(path), n_rows=0, infer_schema_length=0).columns
    except Exception:  # noqa: BLE001 - not a plain CSV: no header to look at
        return []


def _read_counts(path: str | Path, choices: Sequence[str], mapping: str | Path | None = None) -> dict[str, dict]:
    path = str(path)
    frame = read_mapped_csv(path, mapping, "counts", ("unit", "blank", "null", "ballots", "status"))
    if "unit" not in frame.columns:
        raise InputError(path, "hand counts need a 'unit' column", row=1)
    status = "status" in frame.columns
    lacking = [c for c in choices if c not in frame.columns]
    out = {}
    for i, row in enumerate(frame.iter_rows(named=True)):
        unit = (row["unit"] or "").strip()
        if not unit:
            raise InputError(path, "empty unit", row=i + 2, column="unit")
        st = (row.get("status") or "counted").strip().lower() if status else "counted"
        if st not in ("counted", "missing"):
            raise InputError(path, f"status must be 'counted' or 'missing', got {st!r}", row=i + 2, column="status")
        if st == "missing":
            out[unit] = {"status": "missing"}
            continue
        if lacking:
            raise InputError(path, f"columns missing for choices {lacking}", row=1)
        votes = {}
        for c in choices:
            v = row[c]
            try:
                iv = int(str(v).strip())
            except (TypeError, ValueError):
                raise InputError(path, f"not an integer: {v!r}", row=i + 2, column=c) from None
            if iv < 0:
                raise InputError(path, "negative votes", row=i + 2, column=c)
            votes[c] = iv
        rec = {"status": "counted", "votes": votes}
        for extra in ("blank", "null", "ballots"):
            if extra in frame.columns and row[extra] not in (None, ""):
                try:
                    rec[extra] = int(str(row[extra]).strip())
                except ValueError:
                    raise InputError(path, f"not an integer: {row[extra]!r}", row=i + 2, column=extra) from None
        out[unit] = rec
    return out
