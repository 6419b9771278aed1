"""Validating a Croissant description offline: mlcroissant loads it back, and a few records read
through it are compared with the ledger.

mlcroissant (``pip install 'provenance[croissant]'``) is imported only here, when a description is
validated or loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.core.ids import digest_file
from provenance.queries import reports as q
from reports.croissant import RECORD_SET, CroissantError, require_mlcroissant

if TYPE_CHECKING:
    from provenance.core.ledger import Ledger

SAMPLE = 5  # records read back and compared with the ledger
_TEXT = ("instruction", "input", "output")
_RECOMMENDED = re.compile(r'Property "([^"]+)" is recommended, but does not exist')


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _absl_collected() -> Iterator[list[str]]:
    """mlcroissant logs its warnings through absl to stderr; collect them instead."""
    logger = logging.getLogger("absl")
    handler = _Collect()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _reason(exc: BaseException) -> str:
    """What went wrong: mlcroissant wraps the cause (a hash mismatch, a missing column) in its own error."""
    messages = []
    seen: BaseException | None = exc
    while seen is not None and len(messages) < 5:
        messages.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return f"{messages[-1]} (in {messages[0]})" if len(messages) > 1 else messages[0]


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _same(read: Any, stored: str | None) -> bool:
    """A value read through mlcroissant is the ledger's text, or pandas' number for it: mlcroissant
    reads JSON lines with pandas, which turns a column whose every value looks like a number (as
    the few lines read here may all do) into numbers."""
    if (read or "") == (stored or ""):
        return True
    number, got = _number(stored), _number(read)
    if read is None or (got is not None and math.isnan(got)):  # pandas' NaN: "NaN", or no value
        return not stored or (number is not None and math.isnan(number))
    return number is not None and number == got


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def load(path: Path) -> Any:
    """Load a description with mlcroissant (offline: its files are local); raise CroissantError."""
    return _load(path)[0]


def _load(path: Path) -> tuple[Any, list[str]]:
    """The loaded description and what mlcroissant logged about it besides its issues."""
    mlc = require_mlcroissant()
    doc = json.loads(Path(path).read_text("utf-8"))
    for node in doc.get("distribution") or []:
        url = str(node.get("contentUrl") or "")
        if "://" in url:
            raise CroissantError([f"{node.get('@id')}: contentUrl {url} is not a local file"])
    try:
        with _absl_collected() as logged:
            dataset = mlc.Dataset(jsonld=Path(path))
    except Exception as exc:  # mlcroissant raises ValidationError, ValueError, KeyError, ...
        raise CroissantError([_reason(exc)]) from exc
    logged = [m for m in logged if not m.startswith("Found the following")]  # the issues, again
    # mlcroissant keeps the properties it does not know aside and says nothing; here they are errors.
    nodes = [
        *dataset.metadata.nodes(),
        *(w for w in dataset.metadata.license or [] if not isinstance(w, str)),
    ]
    unknown = [
        f"{'the dataset' if isinstance(node, mlc.Metadata) else f'{type(node).__name__} {node.id}'}: {key}"
        for node in nodes
        for key in node.extra_properties
    ]
    if unknown:
        raise CroissantError([f"not a Croissant 1.1 or RAI property: {u}" for u in unknown])
    return dataset, logged


def records(dataset: Any, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The ``examples`` records as plain dicts (field name -> value, text decoded), in file order."""
    prefix = f"{RECORD_SET}/"
    for i, record in enumerate(dataset.records(RECORD_SET)):
        if limit is not None and i >= limit:
            return
        out: dict[str, Any] = {}
        for key, value in record.items():
            short = key.removeprefix(prefix)
            if isinstance(value, list):
                out[short] = [
                    {k.removeprefix(f"{prefix}{short}/"): _text(v) for k, v in item.items()}
                    if isinstance(item, dict)
                    else _text(item)
                    for item in value
                ]
            else:
                out[short] = _text(value)
        yield out


