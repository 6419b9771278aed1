"""Export examples with their provenance to JSON lines or Parquet, written by DuckDB's COPY.

Each row is one example: its id, its content, and a ``provenance`` list with every claim
(origin, method, teacher, licence, terms, source and position), in example id order. The file is
written next to the target and renamed into place, so a failed export never leaves a half-written
file.

Memory stays bounded: the examples are exported in ranges of their ids (about
:data:`PART_EXAMPLES` each), one query per range, because the ordered per-example lists of claims
do not spill to disk. JSON lines ranges are written by DuckDB's COPY and joined; Parquet ranges
stream as Arrow batches into one file.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from provenance.core.audit_log import LONG_BYTES
from provenance.core.errors import InputError
from provenance.core.files import atomic_path
from provenance.core.ledger import Ledger, sql_literal

FORMATS = ("jsonl", "parquet")
PART_EXAMPLES = 16_384

_QUERY = """
    SELECT e.example_id AS id, e.kind, e.instruction, e.input, e.output,
           from_json(e.messages, '[{"role": "VARCHAR", "content": "VARCHAR"}]') AS messages,
           list(struct_pack(
               origin := p.origin, method := p.method, teacher := p.teacher_model,
               teacher_provider := p.teacher_provider, licence := p.licence,
               terms := p.terms_id, terms_version := p.terms_version,
               terms_status := p.terms_status, source := p.source, source_file := p.source_file,
               source_sha256 := p.source_sha256, source_index := p.source_index,
               source_line := p.source_line, source_record_id := p.source_record_id,
               run_id := p.run_id, provenance_id := p.provenance_id
           ) ORDER BY p.created_at, p.provenance_id) AS provenance
    FROM examples e JOIN provenance_records p USING (example_id)
    WHERE {where}
    GROUP BY e.example_id, e.kind, e.instruction, e.input, e.output, e.messages
    ORDER BY e.example_id
"""


def _queries(ledger: Ledger) -> Iterator[str]:
    """The export query for each range of example ids (about PART_EXAMPLES examples each), in order."""
    for where in _ranges(ledger):
        yield _QUERY.replace("{where}", where)


def _ranges(ledger: Ledger) -> Iterator[str]:
    """SQL conditions on ``e.example_id`` splitting the examples into ranges of about PART_EXAMPLES."""
    n = int(ledger.con.execute("SELECT count(*) FROM examples").fetchone()[0])
    if n <= PART_EXAMPLES:
        yield "true"
        return
    # cut between groups of ids that share their first characters (hex digests spread evenly); the
    # group counts are small however many examples there are
    groups = ledger.con.execute(
        "SELECT substr(example_id, 1, 4) AS p, count(*) FROM examples GROUP BY p ORDER BY p"
    ).fetchall()
    cuts, size = [], 0
    for prefix, count in groups:
        if size and size + count > PART_EXAMPLES:
            cuts.append(prefix)
            size = 0
        size += count
    bounds = [None, *cuts, None]
    for lo, hi in itertools.pairwise(bounds):
        conditions = [
            f"e.example_id >= {sql_literal(lo)}" if lo else "",
            f"e.example_id < {sql_literal(hi)}" if hi else "",
        ]
        yield " AND ".join(c for c in conditions if c) or "true"


def _write_jsonl(ledger: Ledger, partial: Path) -> None:
    piece = partial.with_name(partial.name + ".part")
    try:
        with partial.open("wb") as out:
            for where in _ranges(ledger):
                query = _QUERY.replace("{where}", where)
                if _has_long_rows(ledger, where):
                    _write_rows(ledger, query, out)
                    continue
                ledger.con.execute(f"COPY ({query}) TO {sql_literal(str(piece))} (FORMAT json)")
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
    finally:
        piece.unlink(missing_ok=True)


def _has_long_rows(ledger: Ledger, where: str) -> bool:
    """Whether a range holds an example with more than ``LONG_BYTES`` of text: DuckDB's JSON
    writer reserves several times a string's length (512 MiB for a 50 MB field)."""
    length = " + ".join(f"coalesce(strlen(e.{c}), 0)" for c in ("instruction", "input", "output", "messages"))
    sql = f"SELECT count(*) FROM examples e WHERE ({where}) AND {length} > {LONG_BYTES}"
    return bool(ledger.con.execute(sql).fetchone()[0])


def _write_rows(ledger: Ledger, query: str, out: BinaryIO) -> None:
    """A range as JSON lines written here, a few rows at a time (the same objects COPY writes)."""
    cursor = ledger.con.execute(query)
    names = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(64):
        for row in rows:
            line = json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, separators=(",", ":"))
            out.write(line.encode() + b"\n")


def _write_parquet(ledger: Ledger, partial: Path) -> None:
    import pyarrow.parquet as pq

    writer = None
    try:
        for query in _queries(ledger):
            reader = ledger.con.execute(query).to_arrow_reader(65_536)
            if writer is None:
                writer = pq.ParquetWriter(str(partial), reader.schema, compression="zstd")
            for batch in reader:
                writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()


def export(ledger: Ledger, path: str | Path, fmt: str) -> dict[str, Any]:
    """Write every example with its provenance to ``path``; return the row count and path."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (expected {' or '.join(FORMATS)})")
    target = Path(path)
    with atomic_path(target) as partial:
        (_write_jsonl if fmt == "jsonl" else _write_parquet)(ledger, partial)
    rows = ledger.con.execute("SELECT count(*) FROM examples").fetchone()[0]
    return {"path": str(target), "format": fmt, "examples": rows, "bytes": target.stat().st_size}
