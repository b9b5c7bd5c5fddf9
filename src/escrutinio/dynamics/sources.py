"""Loading snapshots and rolls for the dynamics commands.

The project's readers (:mod:`escrutinio.io`) are used when they are installed. Until
then (and as a fallback for the bundled Bolivia files only) this module reads the
bundled formats directly with Polars. Every row of a file becomes a row of the frame:
a value that cannot be read as an integer is an :class:`InputError`, never dropped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import polars as pl

from escrutinio.dynamics.timeparse import from_filename
from escrutinio.errors import EscrutinioError, InputError, UsageError
from escrutinio.model import Snapshot

LEVELS = ("country", "department", "province", "municipality", "locality", "polling_place")
CHOICES_2019 = ("CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL")
CHOICES_2020 = ("CREEMOS", "ADN", "MAS_IPSP", "FPV", "PAN_BOL", "LIBRE_21", "CC", "JUNTOS")
WITHDRAWN_2020 = ("ADN", "LIBRE_21", "JUNTOS")

_2019_NAMES = {
    "Número Mesa": "unit", "País": "country", "Departamento": "department", "Provincia": "province",
    "Municipio": "municipality", "Localidad": "locality", "Recinto": "polling_place",
    "Inscritos": "registered", "Blancos": "blank", "Nulos": "null",
}
_LINKED_NAMES = {
    "mesa_code": "unit", "mesa_id": "unit_id", "recinto_id": "place_id", "recinto": "polling_place",
    "MAS_IPSP": "MAS - IPSP", "PAN_BOL": "PAN-BOL",
}
_2020_NAMES = {
    "CODIGO_MESA": "unit", "PAIS": "country", "DEPARTAMENTO": "department", "PROVINCIA": "province",
    "MUNICIPIO": "municipality", "LOCALIDAD": "locality", "RECINTO": "polling_place",
    "INSCRITOS_HABILITADOS": "registered", "VOTO_BLANCO": "blank", "VOTO_NULO": "null",
    "VOTO_EMITIDO": "emitted", "VOTO_VALIDO": "valid_reported", "VOTO_VALIDO_SISTEMA": "valid_system",
    "VOTO_EMITIDO_SISTEMA": "emitted_system", "CIRCUNSCRIPCION_UNINOMINAL": "constituency",
}


def _io():
    try:
        from escrutinio import io as eio  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    return eio if hasattr(eio, "read_snapshots") else None


def _ints(df: pl.DataFrame, cols: Sequence[str], file: str) -> pl.DataFrame:
    """Cast to Int64; any value that is present but not an integer is an error."""
    out = []
    for c in cols:
        s = df[c]
        if s.dtype.is_integer():
            out.append(s.cast(pl.Int64))
            continue
        text = s.cast(pl.Utf8).str.strip_chars()
        cast = text.cast(pl.Int64, strict=False)
        bad = cast.is_null() & text.is_not_null() & (text != "")
        if bad.any():
            i = int(bad.arg_true()[0])
            raise InputError(file, f"not an integer: {text[i]!r}", row=i + 2, column=c)
        out.append(cast)
    return df.with_columns(out)


def _finish(df: pl.DataFrame, choices: Sequence[str], file: str, attributes=()) -> pl.DataFrame:
    for c in ("unit_id", "place_id"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    df = _ints(df, ["registered", *choices, "blank", "null"], file)
    if "emitted" not in df.columns:
        df = df.with_columns(pl.sum_horizontal([*choices, "blank", "null"]).cast(pl.Int64).alias("emitted"))
    else:
        df = _ints(df, ["emitted"], file)
    for c in ("valid_reported", "valid_system", "emitted_system"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias(c))
        else:
            df = _ints(df, [c], file)
    df = df.with_columns(pl.int_range(2, df.height + 2).cast(pl.Int64).alias("source_row"))
    cols = ["unit", "unit_id", "place_id", *LEVELS, *attributes, "registered", *choices, "blank", "null",
            "emitted", "valid_reported", "valid_system", "emitted_system", "source_row"]
    df = df.with_columns([pl.col(c).cast(pl.Utf8) for c in ("unit", "unit_id", "place_id", *LEVELS)])
    if df["unit"].is_duplicated().any():
        dup = df.filter(pl.col("unit").is_duplicated())["unit"][0]
        raise InputError(file, f"table code {dup!r} appears more than once")
    return df.select(cols)


def _read_2019(path: Path) -> list[Snapshot]:
    df = pl.read_csv(path, infer_schema_length=0, encoding="utf8-lossy")
    df = df.rename({c: c.lstrip("\ufeff") for c in df.columns})
    name = path.name.lower()
    attrs: tuple[str, ...] = ()
    if "mesa_code" in df.columns:
        df = df.rename({k: v for k, v in _LINKED_NAMES.items() if k in df.columns})
        attrs = ("lat", "lon", "trep_arrival_pct", "computo_arrival_pct", "in_trep_83", "in_trep_95")
        df = df.with_columns([pl.col(c).cast(pl.Float64, strict=False) for c in attrs])
        label = "computo 2019 (linked)"
    else:
        missing = [c for c in _2019_NAMES if c not in df.columns]
        if missing:
            raise InputError(str(path), f"not a Bolivia 2019 count file: missing columns {missing}")
        df = df.rename(_2019_NAMES)
        if "lat" in df.columns:
            attrs = ("lat", "lon")
            df = df.with_columns([pl.col(c).cast(pl.Float64, strict=False) for c in attrs])
        label = "trep" if "trep" in name else "computo"
    df = _finish(df, CHOICES_2019, str(path), attrs)
    return [Snapshot(election="bolivia-2019", contest="PRESIDENTE", frame=df, levels=LEVELS,
                     choices=CHOICES_2019, source=str(path), exported_at=from_filename(path),
                     attributes=attrs, derived=("emitted",), label=f"{label} {path.name}")]


def place_id_2020(df: pl.DataFrame) -> pl.Expr:
    abroad = pl.col("PAIS").cast(pl.Utf8) != "Bolivia"
    pad = lambda c, n: pl.col(c).cast(pl.Int64).cast(pl.Utf8).str.zfill(n)  # noqa: E731
    return pl.concat_str([pl.lit("1"), pl.when(abroad).then(pl.lit("1")).otherwise(pl.lit("0")),
                          pad("ID_PAIS", 3), pad("ID_DEPARTAMENTO", 2), pad("ID_LOCALIDAD", 4),
                          pad("ID_RECINTO", 5)])


def _read_2020(path: Path, contest: str = "PRESIDENTE") -> list[Snapshot]:
    if path.suffix.lower() in (".xlsx", ".xls"):
        df = pl.read_excel(path, infer_schema_length=0)
    else:
        import gzip

        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # the OEP's CSV exports are Latin-1
            text = raw.decode("latin-1")
        df = _read_ragged(text, str(path), widen="RECINTO")
    if "CANDIDATURA" not in df.columns:
        raise InputError(str(path), "not a Bolivia 2020 export: no CANDIDATURA column")
    df = df.filter(pl.col("CANDIDATURA").cast(pl.Utf8).str.strip_chars() == contest)
    if df.height == 0:
        raise InputError(str(path), f"no rows of contest {contest!r}")
    df = df.with_columns(place_id_2020(df).alias("place_id"))
    df = df.with_columns(pl.concat_str([pl.col("place_id"),
                                        pl.col("NUMERO_MESA").cast(pl.Int64).cast(pl.Utf8).str.zfill(2)]).alias("unit_id"))
    df = df.rename({k: v for k, v in _2020_NAMES.items() if k in df.columns})
    df = _finish(df, CHOICES_2020, str(path), ("constituency",))
    return [Snapshot(election="bolivia-2020", contest=contest, frame=df, levels=LEVELS, choices=CHOICES_2020,
                     source=str(path), exported_at=from_filename(path), withdrawn=WITHDRAWN_2020,
                     attributes=("constituency",), label=f"computo {path.name}")]


def _read_ragged(text: str, file: str, widen: str) -> pl.DataFrame:
    """Comma-split CSV whose free-text column ``widen`` may hold unquoted commas (the OEP
    exports have place names such as ``U. E. Elizardo Perez", Villa Victoria``): the extra
    fields are joined back into that column. Any other ragged row is an error."""
    lines = text.splitlines()
    header = [h.strip().strip('"') for h in lines[0].split(",")]
    n, at = len(header), header.index(widen) if widen in header else None
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) > n and at is not None:
            extra = len(parts) - n
            parts = parts[:at] + [",".join(parts[at:at + extra + 1])] + parts[at + extra + 1:]
        if len(parts) != n:
            raise InputError(file, f"{len(parts)} fields where the header has {n}", row=i)
        rows.append([p.strip().strip('"') for p in parts])
    return pl.DataFrame(rows, schema=header, orient="row")


def read_snapshots(path: str | Path, contest: str | None = None) -> list[Snapshot]:
    """Snapshots in one file: the project's reader if present, else the bundled formats."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    eio = _io()
    if eio is not None:
        try:
            snaps = eio.read_snapshots(path)
        except EscrutinioError:
            raise
        except Exception:  # a reader bug must not stop the bundled files from loading
            snaps = None
        if snaps is not None:
            if contest:
                snaps = [s for s in snaps if s.contest == contest]
            return snaps
    head = _head(path)
    if "CANDIDATURA" in head:
        return _read_2020(path, contest or "PRESIDENTE")
    if "Número Mesa" in head or "mesa_code" in head:
        return _read_2019(path)
    raise InputError(str(path), "format not recognised (the escrutinio.io readers are not installed; "
                     "only the bundled Bolivia formats can be read)")


def _head(path: Path) -> str:
    if path.suffix.lower() in (".xlsx", ".xls"):
        return ",".join(pl.read_excel(path, infer_schema_length=0).columns)
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return fh.readline().decode("utf-8", "replace")


def read_snapshot(path: str | Path, contest: str | None = None) -> Snapshot:
    snaps = read_snapshots(path, contest)
    if not snaps:
        raise InputError(str(path), f"no snapshot of contest {contest!r}")
    pres = [s for s in snaps if s.contest.upper().startswith("PRESIDENT")]
    return (pres or snaps)[0]


def read_roll(path: str | Path) -> pl.DataFrame:
    """Every expected table: ``unit``, ``unit_id``, ``place_id``, levels, ``registered``.

    Only identity, geography and registered voters are read; votes are ignored.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    eio = _io()
    if eio is not None and hasattr(eio, "read_roll"):
        try:
            return eio.read_roll(path)
        except EscrutinioError:
            raise
        except Exception:  # fall back to the bundled formats below
            pass
    head = _head(path)
    if "ID_MESA" in head and "HAB" in head:
        df = pl.read_csv(path, infer_schema_length=0)
        df = _ints(df.rename({"HAB": "registered"}), ["registered"], str(path))
        if df["registered"].is_null().any():
            i = int(df["registered"].is_null().arg_true()[0])
            raise InputError(str(path), "registered voters missing", row=i + 2, column="HAB")
        return df.select(pl.col("ID_MESA").alias("unit"), pl.col("ID_MESA").alias("unit_id"),
                         pl.col("ID_RECI").alias("place_id"), "registered")
    snap = read_snapshot(path)
    keep = ["unit", "unit_id", "place_id", *[lv for lv in snap.levels], "registered"]
    return snap.frame.select([c for c in keep if c in snap.frame.columns])


def read_places_2020(path: str | Path) -> pl.DataFrame:
    """Polling places 2020: ``place_id``, ``area`` (URB), ``lat``, ``lon``."""
    df = pl.read_csv(path, infer_schema_length=0)
    return df.select(pl.col("ID_RECI").alias("place_id"), pl.col("URB").alias("area"),
                     pl.col("DEP").alias("department_name"), pl.col("PROV").alias("province"),
                     pl.col("MUN").alias("municipality"),
                     pl.col("LAT").cast(pl.Float64, strict=False).alias("lat"),
                     pl.col("LON").cast(pl.Float64, strict=False).alias("lon"))
