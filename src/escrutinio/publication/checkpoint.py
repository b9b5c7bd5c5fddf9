"""Signed checkpoints (tree heads) of the results log, with Ed25519.

The signed bytes are a short UTF-8 text, one field a line, each line ending in ``\\n``::

    escrutinio results log v1
    <tree size, decimal, no leading zeros>
    <root hash, 64 lowercase hex>
    <time, UTC, e.g. 2026-11-30T09:38:26.123456Z>

The signature is Ed25519 (RFC 8032) over exactly those bytes, published base64
(standard alphabet, with padding). ``key_id`` is the first 8 bytes (16 hex) of SHA-256
of the raw 32-byte public key, so a reader can tell which key a checkpoint claims.

Keys are stored as PEM: the private key PKCS#8 (file mode 0600), the public key
SubjectPublicKeyInfo. :func:`load_public_key` also takes the raw 32 bytes as base64 or
hex, so an observer can paste a key from a newspaper or a tweet.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from escrutinio.errors import UsageError

HEADER = "escrutinio results log v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str  # 64 lowercase hex
    time: str
    signature: str = ""  # base64 Ed25519 signature of signed_bytes()
    key_id: str = ""
    id: int | None = None  # the server's row id, when it came from one

    def signed_bytes(self) -> bytes:
        return checkpoint_bytes(self.tree_size, self.root_hash, self.time)

    def to_dict(self) -> dict:
        out = {"tree_size": self.tree_size, "root_hash": self.root_hash, "time": self.time,
               "signature": self.signature, "key_id": self.key_id}
        if self.id is not None:
            out = {"id": self.id, **out}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Checkpoint":
        try:
            size = d["tree_size"]
            if isinstance(size, bool) or not isinstance(size, int):
                size = int(str(size))
            cid = d.get("id")
            return cls(tree_size=size, root_hash=str(d["root_hash"]), time=str(d["time"]),
                       signature=str(d.get("signature") or ""), key_id=str(d.get("key_id") or ""),
                       id=int(cid) if cid is not None else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"not a checkpoint (needs tree_size, root_hash, time, signature): {d!r:.200}") from exc


def checkpoint_bytes(tree_size: int, root_hash: str, time: str) -> bytes:
    if tree_size < 0 or not _HEX64.fullmatch(root_hash) or "\n" in time:
        raise ValueError("a checkpoint needs a size >= 0, a 64-hex root hash and a one-line time")
    return f"{HEADER}\n{tree_size}\n{root_hash}\n{time}\n".encode("utf-8")


# -------------------------------------------------------------------- keys
def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key(path: str | os.PathLike, overwrite: bool = False) -> Ed25519PrivateKey:
    """Write a new private key (PKCS#8 PEM, mode 0600) and its public key next to it
    (``<path>.pub``). Refuses to replace an existing key unless ``overwrite``: a new key
    makes every earlier checkpoint unverifiable with the new public key."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; refusing to replace a signing key (use --force to rotate it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    tmp.replace(target)
    public_path(target).write_bytes(public_pem(key.public_key()))
    return key


def public_path(private_path: str | os.PathLike) -> Path:
    p = Path(private_path)
    return p.with_name(p.name + ".pub")


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read signing key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """A public key from PEM, or the raw 32 bytes as base64 or hex."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    if "BEGIN" in text:
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except ValueError as exc:
            raise UsageError("the public key is not valid PEM") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise UsageError("the public key is not an Ed25519 key")
        return key
    raw = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise UsageError("the public key must be PEM, or 32 raw bytes as base64 or hex")
    return Ed25519PublicKey.from_public_bytes(raw)


def read_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    try:
        return load_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from exc


# ------------------------------------------------------------ sign, verify
def sign(key: Ed25519PrivateKey, tree_size: int, root_hash: str, time: str) -> Checkpoint:
    sig = key.sign(checkpoint_bytes(tree_size, root_hash, time))
    return Checkpoint(tree_size, root_hash, time, base64.b64encode(sig).decode("ascii"), key_id(key.public_key()))


def signature_problem(cp: Checkpoint, public_key: Ed25519PublicKey) -> str | None:
    """None when the checkpoint is signed by ``public_key``; otherwise what is wrong."""
    try:
        signed = cp.signed_bytes()
    except ValueError as exc:
        return f"malformed checkpoint: {exc}"
    expected_id = key_id(public_key)
    if cp.key_id and cp.key_id != expected_id:
        return f"signed by key {cp.key_id}, not by the given public key {expected_id}"
    try:
        sig = base64.b64decode(cp.signature, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    try:
        public_key.verify(sig, signed)
    except InvalidSignature:
        return "the signature does not match the tree size, root hash and time (altered or forged checkpoint)"
    return None
