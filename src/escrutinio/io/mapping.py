"""Declarative column mappings (TOML): how a country's file becomes unit frames.

A mapping says which source column holds each part of the model. It is data, so a new
country's CSV, XLSX or Parquet is read without new code. See ``docs/mapping.md`` for the
full reference and a worked example; the bundled Bolivia mappings live in
``escrutinio/mappings/``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from escrutinio.errors import InputError, MappingError
from escrutinio.io.source import RawTable
from escrutinio.model import RESERVED, VOTE_DTYPE, Snapshot
from escrutinio.tomlfile import read_toml

TOTAL_KEYS = ("registered", "blank", "null", "emitted", "valid", "valid_system", "emitted_system")
_TOTAL_TARGET = {"valid": "valid_reported"}
# Totals a layout may lack altogether: a file without a blank column (blank ballots are
# among the invalid ones, as on Russia's protocols) reads them as 0 and says so.
ABSENT_OK = ("blank", "null")
UNIT_SEPARATOR = "/"


@dataclass
class Mapping:
    name: str
    election: str = "election"
    contest: str | None = None
    election_date: str | None = None
    contest_column: str | None = None
    contest_names: dict[str, str] = field(default_factory=dict)
    exported_at: datetime | None = None
    exported_at_pattern: str | None = None
    exported_at_format: str | None = None
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str = ","
    thousands: str = ""
    skip_rows: int = 0
    sheets: list[str] | None = None
    overflow_column: str | None = None
    unit: str = ""
    unit_columns: list[str] = field(default_factory=list)
    unit_separator: str = UNIT_SEPARATOR
    unit_may_be_empty: list[str] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)
    optional_totals: set[str] = field(default_factory=set)
    total_sums: dict[str, list[str]] = field(default_factory=dict)
    absent_totals: set[str] = field(default_factory=set)
    na_values: list[str] = field(default_factory=list)
    member: str | None = None
    place_level: str | None = None
    area_level: str | None = None
    levels: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    optional_choices: list[str] = field(default_factory=list)
    contest_choices: dict[str, list[str]] = field(default_factory=dict)
    choice_names: dict[str, str] = field(default_factory=dict)
    withdrawn: list[str] = field(default_factory=list)
    withdrawn_rule: bool = True
    derive: dict[str, list] = field(default_factory=dict)
    detect_columns: list[str] = field(default_factory=list)
    preset: str | None = None
    law_file: str | None = None
    source_file: str = ""
    # the whole count's official totals, for completeness without a roll: {tables,
    # registered, source, contest (None: every contest)}
    expected: dict | None = None

    # ----------------------------------------------------------------- load
    @classmethod
    def from_toml(cls, path: str | Path) -> "Mapping":
        return cls.from_dict(read_toml(path, "mapping"), str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], origin: str = "<mapping>") -> "Mapping":
        """A mapping from its TOML document; a value of the wrong kind (a number where a
        table is expected, ...) is a MappingError naming the file."""
        try:
            return cls._from_dict(doc, origin)
        except MappingError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise MappingError(f"{origin}: malformed mapping ({type(exc).__name__}: {exc}); see docs/mapping.md "
                               "for the shape of each table") from exc

    @classmethod
    def _from_dict(cls, doc: dict[str, Any], origin: str = "<mapping>") -> "Mapping":
        def need(table: dict, key: str, where: str):
            if key not in table:
                raise MappingError(f"{origin}: [{where}] needs {key!r}")
            return table[key]

        src = doc.get("source", {})
        el = doc.get("election", {})
        cols = need(doc, "columns", "top level") if "columns" in doc else {}
        if not cols:
            raise MappingError(f"{origin}: a [columns] table is required (unit, registered, blank, null ...)")
        totals, optional, sums, absent = {}, set(), {}, set()
        for key in TOTAL_KEYS:
            value = cols.get(key)
            if value is False or (isinstance(value, dict) and value.get("absent")):
                if key not in ABSENT_OK:
                    raise MappingError(f"{origin}: [columns] {key!r} cannot be absent (only {list(ABSENT_OK)} can)")
                absent.add(key)
                continue
            if isinstance(value, dict):
                if value.get("optional"):
                    if key == "registered":
                        raise MappingError(f"{origin}: [columns] 'registered' cannot be optional: turnout and "
                                           "every check need it")
                    optional.add(key)
                if "sum" in value:
                    parts = value["sum"]
                    if not isinstance(parts, list) or not parts or not all(isinstance(c, str) and c for c in parts):
                        raise MappingError(f"{origin}: [columns] {key} = {{ sum = [...] }} needs a list of column names")
                    sums[key] = list(parts)
                    value = " + ".join(parts)
                else:
                    value = value.get("column")
            if value is not None and not isinstance(value, str):
                raise MappingError(f"{origin}: [columns] {key} must be a column name, {{ column = ... }}, "
                                   f"{{ sum = [...] }} or {{ absent = true }}; got {value!r}")
            if value:
                totals[key] = value
        for key in ("registered", "blank", "null"):
            if key not in totals and key not in absent:
                hint = " (or declare it absent: { absent = true })" if key in ABSENT_OK else ""
                raise MappingError(f"{origin}: [columns] needs {key!r}{hint}")
        unit_spec = need(cols, "unit", "columns")
        unit_sep = UNIT_SEPARATOR
        unit_may_be_empty = []
        if isinstance(unit_spec, dict):
            unit_sep = str(unit_spec.get("separator", UNIT_SEPARATOR))
            # parts that some rows leave empty (Russia 2021: the remote e-voting rows have no UIK)
            unit_may_be_empty = list(unit_spec.get("may_be_empty", []))
            unit_spec = unit_spec.get("columns", unit_spec.get("column"))
        unit_columns = [unit_spec] if isinstance(unit_spec, str) else list(unit_spec or [])
        if not unit_columns or not all(isinstance(c, str) and c for c in unit_columns):
            raise MappingError(f"{origin}: [columns] unit must be a column name or a list of columns "
                               f"(e.g. unit = [\"Region\", \"Station\"]); got {cols['unit']!r}")
        na_values = src.get("na_values", [])
        if isinstance(na_values, str):
            na_values = [na_values]
        ch = doc.get("choices", {})
        if isinstance(ch, list):
            ch = {"columns": ch}
        attributes = {}
        for name, spec in doc.get("attributes", {}).items():
            spec = {"column": spec} if isinstance(spec, str) else dict(spec)
            spec.setdefault("type", "str")
            attributes[name] = spec
        exported = el.get("exported_at")
        if isinstance(exported, str):
            exported = datetime.fromisoformat(exported)
        m = cls(
            name=doc.get("name", Path(origin).stem),
            election=el.get("name", "election"),
            election_date=_election_date(el.get("date"), origin),
            contest=el.get("contest"),
            contest_column=el.get("contest_column"),
            contest_names=el.get("contest_names", {}),
            exported_at=exported,
            exported_at_pattern=el.get("exported_at_from_filename"),
            exported_at_format=el.get("exported_at_format"),
            format=src.get("format", "auto"),
            encoding=src.get("encoding", "auto"),
            delimiter=src.get("delimiter", ","),
            thousands=src.get("thousands", ""),
            skip_rows=int(src.get("skip_rows", 0)),
            sheets=src.get("sheets"),
            overflow_column=src.get("overflow_column"),
            unit=unit_columns[0] if len(unit_columns) == 1 else unit_sep.join(unit_columns),
            unit_columns=unit_columns,
            unit_separator=unit_sep,
            unit_may_be_empty=unit_may_be_empty,
            totals=totals,
            optional_totals=optional,
            total_sums=sums,
            absent_totals=absent,
            na_values=[str(v) for v in na_values],
            member=src.get("member"),
            place_level=doc.get("place_level"),
            area_level=doc.get("area_level"),
            levels=dict(doc.get("levels", {})),
            attributes=attributes,
            choices=list(ch.get("columns", [])),
            optional_choices=list(ch.get("optional", [])),
            contest_choices={k: list(v) for k, v in ch.get("by_contest", {}).items()},
            choice_names=dict(ch.get("rename", {})),
            withdrawn=list(ch.get("withdrawn", [])),
            withdrawn_rule=bool(ch.get("withdrawn_rule", True)),
            derive=dict(doc.get("derive", {})),
            detect_columns=list(doc.get("detect", {}).get("columns", [])),
            preset=_law_preset(doc.get("law", {}), origin),
            law_file=_law_file(doc.get("law", {}), origin),
            source_file=origin,
            expected=_expected(doc.get("expected"), origin),
        )
        if not m.choices and not m.contest_choices:
            raise MappingError(f"{origin}: [choices] needs columns = [...]")
        for name in list(m.levels) + list(m.attributes) + [m.choice_names.get(c, c) for c in m.choices]:
            if name in RESERVED:
                raise MappingError(f"{origin}: {name!r} is a reserved name (rename it)")
        for key in ("place_level", "area_level"):
            value = getattr(m, key)
            if value is not None and value not in m.levels:
                raise MappingError(f"{origin}: {key} = {value!r} is not one of the [levels] {list(m.levels)}")
        return m

    def total_columns(self, key: str) -> list[str]:
        """Source columns behind a total (several for a declared sum)."""
        if key in self.total_sums:
            return list(self.total_sums[key])
        return [self.totals[key]] if key in self.totals else []

    def int_columns(self) -> set[str]:
        """Source columns that hold vote counts."""
        cols = {c for key in self.totals for c in self.total_columns(key)}
        cols.update(self.choices, self.optional_choices, *self.contest_choices.values())
        return cols if not self.thousands else set()

    def matches(self, header: list[str]) -> bool:
        return bool(self.detect_columns) and set(self.detect_columns).issubset(header)

    # ---------------------------------------------------------------- apply
    def apply(self, table: RawTable, withdrawn_rule: bool | None = None, label: str | None = None) -> list[Snapshot]:
        """Turn a raw table into one Snapshot per contest. Raises InputError on any cell
        that cannot be read; nothing is dropped."""
        raw = table.frame
        where = table.where
        header = [c for c in raw.columns if c != "__row"]
        required = list(self.unit_columns) + [c for k in self.totals if k not in self.optional_totals
                                              for c in self.total_columns(k)]
        required += list(self.levels.values())
        required += [s["column"] for s in self.attributes.values() if not s.get("optional")]
        if self.contest_column:
            required.append(self.contest_column)
        all_choices = self.choices + [c for cs in self.contest_choices.values() for c in cs]
        required += [c for c in dict.fromkeys(all_choices) if c not in self.optional_choices]
        for col in dict.fromkeys(required):
            if col not in header:
                raise InputError(where, f"required column {col!r} is missing (mapping {self.name}); columns: {header}", row=1, column=col)
        # typed attributes (float, int, bool) are stripped where they are parsed
        used = {*self.unit_columns, *self.levels.values(),
                *(a["column"] for a in self.attributes.values() if a.get("type", "str") == "str"),
                *(c for p in self.derive.values() for c in _derive_columns(p))}
        if self.contest_column:
            used.add(self.contest_column)
        raw = raw.with_columns(pl.col(c).str.strip_chars() for c in header if c in used and raw.schema[c] == pl.Utf8)
        for col in list(self.unit_columns) + ([self.contest_column] if self.contest_column else []):
            if col not in self.unit_may_be_empty:
                _require_values(raw, col, where)

        exported_at = self.exported_at or _time_from_name(table.path, self.exported_at_pattern, self.exported_at_format)
        if self.contest_column:
            contests = raw.get_column(self.contest_column).unique(maintain_order=True).to_list()
        else:
            contests = [None]
        snapshots = []
        for contest in contests:
            part = raw if contest is None else raw.filter(pl.col(self.contest_column) == contest)
            contest_name = self.contest_names.get(contest, contest) if contest else (self.contest or "contest")
            choices = self.contest_choices.get(contest_name, self.choices)
            present = [c for c in choices if c in header]
            missing_optional = [c for c in choices if c not in header]
            notes = [f"choice column {c!r} not in this file" for c in missing_optional]
            snap = self._build(part, where, header, contest_name, present, exported_at, notes, withdrawn_rule, label, table.path)
            if table.repaired_rows:
                rows = set(table.repaired_rows)
                mine = tuple(r for r in part.get_column("__row").to_list() if r in rows)
                if mine:
                    snap = replace(snap, repaired_rows=mine, notes=snap.notes + (
                        f"{len(mine)} records had an unquoted delimiter inside {self.overflow_column!r}; "
                        "the extra fields were merged back into that column",))
            snapshots.append(snap)
        return snapshots

    def _build(self, part, where, header, contest, choices, exported_at, notes, withdrawn_rule, label, path) -> Snapshot:
        if len(self.unit_columns) == 1:
            exprs = [pl.col(self.unit).alias("unit")]
        else:
            exprs = [pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in self.unit_columns],
                                   separator=self.unit_separator).alias("unit")]
        for target, spec in (("unit_id", self.derive.get("unit_id")), ("place_id", self.derive.get("place_id"))):
            exprs.append(_derive(spec, header, where).alias(target) if spec else _nulls(pl.Utf8, "__row").alias(target))
        for level, col in self.levels.items():
            exprs.append(pl.col(col).alias(level))
        attributes = []
        for name, spec in self.attributes.items():
            if spec["column"] not in header:
                notes.append(f"attribute column {spec['column']!r} not in this file")
                continue
            attributes.append(name)
            exprs.append(_parse_attribute(part, spec, where).alias(name))
        na = set(self.na_values)
        parsed: dict[str, pl.Series] = {}
        na_cells = 0
        for c in choices:
            # "NA" in a choice column: the choice was not on that table's ballot (0 votes)
            series, n_na = _parse_int(part, c, where, self.thousands, na, na_as="zero")
            parsed[self.choice_names.get(c, c)] = series
            na_cells += n_na
        derived = []
        absent = []
        for key in ("registered", "blank", "null", "emitted", "valid", "valid_system", "emitted_system"):
            target = _TOTAL_TARGET.get(key, key)
            cols = [c for c in self.total_columns(key) if c in header]
            if key in self.absent_totals or (key in ABSENT_OK and not cols):
                parsed[target] = pl.Series(target, [0] * part.height, VOTE_DTYPE)
                absent.append(key)
                continue
            if not cols or len(cols) < len(self.total_columns(key)):
                if key in self.total_sums and cols:
                    missing = [c for c in self.total_columns(key) if c not in header]
                    notes.append(f"{key} is declared as a sum but {missing} are not in this file; it is not read")
                continue
            # an optional total may be unpublished for some tables ("NA"): null, never 0
            na_as = "null" if key in ("valid", "valid_system", "emitted_system") else "error"
            values = None
            for c in cols:
                series, _ = _parse_int(part, c, where, self.thousands, na, na_as=na_as)
                values = series if values is None else values + series
            parsed[target] = values.alias(target)
            if key in self.total_sums:
                notes.append(f"{key} = {' + '.join(cols)} (declared as a sum in mapping {self.name})")
        for key in absent:
            notes.append(f"{key} is not published in this file: read as 0 (mapping {self.name} declares it absent; "
                         "such ballots are counted among the others, e.g. invalid)")
        if na_cells:
            notes.append(f"{na_cells:,} cells {sorted(na)} in choice columns read as 0 votes (the choice was not on "
                         "that table's ballot)")
        frame = part.select(exprs).with_columns(
            [pl.Series(t, s) for t, s in parsed.items()] + [part.get_column("__row").alias("source_row")]
        )
        names = [self.choice_names.get(c, c) for c in choices]
        if "emitted" not in frame.columns:
            frame = frame.with_columns((pl.sum_horizontal(names) + pl.col("blank") + pl.col("null")).cast(VOTE_DTYPE).alias("emitted"))
            derived.append("emitted")
            notes.append("emitted is not published in this file: computed as choices + blank + null")
        unpublished = [c for c in ("valid_reported", "valid_system", "emitted_system") if c not in frame.columns]
        if unpublished:
            frame = frame.with_columns(_nulls(VOTE_DTYPE, "source_row").alias(c) for c in unpublished)
        order = ["unit", "unit_id", "place_id", *self.levels, *attributes, "registered", *names,
                 "blank", "null", "emitted", "valid_reported", "valid_system", "emitted_system", "source_row"]
        return Snapshot(
            election=self.election,
            contest=contest,
            frame=frame.select(order),
            levels=tuple(self.levels),
            choices=tuple(names),
            source=path,
            exported_at=exported_at,
            withdrawn=tuple(self.choice_names.get(c, c) for c in self.withdrawn if c in choices),
            withdrawn_rule=self.withdrawn_rule if withdrawn_rule is None else withdrawn_rule,
            attributes=tuple(attributes),
            derived=tuple(derived),
            label=label or _default_label(path, exported_at),
            notes=tuple(notes),
            place_level=self.place_level,
            area_level=self.area_level,
            presidential_rule=self.preset,
            election_date=self.election_date,
            **self._expected_for(contest),
        )

    def _expected_for(self, contest: str) -> dict:
        e = self.expected
        if not e or (e.get("contest") is not None and e["contest"] != contest):
            return {}
        return {"expected_tables": e["tables"], "expected_registered": e["registered"], "expected_source": e["source"]}


def _election_date(value, origin: str) -> str | None:
    """``[election] date``: the election day (a TOML date or "YYYY-MM-DD")."""
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise MappingError(f"{origin}: [election] date must be YYYY-MM-DD, got {value!r}")
    return text


def _expected(table, origin: str) -> dict | None:
    """``[expected]``: the official totals of the whole count (tables, registered voters,
    where they come from), so that completeness is known without a roll."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise MappingError(f"{origin}: [expected] must be a table: tables = N, registered = N, source = \"...\"")
    unknown = set(table) - {"tables", "registered", "source", "contest"}
    if unknown:
        raise MappingError(f"{origin}: [expected] has unknown keys {sorted(unknown)} (tables, registered, source, contest)")
    for key in ("tables", "registered"):
        v = table.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise MappingError(f"{origin}: [expected] {key} must be a positive whole number, not {v!r}")
    if not isinstance(table.get("source"), str) or not table["source"].strip():
        raise MappingError(f"{origin}: [expected] source must say where the totals come from")
    contest = table.get("contest")
    if contest is not None and not isinstance(contest, str):
        raise MappingError(f"{origin}: [expected] contest must be a contest name, not {contest!r}")
    return {"tables": table["tables"], "registered": table["registered"], "source": table["source"].strip(),
            "contest": contest}


