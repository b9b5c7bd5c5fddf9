"""The projection's inputs besides the count, for the server and `escrutinio serve`: the
roll, the polling places and a previous election's results, and the model's measured
constants that a stored projection depends on. The server reads them here, not from
``dynamics`` directly."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from escrutinio.dynamics.geography import REMOTENESS_COVARIATE  # noqa: F401  (the covariate's name, shown on the pages)
from escrutinio.model import Snapshot


def read_roll(path: str | Path, mapping=None) -> pl.DataFrame:
    """Every expected table (:func:`escrutinio.dynamics.sources.read_roll`)."""
    from escrutinio.dynamics.sources import read_roll as read

    return read(path, mapping=mapping)


def read_places(path: str | Path) -> pl.DataFrame:
    """Polling places with their coordinates (:func:`escrutinio.dynamics.sources.read_places`)."""
    from escrutinio.dynamics.sources import read_places as read

    return read(path)


def read_previous(path: str | Path, mapping=None) -> Snapshot:
    """A previous election's results (:func:`escrutinio.dynamics.sources.read_snapshot`)."""
    from escrutinio.dynamics.sources import read_snapshot

    return read_snapshot(path, mapping=mapping)


def model_constants() -> dict:
    """The multilevel model's measured constants: a projection stored with others (another
    release's priors or remoteness radius) is made again."""
    from escrutinio.dynamics import multilevel
    from escrutinio.dynamics.geography import REMOTENESS_KM

    return {"selection_r": multilevel.SELECTION_R,
            "selection_r_given_remoteness": multilevel.SELECTION_R_GIVEN_REMOTENESS,
            "remoteness_km": REMOTENESS_KM, "selection_r_settlement": multilevel.SELECTION_R_SETTLEMENT}
