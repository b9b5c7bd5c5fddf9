"""Outlier tables: actas an observer should go and look at, each with its reason.

* turnout at or above a chosen level (default 100 %), and more ballots than registered
  voters;
* one choice holding (nearly) all valid votes (default >= 99 % of at least 20 valid votes);
* identical tallies repeated within a polling place (same vector of votes, at least 20
  valid votes) - the "copy" pattern discussed by Beber & Scacco (2012) and observers;
* turnout or leader share far from the other tables of the same polling place: robust
  z = (x - median) / max(1.4826 * MAD, binomial sd at the station's size), computed in
  the finest group (polling place, then coarser levels) that has at least ``min_group``
  tables. Outlier detection in hierarchical groups follows Mebane & Sekhon (2004),
  "Robust estimation and outlier detection for overdispersed multinomial models of
  count data", AJPS 48(2), in spirit (robust location and scale, no model fit).

Null/caveat: these are not tests; they list tables whose numbers are unusual for a
reason stated in words. A flagged table may be perfectly legitimate (a small rural
table where everybody voted, a family polling place). Check the acta.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from escrutinio.forensics.core import StationData

CAVEAT = ("A flagged table is unusual, not fraudulent: small rural tables can legitimately reach 100 % turnout "
          "or vote unanimously. Each flag says why; check the acta.")


def _robust_z(values: np.ndarray, n: np.ndarray, keys: list[np.ndarray], min_group: int) -> tuple[np.ndarray, np.ndarray]:
    """z-score against the finest group with at least ``min_group`` members; returns
    (z, index of the level used or -1)."""
    z = np.full(len(values), np.nan)
    level_used = np.full(len(values), -1)
    for li, key in enumerate(keys):
        df = pl.DataFrame({"k": key, "x": values})
        g = df.with_columns(
            pl.col("x").median().over("k").alias("med"),
            pl.len().over("k").alias("size"),
        ).with_columns((pl.col("x") - pl.col("med")).abs().median().over("k").alias("mad"))
        med = g.get_column("med").to_numpy()
        mad = g.get_column("mad").to_numpy()
        size = g.get_column("size").to_numpy()
        todo = np.isnan(z) & (size >= min_group)
        binom_sd = np.sqrt(np.clip(med * (1 - med), 1e-4, None) / np.maximum(n, 1))
        scale = np.maximum(1.4826 * mad, binom_sd)
        z[todo] = ((values - med) / scale)[todo]
        level_used[todo] = li
    return z, level_used


KNOWN_LEVELS = ("country", "department", "province", "municipality", "locality", "polling_place")
KNOWN_AREAS = ("locality", "municipality", "province", "department")


def grouping(data: StationData, group_levels: list[str] | None = None
             ) -> tuple[list[str], str | None, list[str], str | None]:
    """Where the outlier checks compare tables: (levels from coarsest to finest, the
    polling-place level, the levels to compare within from finest to coarsest, and a note
    saying what was skipped and why, or None).

    The mapping declares them (``place_level`` / ``area_level``, contract C7); without a
    declaration, the level names of the bundled Bolivian layouts are recognised."""
    order = [k for k in data.level_order if k in data.groups] or [k for k in KNOWN_LEVELS if k in data.groups]
    place = data.place_level if data.place_level in data.groups else (
        "polling_place" if "polling_place" in data.groups else None)
    area = data.area_level if data.area_level in data.groups else None
    if group_levels is not None:
        return order, place, list(group_levels), None
    if place is None and area is None:
        known = [k for k in KNOWN_AREAS if k in data.groups]
        if not known:
            return order, None, [], (
                "Outlier checks within polling places and areas (identical tallies, turnout and leader-share "
                "outliers) were skipped: the mapping declares no place_level or area_level and none of the levels "
                f"({', '.join(data.groups) or 'none'}) is one forensics recognises. Declare them in the mapping "
                "(place_level = \"...\", area_level = \"...\", see docs/mapping.md).")
    if area is None:
        # undeclared: compare within the finest recognised level that has enough tables,
        # up to the department, as for the bundled Bolivian files
        levels = [k for k in ("place_id", place, *KNOWN_AREAS) if k is not None and (k in data.groups)]
    else:
        finest_first = list(reversed(order))
        start = finest_first.index(place) if place in finest_first else 0
        stop = finest_first.index(area) if area in finest_first else len(finest_first) - 1
        levels = (["place_id"] if place is not None and "place_id" in data.groups else []) + finest_first[start:stop + 1]
        if place is None:
            levels = [area]
    levels = list(dict.fromkeys(levels))
    note = None
    if place is None:
        note = ("Identical tallies were not checked: the mapping declares no place_level (the polling place), so "
                f"tables cannot be grouped by place. Turnout and leader-share outliers are computed within {area or levels[0]}.")
    return order, place, levels, note


def find_outliers(data: StationData, turnout_level: float = 1.0, unanimity: float = 0.99, min_valid: int = 20,
                  z_threshold: float = 5.0, min_group: int = 5, group_levels: list[str] | None = None,
                  limit: int | None = None) -> list[dict]:
    """Flag tables, one dict per (table, reason): ``unit``, ``reason``, ``kind``,
    ``source_row`` and the table's numbers."""
    reg, emi, val = data.registered, data.emitted, data.valid
    lead = data.votes[:, data.leader_index]
    with np.errstate(divide="ignore", invalid="ignore"):
        turnout = np.where(reg > 0, emi / np.maximum(reg, 1), np.nan)
        base = data.share_base
        share = np.where(base > 0, lead / np.maximum(base, 1), np.nan)
    units = data.unit_labels()
    rows = data.source_rows
    out: list[dict] = []

    def add(mask, kind, reason_fn, extra=None):
        for i in np.flatnonzero(mask):  # loops only over flagged tables, for their messages
            rec = {"unit": str(units[i]), "kind": kind, "reason": reason_fn(i),
                   "source_row": None if rows is None else int(rows[i]),
                   "registered": int(reg[i]), "emitted": int(emi[i]), "valid": int(val[i]),
                   "turnout": None if np.isnan(turnout[i]) else round(float(turnout[i]), 4),
                   "leader_share": None if np.isnan(share[i]) else round(float(share[i]), 4)}
            for k, arr in data.groups.items():
                rec[k] = str(arr[i])
            if extra:
                rec.update(extra(i))
            out.append(rec)

    over = emi > reg
    add(over & (reg > 0), "over_registered", lambda i: f"more ballots ({emi[i]}) than registered voters ({reg[i]})")
    lvl_num = round(turnout_level * 1000)
    high = (reg > 0) & ~over & (emi * 1000 >= lvl_num * reg)
    add(high, "high_turnout", lambda i: f"turnout {100 * emi[i] / reg[i]:.1f}% ({emi[i]} of {reg[i]} registered)"
        + (" - everyone registered voted" if emi[i] == reg[i] else ""))
    top = data.votes.max(axis=1)
    top_idx = data.votes.argmax(axis=1)
    unan = (val >= min_valid) & (top * 1000 >= round(unanimity * 1000) * val)
    add(unan, "single_choice", lambda i: f"{data.choices[top_idx[i]]} has {top[i]} of {val[i]} valid votes "
        f"({100 * top[i] / val[i]:.1f}%)")
    hierarchy, place_level, levels, note = grouping(data, group_levels)
    # names repeat across the country (two "Escuela La Estrella" in different towns), so a
    # level's key is the path of names from the coarsest level down to it
    path: dict[str, np.ndarray] = {}
    if hierarchy:
        frame = pl.DataFrame({k: data.groups[k].astype(str) for k in hierarchy})
        for depth, k in enumerate(hierarchy):
            path[k] = frame.select(pl.concat_str(hierarchy[:depth + 1], separator=" / ")).to_series().to_numpy()
    if "place_id" in data.groups and (data.groups["place_id"] != "").all():
        path["place_id"] = data.groups["place_id"]
    place_key = path.get("place_id") if place_level is not None and "place_id" in path else (
        path.get(place_level) if place_level is not None else None)
    if place_key is not None:
        vote_cols = {f"v{j}": data.votes[:, j] for j in range(data.votes.shape[1])}
        df = pl.DataFrame({"place": place_key, "i": np.arange(data.n), "val": val, **vote_cols})
        df = df.filter((pl.col("val") >= min_valid) & ~pl.col("place").str.ends_with(" / ") & (pl.col("place") != ""))
        keys_dup = ["place", *vote_cols]
        dup = df.with_columns(pl.len().over(keys_dup).alias("copies"),
                              pl.col("i").min().over(keys_dup).alias("first")).filter(pl.col("copies") > 1)
        mask = np.zeros(data.n, bool)
        first = np.zeros(data.n, np.int64)
        copies = np.zeros(data.n, np.int64)
        idx = dup.get_column("i").to_numpy()
        mask[idx] = True
        first[idx] = dup.get_column("first").to_numpy()
        copies[idx] = dup.get_column("copies").to_numpy()
        place_label = data.groups.get(place_level, place_key)
        place_word = place_level.replace("_", " ")
        add(mask, "identical_tally", lambda i: f"same votes for every choice as {copies[i] - 1} other table(s) of "
            f"{place_word} {place_label[i]} (first: {units[first[i]]})")
    levels = [k for k in levels if k in path or (k != "place_id" and k in data.groups)]
    keys = [path.get(k, data.groups.get(k)) for k in levels]
    if keys:
        ok = (reg > 0) & (val > 0) & ~over
        for label, x, n in (("turnout", turnout, reg), ("leader_share", share, data.share_base)):
            xv = np.where(ok, x, np.nan)
            z, used = _robust_z(np.nan_to_num(xv, nan=0.0), n, keys, min_group)
            z[~ok] = np.nan
            far = np.abs(np.nan_to_num(z)) >= z_threshold
            add(far, f"{label}_outlier",
                lambda i, z=z, used=used, x=x, label=label: (
                    f"{label.replace('_', ' ')} {100 * x[i]:.1f}% is {z[i]:+.1f} robust sd from the median of its "
                    f"{levels[used[i]]}"),
                extra=lambda i, z=z: {"robust_z": round(float(z[i]), 2)})
    out.sort(key=lambda r: (r["kind"], r["unit"]))
    return out[:limit] if limit else out
