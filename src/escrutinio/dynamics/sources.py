"""Loading snapshots, rolls and polling-place attributes for the dynamics commands,
through the project's readers (:mod:`escrutinio.io`): one reading path for everything."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from escrutinio import io as eio
from escrutinio.errors import InputError, UsageError
from escrutinio.model import Snapshot


def _exists(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    return path


def read_snapshots(path: str | Path, contest: str | None = None, mapping=None) -> list[Snapshot]:
    """Snapshots in one file (through ``mapping``, a TOML file or bundled name, when
    given), optionally only one contest's."""
    snaps = eio.read_snapshots(_exists(path), mapping=mapping)
    return [s for s in snaps if s.contest == contest] if contest else snaps


def read_snapshot(path: str | Path, contest: str | None = None, mapping=None) -> Snapshot:
    """One contest's snapshot from a file: the named contest, else the presidential one."""
    snaps = read_snapshots(path, contest, mapping=mapping)
    if not snaps:
        raise InputError(str(path), f"no snapshot of contest {contest!r}")
    pres = [s for s in snaps if s.contest.upper().startswith("PRESIDENT")]
    return (pres or snaps)[0]


def read_roll(path: str | Path, mapping=None) -> pl.DataFrame:
    """Every expected table: ``unit``, ``unit_id``, ``place_id``, levels, ``registered``.
    Only identity, geography and registered voters are read; votes are ignored. A file of
    any layout is read through ``mapping`` (its levels keep the mapping's names)."""
    return eio.read_roll(_exists(path), mapping=mapping)


PLACE_COLUMNS = {  # model name: accepted headers (Bolivia 2020's first, then generic)
    "place_id": ("ID_RECI", "place_id"), "area": ("URB", "area"), "department_name": ("DEP", "department_name"),
    "province": ("PROV", "province"), "municipality": ("MUN", "municipality"), "density": ("DEN_C", "density"),
    "lat": ("LAT", "lat"), "lon": ("LON", "lon"), "name": ("REC", "name"),
    "country": ("PAIS", "country"),
}
NUMERIC_PLACE_COLUMNS = ("density", "lat", "lon")


def read_places(path: str | Path) -> pl.DataFrame:
    """Polling places: ``place_id`` and whichever of ``area`` (area type), names (``country``,
    ``department_name``, ``province``, ``municipality``, the place's ``name``),
    ``density``, ``lat``, ``lon`` the file has, under Bolivia 2020's headers (ID_RECI, URB,
    PAIS, DEP, PROV, MUN, REC, DEN_C, LAT, LON) or these generic names. Values published as NA are
    null; a number that is not one is null too, never a guess."""
    df = pl.read_csv(_exists(path), infer_schema_length=0)
    found = {k: next((c for c in v if c in df.columns), None) for k, v in PLACE_COLUMNS.items()}
    if found["place_id"] is None:
        raise InputError(str(path), "a polling-place file needs a place id column (ID_RECI or place_id); "
                                    f"columns: {df.columns[:20]}", row=1)
    out = []
    for k, c in found.items():
        if c is None:
            out.append(pl.lit(None, pl.Float64 if k in NUMERIC_PLACE_COLUMNS else pl.Utf8).alias(k))
        elif k in NUMERIC_PLACE_COLUMNS:
            out.append(pl.col(c).cast(pl.Float64, strict=False).alias(k))
        else:
            out.append(pl.col(c).str.strip_chars().alias(k))
    return df.select(out)


def read_places_2020(path: str | Path) -> pl.DataFrame:
    """Polling places 2020 (kept name): see :func:`read_places`."""
    return read_places(path)
