"""``serve --roll-mapping``: another country's roll declares its levels through a mapping,
as ``project --roll-mapping`` does; the projection then uses it and says so."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.server.testing import ServerClient, database_url  # noqa: F401  (fixture)

RU = Path(__file__).parents[2] / "examples" / "protocols_ru"
ROLL = RU / "protocols_ru_2024-03-18T09-00-00.csv"
MAPPING = RU / "protocols_ru.toml"


def _load(sc: ServerClient, path: Path) -> None:
    with open(path, "rb") as f, open(MAPPING, "rb") as m:
        r = sc.client.post("/api/v1/official", files={"file": (path.name, f), "mapping": ("m.toml", m)},
                           headers=sc.headers("admin"))
    assert r.status_code == 200, r.text


def test_the_projection_reads_the_roll_through_its_mapping(database_url, tmp_path):  # noqa: F811
    sc = ServerClient(database_url, tmp_path, roll=ROLL, roll_mapping=str(MAPPING))
    try:
        _load(sc, RU / "protocols_ru_2024-03-17T21-00-00.csv")
        sc.client.get("/api/v1/projection", params={"contest": "President"})  # made after the load
        proj = sc.client.get("/api/v1/projection", params={"contest": "President"}).json()
        assert proj["status"] == "ok", proj.get("note")
        assert proj["inputs"]["roll_mapping"] == str(MAPPING)
    finally:
        sc.close()
    # without it, the roll in a layout the server does not know gives no projection, and says why
    plain = ServerClient(database_url, tmp_path / "plain", roll=ROLL)
    try:
        _load(plain, RU / "protocols_ru_2024-03-17T21-00-00.csv")
        plain.client.get("/api/v1/projection", params={"contest": "President"})
        proj = plain.client.get("/api/v1/projection", params={"contest": "President"}).json()
        assert proj["status"] == "unavailable" and "no projection" in proj["note"]
    finally:
        plain.close()


def test_serve_checks_the_roll_mapping_before_it_starts(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'e.db'}"
    out = runner.invoke(main, ["serve", "--database", db, "--roll-mapping", str(MAPPING)])
    assert out.exit_code == 2 and "--roll-mapping needs --roll" in out.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns]\nunit = 'nope'\nregistered = 'x'\nblank = 'y'\nnull = 'z'\n", encoding="utf-8")
    out = runner.invoke(main, ["serve", "--database", db, "--roll", str(ROLL), "--roll-mapping", str(bad)])
    assert out.exit_code != 0 and out.output.startswith("error: ") and len(out.output.strip().splitlines()) == 1, out.output
    assert not (tmp_path / "e.db").exists()  # refused before anything was created
