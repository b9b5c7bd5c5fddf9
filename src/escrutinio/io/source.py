"""Raw access to source files: compression, encodings, CSV / XLSX / Parquet into string
tables. Every cell is read as text so that parsing (and its errors) stay under our control
and can name the file, row and column."""
from __future__ import annotations

import csv
import gzip
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from escrutinio.errors import InputError

DATA_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".parquet")


@dataclass
class RawTable:
    """A sheet of text cells with the line/row number of each record in the source."""

    path: str
    frame: pl.DataFrame  # all Utf8, plus "__row" (1-based source row of the record)
    sheet: str | None = None
    encoding: str | None = None
    repaired_rows: tuple[int, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path} [sheet {self.sheet!r}]" if self.sheet else self.path


def detect_format(path: str, declared: str | None = None) -> str:
    if declared and declared != "auto":
        return declared
    name = path.lower()
    for suffix in (".gz", ".zip"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "xlsx"
    if name.endswith(".parquet"):
        return "parquet"
    return "csv"


def read_bytes(path: str, member: str | None = None) -> tuple[bytes, str]:
    """The file's bytes, decompressed, and the inner name (for format detection)."""
    p = Path(path)
    if not p.exists():
        raise InputError(path, "no such file")
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data), p.name[:-3] if p.name.endswith(".gz") else p.name
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(path, f"the gzip stream is truncated or corrupt ({exc}); nothing was read") from exc
    if data[:4] == b"PK\x03\x04" and not p.name.lower().endswith((".xlsx", ".xlsm")):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            names = [n for n in zf.namelist() if n.lower().endswith(DATA_SUFFIXES) and not n.endswith("/")]
            if member is None:
                if len(names) != 1:
                    raise InputError(path, f"the zip archive holds {len(names)} data files {names}; name one with member=")
                member = names[0]
            return zf.read(member), member
        except (zipfile.BadZipFile, KeyError, zlib.error, EOFError) as exc:
            raise InputError(path, f"the zip archive is truncated or corrupt ({exc})") from exc
    return data, p.name


