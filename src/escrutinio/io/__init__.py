"""Readers: official exports and declarative mappings into the model.

``read_snapshots(path)`` auto-detects the bundled formats (Bolivia 2019 cómputo/TREP,
the linked 2019 file, Bolivia 2020 OEP exports) from the header; any other file needs a
mapping (``mapping="file.toml"``). ``read_election(paths)`` loads several files, e.g.
successive exports of one count, into one Election. ``read_roll(path)`` reads the list of
expected tables with their registered voters.
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Sequence

import polars as pl

from escrutinio.errors import InputError
from escrutinio.io.mapping import Mapping
from escrutinio.io.source import read_header, read_table
from escrutinio.model import Election, Snapshot

__all__ = ["Mapping", "read_snapshots", "read_election", "read_roll", "builtin_mappings", "combine"]


def builtin_mappings() -> dict[str, Mapping]:
    """The bundled mappings by name (a new dict each call; the Mappings are shared and read-only)."""
    return dict(_builtin_mappings())


@functools.cache
def _builtin_mappings() -> dict[str, Mapping]:
    # parsed once per process: detection and the law preset both ask, and ten TOML files
    # cost about 13 ms each time, a tenth of what `results` adds to reading the file
    out = {}
    for entry in sorted(resources.files("escrutinio.mappings").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            m = Mapping.from_toml(str(entry))
            out[m.name] = m
    return out


def _resolve_mapping(mapping: str | Mapping | None) -> Mapping | None:
    if mapping is None or isinstance(mapping, Mapping):
        return mapping
    builtins = builtin_mappings()
    if mapping in builtins:
        return builtins[mapping]
    return Mapping.from_toml(mapping)


def _detect(header: list[str], path: str) -> Mapping:
    for m in builtin_mappings().values():
        if m.matches(header):
            return m
    raise InputError(
        path,
        "unknown layout: no bundled mapping fits this header; write a mapping file (docs/mapping.md) "
        f"and pass --mapping. Columns: {header[:40]}",
        row=1,
    )


def read_snapshots(
    path: str | Path,
    mapping: str | Mapping | None = None,
    withdrawn_rule: bool | None = None,
    label: str | None = None,
) -> list[Snapshot]:
    """Read one file into one Snapshot per contest it holds (several XLSX sheets of one
    contest are not expected; sheets of different contests are)."""
    path = str(path)
    m = _resolve_mapping(mapping)
    if m is None:
        m = _detect(read_header(path), path)
    tables = read_table(path, m.format, m.encoding, m.delimiter, m.skip_rows, m.sheets, m.member, m.overflow_column, m.int_columns())
    snapshots: list[Snapshot] = []
    for table in tables:
        if table.frame.height == 0:
            raise InputError(table.where, "no data rows (header only)", row=2)
        snapshots.extend(m.apply(table, withdrawn_rule=withdrawn_rule, label=label))
    contests = [s.contest for s in snapshots]
    repeated = sorted({c for c in contests if contests.count(c) > 1})
    if repeated:
        raise InputError(path, f"contest(s) {repeated} appear in two sheets of the same file")
    return snapshots


def read_election(
    paths: Sequence[str | Path],
    mapping: str | Mapping | None = None,
    withdrawn_rule: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> Election:
    """Read several files (e.g. successive exports of one count) into one Election.
    All files are read before anything is returned: one bad file fails the whole call."""
    if not paths:
        raise InputError("<none>", "no input files given")
    snapshots: list[Snapshot] = []
    for p in paths:
        if progress:
            progress(str(p))
        snapshots.extend(read_snapshots(p, mapping=mapping, withdrawn_rule=withdrawn_rule))
    names = list(dict.fromkeys(s.election for s in snapshots))
    return Election(" + ".join(names), snapshots)


def combine(parts: Iterable[Snapshot], label: str | None = None) -> Snapshot:
    """One snapshot from several files holding disjoint parts of the same count (e.g. one
    file per department). Parts must share contest, levels and choices."""
    parts = list(parts)
    first = parts[0]
    for p in parts[1:]:
        if (p.contest, p.levels, p.choices) != (first.contest, first.levels, first.choices):
            raise InputError(p.source, "cannot combine: contest, levels or choices differ from " + first.source)
    from dataclasses import replace

    frame = pl.concat([p.frame for p in parts], how="diagonal_relaxed")
    return replace(first, frame=frame, source=" + ".join(p.source for p in parts), label=label or first.label,
                   repaired_rows=tuple(r for p in parts for r in p.repaired_rows))


def _roll_from_count(snaps: list[Snapshot], contest: str | None) -> pl.DataFrame:
    snap = next((s for s in snaps if contest is None or s.contest == contest), snaps[0])
    keep = ["unit", "unit_id", "place_id", *snap.levels, "registered"]
    return snap.frame.select(keep)


ROLL_COLUMNS = {
    "unit_id": ("ID_MESA", "mesa_id", "unit_id"),
    "unit": ("Número Mesa", "CODIGO_MESA", "mesa_code", "unit"),
    "place_id": ("ID_RECI", "recinto_id", "place_id"),
    "registered": ("HAB", "Inscritos", "INSCRITOS_HABILITADOS", "registered"),
}


def read_roll(path: str | Path, contest: str | None = None, mapping: str | Mapping | None = None) -> pl.DataFrame:
    """The list of expected tables with their registered voters.

    Accepts a roll file (Bolivia 2020 ``roll_2020.csv.gz``: ID_MESA, HAB, ID_RECI), any
    count file a bundled mapping reads (e.g. the 2019 final count), or any file read
    through ``mapping`` (e.g. another country's final count); from a count only identity,
    geography and registered voters are kept. Returns columns ``unit``, ``unit_id``,
    ``place_id``, the geographic levels where known, and ``registered``.
    """
    path = str(path)
    m = _resolve_mapping(mapping)
    if m is not None:
        return _roll_from_count(read_snapshots(path, mapping=m), contest)
    header = read_header(path)
    for m in builtin_mappings().values():
        if m.matches(header):
            return _roll_from_count(read_snapshots(path, mapping=m), contest)
    found = {}
    for target, options in ROLL_COLUMNS.items():
        found[target] = next((c for c in options if c in header), None)
    if found["registered"] is None or (found["unit_id"] is None and found["unit"] is None):
        raise InputError(path, "a roll needs a table id column (ID_MESA / unit) and a registered-voters column (HAB)", row=1)
    from escrutinio.io.mapping import _parse_int

    frame = read_table(path)[0].frame
    out = pl.DataFrame({
        "unit": frame.get_column(found["unit"]).str.strip_chars() if found["unit"] else pl.Series("unit", [None] * frame.height, pl.Utf8),
        "unit_id": frame.get_column(found["unit_id"]).str.strip_chars() if found["unit_id"] else pl.Series("unit_id", [None] * frame.height, pl.Utf8),
        "place_id": frame.get_column(found["place_id"]).str.strip_chars() if found["place_id"] else pl.Series("place_id", [None] * frame.height, pl.Utf8),
        "registered": _parse_int(frame, found["registered"], path, ""),
    })
    return out
