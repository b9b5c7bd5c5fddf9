"""`escrutinio verify-log`, `escrutinio export` and `escrutinio server keygen`:
tamper-evident publication from the command line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from escrutinio.cli import main
from escrutinio.errors import UsageError


def run_verification(*args, **kwargs):
    """:func:`escrutinio.app.publication.verify_log`, imported when it runs: the app layer
    imports polars, which `escrutinio --help` does not need."""
    from escrutinio.app.publication import verify_log

    return verify_log(*args, **kwargs)


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
    from escrutinio.app.publication import export

    out = export(paths, fmt, mapping=mapping, contest=contest, count_withdrawn=count_withdrawn, status=status,
                 election_date=election_date, units=not no_actas)
    if fmt == "nist-1500-100":
        text = json.dumps(out, ensure_ascii=False, indent=1) + "\n"
        if output:
            app.write_atomic(output, text)
            click.echo(f"wrote {output}: {len(out['GpUnit']):,} reporting units, "
                       f"{len(out['Election'][0]['Contest'])} contest(s)", err=True)
        else:
            click.echo(text, nl=False)
        return
    if not output:
        raise UsageError("--format csv writes one file per level: give a folder with --output")
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, table in out.items():
        name = folder / file_name
        app.write_atomic(name, table.write_csv())
        click.echo(f"wrote {name} ({table.height:,} rows)", err=True)


# ------------------------------------------------------------- server keygen
def keygen_command():
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


def tamper_check_command():
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
