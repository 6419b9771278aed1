"""Export examples with their provenance to JSON lines or Parquet, written by DuckDB's COPY.

Each row is one example: its id, its content, and a ``provenance`` list with every claim
(origin, method, teacher, licence, terms, source and position). The file is written next to the
target and renamed into place, so a failed export never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from provenance.errors import InputError
from provenance.ledger import Ledger

FORMATS = ("jsonl", "parquet")

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
    GROUP BY e.example_id, e.kind, e.instruction, e.input, e.output, e.messages
    ORDER BY e.example_id
"""


def export(ledger: Ledger, path: str | Path, fmt: str) -> dict[str, Any]:
    """Write every example with its provenance to ``path``; return the row count and path."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (expected {' or '.join(FORMATS)})")
    target = Path(path)
    if target.is_dir():
        raise InputError("is a folder; give a file name to export to", path=target)
    if not target.parent.exists():
        raise InputError(f"folder {target.parent} does not exist", path=target)
    partial = target.with_name(f".{target.name}.partial")
    option = "FORMAT json" if fmt == "jsonl" else "FORMAT parquet, COMPRESSION zstd"
    literal = "'" + str(partial).replace("'", "''") + "'"
    try:
        ledger.con.execute(f"COPY ({_QUERY}) TO {literal} ({option})")
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    rows = ledger.con.execute("SELECT count(*) FROM examples").fetchone()[0]
    return {"path": str(target), "format": fmt, "examples": rows, "bytes": target.stat().st_size}
