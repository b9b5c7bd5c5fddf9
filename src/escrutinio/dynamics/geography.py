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
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree

RADII_KM = (5.0, 20.0, 60.0)
# The radius the projection adjusts for. On Bolivia's 2019 count orders the voters within
# 5 km net out most of the order's selection and 20 or 60 km add nothing to it (benchmark 4d)
REMOTENESS_KM = 5.0
REMOTENESS_COVARIATE = "voters_5km"
EARTH_KM_PER_DEGREE = 111.195  # mean Earth radius 6,371 km


def voters_within(lat: np.ndarray, lon: np.ndarray, registered: np.ndarray,
                  radii_km: tuple[float, ...] = RADII_KM) -> np.ndarray:
    """Places x radii: registered voters of the places within each radius of each place
    (NaN for a place without coordinates)."""
    lat = np.asarray(lat, np.float64)
    lon = np.asarray(lon, np.float64)
    R = np.asarray(registered, np.float64)
    out = np.full((lat.size, len(radii_km)), np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if not ok.any():
        return out
    la, lo, r = lat[ok], lon[ok], R[ok]
    # equirectangular projection about each pair's mean latitude is approximated by the
    # place's own latitude: the error is below 1% within 60 km
    xyz = np.c_[np.radians(lo) * np.cos(np.radians(la)), np.radians(la)] * (EARTH_KM_PER_DEGREE * 180 / np.pi)
    tree = cKDTree(xyz)
    for j, km in enumerate(radii_km):
        pairs = tree.query_pairs(km, output_type="ndarray")
        i, k = pairs[:, 0], pairs[:, 1]
        n = la.size
        m = coo_matrix((np.ones(2 * i.size), (np.r_[i, k], np.r_[k, i])), shape=(n, n)).tocsr()
        out[ok, j] = r + m @ r
    return out