def _law_file(law: dict, origin: str) -> str | None:
    """``[law] file = "law.toml"``, resolved next to the mapping."""
    f = law.get("file")
    if not f:
        return None
    p = Path(f)
    if not p.is_absolute() and origin and not origin.startswith("<"):
        p = Path(origin).parent / p
    if not p.is_file():
        raise MappingError(f"{origin}: [law] file {f!r} not found (looked for {p})")
    return str(p)


def _law_preset(law: dict, origin: str) -> str | None:
    """The presidential rule a mapping declares: a preset name, else its law file's."""
    if law.get("preset"):
        return str(law["preset"])
    path = _law_file(law, origin)
    if path:
        from escrutinio.law.lawfile import load_law

        if load_law(path).presidential is not None:
            return path
    return None


def _default_label(path: str, exported_at: datetime | None) -> str:
    name = Path(path).name
    return f"{name} ({exported_at.isoformat(sep=' ')})" if exported_at else name


_INT_RE = r"^[+-]?\d+$"
_INTEGRAL_FLOAT_RE = r"^[+-]?\d+\.0*$"


def _nulls(dtype, rows: str) -> pl.Expr:
    """A column of nulls, in the chunks of the row-number column ``rows``.

    A literal null (``pl.lit(None)``) is one chunk; beside columns in the parallel CSV
    reader's chunks it made polars re-align the whole frame at every later step (15-30 ms
    each on a million tables). Null plus the row number is null, row by row, chunk by chunk.
    """
    return (pl.col(rows) + pl.lit(None, pl.Int64)).cast(dtype)


