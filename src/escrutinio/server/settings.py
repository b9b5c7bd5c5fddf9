"""Server settings: where the data lives and how much a request may carry."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from escrutinio.errors import UsageError

DEFAULT_DATABASE = "sqlite:///escrutinio.db"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default driver is psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_file(url: str) -> Path | None:
    """The database file of an embedded (SQLite) URL; None for PostgreSQL or in-memory."""
    # imported here: every CLI command imports this module for its default URL, and
    # SQLAlchemy would add a tenth of a second to each of them
    from sqlalchemy.engine import make_url

    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def is_sqlite(url: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def default_signing_key(db: Path | None, data_dir: Path) -> Path:
    """The signing key's default place: a private ``keys/`` folder (0700) beside the
    SQLite file or the data directory, never inside the folder that gets published."""
    base = db.parent if db else Path(data_dir).parent
    stem = db.stem if db else "escrutinio"
    return base / f"{stem}-keys" / "signing-key.pem"


@dataclass
class Settings:
    database_url: str = DEFAULT_DATABASE
    #: photos, uploaded files being read, static snapshots; default: next to the SQLite
    #: file (``escrutinio.db`` -> ``escrutinio-data/``), or ``./escrutinio-data`` for PostgreSQL
    data_dir: Path | None = None
    #: the results log's signing key (LOG's ``escrutinio server keygen`` writes it)
    signing_key: Path | None = None
    #: expected tables (any file `escrutinio results --roll` takes), for completeness and projection
    roll: Path | None = None
    #: the mapping of the roll when it is not a bundled layout (a name or a TOML file):
    #: another country's roll declares its levels through it
    roll_mapping: str | None = None
    #: polling places with their area type (`escrutinio project --places`): with it the
    #: projection models area type x department x municipality, which an urban-first
    #: count needs (docs/dynamics.md, issue 15)
    places: Path | None = None
    #: a previous election's count (`escrutinio project --previous`), a covariate of the projection
    previous: Path | None = None
    #: the mapping of that file when it is not a bundled layout (a name or a TOML file)
    previous_mapping: str | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    max_photo_bytes: int = 16 * 1024 * 1024
    #: any other request body (JSON entries, other areas' uploads)
    max_request_bytes: int = 16 * 1024 * 1024
    #: seconds between background checkpoint checks while the log grows
    checkpoint_interval: float = 60.0
    #: seconds between polls of the event table by each process's event hub (one SELECT
    #: per process whatever the number of streams): an event reaches every instance's
    #: streams within about this long, so it stays well under the 1 s election-night goal
    events_poll: float = 0.25
    #: seconds a verified token is trusted without asking the database again (by its
    #: hash, in each process's memory): a revoked or rotated token is refused within
    #: this time by every process, at once by the one that revoked it; 0: ask every time
    token_cache_seconds: float = 5.0
    #: seconds between two reads of the data version (the newest event and snapshot
    #: ids) by each process: cached answers (results, discrepancies, PVT) reflect
    #: another process's or instance's write within this time, a write made through this
    #: process at once
    read_version_interval: float = 0.25
    #: threads per process that may run writes of copies (entries, resolutions, releases,
    #: SMS reports) at once; the others wait on the event loop, holding no thread. Writes
    #: queue on the database's single write lock anyway: more threads add no throughput,
    #: only contention for the interpreter lock with the event loop that answers reads
    write_threads: int = 8
    #: simulations of the projection made after each load, in a worker's background
    #: thread on the machine that answers the readers: a fixed 2,000 (each answer states
    #: its bounds' Monte Carlo error and how far another seed moves them). None sizes them
    #: as ``escrutinio project`` does (a pilot, then up to 64,000 for bounds within 0.05
    #: points over ten seeds: up to about a minute of CPU per contest and load)
    projection_simulations: int | None = 2000
    #: FastAPI's OpenTelemetry hooks (tracing, metrics, logs) for an operator who
    #: configures OpenTelemetry providers; off by default: they cost about 20 µs a request
    otel: bool = False
    #: seconds an SSE stream stays open before asking the client to reconnect (bounded)
    events_lifetime: float = 300.0
    #: ceiling of any one count on a copy when neither the roll nor the official count
    #: says how many voters the table has (a table of Bolivia has at most 250 voters)
    max_count: int = 100_000
    #: a decompressed upload may not pass this many bytes, nor (past 64 MiB) this ratio
    max_decompressed_bytes: int = 512 * 1024 * 1024
    max_decompression_ratio: int = 100
    #: rate limits ("N/second", "N/minute"..., the ``limits`` library's notation; None:
    #: off). Per client address for requests without a token, per token otherwise.
    rate_limit_client: str | None = "30/second;600/minute"
    rate_limit_token: str | None = "60/second;2400/minute"
    #: requests with a query string (filters: each distinct one is computed afresh) cost
    #: more than cached reads; they have their own, lower limit on top of the above
    rate_limit_query: str | None = "20/second;300/minute"
    #: concurrent event streams per client address (without a token) or per token
    max_streams: int = 8
    #: longest query string and header value accepted (bytes)
    max_query_bytes: int = 4096
    max_header_bytes: int = 8192
    extra: dict = field(default_factory=dict)
    # the projection's input files' hashes, computed once (services.projection_inputs)
    _inputs: dict | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.database_url = normalise_url(self.database_url)
        db = sqlite_file(self.database_url)
        if self.data_dir is None:
            self.data_dir = db.with_name(db.stem + "-data") if db else Path("escrutinio-data")
        self.data_dir = Path(self.data_dir)
        if self.signing_key is None:
            # never next to the public publication/ folder the data directory holds
            self.signing_key = default_signing_key(db, self.data_dir)
        self.signing_key = Path(self.signing_key)
        if self.roll is not None:
            self.roll = Path(self.roll)
        self.places = Path(self.places) if self.places is not None else None
        self.previous = Path(self.previous) if self.previous is not None else None
        _whole("write_threads", self.write_threads, 64)
        if self.projection_simulations is not None:
            _whole("projection_simulations", self.projection_simulations, 1_000_000, "null or ")

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.database_url)


def _whole(name: str, value, high: int, other: str = "") -> None:
    """An operator's setting that must be a whole number from 1 to ``high`` (``true`` is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise UsageError(f"{name} must be {other}a whole number from 1 to {high:,}, not {value!r}")


def overrides_from_environment(environ=None) -> dict:
    """The operator's tuning in ``ESCRUTINIO_SETTINGS_OVERRIDES`` (a JSON object), checked:
    a typo is a one-line usage error naming what is wrong, said by ``serve`` before any
    worker starts, not a traceback in every worker."""
    import json
    import os

    raw = (os.environ if environ is None else environ).get("ESCRUTINIO_SETTINGS_OVERRIDES", "")
    if not raw.strip():
        return {}
    try:
        out = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"ESCRUTINIO_SETTINGS_OVERRIDES is not JSON ({exc})") from None
    if not isinstance(out, dict):
        raise UsageError("ESCRUTINIO_SETTINGS_OVERRIDES must be a JSON object, e.g. {\"write_threads\": 4}")
    known = {f.name for f in fields(Settings) if f.init}
    unknown = sorted(set(out) - known)
    if unknown:
        raise UsageError(f"ESCRUTINIO_SETTINGS_OVERRIDES: unknown settings {unknown}; known: {sorted(known)}")
    return out