def decode(data: bytes, path: str, encoding: str = "auto") -> tuple[str, str]:
    """Decode text, returning (text, encoding used). ``auto``: a UTF-8 BOM or valid UTF-8
    means UTF-8; anything else is read as Latin-1 (the OEP's exports)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        if encoding in ("auto", "utf-8", "utf-8-sig", "utf8"):
            encoding = "utf-8"
    if encoding == "auto":
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        header = data[: data.find(b"\n")].decode(encoding, errors="replace")
        column = _column_at(header, data[start : exc.start].decode(encoding, errors="replace"))
        raise InputError(
            path,
            f"byte 0x{data[exc.start]:02x} is not valid {encoding}; the file is probably in another "
            "encoding (try encoding = \"latin-1\" or \"auto\")",
            row=line,
            column=column,
        ) from exc
    except LookupError as exc:
        raise InputError(path, f"unknown encoding {encoding!r}") from exc


def _column_at(header: str, line_prefix: str) -> str | None:
    try:
        names = next(csv.reader([header]))
        index = len(next(csv.reader([line_prefix]))) - 1 if line_prefix else 0
        return names[index] if 0 <= index < len(names) else None
    except StopIteration:
        return None


def _check_header(names: list[str], where: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.strip()
        if key == "":
            raise InputError(where, f"header cell {i + 1} is empty", row=1)
        if key in seen:
            raise InputError(where, f"duplicated header: columns {seen[key] + 1} and {i + 1} are both named {key!r}", row=1, column=key)
        seen[key] = i


def read_csv_text(
    text: str, path: str, delimiter: str = ",", skip_rows: int = 0, overflow_column: str | None = None
) -> tuple[pl.DataFrame, tuple[int, ...]]:
    """Parse CSV text (all cells as strings). Returns the frame (with ``__row``) and the
    lines of records repaired by merging extra fields into ``overflow_column``."""
    lines = text.split("\n", skip_rows + 1)
    header_line = lines[skip_rows] if len(lines) > skip_rows else ""
    names = next(csv.reader([header_line.rstrip("\r")], delimiter=delimiter), [])
    if not names or not text.strip():
        raise InputError(path, "the file is empty (no header row)", row=skip_rows + 1)
    _check_header(names, path)
    names = [n.strip() for n in names]
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=delimiter,
            infer_schema=False,
            skip_rows=skip_rows,
            has_header=True,
            new_columns=names,
            raise_if_empty=True,
            quote_char='"',
        )
        repaired: tuple[int, ...] = ()
    except pl.exceptions.NoDataError as exc:
        raise InputError(path, "the file is empty (no header row)", row=1) from exc
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            raise InputError(path, f"malformed CSV: {str(exc).splitlines()[0]}") from exc
        return _read_with_overflow(text, path, delimiter, skip_rows, names, overflow_column)
    return frame.with_row_index("__row", offset=skip_rows + 2).with_columns(pl.col("__row").cast(pl.Int64)), repaired


def _read_with_overflow(text, path, delimiter, skip_rows, names, overflow_column):
    """Slow path for records with more fields than the header. An unquoted delimiter
    inside a name (e.g. a polling place called `Perez", Villa Victoria`) is repaired only
    where the mapping names the column that may hold it; otherwise it is an error."""
    width = len(names)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records, repaired, line_numbers = [], [], []
    at = names.index(overflow_column) if overflow_column in names else None
    for i, row in enumerate(reader):
        if i <= skip_rows:
            continue
        if not row:
            continue
        if len(row) > width:
            if at is None:
                raise InputError(
                    path, f"record has {len(row)} fields, header has {width} (an unquoted delimiter?"
                    " set overflow_column in the mapping to repair it)", row=reader.line_num)
            extra = len(row) - width
            row = row[:at] + [delimiter.join(row[at : at + extra + 1])] + row[at + extra + 1 :]
            repaired.append(reader.line_num)
        records.append(row + [None] * (width - len(row)))
        line_numbers.append(reader.line_num)
    frame = pl.DataFrame(records, schema={n: pl.Utf8 for n in names}, orient="row")
    frame = frame.with_columns(pl.Series("__row", line_numbers, dtype=pl.Int64))
    return frame.select(["__row", *names]), tuple(repaired)


def _fast_csv(data: bytes, delimiter: str, int_columns: set[str]) -> pl.DataFrame | None:
    """Typed parse in one pass, or None when anything needs the careful path (invalid
    UTF-8, odd header, ragged records, empty cells, numbers that are not plain integers)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    end = body.find(b"\n", 0, 65536)
    try:
        header_text = body[: end if end >= 0 else len(body)].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    names = next(csv.reader([header_text], delimiter=delimiter), [])
    stripped = [n.strip() for n in names]
    if not names or len(set(stripped)) != len(stripped) or "" in stripped:
        return None
    try:
        frame = pl.read_csv(
            body, separator=delimiter, has_header=True, new_columns=stripped, infer_schema=False,
            schema_overrides={c: pl.Int64 for c in int_columns if c in stripped}, raise_if_empty=True,
        )
    except Exception:  # noqa: BLE001 - any failure means: take the careful path
        return None
    # A short (truncated) record leaves its last field null; a bad number leaves a null in
    # an integer column. Empty text cells elsewhere are legitimate (e.g. no zone name).
    watched = list(dict.fromkeys([c for c in stripped if c in int_columns] + [stripped[-1]]))
    if frame.width != len(names) or frame.height == 0 or any(frame.select(watched).null_count().row(0)):
        return None
    return frame.with_row_index("__row", offset=2).with_columns(pl.col("__row").cast(pl.Int64))


