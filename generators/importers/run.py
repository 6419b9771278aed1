"""Import a file into the ledger: stream records, map them, write Arrow batches, summarise.

One import is one transaction: bad input anywhere in the file raises an InputError naming the
file and line, and the ledger is left exactly as it was. Importing the same file twice with the
same declaration adds nothing. Memory is bounded by the batch size, not the file size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generators.importers.columnar import Columnar, ColumnarSource, columnar_names, find_columnar
from generators.importers.json_files import json_source
from generators.importers.mappings import (
    MAPPERS,
    check_text,
    detect_mapping,
    extra_json,
    parse_task,
    type_name,
)
from generators.importers.source import ByteCounter, Source
from generators.importers.writer import BackgroundWriter
from provenance.batch import WriteBatch
from provenance.errors import InputError
from provenance.ids import content_id, digest_file
from provenance.ledger import ClaimContext, Ledger, WriteCounts
from provenance.models import Declaration, Method, NodeKind, Relation, Seed, SeedInstance

#: --format value → field mapping ("hf" picks the mapping from the dataset's columns)
FORMATS: dict[str, str | None] = {
    "alpaca": "instruction",
    "jsonl": "instruction",
    "self-instruct": "self-instruct",
    "chat": "chat",
    "predictions": "prompt-response",
    "hf": None,
}
BATCH_ROWS = 20_000
MAX_UNUSED_KEYS = 200


@dataclass
class ImportSummary:
    """What an import read and what it added."""

    run_id: str
    file: str
    format: str
    mapping: str
    sha256: str
    declaration: dict[str, Any]
    records: int = 0
    examples: int = 0
    examples_new: int = 0
    examples_known: int = 0
    duplicates_in_file: int = 0
    provenance_new: int = 0
    provenance_known: int = 0
    seeds: int = 0
    seeds_new: int = 0
    seeds_known: int = 0
    edges_new: int = 0
    unused_fields: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for --json and the run row)."""
        return asdict(self)


def describe(declaration: Declaration) -> dict[str, Any]:
    """The declaration as shown to people, with "unknown" for what was not declared."""
    d = declaration
    return {
        "origin": d.origin.value,
        "teacher": d.teacher.model if d.teacher else ("none" if d.origin.value == "human" else "unknown"),
        "licence": d.licence or "unknown",
        "terms": d.terms.label() if d.terms else "unknown",
        "terms_status": d.terms.status.value if d.terms else "unknown",
        "source": d.source or "unknown",
    }


def source_size(path: str | Path) -> int:
    """Bytes an import of ``path`` will read (for progress bars)."""
    path = Path(path)
    if path.is_dir():
        try:
            return find_columnar(path).total_bytes
        except InputError:
            return 0
    return path.stat().st_size if path.exists() else 0


