"""Compare two elections over the polling places present in both.

Bolivia's 16-digit polling-place ids mostly persist between 2019 and 2020 (5,243 of the
5,297 places of 2019), so results can be compared place for place, grouped by any
geographic level or by a polling-place attribute such as the area type (``URB`` in
``polling_places_2020.csv.gz``: metropolitan, peri-urban, connected rural, isolated
rural, abroad, unknown).

For each group: each choice's share of valid votes in each election, the swing (later
minus earlier, in points), turnout in each (ballots cast / registered) and its change,
and what the comparison covers (places, tables, registered voters).

Descriptive, no null hypothesis. Caveat: only places present in both elections are
compared; with a partial count only the places (and tables) counted so far are, and the
earlier election's side still uses every table of those places, so a partial place is
compared at its shares, not its totals. Choices are matched by name ignoring case and
punctuation ('MAS - IPSP' = 'MAS_IPSP'); a party can change its alliances between
elections, which no name match can see.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import polars as pl

from escrutinio.dynamics.projection import canonical
from escrutinio.errors import UsageError


@dataclass
class CompareResult:
    before: str
    after: str
    by: str
    choices: list[str]  # canonical names present in both (the keys of the shares), leading first
    groups: list[dict]
    coverage: dict
    notes: list[str] = field(default_factory=list)
    #: canonical name -> the name as the later election spells it ('MAS - IPSP', not 'MASIPSP')
    names: dict[str, str] = field(default_factory=dict)
    caveat: str = ("Only polling places present in both elections are compared; a partial count covers only "
                   "the places counted so far. Shares are of valid votes.")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_frame(self) -> pl.DataFrame:
        rows = []
        for g in self.groups:
            r = {"group": g["group"], "places": g["places"], "registered_before": g["registered_before"],
                 "registered_after": g["registered_after"], "turnout_before": g["turnout_before"],
                 "turnout_after": g["turnout_after"]}
            for c in self.choices:  # columns named as the later election spells the choice
                r[f"{self.name(c)}_before"] = g["shares_before"][c]
                r[f"{self.name(c)}_after"] = g["shares_after"][c]
                r[f"{self.name(c)}_swing"] = g["swing"][c]
            rows.append(r)
        return pl.DataFrame(rows)

    def name(self, c: str) -> str:
        return self.names.get(c, c)

    def focus(self, focus: Sequence[str] | None = None) -> list[str]:
        """The choices to show: the two leading in the later election over the shared
        places (``choices`` is in that order), or those named, which must exist."""
        if not focus:
            return list(self.choices[:2])
        out, unknown = [], []
        for f in focus:
            c = canonical(f)
            (out if c in self.choices else unknown).append(c if c in self.choices else f)
        if unknown:
            raise UsageError(f"--focus {', '.join(map(repr, unknown))}: no such choice in both elections; "
                             f"choices: {', '.join(self.name(c) for c in self.choices)}")
        return list(dict.fromkeys(out))

    def summary(self, focus: Sequence[str] | None = None) -> str:
        focus = self.focus(focus)
        cv = self.coverage
        lines = [f"Compare {self.before} -> {self.after} by {self.by}: {cv['places']:,} shared places "
                 f"({100 * cv['share_of_places_before']:.1f}% of the earlier election's, "
                 f"{100 * cv['share_of_places_after']:.1f}% of the later's); registered covered "
                 f"{100 * cv['share_of_registered_before']:.1f}% / {100 * cv['share_of_registered_after']:.1f}%"]
        lines.append("  shares of valid votes (%), then -> now: " + ", ".join(self.name(c) for c in focus))
        head = f"  {'group':<22} {'places':>6} " + " ".join(f"{self.name(c)[:12] + ' then':>17} {'now':>6} {'swing':>6}" for c in focus)
        lines.append(head + f" {'turnout then':>12} {'now':>6}")
        for g in self.groups:
            cells = " ".join(f"{g['shares_before'][c]:>17.2f} {g['shares_after'][c]:>6.2f} {g['swing'][c]:>+6.2f}" for c in focus)
            lines.append(f"  {str(g['group'])[:22]:<22} {g['places']:>6,} {cells} "
                         f"{100 * g['turnout_before']:>12.1f} {100 * g['turnout_after']:>6.1f}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def _place_key(snap, frame: pl.DataFrame) -> pl.DataFrame:
    """Without polling-place ids (a file read through a mapping), places are matched by
    their names path down to the mapping's place level (or the finest level)."""
    if "place_id" in frame.columns and frame["place_id"].null_count() < frame.height:
        return frame
    levels = [lv for lv in (getattr(snap, "levels", ()) or ()) if lv in frame.columns]
    place = getattr(snap, "place_level", None)
    if place in levels:
        levels = levels[: levels.index(place) + 1]
    if not levels:
        return frame
    return frame.with_columns(pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in levels],
                                            separator="|").alias("place_id"))


def _prep(frame: pl.DataFrame, choices: Sequence[str], name: str) -> tuple[pl.DataFrame, dict[str, str]]:
    if "place_id" not in frame.columns or frame["place_id"].null_count() == frame.height:
        raise UsageError(f"{name} has no polling-place ids: elections are compared place by place")
    canon = {canonical(c): c for c in choices}
    if len(canon) != len(choices):
        raise UsageError(f"{name}: two choices share a canonical name")
    emitted = "emitted" if "emitted" in frame.columns else None
    cols = [pl.col("place_id"), pl.col("registered")] + [pl.col(c).alias(k) for k, c in canon.items()]
    cols.append((pl.col(emitted) if emitted else pl.sum_horizontal([*choices, "blank", "null"])).alias("_emitted"))
    cols.append(pl.sum_horizontal(list(choices)).alias("_valid"))  # shares are of all valid votes
    return frame.filter(pl.col("place_id").is_not_null()).select(cols), canon


