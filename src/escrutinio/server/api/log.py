"""The public results log (contract C3): the entries as JSON Lines, the public key,
the signed checkpoints, and Merkle proofs. Every route is public (the reader role).

See ``docs/publication.md`` for the formats, and ``escrutinio verify-log URL`` for the
verifier that reads these routes.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from escrutinio.publication.checkpoint import key_id, load_private_key, public_path, public_pem, read_public_key
from escrutinio.server.auth import ALL_ROLES, User, require
from escrutinio.server.storage import publication as repo

router = APIRouter(tags=["log"])
JSON_LINES = "application/jsonl; charset=utf-8"
MAX_SEQ = 2**53  # keeps every bound inside BIGINT and exact in JSON


def _public_key(settings):
    """The public half of the signing key (from KEY.pub, or derived from the key)."""
    pub = public_path(settings.signing_key)
    if pub.exists():
        return read_public_key(pub)
    if settings.signing_key.exists():
        return load_private_key(settings.signing_key).public_key()
    return None


@router.get("/log", summary="The results log, one JSON entry per line (JSON Lines)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/jsonl": {}}, "description": "one canonical JSON entry per line"}})
def get_log(request: Request, start: int = Query(0, ge=0, le=MAX_SEQ, description="first seq"),
            stop: int | None = Query(None, ge=0, le=MAX_SEQ, description="stop before this seq (default: the whole log)"),
            user: User = Depends(require(*ALL_ROLES))):
    """Each line is the entry's canonical JSON plus its own ``hash``. The stream is one
    consistent read: entries appended while it runs are not included."""
    db = request.app.state.db

    def stream():
        with db.session() as s:
            end = repo.size(s) if stop is None else stop
            batch = []
            for line in repo.lines(s, start, end):
                batch.append(line)
                if len(batch) >= 1000:
                    yield "\n".join(batch) + "\n"
                    batch = []
            if batch:
                yield "\n".join(batch) + "\n"

    return StreamingResponse(stream(), media_type=JSON_LINES,
                             headers={"Content-Disposition": 'inline; filename="log.jsonl"'})


@router.get("/log/public-key", summary="The Ed25519 public key that signs the checkpoints (PEM)",
            response_class=PlainTextResponse, responses={404: {"description": "no signing key yet"}})
def get_public_key(request: Request, user: User = Depends(require(*ALL_ROLES))):
    key = _public_key(request.app.state.settings)
    if key is None:
        raise HTTPException(404, "this server has no signing key yet (escrutinio server keygen)")
    return PlainTextResponse(public_pem(key).decode("ascii"), media_type="application/x-pem-file",
                             headers={"X-Key-Id": key_id(key)})


@router.get("/checkpoints", summary="Every signed checkpoint (tree size, root hash, time, signature)")
def get_checkpoints(request: Request, user: User = Depends(require(*ALL_ROLES))) -> dict:
    with request.app.state.db.session() as s:
        cps = repo.list_checkpoints(s)
    key = _public_key(request.app.state.settings)
    return {"checkpoints": [c.to_dict() for c in cps], "key_id": key_id(key) if key else None,
            "signed_bytes": "escrutinio results log v1\\n<tree_size>\\n<root_hash>\\n<time>\\n"}


@router.get("/log/head", summary="The current tree head (unsigned) and the latest signed checkpoint")
def get_head(request: Request, user: User = Depends(require(*ALL_ROLES))) -> dict:
    with request.app.state.db.session() as s:
        t = repo.tree(s)
        latest = repo.latest_checkpoint(s)
    return {"tree_size": len(t), "root_hash": t.root().hex(), "checkpoint": latest.to_dict() if latest else None}


@router.get("/log/inclusion", summary="Prove an acta's published record (or any entry) is in the signed log",
            responses={404: {"description": "no such unit or entry"}, 400: {"description": "bad request"}})
def get_inclusion(request: Request,
                  unit: str | None = Query(None, max_length=200, description="the acta (polling table) code"),
                  contest: str | None = Query(None, max_length=200),
                  record: str = Query("official", pattern="^(official|copy)$",
                                      description="the official record or the watchers' counted copy"),
                  seq: int | None = Query(None, ge=0, le=MAX_SEQ, description="or any entry by its sequence number"),
                  tree_size: int | None = Query(None, ge=1, le=MAX_SEQ, description="default: the latest checkpoint covering it"),
                  user: User = Depends(require(*ALL_ROLES))) -> dict:
    if (unit is None) == (seq is None):
        raise HTTPException(400, "give either unit or seq")
    with request.app.state.db.session() as s:
        if unit is not None:
            found = [e for e in repo.unit_records(s, unit, contest)
                     if (e["kind"] == "official_record") == (record == "official")]
            if not found:
                raise HTTPException(404, f"no {record} record of unit {unit!r}" + (f" in {contest!r}" if contest else ""))
            contests = {e["payload"].get("contest") for e in found}
            if contest is None and len(contests) > 1:
                raise HTTPException(400, f"unit {unit!r} is in several contests {sorted(contests)}: give contest")
            entry = found[0]
        else:
            entry = repo.entry(s, seq)
            if entry is None:
                raise HTTPException(404, f"no entry {seq}")
        t = repo.tree(s)
        cps = repo.list_checkpoints(s)
    n = entry["seq"]
    if tree_size is not None:
        if not n < tree_size <= len(t):
            raise HTTPException(400, f"entry {n} is not in a tree of size {tree_size} (the log has {len(t)})")
        size = tree_size
        cp = next((c for c in reversed(cps) if c.tree_size == size), None)
    else:
        cp = next((c for c in reversed(cps) if n < c.tree_size <= len(t)), None)
        size = cp.tree_size if cp else len(t)
    p = entry["payload"]
    return {"unit": p.get("unit"), "contest": p.get("contest"),
            "record": "official" if entry["kind"] == "official_record" else "copy",
            "seq": n, "entry": entry, "leaf_hash": t.leaves[n].hex(), "tree_size": size,
            "root_hash": t.root(size).hex(), "proof": [h.hex() for h in t.inclusion_proof(n, size)],
            "checkpoint": cp.to_dict() if cp else None}


@router.get("/log/consistency", summary="Prove that the tree of `first` entries is a prefix of the tree of `second`",
            responses={400: {"description": "bad sizes"}})
def get_consistency(request: Request, first: int = Query(..., ge=0, le=MAX_SEQ), second: int | None = Query(None, ge=0, le=MAX_SEQ),
                    user: User = Depends(require(*ALL_ROLES))) -> dict:
    with request.app.state.db.session() as s:
        t = repo.tree(s)
    second = len(t) if second is None else second
    if not first <= second <= len(t):
        raise HTTPException(400, f"need first <= second <= {len(t)} (the log's size)")
    return {"first": first, "second": second, "first_root": t.root(first).hex(), "second_root": t.root(second).hex(),
            "proof": [h.hex() for h in t.consistency_proof(first, second)]}
