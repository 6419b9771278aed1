"""Dataset manifests: the sorted example ids of a selection and the Merkle root over them.

Leaves are ``sha256(0x00 || id)`` of each example id (its 64 hex characters as ASCII), inner
nodes ``sha256(0x01 || left || right)``; a node without a partner moves up unchanged. The root of
no ids is ``sha256(b"")``. Anyone can recompute it from the manifest file with a few lines of code.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from provenance.core.files import write_text

LEAF = b"\x00"
NODE = b"\x01"


def merkle_root(ids: Sequence[str]) -> str:
    """Hex Merkle root over ``ids`` in the order given (callers pass them sorted)."""
    if not ids:
        return hashlib.sha256(b"").hexdigest()
    level = [hashlib.sha256(LEAF + i.encode("ascii")).digest() for i in ids]
    while len(level) > 1:
        nxt = [hashlib.sha256(NODE + level[k] + level[k + 1]).digest() for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def write_manifest(path: Path, ids: Sequence[str], root: str, meta: dict[str, Any]) -> None:
    """Write the manifest: the root, how it is computed, the metadata and the sorted ids."""
    data = {
        "merkle_root": root,
        "examples": len(ids),
        "tree": "leaf = sha256(0x00 || id), node = sha256(0x01 || left || right), an odd node moves up",
        **meta,
        "example_ids": list(ids),
    }
    write_text(path, json.dumps(data, indent=1) + "\n")


def file_digests(folder: Path, leave_out: Iterable[str] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (its path relative to the folder, ``/``-separated, in
    name order), but those named in ``leave_out``."""
    skip = set(leave_out)
    digests = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() or p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if name in skip:
            continue
        digests[name] = file_sha256(path)
    return digests


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes (a symlink's target path, never what it points to)."""
    h = hashlib.sha256()
    if path.is_symlink():
        h.update(b"symlink:" + os.fsencode(os.readlink(path)))
        return h.hexdigest()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    """Load a manifest and check that its root matches its ids (ValueError otherwise)."""
    data = json.loads(path.read_text("utf-8"))
    ids = data.get("example_ids") or []
    if list(ids) != sorted(ids) or merkle_root(ids) != data.get("merkle_root"):
        raise ValueError(f"{path}: the Merkle root does not match the example ids")
    return data
