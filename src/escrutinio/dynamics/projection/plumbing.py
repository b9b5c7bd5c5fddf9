"""Shared plumbing of the projection models: the roll's geographic hierarchy, choice names
across elections, a previous election's rates by polling place, table and stratum codes,
and how much of the uncounted vote lies in strata with few counted tables."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.errors import UsageError

EXTRAPOLATION_K = 10  # a stratum with fewer counted tables than this is "extrapolated"


def hierarchy(roll: pl.DataFrame, levels: Sequence[str] | None = None) -> tuple[list[str], pl.DataFrame]:
    """Hierarchy key columns (coarse -> fine, last = polling place) for a roll.

    Names path when the roll has level names (2019: the TREP has no place id, so places
    are matched by country/department/.../polling_place name); otherwise the 16-digit
    Bolivian place id and its prefixes (country, department, locality).
    """
    cols = []
    exprs = []
    named = [lv for lv in (levels or ()) if lv in roll.columns and roll[lv].null_count() < roll.height]
    if named:
        for i, lv in enumerate(named):
            exprs.append(pl.concat_str([pl.col(c).fill_null("") for c in named[: i + 1]], separator="|").alias(f"_h_{lv}"))
            cols.append(f"_h_{lv}")
    elif "place_id" in roll.columns and roll["place_id"].null_count() < roll.height:
        pid = pl.col("place_id").fill_null("")
        if roll["place_id"].drop_nulls().str.len_chars().eq(16).all():
            for name, n in (("country", 5), ("department", 7), ("locality", 11)):
                exprs.append(pid.str.slice(0, n).alias(f"_h_{name}"))
                cols.append(f"_h_{name}")
        exprs.append(pid.alias("_h_polling_place"))
        cols.append("_h_polling_place")
    else:
        raise UsageError("the roll has neither geographic level names nor polling-place ids: cannot match tables")
    return cols, roll.with_columns(exprs)



def canonical(name: str) -> str:
    """Choice names across elections and sources: 'MAS - IPSP' == 'MAS_IPSP' == 'mas-ipsp'."""
    return "".join(ch for ch in str(name).upper() if ch.isalnum())


def previous_place_rates(previous: pl.DataFrame, choices: Sequence[str]) -> pl.DataFrame:
    """Per polling place of a previous election: votes per registered voter for each
    choice, blank and null (``place_id`` + ``prev:<canonical name>`` columns)."""
    if "place_id" not in previous.columns or previous["place_id"].null_count() == previous.height:
        raise UsageError("the previous election has no polling-place ids to match on")
    chans = [*choices, "blank", "null"]
    g = previous.group_by("place_id").agg([pl.col(c).sum() for c in chans] + [pl.col("registered").sum()])
    g = g.filter(pl.col("registered") > 0)
    return g.select("place_id", *[(pl.col(c) / pl.col("registered")).alias(f"prev:{canonical(c)}") for c in chans])


def _previous_rates(joined: pl.DataFrame, previous: pl.DataFrame, channels: Sequence[str], hcols: list[str]):
    """Previous-election rates for every roll table (tables x channels), matched by
    polling place; a place new since then takes the registered-weighted rate of its
    nearest area that has one."""
    if "place_id" not in joined.columns:
        raise UsageError("the roll has no polling-place ids: cannot use a previous election")
    prev = previous if any(c.startswith("prev:") for c in previous.columns) else None
    if prev is None:
        raise UsageError("previous must come from previous_place_rates()")
    have = {c.removeprefix("prev:") for c in prev.columns if c.startswith("prev:")}
    matched = [c for c in channels if canonical(c) in have]
    cols = [f"prev:{canonical(c)}" for c in matched]
    j = joined.select("place_id", "registered", *hcols).join(prev.select("place_id", *cols), on="place_id", how="left")
    filled = int(j[cols[0]].null_count()) if cols else 0
    for h in reversed(hcols[:-1]):
        def area(c: str) -> pl.Expr:
            return ((pl.col(c) * pl.col("registered")).sum().over(h)
                    / pl.col("registered").filter(pl.col(c).is_not_null()).sum().over(h)).fill_nan(None)

        j = j.with_columns([pl.coalesce(pl.col(c), area(c)).alias(c) for c in cols])
    j = j.with_columns([pl.col(c).fill_null(strategy="mean") for c in cols])
    P = np.zeros((joined.height, len(channels)))
    for c, col in zip(matched, cols):
        P[:, channels.index(c)] = j[col].to_numpy()
    return P, matched, filled


def roll_levels_2020(roll: pl.DataFrame, places: pl.DataFrame | None = None) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Geography for an id-only roll (Bolivia 2020): country, department and locality
    from the 16-digit place id; province and municipality from the polling-place list
    (``PROV``/``MUN`` by ``ID_RECI``) when given. Returns the roll and its level names."""
    pid = pl.col("place_id")
    out = roll.with_columns(pid.str.slice(0, 5).alias("country"), pid.str.slice(0, 7).alias("department"))
    levels = ["country", "department"]
    if places is not None and {"place_id", "province", "municipality"} <= set(places.columns):
        out = out.drop([c for c in ("province", "municipality") if c in out.columns]).join(
            places.select("place_id", "province", "municipality"), on="place_id", how="left")
        out = out.with_columns(pl.col("province").fill_null("?"), pl.col("municipality").fill_null("?"))
        levels += ["province", "municipality"]
    out = out.with_columns(pid.str.slice(0, 11).alias("locality"), pid.alias("polling_place"))
    levels += ["locality", "polling_place"]
    return out, tuple(levels)


def _codes(values: pl.Series) -> np.ndarray:
    """Dense 0..k-1 integer codes of a string column."""
    return (values.fill_null("").rank("dense").to_numpy().astype(np.int64) - 1) if values.len() else np.zeros(0, np.int64)



def _stratum_codes(joined: pl.DataFrame, cols: Sequence[str]) -> np.ndarray:
    if not cols:
        return np.zeros(joined.height, np.int64)
    key = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("?") for c in cols], separator="|")
    return _codes(joined.select(key.alias("k"))["k"])


def _extrapolation(joined, cols, is_c, Rr, k, by=None) -> dict:
    """Share of uncounted voters in strata (``cols`` together) with fewer than k counted
    tables, overall and by the values of the ``by`` column."""
    from escrutinio.dynamics.multilevel import extrapolation

    code = _stratum_codes(joined, cols)
    U = np.where(is_c, 0.0, Rr)
    out = extrapolation(code, is_c, U, k)
    out["stratum"] = " x ".join(c.removeprefix("_h_") for c in cols)
    if by is not None:
        n = int(code.max()) + 1
        ct = np.bincount(code, is_c.astype(np.float64), n)[code]
        frame = pl.DataFrame({"g": joined[by].cast(pl.Utf8).fill_null("?"), "U": U, "few": (ct < k) & (U > 0),
                              "none": (ct == 0) & (U > 0)})
        g = frame.group_by("g").agg(pl.col("U").sum(), (pl.col("U") * pl.col("few")).sum().alias("Uf"),
                                    (pl.col("U") * pl.col("none")).sum().alias("Un")).sort("g")
        out["by"] = {r["g"]: {"uncounted_registered": int(r["U"]), "share_few": r["Uf"] / r["U"] if r["U"] else 0.0,
                              "share_none": r["Un"] / r["U"] if r["U"] else 0.0} for r in g.iter_rows(named=True)}
    return out
