"""Ed25519 keys and signatures over an audit report's statement (offline, `cryptography`).

The signed statement binds the audit chain head to what the report is about, one ``key=value`` a
line after ``provenance-audit-v2``: ``chain_head``, ``dataset`` (the Merkle root), ``model`` (the
weights digest, or ``-``) and ``report`` (sha256 of the report's canonical JSON without its
signature).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from provenance.core.errors import InputError

STATEMENT = "provenance-audit-v2"


def statement(
    chain_head: str, dataset: str, model_digest: str | None, report_digest: str | None = None
) -> bytes:
    """The bytes that are signed: the chain head, the dataset root, the weights and the report's
    own content (its canonical JSON without the signature block)."""
    return (
        f"{STATEMENT}\nchain_head={chain_head}\ndataset={dataset}\nmodel={model_digest or '-'}"
        f"\nreport={report_digest or '-'}"
    ).encode()


def report_digest(report: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of an audit report without its signature block."""
    from provenance.core.ids import content_id

    body = {k: v for k, v in report.items() if k != "signature"}
    return content_id(json.loads(json.dumps(body, default=str)))


def check_key(path: Path) -> None:
    """Fail early (InputError) when ``path`` is not an Ed25519 private key this tool can sign with."""
    _load_private(path)


def keygen(path: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``path`` and its public key to ``path.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = path.with_name(path.name + ".pub")
    for p in (path, public):
        if p.exists():
            raise InputError("exists; refusing to overwrite a key", path=p)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path, public


def _load_private(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM private key: {exc}", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("not an Ed25519 key (make one with `provenance keygen`)", path=path)
    return key


def _load_public(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"not a PEM public key: {exc}", path=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 public key", path=path)
    return key


def sign(key_path: Path, message: bytes) -> dict[str, str]:
    """Sign ``message``; return the signature block of the report."""
    from cryptography.hazmat.primitives import serialization

    key = _load_private(key_path)
    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "algorithm": "ed25519",
        "public_key": base64.b64encode(raw_public).decode(),
        "statement": message.decode(),
        "signature": base64.b64encode(key.sign(message)).decode(),
    }


def check(pubkey_path: Path, block: dict[str, Any], message: bytes) -> bool:
    """True when ``block`` holds a valid signature by the key at ``pubkey_path`` over ``message``."""
    from cryptography.exceptions import InvalidSignature

    key = _load_public(pubkey_path)
    try:
        key.verify(base64.b64decode(block["signature"]), message)
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True
