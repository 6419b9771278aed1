"""Dataset manifests: the sorted example ids of a selection and the Merkle root over them.

Leaves are ``sha256(0x00 || id)`` of each example id (its 64 hex characters as ASCII), inner
nodes ``sha256(0x01 || left || right)``; a node without a partner moves up unchanged. The root of
no ids is ``sha256(b"")``. Anyone can recompute it from the manifest file with a few lines of code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    path.write_text(json.dumps(data, indent=1) + "\n", "utf-8")


def read_manifest(path: Path) -> dict[str, Any]:
    """Load a manifest and check that its root matches its ids (ValueError otherwise)."""
    data = json.loads(path.read_text("utf-8"))
    ids = data.get("example_ids") or []
    if list(ids) != sorted(ids) or merkle_root(ids) != data.get("merkle_root"):
        raise ValueError(f"{path}: the Merkle root does not match the example ids")
    return data
