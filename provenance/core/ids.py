"""Content ids: sha256 over canonical JSON.

Canonical JSON here is ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8: keys sorted, no whitespace, non-ASCII kept as is. Text is
hashed verbatim (no trimming, no Unicode normalisation). The two example shapes hold only
strings, for which orjson with sorted keys writes exactly the same bytes, faster; tests hold the
fast paths to the definition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

_sha256 = hashlib.sha256
_dumps = orjson.dumps
_SURROGATE = "text contains a lone surrogate (an invalid \\u escape)"


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON encoding of ``obj`` (raises ValueError on lone surrogates or NaN)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(_SURROGATE) from exc


def content_id(obj: Any) -> str:
    """sha256 hex digest of the canonical JSON of ``obj``."""
    return _sha256(canonical_json(obj)).hexdigest()


def instruction_id(instruction: str, input: str, output: str) -> str:
    """Id of an instruction example; equals ``content_id({"instruction":…, "input":…, "output":…})``."""
    return instruction_ids([instruction], [input], [output])[0]


def instruction_ids(instructions: list[str], inputs: list[str], outputs: list[str]) -> list[str]:
    """instruction_id over columns (one call for many examples)."""
    sha, dumps = _sha256, _dumps
    try:
        return [
            sha(dumps({"input": i, "instruction": n, "output": o})).hexdigest()
            for n, i, o in zip(instructions, inputs, outputs, strict=True)
        ]
    except TypeError as exc:  # orjson refuses lone surrogates (and non-strings)
        raise ValueError(_SURROGATE) from exc


def chat_id(messages: Iterable[Mapping[str, str]]) -> str:
    """Id of a chat example; equals ``content_id({"messages": [{"role":…, "content":…}, …]})``."""
    try:
        data = _dumps({"messages": [{"content": m["content"], "role": m["role"]} for m in messages]})
    except TypeError as exc:
        raise ValueError(_SURROGATE) from exc
    return _sha256(data).hexdigest()


def digest_file(path: str, chunk_size: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes, read in chunks."""
    h = _sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def digest_file_cached(path: str | Path) -> str:
    """:func:`digest_file`, remembered per (path, size, modification time) in the user's cache.

    For large model files whose digest is part of every run's identity: hashed once, not per run.
    """
    import os

    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "provenance" / "digests.json"
    try:
        known: dict[str, str] = json.loads(cache.read_text("utf-8"))
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = digest_file(str(path))
    known[key] = digest
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known), "utf-8")
        tmp.replace(cache)
    except OSError:
        pass  # a read-only home: hash again next time
    return digest
