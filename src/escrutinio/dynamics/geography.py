"""How remote a polling place is, from coordinates and the roll alone.

Why: counts reach cities first and remote places last, and remote places vote
differently (Bolivia 2019: MAS about 37% of registered voters in metropolitan places, 61%
in isolated rural ones). Area types say part of this; inside an area type and department,
the places counted first are still the less remote ones. The registered voters within a
few kilometres of a place measure how remote it is, for every place of the roll, before
anything is counted, so a projection can adjust for it (selection on observables) instead
of carrying all of it as unexplained selection of the order.

Measured on Bolivia's two 2019 count orders (``benchmarks/bench_dynamics.py
--urban-first``, 4d): the selection of the order on MAS's rate inside area type x
department (Meng's data defect correlation in latent form, ``r_place``) falls from 0.29
to 0.12 in the final-count order when these covariates are netted out.

Statistic: for each radius, the sum of the roll's registered voters of the places within
that great-circle distance (an equirectangular approximation, exact to well under 1% at
these distances), the place's own voters included. Caveat: a place without coordinates
gets no value (the model fills it with the mean); coordinates that are wrong make a place
look more or less remote than it is.
"""
from __future__ import annotations

import numpy as np

RADII_KM = (5.0, 20.0, 60.0)
# The radius the projection adjusts for. On Bolivia's 2019 count orders the voters within
# 5 km net out most of the order's selection and 20 or 60 km add nothing to it (benchmark 4d)
REMOTENESS_KM = 5.0
REMOTENESS_COVARIATE = "voters_5km"
EARTH_KM_PER_DEGREE = 111.195  # mean Earth radius 6,371 km
PAIRS_PER_CHUNK = 1_000_000  # pairs per step: about 350 MB at the peak for 200,000 places (bench_geography.py)


def voters_within(lat: np.ndarray, lon: np.ndarray, registered: np.ndarray,
                  radii_km: tuple[float, ...] = RADII_KM, max_pairs: int = PAIRS_PER_CHUNK) -> np.ndarray:
    """Places x radii: registered voters of the places within each radius of each place
    (NaN for a place without coordinates). ``max_pairs`` bounds the memory of one step:
    a dense city can have thousands of places within a few kilometres of each other."""
    lat = np.asarray(lat, np.float64)
    lon = np.asarray(lon, np.float64)
    R = np.asarray(registered, np.float64)
    out = np.full((lat.size, len(radii_km)), np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if not ok.any():
        return out
    la, lo, r = lat[ok], lon[ok], R[ok]
    # equirectangular about each place's own latitude: the error is below 1% within 60 km
    xy = np.c_[np.radians(lo) * np.cos(np.radians(la)), np.radians(la)] * (EARTH_KM_PER_DEGREE * 180 / np.pi)
    from scipy.spatial import cKDTree  # here: the projection imports this module for its constants

    tree = cKDTree(xy)
    n = la.size
    for j, km in enumerate(radii_km):
        # pairs within km (each place with itself included), to size the steps
        pairs = float(tree.count_neighbors(tree, km))
        step = int(max(1, min(n, n * max_pairs // max(pairs, 1.0))))
        acc = np.empty(n)
        for start in range(0, n, step):  # a few steps, not a loop over places
            stop = min(n, start + step)
            # every pair within km, the place itself and places at the same spot included
            m = cKDTree(xy[start:stop]).sparse_distance_matrix(tree, km, output_type="ndarray")
            acc[start:stop] = np.bincount(m["i"], r[m["j"]], minlength=stop - start)
        out[ok, j] = acc
    return out


def with_voters_within(frame, place: str = "place_id", coordinates=None, radii_km: tuple[float, ...] = (REMOTENESS_KM,),
                       registered: str = "registered"):
    """``frame`` (one row per table: ``place``, ``registered``) with a column
    ``voters_{km}km`` per radius: the registered voters of ``frame`` within that distance
    of the table's place. Coordinates come from ``coordinates`` (a frame with ``place``,
    ``lat``, ``lon``) or, without it, from the frame's own ``lat`` and ``lon``. A place
    without coordinates gets null."""
    import polars as pl

    per_place = frame.group_by(place).agg(pl.col(registered).sum().cast(pl.Float64).alias("_R"),
                                          *([] if coordinates is not None else
                                            [pl.col("lat").drop_nulls().first(), pl.col("lon").drop_nulls().first()]))
    if coordinates is not None:
        per_place = per_place.join(coordinates.select(place, "lat", "lon").unique(place, keep="first"), on=place,
                                   how="left")
    near = voters_within(per_place["lat"].cast(pl.Float64).to_numpy(), per_place["lon"].cast(pl.Float64).to_numpy(),
                         per_place["_R"].to_numpy(), radii_km)
    cols = pl.DataFrame({place: per_place[place]} | {f"voters_{km:g}km": near[:, j] for j, km in enumerate(radii_km)})
    cols = cols.with_columns([pl.col(f"voters_{km:g}km").fill_nan(None) for km in radii_km])
    return frame.join(cols, on=place, how="left")