def _parse_int(part: pl.DataFrame, col: str, where: str, thousands: str, na: set[str] | None = None,
               na_as: str | None = None) -> pl.Series | tuple[pl.Series, int]:
    """Parse a vote column to Int64, or raise naming the first bad cell.

    ``na``: the mapping's not-available markers (``na_values``). With ``na_as`` given the
    result is (series, cells that were NA): ``"zero"`` reads them as 0, ``"null"`` as
    null (not published), ``"error"`` refuses them."""
    s = part.get_column(col)
    if na_as is None:
        return _parse_int_cells(part, s, col, where, thousands)
    if s.dtype == pl.Int64 or not na:
        return _parse_int_cells(part, s, col, where, thousands), 0
    text = s.cast(pl.Utf8).str.strip_chars()
    is_na = text.is_in(sorted(na)).fill_null(False)
    n_na = int(is_na.sum())
    if n_na == 0:
        return _parse_int_cells(part, s, col, where, thousands), 0
    if na_as == "error":
        idx = int(is_na.arg_max())
        raise InputError(where, f"{text[idx]!r} (not available) in a total column: a missing total is never read "
                         "as 0; correct the file or declare the total absent in the mapping",
                         row=int(part.get_column("__row")[idx]), column=col)
    filler = "0" if na_as == "zero" else None
    cleaned = text.zip_with(~is_na, pl.Series(col, [filler] * len(text), pl.Utf8))
    if na_as == "null":
        keep = ~is_na
        out = pl.Series(col, [None] * part.height, pl.Int64)
        if keep.any():
            good = _parse_int_cells(part.filter(keep), cleaned.filter(keep), col, where, thousands)
            out = out.scatter(keep.arg_true(), good)
        return out, n_na
    return _parse_int_cells(part, cleaned, col, where, thousands), n_na


