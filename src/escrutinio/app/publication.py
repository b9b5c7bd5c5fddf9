"""The publication use cases, once, for the command line, the server and the Python API:
verify a results log (``verify_log``: `escrutinio verify-log`, the server's tamper check)
and export the latest snapshots in a standard format (``export``: `escrutinio export`).
Nothing here prints; the callers do.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from escrutinio.errors import UsageError

def _public_key(option: str | None, source) -> tuple[object | None, str | None]:
    """The key to check signatures with, and a warning when it is not pinned."""
    from escrutinio.publication.checkpoint import load_public_key, read_public_key

    if option:
        return read_public_key(option), None
    pem = source.public_key_pem()
    if pem is None:
        return None, None
    where = "the server itself" if hasattr(source, "base") else "the saved directory"
    return load_public_key(pem), (f"public key taken from {where}: this proves the log is intact and signed by that "
                                  "key, not whose key it is; pin the key you trust with --public-key")


def verify_log(source_arg: str, public_key: str | None = None, checkpoints: str | None = None,
                     inclusion: str | None = None, contest: str | None = None, totals: bool = True,
                     save: str | None = None, client=None) -> dict:
    """`escrutinio verify-log` without the printing: the hash chain, the signed checkpoints,
    the totals recomputed from the entries and, for a server, compared with its published
    results (and an acta's inclusion proof with ``inclusion``). Returns the JSON document;
    ``ok`` decides the exit status. ``client``: an HTTP client for a live app (tests, the
    server's tamper check)."""
    from escrutinio.publication.compare import compare_totals
    from escrutinio.publication.inclusion import UnitRecords, check_proof
    from escrutinio.publication.sources import ServerSource, open_source
    from escrutinio.publication.verify import Problem, verify_log as verify_entries

    source = open_source(source_arg, checkpoints, client=client)
    try:
        key, key_warning = _public_key(public_key, source)
        cps = source.checkpoints()
        is_server = isinstance(source, ServerSource)
        server_proof = None
        proof_error = None
        if inclusion and is_server:
            try:
                server_proof = source.inclusion(inclusion, contest)
            except UsageError as exc:
                proof_error = str(exc)
        observer = UnitRecords(inclusion, contest) if inclusion else None
        lines = source.lines()
        if save:
            lines = _tee(lines, Path(save), cps, key)
        report = verify_entries(lines, key, cps, totals=totals, observer=observer)
        if key_warning:
            report.warnings.insert(0, key_warning)
        if totals and is_server and report.totals is not None:
            report.comparisons = compare_totals(report.totals, source.results)
            for c in report.comparisons:
                if not c["ok"]:
                    level = c["level"] or "total"
                    report.problems.append(Problem(
                        f"published {c['source']} results for {c['contest']} ({level}) differ from the totals "
                        f"recomputed from the log: " + "; ".join(c["differences"][:3])))
        # Consistency proofs between successive checkpoints, as the server serves them.
        if is_server and len(cps) > 1:
            from escrutinio.publication.merkle import verify_consistency
            ordered = sorted(cps, key=lambda c: c.tree_size)
            for a, b in zip(ordered, ordered[1:]):
                if a.tree_size == b.tree_size or b.tree_size > report.entries:
                    continue
                try:
                    doc = source.consistency(a.tree_size, b.tree_size)
                    path = [bytes.fromhex(h) for h in doc.get("proof", [])]
                except (UsageError, ValueError, TypeError, AttributeError) as exc:
                    report.problems.append(Problem(
                        f"the server cannot prove consistency from size {a.tree_size} to {b.tree_size}: {exc}",
                        checkpoint=b.id))
                    continue
                if not verify_consistency(a.tree_size, b.tree_size, bytes.fromhex(a.root_hash),
                                          bytes.fromhex(b.root_hash), path):
                    report.problems.append(Problem(
                        f"the server's consistency proof from size {a.tree_size} to {b.tree_size} does not verify",
                        checkpoint=b.id))
        doc = report.to_dict()
        doc["source"] = source.name
        doc["summary"] = report.summary()
        if inclusion:
            proofs = [server_proof] if server_proof else observer.proofs(cps)
            results = []
            for p in proofs:
                problems = check_proof(p, key)
                if server_proof:
                    seen = observer.found.get((p["entry"]["payload"].get("contest"),
                                               "official" if p["entry"]["kind"] == "official_record" else "copy"))
                    if seen is None or seen["seq"] != p["seq"]:
                        problems.append("the server proves an entry that is not the unit's latest record in the log")
                results.append({**p, "ok": not problems, "problems": problems})
            if proof_error:
                report.problems.append(Problem(f"the server gives no inclusion proof for unit {inclusion!r}: {proof_error}"))
            elif not results:
                report.problems.append(Problem(f"no published record of unit {inclusion!r} in the log"))
            for r in results:
                if not r["ok"]:
                    report.problems.append(Problem(f"inclusion of unit {inclusion!r}: " + "; ".join(r["problems"]),
                                                   seq=r["seq"]))
            doc["inclusion"] = results
            doc["ok"] = report.ok
            doc["problems"] = [p.to_dict() for p in report.problems]
            doc["summary"] = report.summary() + "".join(_inclusion_text(r) for r in results)
        else:
            doc["ok"] = report.ok
            doc["problems"] = [p.to_dict() for p in report.problems]
            doc["summary"] = report.summary()
        doc["first_bad_entry"] = report.first_bad_entry
        return doc
    finally:
        if hasattr(source, "close"):
            source.close()


def verify_lines(lines, public_key, checkpoints) -> dict:
    """The log's lines verified against its checkpoints and key, as they stand (the tamper
    check reads them inside a transaction it rolls back): the JSON document and its
    ``summary``."""
    from escrutinio.publication.verify import verify_log as verify_entries

    report = verify_entries(lines, public_key, checkpoints)
    return {**report.to_dict(), "summary": report.summary()}


def _inclusion_text(r: dict) -> str:
    cp = r.get("checkpoint") or {}
    lines = [f"\ninclusion: unit {r['unit']} ({r['contest']}, {r['record']} record) is entry {r['seq']}: "
             + ("PROVEN" if r["ok"] else "NOT PROVEN: " + "; ".join(r["problems"])),
             f"  leaf hash {r['leaf_hash']}",
             f"  audit path ({len(r['proof'])} hashes) to root {r['root_hash']} of the first {r['tree_size']} entries"]
    if cp:
        lines.append(f"  signed by checkpoint {cp.get('id', '')} at {cp.get('time')} (key {cp.get('key_id')})")
    return "\n".join(lines)


def _tee(lines, folder: Path, cps, key):
    """Save what is being verified: log.jsonl, checkpoints.json, public-key.pem."""
    from escrutinio.publication.checkpoint import public_pem

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints.json").write_text(json.dumps({"checkpoints": [c.to_dict() for c in cps]}, indent=1))
    if key is not None:
        (folder / "public-key.pem").write_bytes(public_pem(key))
    tmp = folder / ".log.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            line = line.rstrip("\r\n")
            fh.write(line + "\n")
            yield line
    tmp.replace(folder / "log.jsonl")


def export(paths, fmt: str, *, mapping=None, contest: str | None = None, count_withdrawn: bool = False,
           status: str | None = None, election_date: str | None = None, units: bool = True):
    """`escrutinio export` without the writing: the latest snapshot of each contest (or of
    ``contest``) in a standard format. ``fmt="nist-1500-100"`` returns the NIST SP 1500-100
    v2 document (a dict; ``status`` None: unofficial-complete on a complete count, else
    unofficial-partial); ``fmt="csv"`` returns ``{file name: table}``, one per contest and
    level (``<contest>-<level>.csv``)."""
    from escrutinio.app.results import pick_contest, read
    from escrutinio.publication.export import election_report, level_tables

    if fmt not in ("nist-1500-100", "csv"):
        raise UsageError(f"export formats are nist-1500-100 and csv, got {fmt!r}")
    from escrutinio.model import Election

    election = paths if isinstance(paths, Election) else read(
        list(paths) if not isinstance(paths, (str, Path)) else [paths], mapping=mapping, count_withdrawn=count_withdrawn)
    contests = [pick_contest(election, contest)] if contest else election.contests
    snaps = [election.latest(c) for c in contests]
    if fmt == "nist-1500-100":
        if election_date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", election_date):
            raise UsageError(f"--election-date takes YYYY-MM-DD, got {election_date!r}")
        if status is None:
            # unofficial-complete only when the count of every contest is final (all expected tables in)
            from escrutinio.app.results import results

            final = all(results(election, contest=c).latest.final for c in contests)
            status = "unofficial-complete" if final else "unofficial-partial"
        return election_report(snaps, status=status, election_date=election_date, units=units)
    return {f"{file_slug(snap.contest)}-{file_slug(level)}.csv": table
            for snap in snaps for level, table in level_tables(snap).items()}


def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_").lower() or "x"
