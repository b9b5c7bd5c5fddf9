"""The API called in-process, without a socket (the demo, tamper-check, tests)."""
from __future__ import annotations

import warnings


def test_client_class():
    # Starlette warns at import that its client's httpx transport is deprecated. The
    # demo's users would read that as something wrong with their run, so it is silenced
    # here, for this import only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx.*")
        from fastapi.testclient import TestClient
    return TestClient