def compare(before, after, *, by: str = "department", places: pl.DataFrame | None = None,
            before_name: str = "before", after_name: str = "after") -> CompareResult:
    """Compare two snapshots (``Snapshot``; the later one is taken under the law) over
    their shared polling places, grouped by a level (``by``, taken from the later
    snapshot's geography) or by a column of ``places`` (``place_id`` + attributes)."""
    fa = _place_key(before, before.counted() if hasattr(before, "counted") else before)
    fb = _place_key(after, after.counted() if hasattr(after, "counted") else after)
    ca = list(before.counted_choices) if hasattr(before, "counted_choices") else [c for c in fa.columns]
    cb = list(after.counted_choices) if hasattr(after, "counted_choices") else [c for c in fb.columns]
    before_name = getattr(before, "name", before_name) or before_name
    after_name = getattr(after, "name", after_name) or after_name
    a, canon_a = _prep(fa, ca, before_name)
    b, canon_b = _prep(fb, cb, after_name)
    shared_choices = [k for k in canon_b if k in canon_a]
    if not shared_choices:
        raise UsageError("the two elections share no choice name")
    only = sorted(set(canon_a) ^ set(canon_b))
    notes = []
    if only:
        notes.append(f"choices in one election only (shares not compared): {only}")
    # group key per place
    if places is not None and by in places.columns:
        key = places.select("place_id", pl.col(by).cast(pl.Utf8).alias("_group")).unique("place_id")
    elif by in fb.columns:
        grp = pl.col(by).first().cast(pl.Utf8)
        if "country" in fb.columns and by != "country":
            # places abroad form one group: their "departments" are foreign regions
            home = fb.group_by("country").agg(pl.col("registered").sum()).sort("registered").tail(1)["country"][0]
            grp = pl.when(pl.col("country").first() == home).then(grp).otherwise(pl.lit("abroad"))
        key = fb.group_by("place_id").agg(grp.alias("_group"))
    elif by in fa.columns:
        key = fa.group_by("place_id").agg(pl.col(by).first().cast(pl.Utf8).alias("_group"))
    else:
        raise UsageError(f"cannot group by {by!r}: not a level of either election nor a polling-place attribute")
    sums = [pl.col(c).sum() for c in ["registered", "_emitted", "_valid", *shared_choices]] + [pl.len().alias("_tables")]
    pa = a.group_by("place_id").agg(sums)
    pb = b.group_by("place_id").agg(sums)
    shared = pa.join(pb, on="place_id", how="inner", suffix="_b").join(key, on="place_id", how="left")
    if shared.height == 0:
        raise UsageError(f"{before_name} and {after_name} share no polling place ({pa.height:,} and {pb.height:,} "
                         "places): elections are compared place by place, so there is nothing to compare "
                         "(are they the same country, and do both files carry the same polling-place ids?)")
    missing_group = shared["_group"].null_count()
    if missing_group:
        notes.append(f"{missing_group} shared places have no {by!r}; grouped as 'unknown'")
        shared = shared.with_columns(pl.col("_group").fill_null("unknown"))

    def block(df: pl.DataFrame, label: str) -> dict:
        t = df.select(pl.all().exclude("place_id", "_group").sum()).row(0, named=True)
        va, vb = t["_valid"], t["_valid_b"]
        sa = {c: (100 * t[c] / va if va else 0.0) for c in shared_choices}
        sb = {c: (100 * t[f"{c}_b"] / vb if vb else 0.0) for c in shared_choices}
        return {"group": label, "places": df.height, "tables_before": int(t["_tables"]), "tables_after": int(t["_tables_b"]),
                "registered_before": int(t["registered"]), "registered_after": int(t["registered_b"]),
                "valid_before": int(va), "valid_after": int(vb),
                "turnout_before": t["_emitted"] / t["registered"] if t["registered"] else 0.0,
                "turnout_after": t["_emitted_b"] / t["registered_b"] if t["registered_b"] else 0.0,
                "turnout_change_points": 100 * ((t["_emitted_b"] / t["registered_b"] if t["registered_b"] else 0.0)
                                                - (t["_emitted"] / t["registered"] if t["registered"] else 0.0)),
                "shares_before": sa, "shares_after": sb, "swing": {c: sb[c] - sa[c] for c in shared_choices}}

    groups = [block(g, str(name[0])) for name, g in sorted(shared.group_by("_group"), key=lambda x: str(x[0][0]))]
    groups.append(block(shared, "all shared places"))
    # leading first: a table without --focus shows the two leading choices, not the file's first two
    after_all = groups[-1]["shares_after"]
    shared_choices = sorted(shared_choices, key=lambda c: -after_all[c])
    coverage = {
        "places": shared.height, "places_before": pa.height, "places_after": pb.height,
        "share_of_places_before": shared.height / pa.height if pa.height else 0.0,
        "share_of_places_after": shared.height / pb.height if pb.height else 0.0,
        "registered_before": int(shared["registered"].sum()), "registered_after": int(shared["registered_b"].sum()),
        "share_of_registered_before": float(shared["registered"].sum() / a["registered"].sum()),
        "share_of_registered_after": float(shared["registered_b"].sum() / b["registered"].sum()),
    }
    return CompareResult(before=before_name, after=after_name, by=by, choices=shared_choices, groups=groups,
                         coverage=coverage, notes=notes, names={c: str(canon_b[c]) for c in shared_choices})
