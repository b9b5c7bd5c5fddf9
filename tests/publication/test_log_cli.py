"""verify-log on saved logs, and server keygen."""
import json

from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.publication.checkpoint import public_pem
from escrutinio.publication.log import write_lines

from logbuild import build_log


def save(tmp_path, lines, key, cps):
    log = tmp_path / "log.jsonl"
    write_lines(lines, log)
    (tmp_path / "checkpoints.json").write_text(json.dumps({"checkpoints": [c.to_dict() for c in cps]}))
    (tmp_path / "key.pem").write_bytes(public_pem(key.public_key()))
    return log


def test_saved_log_verifies_and_tampering_exits_1(tmp_path):
    log, key, cps = build_log()
    path = save(tmp_path, log.lines(), key, cps)
    args = [str(path), "--public-key", str(tmp_path / "key.pem"), "--checkpoints", str(tmp_path / "checkpoints.json")]
    r = CliRunner().invoke(main, ["verify-log", *args])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("OK:")
    lines = path.read_text().splitlines()
    lines[12] = lines[12].replace('"MAS":', '"MAS":1', 1)
    path.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["verify-log", *args, "--format", "json"])
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert doc["ok"] is False and doc["first_bad_entry"] == 12


def test_inclusion_of_one_acta_from_a_saved_log(tmp_path):
    log, key, cps = build_log()
    path = save(tmp_path, log.lines(), key, cps)
    r = CliRunner().invoke(main, ["verify-log", str(path), "--public-key", str(tmp_path / "key.pem"), "--checkpoints",
                                  str(tmp_path / "checkpoints.json"), "--inclusion", "1004", "--contest", "Presidente",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    proven = {(p["record"], p["ok"]) for p in doc["inclusion"]}
    assert proven == {("official", True), ("copy", True)}
    official = next(p for p in doc["inclusion"] if p["record"] == "official")
    assert official["entry"]["payload"]["snapshot_id"] == 2
    r = CliRunner().invoke(main, ["verify-log", str(path), "--public-key", str(tmp_path / "key.pem"), "--checkpoints",
                                  str(tmp_path / "checkpoints.json"), "--inclusion", "no-such-unit"])
    assert r.exit_code == 1
    assert "no published record" in r.output


def test_saved_folder_verifies_without_options(tmp_path):
    log, key, cps = build_log()
    save(tmp_path, log.lines(), key, cps)
    (tmp_path / "public-key.pem").write_bytes(public_pem(key.public_key()))
    r = CliRunner().invoke(main, ["verify-log", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "pin the key" in r.output


def test_missing_file_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["verify-log", str(tmp_path / "nope.jsonl")])
    assert r.exit_code == 2
    assert "no such file" in r.output


def test_server_keygen_writes_a_private_key_and_refuses_to_replace_it(tmp_path):
    key = tmp_path / "k.pem"
    r = CliRunner().invoke(main, ["server", "keygen", "--signing-key", str(key)])
    assert r.exit_code == 0, r.output
    assert "BEGIN PUBLIC KEY" in r.output
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k.pem.pub").exists()
    r = CliRunner().invoke(main, ["server", "keygen", "--signing-key", str(key)])
    assert r.exit_code == 2 and "refusing" in r.output


def test_demo_offers_the_tamper_check():
    r = CliRunner().invoke(main, ["server", "demo", "--help"])
    assert r.exit_code == 0 and "--tamper-check" in r.output
    r = CliRunner().invoke(main, ["server", "tamper-check", "--help"])
    assert r.exit_code == 0


def test_checkpoints_saved_next_to_the_log_are_found(tmp_path):
    log, key, cps = build_log()
    path = save(tmp_path, log.lines(), key, cps)
    r = CliRunner().invoke(main, ["verify-log", str(path), "--public-key", str(tmp_path / "key.pem")])
    assert r.exit_code == 0, r.output
    (tmp_path / "checkpoints.json").unlink()
    r = CliRunner().invoke(main, ["verify-log", str(path), "--public-key", str(tmp_path / "key.pem")])
    assert r.exit_code == 1 and "checkpoints.json" in r.output