def _parse_int_cells(part: pl.DataFrame, s: pl.Series, col: str, where: str, thousands: str) -> pl.Series:
    if s.dtype == pl.Int64:
        return s  # parsed by the fast path, which accepts only clean integers
    if s.dtype != pl.Utf8:
        s = s.cast(pl.Utf8)
    text = s.str.strip_chars()
    if thousands:
        text = text.str.replace_all(re.escape(thousands), "", literal=False)
    # integral floats ("141.0") come from spreadsheets; keep them, reject real fractions.
    text = pl.Series(col, text).str.replace(r"^([+-]?\d+)\.0*$", "${1}")
    ok = text.str.contains(_INT_RE)
    bad = ok.is_null() | ~ok
    if bad.any():
        idx = int(bad.arg_max())
        row = int(part.get_column("__row")[idx])
        raw_value = s[idx]
        if raw_value is None or raw_value.strip() == "":
            why = "empty value in a vote column (a missing number is never read as 0)"
        elif re.match(r"^[+-]?\d+[.,]\d+$", raw_value.strip()):
            why = f"non-integer value {raw_value!r}: votes are whole numbers"
        else:
            why = f"not a number: {raw_value!r}"
        n_bad = int(bad.sum())
        more = f" ({n_bad} bad cells in this column)" if n_bad > 1 else ""
        raise InputError(where, why + more, row=row, column=col)
    out = text.cast(pl.Int64, strict=False)
    if out.null_count():
        idx = int(out.is_null().arg_max())
        raise InputError(where, f"number out of range: {s[idx]!r}", row=int(part.get_column('__row')[idx]), column=col)
    return out