@contextlib.contextmanager
def _head(path: Path, description: Path, sample: int) -> Iterator[Any]:
    """A copy of ``description`` whose file is the first ``sample`` lines of its data file, loaded.

    mlcroissant reads a JSON-lines file whole (pandas), several times its size in memory; a few
    records read through it need only a few lines."""
    mlc = require_mlcroissant()
    doc = json.loads(description.read_text("utf-8"))
    with tempfile.TemporaryDirectory(prefix="croissant-") as tmp:
        head = Path(tmp) / path.name
        with path.open("rb") as src, head.open("wb") as dst:
            for _, line in zip(range(sample), src, strict=False):
                dst.write(line)
        (node,) = doc["distribution"]
        node.update(sha256=digest_file(str(head)), contentSize=f"{head.stat().st_size} B")
        (Path(tmp) / description.name).write_text(json.dumps(doc), "utf-8")
        yield mlc.Dataset(jsonld=Path(tmp) / description.name)


def _sha256_and_lines(path: Path) -> tuple[str, int]:
    """The sha256 of a file and its number of lines, in one read."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (last != b"\n")  # a last line without its newline counts


def validate(path: Path, ledger: Ledger, *, expected: int, sample: int = SAMPLE) -> dict[str, Any]:
    """Validate the description at ``path`` and the file it names; raise CroissantError.

    mlcroissant loads the description (every property known, every field's source valid); the
    data file must have the sha256 it states and hold ``expected`` examples; its first ``sample``
    records, read through mlcroissant, must match the ledger's examples and provenance claims."""
    path = Path(path)
    dataset, logged = _load(path)
    problems = []
    (node,) = dataset.metadata.distribution
    data = path.parent / node.content_url
    sha, lines = _sha256_and_lines(data)
    if sha != node.sha256:
        raise CroissantError([f"{data.name} does not have the sha256 the description states"])
    if lines != expected:
        problems.append(f"{data.name} holds {lines} examples, the ledger {expected}")
    try:
        with _absl_collected(), _head(data, path, sample) as head:  # its warnings: the same as above
            read = list(records(head))
    except Exception as exc:  # reading runs mlcroissant's whole pipeline: download, hash, extraction
        raise CroissantError([f"reading the {RECORD_SET} records: {_reason(exc)}"]) from exc
    problems += _compare(ledger, read)
    if problems:
        raise CroissantError(problems)
    warnings = sorted(str(w) for w in dataset.metadata.ctx.issues.warnings)
    missing = [m.group(1).rsplit("/", 1)[-1] for w in warnings if (m := _RECOMMENDED.search(w))]
    return {
        "records_checked": len(read),
        "examples": lines,
        "recommended_missing": missing,  # not in the ledger: left out rather than invented
        "warnings": [w for w in warnings if not _RECOMMENDED.search(w)]
        + logged
        + [
            f"every {c} in {data.name} looks like a number: mlcroissant, which reads JSON lines with "
            f"pandas, returns numbers for it (2.0 for '2')"
            for c in q.numeric_text_columns(ledger)
        ],
    }


def _compare(ledger: Ledger, read: list[dict[str, Any]]) -> list[str]:
    """What differs between records read through mlcroissant and the ledger's examples and claims."""
    problems = []
    ids = [r.get("example_id") for r in read]
    stored = {row["example_id"]: row for row in q.example_texts(ledger, ids)}
    claims: dict[str, list[tuple[Any, ...]]] = {}
    for row in q.teacher_licence_terms_claims(ledger, ids):
        claims.setdefault(row["example_id"], []).append(
            (row["teacher_model"], row["licence"], row["terms_id"])
        )
    for r in read:
        row = stored.get(r.get("example_id"))
        if row is None:
            problems.append(f"record {r.get('example_id')}: no such example in the ledger")
            continue
        for field in _TEXT:
            if not _same(r.get(field), row[field]):
                problems.append(f"record {row['example_id'][:12]}: {field} differs from the ledger")
        got = [(c.get("teacher"), c.get("licence"), c.get("terms")) for c in r.get("provenance") or []]
        if got != claims.get(row["example_id"], []):
            problems.append(f"record {row['example_id'][:12]}: provenance claims differ from the ledger")
    return problems