def _ragged_rows(text: str, delimiter: str, width: int, skip_rows: int) -> tuple[int, int] | None:
    """First record whose field count differs from the header: (line, fields)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for i, row in enumerate(reader, start=1):
        if i <= skip_rows + 1 or not row:
            continue
        if len(row) != width:
            return reader.line_num, len(row)
    return None


def read_table(
    path: str,
    fmt: str = "auto",
    encoding: str = "auto",
    delimiter: str = ",",
    skip_rows: int = 0,
    sheets: list[str] | None = None,
    member: str | None = None,
    overflow_column: str | None = None,
    int_columns: set[str] | None = None,
) -> list[RawTable]:
    """Read a source file into one RawTable per sheet (CSV and Parquet have one).

    ``int_columns``: columns expected to hold integers. For CSV, a typed parse of those is
    tried first (fast); if anything at all does not parse cleanly, the file is re-read as
    text so that the error names the exact row and column."""
    data, inner = read_bytes(path, member)
    fmt = detect_format(inner, fmt)
    if fmt == "csv" and int_columns and encoding in ("auto", "utf-8", "utf8") and skip_rows == 0:
        fast = _fast_csv(data, delimiter, int_columns)
        if fast is not None:
            return [RawTable(path, fast, None, "utf-8")]
    if fmt == "csv":
        text, used = decode(data, path, encoding)
        frame, repaired = read_csv_text(text, path, delimiter, skip_rows, overflow_column)
        # polars fills short rows with nulls; a short or long record is a truncated or broken
        # file, never something to pad silently.
        if frame.height and frame.select(pl.all().exclude("__row").is_null().any()).row(0).count(True):
            bad = _ragged_rows(text, delimiter, frame.width - 1, skip_rows)
            if bad:
                raise InputError(path, f"record has {bad[1]} fields, header has {frame.width - 1} (truncated or broken line)", row=bad[0])
        return [RawTable(path, frame, None, used, repaired)]
    if fmt == "xlsx":
        return _read_xlsx(data, path, sheets, skip_rows)
    if fmt == "parquet":
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any parquet failure is an input error
            raise InputError(path, f"cannot read Parquet: {exc}") from exc
        _check_header(frame.columns, path)
        frame = frame.select([pl.col(c).cast(pl.Utf8) for c in frame.columns])
        return [RawTable(path, frame.with_row_index("__row", offset=1).with_columns(pl.col("__row").cast(pl.Int64)))]
    raise InputError(path, f"unknown format {fmt!r}")


def read_header(path: str, fmt: str = "auto", encoding: str = "auto", delimiter: str = ",", skip_rows: int = 0) -> list[str]:
    """Column names only, cheaply (used to pick a mapping)."""
    data, inner = read_bytes(path)
    fmt = detect_format(inner, fmt)
    if fmt == "csv":
        end = data.find(b"\n", 0)
        for _ in range(skip_rows):
            end = data.find(b"\n", end + 1)
        start = 0 if skip_rows == 0 else data.rfind(b"\n", 0, end) + 1
        text, _ = decode(data[start : end if end >= 0 else len(data)], path, encoding)
        return [n.strip() for n in next(csv.reader([text.rstrip("\r")], delimiter=delimiter), [])]
    if fmt == "xlsx":
        import fastexcel

        book = fastexcel.read_excel(data)
        header = book.load_sheet(book.sheet_names[0], header_row=None, n_rows=skip_rows + 1).to_polars()
        return [("" if v is None else str(v)).strip() for v in header.row(skip_rows)] if header.height > skip_rows else []
    return [c.strip() for c in pl.read_parquet_schema(io.BytesIO(data))]


def _read_xlsx(data: bytes, path: str, sheets: list[str] | None, skip_rows: int) -> list[RawTable]:
    import fastexcel

    try:
        book = fastexcel.read_excel(data)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot open as XLSX: {exc}") from exc
    names = book.sheet_names if not sheets else sheets
    missing = [s for s in names if s not in book.sheet_names]
    if missing:
        raise InputError(path, f"no sheet named {missing}; sheets: {book.sheet_names}")
    tables = []
    for sheet in names:
        try:
            header = book.load_sheet(sheet, header_row=None, n_rows=skip_rows + 1).to_polars()
            heads = [("" if v is None else str(v)) for v in header.row(skip_rows)] if header.height > skip_rows else []
            where = f"{path} [sheet {sheet!r}]"
            _check_header(heads, where)
            frame = book.load_sheet(sheet, header_row=skip_rows, dtypes="string").to_polars()
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"cannot read sheet {sheet!r}: {exc}") from exc
        frame = frame.rename({c: c.strip() for c in frame.columns})
        frame = frame.with_row_index("__row", offset=skip_rows + 2).with_columns(pl.col("__row").cast(pl.Int64))
        tables.append(RawTable(path, frame, sheet, None))
    return tables
