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
    InstructionColumns,
    Mapped,
    check_sizes,
    check_text,
    detect_mapping,
    extra_json,
    field_limit,
    map_instruction_columns,
    parse_task,
    type_name,
)
from generators.importers.source import ByteCounter, Source
from generators.importers.writer import BackgroundWriter
from provenance.core.batch import WriteBatch
from provenance.core.errors import InputError
from provenance.core.ids import content_id, digest_file
from provenance.core.ledger import Ledger, ProvenanceSet, WriteCounts
from provenance.core.models import (
    Declaration,
    Method,
    NodeKind,
    Relation,
    Seed,
    SeedInstance,
    control_problem,
)
from provenance.queries.generation import set_claims

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
FIRST_BATCH_ROWS = 2_500
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

    def add(self, extra: dict[str, Any], n: int = 1) -> None:
        """``n`` records whose unused fields are the keys of ``extra``."""
        keys = tuple(extra)
        if keys not in self.by_keys and len(self.by_keys) >= MAX_UNUSED_KEYS:
            keys = ("(other fields)",)
        self.by_keys[keys] = self.by_keys.get(keys, 0) + n

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
) -> Iterator[tuple[ProvenanceSet, ImportSummary, WriteCounts]]:
    """The run (one transaction), teacher row and summary around one import."""
    started = time.perf_counter()
    sha = _digest(path, columnar)
    params = {
        "file": str(path),
        "format": fmt,
        "sha256": sha,
        "declaration": declaration.model_dump(mode="json"),
    }
    with ledger.run(kind, params) as run:
        run_id = run.run_id
        context = ProvenanceSet(
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
        run.summary = summary.as_dict()


def _finish(ledger: Ledger, context: ProvenanceSet, summary: ImportSummary, counts: WriteCounts) -> None:
    """Fill the summary's counts; duplicates come from this file's provenance rows in the ledger."""
    summary.examples_new, summary.provenance_new = counts.examples, counts.provenance
    summary.seeds_new, summary.edges_new = counts.seeds, counts.edges
    claims, distinct = set_claims(ledger, context.set_id)
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
    ledger: Ledger, context: ProvenanceSet, src: Source, mapping: str, counts: WriteCounts
) -> tuple[int, int, dict[str, int]]:
    """Map every record and hand full batches to the writer; return records, examples, unused."""
    unused = _UnusedFields()
    limit = field_limit()
    with BackgroundWriter(ledger, context, counts) as writer:
        stream = _Stream(src, MAPPERS[mapping], writer, unused)
        for records, positions in src.chunks():
            check_sizes(records, positions, stream.records, src, limit)
            if mapping == "instruction" and not src.escapes:
                columns = map_instruction_columns(records)
                if columns is not None:
                    stream.add_columns(columns, positions)
                    continue
            stream.add_records(records, positions)
        writer.submit(stream.batch)
    return stream.records, stream.examples, unused.result()


class _Stream:
    """Fills write batches from chunks of records and hands each full one to the writer.

    Records repeated within a batch are buffered twice and written once (the ledger's INSERT
    keeps one), so nothing here keeps a set of ids.
    """

    def __init__(self, src: Source, mapper: Any, writer: BackgroundWriter, unused: _UnusedFields) -> None:
        self.src, self.mapper, self.writer, self.unused = src, mapper, writer, unused
        self.batch = WriteBatch()
        self.records = 0  # records read so far: the index of the next one
        self.examples = 0
        # small batches first, so the writer starts while the reader is still warming up
        self.limit = FIRST_BATCH_ROWS

    def _flush_if_full(self) -> None:
        if self.batch.claims >= self.limit:
            self.writer.submit(self.batch)
            self.batch = WriteBatch()
            self.limit = min(self.limit * 2, BATCH_ROWS)

    def add_columns(self, c: InstructionColumns, positions: list[int | None]) -> None:
        """A chunk that map_instruction_columns took whole."""
        n = len(c.ids)
        by_row = self.src.unit == "row"
        extras = None
        if c.extras is not None:
            for extra in c.extras:
                if extra:
                    self.unused.add(extra)
            extras = [
                extra_json(x, self.src, p, self.records + i) if x else None
                for i, (x, p) in enumerate(zip(c.extras, positions, strict=True))
            ]
        elif c.extra_key is not None:
            self.unused.add({c.extra_key: None}, n)
        self.batch.extend_examples(c.ids, "instruction", c.instructions, c.inputs, c.outputs)
        self.batch.extend_claims(
            c.ids,
            self.records,
            lines=None if by_row else positions,
            part=self.src.part,
            rows=positions if by_row else None,
            record_ids=c.record_ids,
            extras=extras,
            extra_key=c.extra_key,
            extra_texts=c.extra_values,
        )
        self.records += n
        self.examples += n
        self._flush_if_full()

    def add_records(self, records: list[Any], positions: list[int | None]) -> None:
        """A chunk mapped one record at a time (any mapping; every check and error)."""
        src, batch, unused = self.src, self.batch, self.unused
        by_row = src.unit == "row"
        for record, pos in zip(records, positions, strict=True):
            index = self.records
            result = self.mapper(record, src, pos, index)
            for m in (result,) if type(result) is Mapped else result:
                batch.add_example(m.example_id, m.kind, m.instruction, m.input, m.output, m.messages)
                extra = m.extra
                if extra is not None:
                    unused.add(extra)
                    extra = extra_json(extra, src, pos, index)
                check_text(m.prompt, src, pos, index)
                check_text(m.record_id, src, pos, index)
                batch.add_claim(
                    m.example_id,
                    index,
                    None if by_row else pos,
                    src.part,
                    pos if by_row else None,
                    m.sub,
                    m.record_id,
                    m.prompt,
                    extra,
                )
                self.examples += 1
            self.records += 1
            if batch.claims >= self.limit:
                self._flush_if_full()
                batch = self.batch


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
        seen_seeds: set[str] = set()  # seed files hold hundreds of tasks, not millions
        index = -1
        with BackgroundWriter(ledger, context, counts) as writer:
            batch = WriteBatch()
            limit = field_limit()
            for index, (record, pos) in enumerate(src):
                check_sizes([record], [pos], index, src, limit)
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
                seen_seeds.add(seed.id)
                if task_extra:
                    unused.add(task_extra)
                for position, example in enumerate(seed.examples()):
                    eid = example.id
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
                    batch = WriteBatch()
            writer.submit(batch)
        summary.records = index + 1
        summary.seeds = len(seen_seeds)
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
    try:
        seed.id  # noqa: B018 - computing the id checks that the text can be stored
    except ValueError:
        raise src.error("text contains an invalid \\u escape (a lone surrogate)", pos, index) from None
    check_text(name, src, pos, index)
    check_text(task.record_id, src, pos, index)
    for key, value in (("name", name), ("id", task.record_id)):
        problem = control_problem(value)
        if problem is not None:
            raise src.error(f"field '{key}' {problem}", pos, index)
    return seed, task.extra


def _optional(record: dict[str, Any], key: str, kind: type, src: Source, pos: int, index: int) -> Any:
    value = record.get(key)
    if value is not None and type(value) is not kind:
        raise src.error(f"field '{key}' must be a {type_name(kind())}, got {type_name(value)}", pos, index)
    return value
