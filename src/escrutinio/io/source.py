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


MEMBER_SEPARATOR = "::"


def _split_member(path: str, member: str | None) -> tuple[str, str | None]:
    """``archive.zip::inner.csv`` names one member of a zip archive on the command line."""
    if member is None and MEMBER_SEPARATOR in path and not Path(path).exists():
        outer, inner = path.rsplit(MEMBER_SEPARATOR, 1)
        return outer, inner
    return path, member


def read_bytes(path: str, member: str | None = None) -> tuple[bytes, str]:
    """The file's bytes, decompressed, and the inner name (for format detection)."""
    path, member = _split_member(path, member)
    p = Path(path)
    if p.is_dir():
        raise InputError(path, "is a directory, not a file: give the files inside it (e.g. "
                         f"{Path(path) / '*.csv'}), or --combine them if they are parts of one count")
    if not p.exists():
        raise InputError(path, "no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    head = data[:65536]
    if not head.strip() and not data.strip():  # the whole file is copied only if its start is blank
        raise InputError(path, "empty file" + (" (0 bytes)" if not data else " (only blank space)"))
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
                    example = f"{path}{MEMBER_SEPARATOR}{names[0]}" if names else None
                    how = (f"; name one on the command line as ARCHIVE{MEMBER_SEPARATOR}MEMBER (e.g. {example}) "
                           "or in the mapping's [source] member = \"...\"") if names else ""
                    raise InputError(path, f"the zip archive holds {len(names)} data files {names}{how}")
                member = names[0]
            if member not in zf.namelist():
                raise InputError(path, f"the zip archive has no member {member!r}; data files: {names}")
            return zf.read(member), member
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
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
    except (StopIteration, csv.Error):
        return None


def header_names(names: list[str]) -> list[str]:
    """Stripped column names; an empty header cell is named ``column_N`` (its 1-based
    position), so that a mapping can refer to it and nothing is dropped."""
    return [n.strip() if n is not None and n.strip() else f"column_{i + 1}" for i, n in enumerate(names)]


def _check_header(names: list[str], where: str) -> list[str]:
    names = header_names(names)
    seen: dict[str, int] = {}
    for i, key in enumerate(names):
        if key in seen:
            raise InputError(where, f"duplicated header: columns {seen[key] + 1} and {i + 1} are both named {key!r}", row=1, column=key)
        seen[key] = i
    return names


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


_CONTROL = bytes(b for b in range(0x20) if b not in (9, 10, 13)) + b"\x7f"


def _control_share(sample: bytes) -> float:
    """Share of control bytes (text has almost none; binary formats have many)."""
    if not sample:
        return 0.0
    return (len(sample) - len(sample.translate(None, _CONTROL))) / len(sample)


def _utf16(data: bytes) -> str | None:
    """The UTF-16 flavour of text bytes (BOM, or the NUL pattern of mostly-ASCII text)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = data[:4096]
    if len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return None


def sniff(data: bytes, path: str, inner: str, fmt: str) -> bytes:
    """Check that the bytes are what the format says, before any parser sees them.

    UTF-16 text is transcoded to UTF-8 (the readers work on UTF-8 and Latin-1); a
    spreadsheet named as CSV, CSV named as a spreadsheet, a truncated workbook and binary
    content are refused with a message saying what the file is."""
    head = data[:8]
    if fmt == "xlsx":
        if head.startswith(_ZIP_MAGIC):
            # the zip's directory is at its end: a truncated workbook has none
            try:
                names = zipfile.ZipFile(io.BytesIO(data)).namelist()
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise InputError(path, f"the XLSX workbook is truncated or corrupt ({exc}); nothing was read") from exc
            if "[Content_Types].xml" not in names:
                raise InputError(path, "a zip archive, not an XLSX workbook (no [Content_Types].xml)")
            return data
        if head.startswith(_OLE_MAGIC):
            return data
        if _utf16(data) or _control_share(data[:65536]) < 0.01:
            raise InputError(path, f"{Path(inner).name} is named as a spreadsheet but holds text (CSV?): rename it "
                             "to .csv, or declare format = \"csv\" in the mapping's [source]")
        raise InputError(path, "not an XLSX workbook (the bytes are neither a workbook nor text)")
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputError(path, "not a Parquet file (no PAR1 signature)")
        return data
    # CSV / text
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
        how = ("the mapping declares format = \"csv\": remove that line or declare \"xlsx\""
               if inner.lower().endswith((".xlsx", ".xlsm", ".xls")) else
               "give it an .xlsx name, or declare format = \"xlsx\" in the mapping's [source]")
        raise InputError(path, f"this is a spreadsheet (XLSX/XLS workbook or zip archive), not CSV text: {how}")
    kind = _utf16(data)
    if kind:
        try:
            text = data.decode(kind)
        except UnicodeDecodeError as exc:
            raise InputError(path, f"the file looks like {kind.upper()} text but byte {exc.start} does not "
                             "decode; nothing was read") from exc
        return text.lstrip("\ufeff").encode("utf-8")
    if b"\x00" in data[:65536] or _control_share(data[:65536]) > 0.01:
        raise InputError(path, "not a text table: the file holds binary content (a spreadsheet, an archive or "
                         "another format?); CSV must be text")
    return data


def read_csv_text(
    text: str, path: str, delimiter: str = ",", skip_rows: int = 0, overflow_column: str | None = None
) -> tuple[pl.DataFrame, tuple[int, ...]]:
    """Parse CSV text (all cells as strings). Returns the frame (with ``__row``) and the
    lines of records repaired by merging extra fields into ``overflow_column``."""
    lines = text.split("\n", skip_rows + 1)
    header_line = lines[skip_rows] if len(lines) > skip_rows else ""
    try:
        names = next(csv.reader([header_line.rstrip("\r")], delimiter=delimiter), [])
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV header: {exc}", row=skip_rows + 1) from exc
    if not names or not text.strip():
        raise InputError(path, "the file is empty (no header row)", row=skip_rows + 1)
    names = _check_header(names, path)
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
    i = -1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(path, f"malformed CSV record: {exc}", row=reader.line_num + 1) from exc
        i += 1
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
    try:
        names = next(csv.reader([header_text], delimiter=delimiter), [])
    except csv.Error:
        return None
    stripped = [n.strip() for n in names]
    if not names or len(set(stripped)) != len(stripped) or "" in stripped:
        return None
    try:
        # the row numbers from the reader itself, in the same chunks as the other columns: a
        # one-chunk column beside the parallel parse's chunks made polars copy the whole
        # frame into one chunk at its next step (24-30 ms on a million tables)
        frame = pl.read_csv(
            body, separator=delimiter, has_header=True, new_columns=stripped, infer_schema=False,
            schema_overrides={c: pl.Int64 for c in int_columns if c in stripped}, raise_if_empty=True,
            row_index_name="__row", row_index_offset=2,
        )
    except Exception:  # noqa: BLE001 - any failure means: take the careful path
        return None
    # A short (truncated) record leaves its last field null; a bad number leaves a null in
    # an integer column. Empty text cells elsewhere are legitimate (e.g. no zone name).
    watched = list(dict.fromkeys([c for c in stripped if c in int_columns] + [stripped[-1]]))
    if frame.width != len(names) + 1 or frame.height == 0 or any(frame.select(watched).null_count().row(0)):
        return None
    return frame.with_columns(pl.col("__row").cast(pl.Int64))


def _ragged_rows(text: str, delimiter: str, width: int, skip_rows: int) -> tuple[int, int] | None:
    """First record whose field count differs from the header: (line, fields)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for i, row in enumerate(reader, start=1):
            if i <= skip_rows + 1 or not row:
                continue
            if len(row) != width:
                return reader.line_num, len(row)
    except csv.Error:
        return reader.line_num + 1, -1
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
    transcoded = data
    data = sniff(data, path, inner, fmt)
    if data is not transcoded and encoding.lower().replace("-", "").replace("_", "").startswith("utf16"):
        encoding = "utf-8"  # already transcoded from UTF-16
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
            if bad and bad[1] < 0:
                raise InputError(path, "malformed CSV record (a stray carriage return or NUL byte?)", row=bad[0])
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
        frame.columns = _check_header(frame.columns, path)
        frame = frame.select([pl.col(c).cast(pl.Utf8) for c in frame.columns])
        return [RawTable(path, frame.with_row_index("__row", offset=1).with_columns(pl.col("__row").cast(pl.Int64)))]
    raise InputError(path, f"unknown format {fmt!r}")


HEADER_BYTES = 1 << 16


def _gzip_text_head(path: str, member: str | None, fmt: str) -> tuple[bytes, str] | None:
    """The first 64 KiB of a gzipped text file, without inflating the rest: the file is
    read whole right after, and inflating it twice was a tenth of `results`' own time on
    the 2019 count. None (read it whole) for anything else or anything unusual, so that
    every error keeps its message."""
    if member is not None or "::" in str(path) or not str(path).lower().endswith(".gz"):
        return None
    p = Path(path)
    try:
        if not p.is_file():
            return None
        with open(p, "rb") as fh:
            raw = fh.read(HEADER_BYTES)
    except OSError:
        return None
    inner = p.name[:-3]
    if raw[:2] != b"\x1f\x8b" or detect_format(inner, fmt) != "csv":
        return None
    stream = zlib.decompressobj(31)
    try:
        out = stream.decompress(raw, HEADER_BYTES)
    except zlib.error:
        return None
    # enough text for a header line; a short or odd stream is read whole (and judged there)
    if len(out) < HEADER_BYTES or b"\n" not in out:
        return None
    return out, inner


def read_header(path: str, fmt: str = "auto", encoding: str = "auto", delimiter: str = ",", skip_rows: int = 0,
                member: str | None = None) -> list[str]:
    """Column names only, cheaply (used to pick a mapping)."""
    head = _gzip_text_head(path, member, fmt)
    data, inner = head if head else read_bytes(path, member)
    fmt = detect_format(inner, fmt)
    data = sniff(data, path, inner, fmt)
    if fmt == "csv":
        end = data.find(b"\n", 0)
        for _ in range(skip_rows):
            end = data.find(b"\n", end + 1)
        start = 0 if skip_rows == 0 else data.rfind(b"\n", 0, end) + 1
        text, _ = decode(data[start : end if end >= 0 else len(data)], path, "auto" if encoding.lower().startswith("utf-16") else encoding)
        try:
            return header_names(next(csv.reader([text.rstrip("\r")], delimiter=delimiter), []))
        except csv.Error as exc:
            raise InputError(path, f"malformed CSV header: {exc}", row=1) from exc
    if fmt == "xlsx":
        import fastexcel

        try:
            book = fastexcel.read_excel(data)
            header = book.load_sheet(book.sheet_names[0], header_row=None, n_rows=skip_rows + 1).to_polars()
        except Exception as exc:  # noqa: BLE001 - any workbook failure is an input error
            raise InputError(path, f"cannot open as XLSX: {exc}") from exc
        return header_names([("" if v is None else str(v)) for v in header.row(skip_rows)]) if header.height > skip_rows else []
    try:
        return header_names(list(pl.read_parquet_schema(io.BytesIO(data))))
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot read Parquet: {exc}") from exc


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
            heads = _check_header(heads, where)
            frame = book.load_sheet(sheet, header_row=skip_rows, dtypes="string").to_polars()
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"cannot read sheet {sheet!r}: {exc}") from exc
        if frame.width == len(heads):
            frame.columns = heads
        else:
            frame = frame.rename({c: c.strip() for c in frame.columns})
        frame = frame.with_row_index("__row", offset=skip_rows + 2).with_columns(pl.col("__row").cast(pl.Int64))
        tables.append(RawTable(path, frame, sheet, None))
    return tables
