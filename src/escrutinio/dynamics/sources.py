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


def read_snapshots(path: str | Path, contest: str | None = None) -> list[Snapshot]:
    """Snapshots in one file, optionally only one contest's."""
    snaps = eio.read_snapshots(_exists(path))
    return [s for s in snaps if s.contest == contest] if contest else snaps


def read_snapshot(path: str | Path, contest: str | None = None) -> Snapshot:
    """One contest's snapshot from a file: the named contest, else the presidential one."""
    snaps = read_snapshots(path, contest)
    if not snaps:
        raise InputError(str(path), f"no snapshot of contest {contest!r}")
    pres = [s for s in snaps if s.contest.upper().startswith("PRESIDENT")]
    return (pres or snaps)[0]


def read_roll(path: str | Path) -> pl.DataFrame:
    """Every expected table: ``unit``, ``unit_id``, ``place_id``, levels, ``registered``.
    Only identity, geography and registered voters are read; votes are ignored."""
    return eio.read_roll(_exists(path))


def read_places_2020(path: str | Path) -> pl.DataFrame:
    """Polling places 2020: ``place_id``, ``area`` (URB), names, ``lat``, ``lon``
    (coordinates published as NA are null)."""
    df = pl.read_csv(_exists(path), infer_schema_length=0)
    return df.select(pl.col("ID_RECI").alias("place_id"), pl.col("URB").alias("area"),
                     pl.col("DEP").alias("department_name"), pl.col("PROV").alias("province"),
                     pl.col("MUN").alias("municipality"),
                     pl.col("LAT").cast(pl.Float64, strict=False).alias("lat"),
                     pl.col("LON").cast(pl.Float64, strict=False).alias("lon"))