class _UnusedFields:
    """Counts source fields a mapping did not use, by set of field names (records of one source
    usually share one); at most ``MAX_UNUSED_KEYS`` distinct names are listed."""

    def __init__(self) -> None:
        self.by_keys: dict[tuple[str, ...], int] = {}

    def add(self, extra: dict[str, Any]) -> None:
        keys = tuple(extra)
        by_keys = self.by_keys
        if keys in by_keys:
            by_keys[keys] += 1
        elif len(by_keys) < MAX_UNUSED_KEYS:
            by_keys[keys] = 1
        else:
            by_keys[("(other fields)",)] = by_keys.get(("(other fields)",), 0) + 1

    def result(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for keys, n in self.by_keys.items():
            for key in keys:
                if key in counts or len(counts) < MAX_UNUSED_KEYS:
                    counts[key] = counts.get(key, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _check_path(path: Path, fmt: str) -> None:
    if not path.exists():
        raise InputError("file does not exist", path=path)
    if path.is_dir() and fmt != "hf":
        raise InputError(
            f"is a folder; --format {fmt} reads a file (use --format hf for a saved dataset)",
            path=path,
        )


def _digest(path: Path, columnar: ColumnarSource | None) -> str:
    if columnar is None:
        return digest_file(str(path))
    if len(columnar.files) == 1:
        return digest_file(str(columnar.files[0]))
    return content_id([[str(p.relative_to(path)), digest_file(str(p))] for p in columnar.files])


@contextmanager
def _import_run(
    ledger: Ledger,
    kind: str,
    path: Path,
    fmt: str,
    mapping: str,
    declaration: Declaration,
    method: Method,
    columnar: ColumnarSource | None,
) -> Iterator[tuple[ClaimContext, ImportSummary, WriteCounts]]:
    """Transaction, run row, teacher row and summary around one import."""
    started = time.perf_counter()
    sha = _digest(path, columnar)
    with ledger.transaction():
        run_id = ledger.begin_run(
            kind,
            {
                "file": str(path),
                "format": fmt,
                "sha256": sha,
                "declaration": declaration.model_dump(mode="json"),
            },
        )
        context = ClaimContext(
            run_id=run_id,
            declaration=declaration,
            method=method,
            source_file=str(path),
            source_sha256=sha,
            source_format=fmt,
        )
        ledger.ensure_set(context)
        summary = ImportSummary(
            run_id=run_id,
            file=str(path),
            format=fmt,
            mapping=mapping,
            sha256=sha,
            declaration=describe(declaration),
        )
        counts = WriteCounts()
        yield context, summary, counts
        if summary.records == 0:
            raise InputError("contains no records", path=path)
        _finish(ledger, context, summary, counts)
        summary.seconds = round(time.perf_counter() - started, 3)
        ledger.end_run(run_id, summary.as_dict())


def _finish(ledger: Ledger, context: ClaimContext, summary: ImportSummary, counts: WriteCounts) -> None:
    """Fill the summary's counts; duplicates come from this file's provenance rows in the ledger."""
    summary.examples_new, summary.provenance_new = counts.examples, counts.provenance
    summary.seeds_new, summary.edges_new = counts.seeds, counts.edges
    claims, distinct = ledger.con.execute(
        "SELECT count(*), count(DISTINCT example_id) FROM provenance WHERE set_id = ?",
        [context.set_id],
    ).fetchone()
    summary.duplicates_in_file = claims - distinct
    summary.examples_known = distinct - counts.examples
    summary.provenance_known = summary.examples - counts.provenance
    summary.seeds_known = summary.seeds - counts.seeds


def import_file(
    ledger: Ledger,
    path: str | Path,
    fmt: str,
    declaration: Declaration,
    *,
    progress: ByteCounter | None = None,
) -> ImportSummary:
    """Import one file (or saved dataset folder) of examples with the declared provenance.

    Raises:
        InputError: the file is missing, empty or malformed anywhere; nothing is written then.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    _check_path(path, fmt)
    columnar = find_columnar(path) if fmt == "hf" else None
    mapping = FORMATS[fmt] or detect_mapping(columnar_names(columnar), str(path))
    src: Source = Columnar(columnar, path, progress) if columnar is not None else json_source(path, progress)
    with _import_run(ledger, "import", path, fmt, mapping, declaration, Method.IMPORTED, columnar) as (
        context,
        summary,
        counts,
    ):
        summary.records, summary.examples, unused = _stream(ledger, context, src, mapping, counts)
        summary.unused_fields = unused
    return summary


def _stream(
    ledger: Ledger, context: ClaimContext, src: Source, mapping: str, counts: WriteCounts
) -> tuple[int, int, dict[str, int]]:
    """Map every record and hand full batches to the writer; return records, examples, unused."""
    mapper = MAPPERS[mapping]
    unused = _UnusedFields()
    with BackgroundWriter(ledger, context, counts) as writer:
        if mapping == "self-instruct":
            records, mapped = _stream_tasks(src, mapper, writer, unused)
        else:
            records = mapped = _stream_single(src, mapper, writer, unused)
    return records, mapped, unused.result()


def _stream_single(src: Source, mapper: Any, writer: BackgroundWriter, unused: _UnusedFields) -> int:
    """The hot loop for mappings that give one example per record; returns the record count."""
    by_row = src.unit == "row"
    batch = WriteBatch()
    add_example, add_claim, batch_ids = batch.add_example, batch.add_claim, set()
    buffered = 0
    index = -1
    for index, (record, pos) in enumerate(src):
        eid, kind, instruction, input_, output, messages, prompt, rid, extra, _ = mapper(
            record, src, pos, index
        )
        if eid not in batch_ids:
            batch_ids.add(eid)
            add_example(eid, kind, instruction, input_, output, messages)
        if extra is not None:
            unused.add(extra)
            extra = extra_json(extra, src, pos, index)
        if src.escapes:
            check_text(prompt, src, pos, index)
            check_text(rid, src, pos, index)
        if by_row:
            add_claim(eid, index, None, src.part, pos, None, rid, prompt, extra)
        else:
            add_claim(eid, index, pos, None, None, None, rid, prompt, extra)
        buffered += 1
        if buffered >= BATCH_ROWS:
            writer.submit(batch)
            batch = WriteBatch()
            add_example, add_claim, batch_ids = batch.add_example, batch.add_claim, set()
            buffered = 0
    writer.submit(batch)
    return index + 1


def _stream_tasks(
    src: Source, mapper: Any, writer: BackgroundWriter, unused: _UnusedFields
) -> tuple[int, int]:
    """Self-Instruct tasks: several examples per record; returns records and examples."""
    by_row = src.unit == "row"
    batch, batch_ids = WriteBatch(), set()
    index, mapped = -1, 0
    for index, (record, pos) in enumerate(src):
        for m in mapper(record, src, pos, index):
            if m.example_id not in batch_ids:
                batch_ids.add(m.example_id)
                batch.add_example(m.example_id, m.kind, m.instruction, m.input, m.output, None)
            extra = m.extra
            if extra is not None:
                unused.add(extra)
                extra = extra_json(extra, src, pos, index)
            check_text(m.record_id, src, pos, index)
            batch.add_claim(
                m.example_id,
                index,
                None if by_row else pos,
                src.part if by_row else None,
                pos if by_row else None,
                m.sub,
                m.record_id,
                None,
                extra,
            )
            mapped += 1
        if batch.claims >= BATCH_ROWS:
            writer.submit(batch)
            batch, batch_ids = WriteBatch(), set()
    writer.submit(batch)
    return index + 1, mapped


_SEED_USED = frozenset({"instruction", "instances", "name", "is_classification"})


def import_seeds(
    ledger: Ledger,
    path: str | Path,
    declaration: Declaration,
    *,
    progress: ByteCounter | None = None,
) -> ImportSummary:
    """Import Self-Instruct seed tasks: a seed per task, a human example per instance, and an
    ``instruction-of`` edge from each instance to its seed.

    Raises:
        InputError: the file is missing, empty or malformed anywhere; nothing is written then.
    """
    path = Path(path)
    _check_path(path, "self-instruct")
    src = json_source(path, progress)
    with _import_run(
        ledger,
        "seeds-import",
        path,
        "self-instruct",
        "self-instruct",
        declaration,
        Method.SEED,
        None,
    ) as (context, summary, counts):
        unused = _UnusedFields()
        index = -1
        with BackgroundWriter(ledger, context, counts) as writer:
            batch, batch_ids = WriteBatch(), set()
            for index, (record, pos) in enumerate(src):
                seed, task_extra = _seed(record, src, pos, index)
                batch.add_seed(
                    seed_id=seed.id,
                    external_id=seed.external_id,
                    name=seed.name,
                    instruction=seed.instruction,
                    instances=json.dumps(seed.content()["instances"], ensure_ascii=False),
                    is_classification=seed.is_classification,
                    source_line=pos,
                    extra=extra_json(task_extra, src, pos, index),
                )
                summary.seeds += 1
                if task_extra:
                    unused.add(task_extra)
                for position, example in enumerate(seed.examples()):
                    eid = example.id
                    if eid not in batch_ids:
                        batch_ids.add(eid)
                        batch.add_example(
                            eid,
                            "instruction",
                            example.instruction,
                            example.input,
                            example.output,
                            None,
                        )
                    batch.add_claim(eid, index, pos, None, None, position, seed.external_id)
                    batch.add_edge(eid, seed.id, NodeKind.SEED.value, Relation.INSTRUCTION_OF.value, position)
                    summary.examples += 1
                if batch.claims >= BATCH_ROWS:
                    writer.submit(batch)
                    batch, batch_ids = WriteBatch(), set()
            writer.submit(batch)
        summary.records = index + 1
        summary.unused_fields = unused.result()
    return summary


def _seed(record: Any, src: Source, pos: int, index: int) -> tuple[Seed, dict[str, Any] | None]:
    """Validate a seed task; return it and its unused fields."""
    task = parse_task(record, src, pos, index, used=_SEED_USED)
    name = _optional(record, "name", str, src, pos, index)
    is_classification = _optional(record, "is_classification", bool, src, pos, index)
    seed = Seed(
        instruction=task.instruction,
        instances=tuple(SeedInstance(input=i, output=o) for i, o in task.instances),
        name=name,
        external_id=task.record_id,
        is_classification=is_classification,
    )
    return seed, task.extra


def _optional(record: dict[str, Any], key: str, kind: type, src: Source, pos: int, index: int) -> Any:
    value = record.get(key)
    if value is not None and type(value) is not kind:
        raise src.error(f"field '{key}' must be a {type_name(kind())}, got {type_name(value)}", pos, index)
    return value
