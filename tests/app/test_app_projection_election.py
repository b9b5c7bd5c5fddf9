"""app.projection.project takes an Election as well as a snapshot (the server passes one)."""
from pathlib import Path

from escrutinio import app
from escrutinio.app.projection import project

DATA = Path(__file__).resolve().parents[2] / "examples" / "bolivia" / "2019"


def test_project_from_an_election_uses_its_latest_presidential_snapshot():
    election = app.read([DATA / "trep_2019-10-20T19-40-57.csv.gz"])
    result = project(election, roll=DATA / "computo_2019-10-25.csv.gz", simulations=200, seed=0).to_dict()
    lead = result["lead"]
    assert lead["lo"] <= lead["point"] <= lead["hi"]
    assert set(result["choices"]) >= {"MAS - IPSP", "CC"}