def _parse_attribute(part: pl.DataFrame, spec: dict, where: str) -> pl.Expr:
    col, kind = spec["column"], spec.get("type", "str")
    if kind == "str":
        return pl.col(col).cast(pl.Utf8)
    if kind in ("float", "int", "bool"):
        target = {"float": pl.Float64, "int": pl.Int64, "bool": pl.Boolean}[kind]
        s = part.get_column(col).cast(pl.Utf8).str.strip_chars()
        if kind == "bool":
            parsed = s.str.to_lowercase().replace_strict(
                {"1": True, "0": False, "true": True, "false": False, "": None, "na": None}, default=None, return_dtype=pl.Boolean
            )
        else:
            # "" and "NA" cast to null like any unreadable cell; the test below tells them apart
            parsed = s.cast(target, strict=False)
        bad = parsed.is_null() & s.is_not_null() & ~s.is_in(["", "NA", "na"])
        if bad.any():
            idx = int(bad.arg_max())
            raise InputError(where, f"cannot read {s[idx]!r} as {kind}", row=int(part.get_column("__row")[idx]), column=col)
        return pl.lit(parsed)
    raise MappingError(f"attribute {col!r}: unknown type {kind!r}")


def _require_values(raw: pl.DataFrame, col: str, where: str) -> None:
    empty = raw.get_column(col).is_null() | (raw.get_column(col) == "")
    if empty.any():
        idx = int(empty.arg_max())
        raise InputError(where, "empty value in an identity column", row=int(raw.get_column("__row")[idx]), column=col)


