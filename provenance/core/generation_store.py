"""The generators' own tables: generations, machine instructions and generation candidates.

``generators.generation`` decides what to write; this module holds the SQL. Every function writes
inside the caller's transaction (a generation's round is one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger

_CANDIDATES = pa.schema(
    [
        ("stage", pa.string()),
        ("request_hash", pa.string()),
        ("choice", pa.int32()),
        ("item", pa.int32()),
        ("ordinal", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("details", pa.string()),
        ("content", pa.string()),
        ("node_id", pa.string()),
    ]
)


def add_generation(
    ledger: Ledger,
    generation_id: str,
    *,
    method: str,
    teacher_model: str,
    endpoint: str,
    params: Mapping[str, Any],
    templates: Mapping[str, str],
    run_id: str,
) -> None:
    """Record a generation once: a run that continues it later leaves its first row as it is."""
    ledger.con.execute(
        "INSERT INTO generations SELECT ?, ?, ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM generations WHERE generation_id = ?)",
        [
            generation_id,
            method,
            teacher_model,
            endpoint,
            json.dumps(params),
            json.dumps(templates),
            run_id,
            utcnow(),
            generation_id,
        ],
    )


def add_instructions(ledger: Ledger, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store machine instructions ({instruction_id, instruction, clf}) that are new; fill in the
    classification of a stored one that had none (its instances were cut by -n before)."""
    _new = pa.Table.from_pylist(list(rows))
    ledger.con.execute(
        "INSERT INTO instructions SELECT DISTINCT ON (instruction_id) instruction_id, instruction, clf, "
        "?, ? FROM _new ANTI JOIN instructions USING (instruction_id)",
        [run_id, utcnow()],
    )
    ledger.con.execute(
        "UPDATE instructions SET is_classification = n.clf FROM _new n "
        "WHERE instructions.instruction_id = n.instruction_id AND instructions.is_classification IS NULL "
        "AND n.clf IS NOT NULL"
    )


def add_candidates(
    ledger: Ledger, generation_id: str, run_id: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Store candidates ({stage, request_hash, choice, item, ordinal, status, reason, details,
    content, node_id}, details and content as JSON text) not stored for this generation yet."""
    _cand = pa.Table.from_pylist(list(rows), schema=_CANDIDATES)
    ledger.con.execute(
        """INSERT INTO generation_candidates
        SELECT DISTINCT ON (stage, request_hash, choice, item)
               $gid, stage, request_hash, choice, item, ordinal, status, reason, details::JSON,
               content::JSON, node_id, $run, $now
        FROM _cand c
        WHERE NOT EXISTS (
            SELECT 1 FROM generation_candidates g
            WHERE g.generation_id = $gid AND g.stage = c.stage
              AND g.request_hash IS NOT DISTINCT FROM c.request_hash
              AND g.choice = c.choice AND g.item = c.item)""",
        {"gid": generation_id, "run": run_id, "now": utcnow()},
    )
