"""Named reads for making data: the seeds a generator uses, what its filters did, and the claims
an import wrote."""

from __future__ import annotations

import json
from typing import Any

from provenance.core.ledger import Ledger


def seed_rows(ledger: Ledger, source_sha256: str | None = None) -> list[tuple[str, str, str, bool | None]]:
    """(seed id, instruction, instances as JSON, is_classification) of the seeds in the ledger (all,
    or those a seeds file with this digest holds), in file order; rejection-sampling problems are
    not among them."""
    where, args = "", []
    if source_sha256 is not None:
        where = (
            "WHERE seed_id IN (SELECT l.parent_id FROM provenance p JOIN provenance_sets s USING (set_id) "
            "JOIN lineage l ON l.child_id = p.example_id AND l.parent_kind = 'seed' "
            "WHERE s.method = 'seed' AND s.source_sha256 = ?)"
        )
        args = [source_sha256]
    # problems written by rejection sampling are seeds of their own kind, never demonstrations
    problems = (
        "seed_id NOT IN (SELECT seed_id FROM seeds s JOIN runs r USING (run_id) "
        "WHERE r.kind = 'generate-rejection-sampling')"
    )
    where = f"{where} AND {problems}" if where else f"WHERE {problems}"
    return ledger.con.execute(
        "SELECT seed_id, instruction, instances, is_classification FROM seeds "
        f"{where} ORDER BY created_at, source_file, source_line, seed_id",
        args,
    ).fetchall()


def candidates(
    ledger: Ledger,
    *,
    generation: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    limit: int = 20,
) -> dict[str, list[dict[str, Any]]]:
    """What the filters did: ``counts`` by stage, status and reason over every matching candidate,
    and the first ``limit`` matching candidates (``rows``, content and details decoded).

    ``generation`` is a generation id or a prefix of one; each filter left out matches all."""
    where = "(? IS NULL OR generation_id LIKE ?) AND (? IS NULL OR status = ?) AND (? IS NULL OR reason = ?)"
    args = [generation, f"{generation}%", status, status, reason, reason]
    counts = ledger.rows(
        f"SELECT stage, status, reason, count(*) AS n FROM generation_candidates WHERE {where} "
        "GROUP BY ALL ORDER BY stage, status, n DESC, reason",
        args,
    )
    rows = ledger.rows(
        "SELECT generation_id, stage, status, reason, content, details, node_id, request_hash "
        f"FROM generation_candidates WHERE {where} "
        "ORDER BY created_at, ordinal, choice, item LIMIT ?",
        [*args, limit],
    )
    for row in rows:
        row["content"] = json.loads(row["content"])
        row["details"] = json.loads(row["details"]) if row["details"] else None
    return {"counts": counts, "rows": rows}


def set_claims(ledger: Ledger, set_id: str) -> tuple[int, int]:
    """(provenance rows, distinct examples) of one provenance set."""
    claims, distinct = ledger.con.execute(
        "SELECT count(*), count(DISTINCT example_id) FROM provenance WHERE set_id = ?", [set_id]
    ).fetchone()
    return int(claims), int(distinct)
