"""Keys and signatures: over an audit report's statement, and over a student's folder.

Reports are signed with ``cryptography`` (an EC P-256 key, which ``provenance keygen`` makes; Ed25519
keys of earlier versions still sign and verify reports). Student folders are signed with OpenSSF
``model-signing`` (a Sigstore bundle in ``model.sig``, key-based and offline: no transparency log, no
OIDC), which takes EC keys only; its signature covers every file of the folder.

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


#: The signature file of a signed student folder (a Sigstore bundle written by OpenSSF model-signing).
SIGNATURE_FILE = "model.sig"
_EC_ONLY = (
    "an Ed25519 key signs reports but not student folders (OpenSSF model-signing takes EC keys): "
    "make an EC P-256 key with `provenance keygen`"
)


def report_body_digest(report: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of an audit report without its signature and its chain head:
    what the training's run records (the chain head comes from the run's own audit row)."""
    return report_digest({k: v for k, v in report.items() if k != "audit_chain"})


def check_key(path: Path, *, folder: bool = False) -> None:
    """Fail early (InputError) when ``path`` is not a private key this tool can sign with; with
    ``folder``, one that can also sign a student's folder (EC, not Ed25519)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _load_private(path)
    if folder and not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(_EC_ONLY, path=path)


def keygen(path: Path) -> tuple[Path, Path]:
    """Write a new EC P-256 private key (PEM, mode 0600) to ``path`` and its public key to ``path.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = path.with_name(path.name + ".pub")
    for p in (path, public):
        if p.exists():
            raise InputError("exists; refusing to overwrite a key", path=p)
    key = ec.generate_private_key(ec.SECP256R1())
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


def _supported(key: Any) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return key.curve.name == "secp256r1"
    return isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey)


def _load_private(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM private key: {exc}", path=path) from None
    if not _supported(key):
        raise InputError("not an EC P-256 or Ed25519 key (make one with `provenance keygen`)", path=path)
    return key


def _load_public(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"not a PEM public key: {exc}", path=path) from None
    if not _supported(key):
        raise InputError("not an EC P-256 or Ed25519 public key", path=path)
    return key


def sign(key_path: Path, message: bytes) -> dict[str, str]:
    """Sign ``message``; return the signature block of the report."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _load_private(key_path)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ecdsa-p256-sha256"
        raw_public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    else:
        algorithm = "ed25519"
        raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        signature = key.sign(message)
    return {
        "algorithm": algorithm,
        "public_key": base64.b64encode(raw_public).decode(),
        "statement": message.decode(),
        "signature": base64.b64encode(signature).decode(),
    }


def check(pubkey_path: Path, block: dict[str, Any], message: bytes) -> bool:
    """True when ``block`` holds a valid signature by the key at ``pubkey_path`` over ``message``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _load_public(pubkey_path)
    try:
        signature = base64.b64decode(block["signature"])
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, message)
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


# ---- student folders (OpenSSF model-signing) ------------------------------------------------------


def sign_folder(key_path: Path, folder: Path) -> Path:
    """Sign every file of ``folder`` with OpenSSF model-signing; return the signature file
    (``folder/model.sig``, the one file the signature leaves out)."""
    from model_signing import hashing
    from model_signing import signing as model_signing

    check_key(key_path, folder=True)
    hashing_config = hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE], ignore_git_paths=False)
    path = Path(folder) / SIGNATURE_FILE
    model_signing.Config().use_elliptic_key_signer(private_key=Path(key_path)).set_hashing_config(
        hashing_config
    ).sign(Path(folder), path)
    return path


def signed_files(signature: Path) -> dict[str, str]:
    """The files a model-signing signature lists, name → sha256 (read from the bundle, not checked)."""
    try:
        bundle = json.loads(Path(signature).read_text("utf-8"))
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        return {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def check_folder(pubkey_path: Path, folder: Path) -> str | None:
    """None when ``folder/model.sig`` is a valid model-signing signature by the key at ``pubkey_path``
    and every file it lists is unchanged; else why not (files added since are not its concern)."""
    from cryptography.exceptions import InvalidSignature
    from model_signing import verifying

    _load_public(pubkey_path)
    signature = Path(folder) / SIGNATURE_FILE
    if not signature.is_file():
        return f"no {SIGNATURE_FILE}: the folder is not signed"
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=Path(pubkey_path)).set_ignore_unsigned_files(
            True
        ).verify(Path(folder), signature)
    except ValueError as exc:  # a mismatch, another key, or a bundle that does not parse
        return str(exc)
    except (InvalidSignature, KeyError, TypeError) as exc:
        return f"the signature does not verify with this key ({type(exc).__name__})"
    return None
