"""Standard exports of a snapshot: NIST SP 1500-100 v2 (JSON) and CSV per level.

NIST SP 1500-100 v2, the *Election Results Reporting Common Data Format*, is what US
states, AP and Google exchange results in. Its schema ships with escrutinio
(``publication/schemas/``, with its provenance) and the tests validate every export
against it. How a snapshot maps onto it:

- every area at every level, and every acta (polling table), is a ``ReportingUnit``
  (``GpUnit``); areas list their children in ``ComposingGpUnitIds``; a root unit named
  after the election holds the first level (Bolivia's "country" level also holds the
  countries where Bolivians abroad vote);
- each contest is a ``CandidateContest``; each choice (a party or alliance on the
  ballot) is a ``Party`` and a ``Candidate`` whose ballot name is the choice;
- each choice's votes are ``VoteCounts`` of type ``total`` for every ``GpUnit``;
- ``SummaryCounts`` per ``GpUnit``: ``BallotsCast`` = ballots emitted, ``Undervotes``
  = blank ballots, ``BallotsRejected`` = null ballots (with the votes of withdrawn
  candidacies where the law counts them as null: those candidacies are listed with
  ``PreElectionStatus`` "withdrawn" and no votes), and the unit's registered voters in
  ``VotersRegistered``.

Votes stay integers throughout.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from importlib import resources
from typing import Iterable

import polars as pl

from escrutinio import __version__
from escrutinio.model import Snapshot

NIST = "ElectionResults."
SCHEMA_FILE = "NIST_V2_election_results_reporting.json"
LEVEL_TYPES = {"country": "country", "municipality": "municipality", "polling_place": "polling-place",
               "precinct": "precinct", "county": "county", "state": "state", "city": "city", "ward": "ward"}
STATUSES = ("unofficial-partial", "unofficial-complete", "certified", "correction", "recount")


def schema() -> dict:
    """The NIST SP 1500-100 v2 JSON schema shipped with escrutinio."""
    text = (resources.files("escrutinio.publication") / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _text(s: str) -> dict:
    return {"@type": NIST + "InternationalizedText",
            "Text": [{"@type": NIST + "LanguageString", "Content": s, "Language": "es"}]}


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower() or "x"


def _unit_type(level: str) -> dict:
    t = LEVEL_TYPES.get(level)
    return {"Type": t} if t else {"Type": "other", "OtherType": level}


def election_report(snapshots: Iterable[Snapshot], status: str = "unofficial-partial", election_date: str | None = None,
                    issuer: str = "escrutinio", generated: datetime | None = None, units: bool = True) -> dict:
    """An ``ElectionReport`` for one election: one ``CandidateContest`` per snapshot
    (give the latest snapshot of each contest). ``units``: also report every acta
    (precinct level); otherwise the finest level is the smallest unit reported."""
    snaps = list(snapshots)
    if not snaps:
        raise ValueError("no snapshot to export")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    generated = generated or datetime.now(timezone.utc)
    election_name = snaps[0].election
    dates = [s.exported_at for s in snaps if s.exported_at]
    declared = sorted({s.election_date for s in snaps if getattr(s, "election_date", None)})
    if len(declared) > 1 and not election_date:
        raise ValueError(f"the snapshots declare different election days {declared}: export one election at a time")
    # the election day: given, or as the mapping declares it; an export time is not an
    # election day, so it stands in only when nothing else is known (and the notes say so)
    election_date = election_date or (declared[0] if declared else None)
    day = election_date or (min(dates).date().isoformat() if dates else generated.date().isoformat())
    gpunits: dict[str, dict] = {}
    root = "gpu-root"
    gpunits[root] = {"@type": NIST + "ReportingUnit", "@id": root, "Type": "other", "OtherType": "election scope",
                     "Name": election_name, "ComposingGpUnitIds": []}
    parties: dict[str, dict] = {}
    candidates: dict[str, dict] = {}
    contests = []
    notes = []
    for ci, snap in enumerate(snaps, 1):
        frame = snap.counted()
        counted = list(snap.counted_choices)
        levels = list(snap.levels)
        ids = _area_ids(frame, levels, gpunits, root, snap, units)
        selections = []
        for choice in snap.choices:
            pid = f"party-{_slug(choice)}"
            parties.setdefault(pid, {"@type": NIST + "Party", "@id": pid, "Name": _text(choice)})
            cid = f"cand-{ci}-{_slug(choice)}"
            cand = {"@type": NIST + "Candidate", "@id": cid, "BallotName": _text(choice), "PartyId": pid}
            if choice not in counted:
                cand["PreElectionStatus"] = "withdrawn"
            candidates[cid] = cand
            if choice in counted:
                selections.append({"@type": NIST + "CandidateSelection", "@id": f"sel-{ci}-{_slug(choice)}",
                                   "CandidateIds": [cid], "VoteCounts": []})
        summary = []
        for key_cols, gid_col in ids:
            sums = [*[pl.col(c).sum() for c in (*counted, "registered", "blank", "null", "emitted")], pl.len().alias("_units")]
            if key_cols:
                # in the order the areas first appear in the file: two exports of the same data are the same bytes
                agg = frame.group_by(key_cols, maintain_order=True).agg(sums).join(
                    gid_col, on=key_cols, how="left", nulls_equal=True, maintain_order="left")
            else:
                agg = frame.select(sums).with_columns(pl.lit(root).alias("_gid"))
            for r in agg.iter_rows(named=True):
                gid = r["_gid"]
                for sel, choice in zip(selections, counted):
                    sel["VoteCounts"].append({"@type": NIST + "VoteCounts", "GpUnitId": gid, "Type": "total",
                                              "Count": int(r[choice] or 0)})
                summary.append({"@type": NIST + "SummaryCounts", "GpUnitId": gid, "Type": "total",
                                "BallotsCast": int(r["emitted"] or 0), "Undervotes": int(r["blank"] or 0),
                                "BallotsRejected": int(r["null"] or 0)})
                unit = gpunits[gid]
                unit.setdefault("VotersRegistered", int(r["registered"] or 0))  # the first contest's roll
                unit.setdefault("SubUnitsReported", int(r["_units"]))
        contests.append({"@type": NIST + "CandidateContest", "@id": f"contest-{ci}", "Name": snap.contest,
                         "ElectoralDistrictId": root, "VotesAllowed": 1, "BallotSelection": selections,
                         "SummaryCounts": summary})
        withdrawn = [c for c in snap.choices if c not in counted]
        notes.append(f"{snap.contest}: {snap.n_units:,} actas from {snap.name or snap.source}"
                     + (f", exported {snap.exported_at.isoformat()}" if snap.exported_at else "")
                     + (f"; votes for withdrawn {withdrawn} counted as null (BallotsRejected)" if withdrawn else ""))
    gpunits.pop("_index", None)
    for u in gpunits.values():
        if not u.get("ComposingGpUnitIds"):
            u.pop("ComposingGpUnitIds", None)
    election = {"@type": NIST + "Election", "ElectionScopeId": root, "Name": _text(election_name), "StartDate": day,
                "EndDate": day, "Type": "general", "Candidate": list(candidates.values()), "Contest": contests}
    return {
        "@type": NIST + "ElectionReport",
        "Format": "precinct-level" if units else "summary-contest",
        "GeneratedDate": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Issuer": issuer, "IssuerAbbreviation": issuer,
        "Notes": "Exported by escrutinio from published tally sheets. " + " | ".join(notes)
                 + ("" if election_date or dates else " | Election date unknown: the export date stands in for it."),
        "SequenceStart": 1, "SequenceEnd": 1, "Status": status,
        "VendorApplicationId": f"escrutinio {__version__}",
        "Election": [election], "GpUnit": list(gpunits.values()), "Party": list(parties.values()),
    }


def _area_ids(frame: pl.DataFrame, levels: list[str], gpunits: dict, root: str, snap: Snapshot, units: bool):
    """Create a GpUnit per area (keyed by its full path of names) and per acta; return
    [(key columns, frame of key columns -> _gid)] for the root (no keys), each level and
    the actas."""
    out = [([], None)]
    index: dict[tuple, str] = gpunits.setdefault("_index", {})  # (level, path...) -> id, shared by contests
    for depth, level in enumerate(levels, 1):
        keys = levels[:depth]
        paths = frame.select(keys).unique(maintain_order=True)
        gids = []
        for row in paths.iter_rows():
            path = tuple("?" if v is None else str(v) for v in row)
            gid = index.get((level, *path))
            if gid is None:
                gid = index[(level, *path)] = f"gpu-{_slug(level)}-{len(index)}"
                gpunits[gid] = {"@type": NIST + "ReportingUnit", "@id": gid, "Name": path[-1], **_unit_type(level),
                                "ComposingGpUnitIds": []}
                parent = root if depth == 1 else index[(levels[depth - 2], *path[:-1])]
                gpunits[parent]["ComposingGpUnitIds"].append(gid)
            gids.append(gid)
        out.append((keys, paths.with_columns(pl.Series("_gid", gids, pl.Utf8))))
    if units:
        rows = frame.select(["unit", *levels]).unique("unit", keep="first", maintain_order=True)
        gids = []
        for row in rows.iter_rows():
            unit, path = str(row[0]), tuple("?" if v is None else str(v) for v in row[1:])
            gid = index.get(("unit", unit))
            if gid is None:
                gid = index[("unit", unit)] = f"gpu-acta-{len(index)}"
                gpunits[gid] = {"@type": NIST + "ReportingUnit", "@id": gid, "Name": unit, "Number": unit,
                                "Type": "other", "OtherType": "polling table (acta)"}
                parent = index[(levels[-1], *path)] if levels else root
                gpunits[parent]["ComposingGpUnitIds"].append(gid)
            gids.append(gid)
        out.append((["unit"], rows.select("unit").with_columns(pl.Series("_gid", gids, pl.Utf8))))
    return out


def level_tables(snap: Snapshot) -> dict[str, pl.DataFrame]:
    """One table per level (and 'total'): path, area, units and integer totals, under
    the law's counting rule (the same numbers as `escrutinio results --level`)."""
    from escrutinio.tabulate import by_level

    frame = snap.counted()
    choices = list(snap.counted_choices)
    cols = ("registered", "valid", "blank", "null", "emitted", *choices)
    out = {"total": frame.select([pl.len().alias("units"), *[pl.col(c).sum() for c in cols]])
           .with_columns(pl.lit(snap.election).alias("path"), pl.lit(snap.election).alias("area"))
           .select(["path", "area", "units", *cols])}
    for level in snap.levels:
        rows = by_level(frame, snap, level, choices)
        out[level] = rows.select(["path", "area", "units", *cols])
    return out
