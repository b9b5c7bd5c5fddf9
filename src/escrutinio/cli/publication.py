"""`escrutinio verify-log`, `escrutinio export` and `escrutinio server keygen`:
tamper-evident publication from the command line."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from escrutinio.cli import main
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


def run_verification(source_arg: str, public_key: str | None = None, checkpoints: str | None = None,
                     inclusion: str | None = None, contest: str | None = None, totals: bool = True,
                     save: str | None = None, client=None) -> dict:
    """verify-log without the printing: returns the JSON document (``ok`` decides the
    exit status). Used by the command and by tests against a live app."""
    from escrutinio.publication.compare import compare_totals
    from escrutinio.publication.inclusion import UnitRecords, check_proof
    from escrutinio.publication.sources import ServerSource, open_source
    from escrutinio.publication.verify import Problem, verify_log

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
        report = verify_log(lines, key, cps, totals=totals, observer=observer)
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


@main.command("verify-log")
@click.argument("source")
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False), default=None,
              help="The log's Ed25519 public key (PEM, or 32 bytes base64/hex). Pin the key you trust.")
@click.option("--checkpoints", type=click.Path(dir_okay=False), default=None,
              help="Saved checkpoints (JSON from GET /api/v1/checkpoints) for a saved log file.")
@click.option("--inclusion", "inclusion", default=None, metavar="UNIT",
              help="Also prove that this acta's published record is in the signed log.")
@click.option("--contest", default=None, help="With --inclusion: only this contest's record.")
@click.option("--no-totals", is_flag=True, help="Check the chain and signatures only, not the totals.")
@click.option("--save", type=click.Path(file_okay=False), default=None,
              help="Save the verified log, checkpoints and key in this folder (verify it later offline).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify_log_command(source, public_key, checkpoints, inclusion, contest, no_totals, save, fmt):
    """Verify a results log: hash chain, signed checkpoints, totals recomputed from
    the entries and, for a server, compared with its published results.

    SOURCE is a server URL (http://127.0.0.1:8000) or a saved log: a JSON Lines file
    (with --public-key and --checkpoints) or a folder saved with --save. Exit status 0
    only if everything holds; 1 if anything does not (the first bad entry is named).
    """
    doc = run_verification(source, public_key, checkpoints, inclusion, contest, not no_totals, save)
    if fmt == "json":
        doc = {k: v for k, v in doc.items() if k != "summary"}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        click.echo(doc["summary"])
    sys.exit(0 if doc["ok"] else 1)


# -------------------------------------------------------------------- export
@main.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["nist-1500-100", "csv"]), required=True,
              help="nist-1500-100: NIST SP 1500-100 v2 JSON; csv: one CSV per level.")
@click.option("--mapping", default=None, help="Mapping TOML file or bundled mapping name.")
@click.option("--contest", default=None, help="Only this contest (default: every contest read).")
@click.option("--count-withdrawn", is_flag=True, help="Count votes for withdrawn candidacies as valid.")
@click.option("--status", type=click.Choice(["unofficial-partial", "unofficial-complete", "certified", "correction", "recount"]),
              default=None, help="NIST: the results' status (default: unofficial-complete when every expected table "
                                 "is counted, else unofficial-partial; escrutinio cannot know whether results are certified).")
@click.option("--election-date", default=None, help="NIST: the election day, YYYY-MM-DD (default: the mapping's "
                                                   "[election] date, else the export time's date, said in the notes).")
@click.option("--no-actas", is_flag=True, help="NIST: stop at the finest area; do not report every acta.")
@click.option("--output", "-o", type=click.Path(), default=None,
              help="NIST: the JSON file (default: stdout). CSV: a folder, one file per contest and level.")
def export_command(paths, fmt, mapping, contest, count_withdrawn, status, election_date, no_actas, output):
    """Export the latest snapshot of each contest in a standard format.

    With several snapshots of a contest (successive exports), the latest is exported,
    as `escrutinio results` does.
    """
    from escrutinio import app
    from escrutinio.publication.export import election_report, level_tables

    election = app.read(list(paths), mapping=mapping, count_withdrawn=count_withdrawn)
    contests = [app.pick_contest(election, contest)] if contest else election.contests
    snaps = [election.latest(c) for c in contests]
    if fmt == "nist-1500-100":
        if election_date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", election_date):
            raise UsageError(f"--election-date takes YYYY-MM-DD, got {election_date!r}")
        if status is None:
            # complete only when the count of every contest is final (all expected tables in)
            final = all(app.results(election, contest=c).latest.final for c in contests)
            status = "unofficial-complete" if final else "unofficial-partial"
        report = election_report(snaps, status=status, election_date=election_date, units=not no_actas)
        text = json.dumps(report, ensure_ascii=False, indent=1) + "\n"
        if output:
            app.write_atomic(output, text)
            click.echo(f"wrote {output}: {len(report['GpUnit']):,} reporting units, "
                       f"{len(report['Election'][0]['Contest'])} contest(s)", err=True)
        else:
            click.echo(text, nl=False)
        return
    if not output:
        raise UsageError("--format csv writes one file per level: give a folder with --output")
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    for snap in snaps:
        for level, table in level_tables(snap).items():
            name = folder / f"{_file_slug(snap.contest)}-{_file_slug(level)}.csv"
            app.write_atomic(name, table.write_csv())
            click.echo(f"wrote {name} ({table.height:,} rows)", err=True)


def _file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_").lower() or "x"


# ------------------------------------------------------------- server keygen
def _keygen_command():
    @click.command("keygen")
    @click.option("--signing-key", "signing_key", type=click.Path(dir_okay=False), default=None,
                  help="Where to write the private key (default: next to the database file, or in the data directory).")
    @click.option("--database", default=None, help="Database URL, to place the key where `escrutinio serve` looks.")
    @click.option("--force", is_flag=True, help="Replace an existing key (earlier checkpoints stay verifiable only with the old public key).")
    def keygen(signing_key, database, force):
        """Make the Ed25519 key pair that signs the results log's checkpoints.

        Writes the private key (mode 0600) and KEY.pub; prints the public key, which
        observers pin with `escrutinio verify-log --public-key`.
        """
        from escrutinio.publication.checkpoint import generate_key, key_id, public_path, public_pem

        if signing_key is None:
            from escrutinio.server.settings import DEFAULT_DATABASE, Settings
            signing_key = Settings(database_url=database or DEFAULT_DATABASE).signing_key
        key = generate_key(signing_key, overwrite=force)
        click.echo(public_pem(key.public_key()).decode("ascii"), nl=False)
        click.echo(f"private key: {signing_key} (keep it secret)\npublic key: {public_path(signing_key)}\n"
                   f"key id: {key_id(key.public_key())}", err=True)
    return keygen


def _tamper_check_command():
    @click.command("tamper-check")
    @click.option("--database", default="sqlite:///escrutinio-demo.db", show_default=True, envvar="ESCRUTINIO_DATABASE")
    @click.option("--signing-key", "signing_key", type=click.Path(dir_okay=False), default=None,
                  help="The log's signing key (default: next to the database; made if missing).")
    @click.option("--unit", default=None, help="The acta whose official record to alter (default: the last one logged).")
    def tamper_check(database, signing_key, unit):
        """The demo's last step: verify-log passes on the server's log, then fails and
        names the entry after one vote is altered directly in the database (on a copy,
        or on PostgreSQL in a transaction rolled back). Exit 0 when both happen."""
        from escrutinio.server.settings import Settings

        settings = Settings(database_url=database, signing_key=Path(signing_key) if signing_key else None)
        sys.exit(0 if run_tamper_check(settings, click.echo, unit=unit) else 1)
    return tamper_check


def run_tamper_check(settings, echo, unit: str | None = None) -> bool:
    """verify-log passes, then fails naming the entry after one vote is altered; says which
    and returns whether both happened (the demo's last step and `server tamper-check`)."""
    from escrutinio.server.checkpointing import tamper_check as run

    out = run(settings, echo=echo, unit=unit)
    ok = out["before"]["ok"] and not out["after"]["ok"] and out["after"]["first_bad_entry"] == out["altered_seq"]
    echo("   the log caught the altered vote." if ok else "   UNEXPECTED: see above.")
    return ok


def _register_keygen() -> None:
    try:
        from escrutinio.cli.server import server  # SERVER's group
    except ImportError:
        return
    if "keygen" not in server.commands:
        server.add_command(_keygen_command())
    if "tamper-check" not in server.commands:
        server.add_command(_tamper_check_command())



_register_keygen()