def _derive_columns(parts: list) -> list[str]:
    out = []
    for p in parts:
        if isinstance(p, dict):
            out += [p["column"]] if "column" in p else [p["if_equal"][0]] if "if_equal" in p else []
    return out


def _derive(parts: list, header: list[str], where: str) -> pl.Expr:
    """Concatenate literal strings, zero-padded columns and conditionals into an id."""
    exprs = []
    for p in parts:
        if isinstance(p, str):
            exprs.append(pl.lit(p))
        elif "column" in p:
            if p["column"] not in header:
                raise InputError(where, f"column {p['column']!r} needed to derive an id is missing", row=1, column=p["column"])
            e = pl.col(p["column"]).cast(pl.Utf8).str.strip_chars()
            if "pad" in p:
                e = e.str.zfill(int(p["pad"]))
            exprs.append(e)
        elif "if_equal" in p:
            col, value = p["if_equal"]
            exprs.append(pl.when(pl.col(col) == value).then(pl.lit(p["then"])).otherwise(pl.lit(p["else"])))
        else:
            raise MappingError(f"cannot derive from {p!r}")
    return pl.concat_str(exprs)


def _time_from_name(path: str, pattern: str | None, fmt: str | None) -> datetime | None:
    """Export time from a file name: the mapping's (pattern, format), else the common
    stamps recognised by :func:`escrutinio.timeparse.from_filename` (24-hour clock)."""
    name = Path(path).name
    if pattern and fmt:
        m = re.search(pattern, name)
        if m:
            try:
                return datetime.strptime(m.group(1), fmt)
            except ValueError as exc:
                raise MappingError(f"exported_at_format {fmt!r} does not fit {m.group(1)!r} in {name}") from exc
        return None
    from escrutinio.timeparse import from_filename

    return from_filename(name)
