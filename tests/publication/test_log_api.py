"""Issue 24: verify-log and export are one function each in escrutinio.app.publication,
which the commands and the server's tamper check call; the Python API gives the commands' JSON."""
import json
from pathlib import Path

from click.testing import CliRunner

import escrutinio as es
from escrutinio.cli import main
from escrutinio.publication.checkpoint import public_pem
from escrutinio.publication.log import write_lines

from logbuild import build_log

ROOT = Path(__file__).resolve().parents[2]
RURITANIA = ROOT / "examples/ruritania"


def test_verify_log_api_is_the_commands_json(tmp_path):
    log, key, cps = build_log()
    path = tmp_path / "log.jsonl"
    write_lines(log.lines(), path)
    (tmp_path / "checkpoints.json").write_text(json.dumps({"checkpoints": [c.to_dict() for c in cps]}))
    (tmp_path / "key.pem").write_bytes(public_pem(key.public_key()))
    args = [str(path), "--public-key", str(tmp_path / "key.pem"), "--checkpoints", str(tmp_path / "checkpoints.json")]
    r = CliRunner().invoke(main, ["verify-log", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    v = es.verify_log(path, public_key=tmp_path / "key.pem", checkpoints=tmp_path / "checkpoints.json")
    assert v.to_dict() == json.loads(r.output)
    assert v.ok is True and v.first_bad_entry is None and v.to_polars().height == 0
    assert v.summary().startswith("OK:")


def _canonical(x):
    if isinstance(x, dict):
        return {k: _canonical(v) for k, v in x.items()}
    if isinstance(x, list):
        return sorted((_canonical(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x


def test_export_api_is_the_commands_output(tmp_path):
    files = [str(RURITANIA / "ruritania_2024.csv")]
    mapping = str(RURITANIA / "ruritania.toml")
    r = CliRunner().invoke(main, ["export", *files, "--mapping", mapping, "--format", "nist-1500-100",
                                  "--election-date", "2024-05-05"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    x = es.export(files, election_date="2024-05-05", mapping=mapping)
    a, b = dict(x.to_dict()), report
    for doc in (a, b):  # the export time differs
        doc.pop("GeneratedDate", None)
    # the export lists the areas of a level in no fixed order (same before issue 24)
    assert _canonical(a) == _canonical(b)
    out = tmp_path / "csv"
    r = CliRunner().invoke(main, ["export", *files, "--mapping", mapping, "--format", "csv", "--output", str(out)])
    assert r.exit_code == 0, r.output
    tables = es.export(files, format="csv", mapping=mapping).value
    assert sorted(tables) == sorted(p.name for p in out.iterdir())
    for name, table in tables.items():
        assert sorted(table.write_csv().splitlines()) == sorted((out / name).read_text(encoding="utf-8").splitlines())
