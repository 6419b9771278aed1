"""Named reads for the policy engine: what is still to decide, stored scores, pages of examples.

Every function takes an open :class:`~provenance.core.ledger.Ledger` and only reads; the writes
of a check (decisions, check runs, policy packs, redacted copies) live in
:mod:`provenance.core.checks_store` and :meth:`~provenance.core.ledger.Ledger.write`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from provenance.core.decisions import CURRENT_DECISIONS
from provenance.core.ledger import Ledger
from provenance.core.vouched import COUNTED_RUNS

_COLUMNS = "rowid AS row, example_id, kind, instruction, input, output, messages"
#: What a sequential check's decisions depend on besides settings: every example (in order), the
#: seeds, which examples are seed instances, and which are redacted copies.
_SEQUENTIAL_BASIS = """
    SELECT (SELECT count(*) FROM examples), (SELECT max(rowid) FROM examples),
           (SELECT count(*) FROM seeds), (SELECT max(rowid) FROM seeds),
           (SELECT count(*) FROM provenance p JOIN provenance_sets s USING (set_id) WHERE s.method = 'seed'),
           (SELECT count(*) FROM lineage WHERE relation = 'redacted-from')
"""


def example_count(ledger: Ledger) -> int:
    """How many examples the ledger holds."""
    return int(ledger.con.execute("SELECT count(*) FROM examples").fetchone()[0])


def example_rows(ledger: Ledger) -> list[int]:
    """The rowid of every example, ascending."""
    return [r[0] for r in ledger.con.execute("SELECT rowid FROM examples ORDER BY rowid").fetchall()]


def undecided_rows(ledger: Ledger, context_id: int) -> list[int]:
    """Rowids (ascending) of the examples with no decision stored under the context."""
    return [
        r[0]
        for r in ledger.con.execute(
            "SELECT e.rowid FROM examples e WHERE e.example_id NOT IN ("
            "  SELECT d.example_id FROM decisions d JOIN decision_batches b USING (batch_id)"
            f"  WHERE b.context_id = ? AND b.run_id IN ({COUNTED_RUNS})) ORDER BY e.rowid",
            [context_id],
        ).fetchall()
    ]


def sibling_contexts(ledger: Ledger, context_id: int, version: str, kind: str, score_hash: str) -> list[int]:
    """Other contexts of the same check kind and version whose scores this one can reuse."""
    return [
        r[0]
        for r in ledger.con.execute(
            "SELECT context_id FROM decision_contexts WHERE context_id <> ? AND check_version = ? "
            "AND json_extract_string(config, '$.kind') = ? "
            "AND json_extract_string(config, '$.score_hash') = ?",
            [context_id, version, kind, score_hash],
        ).fetchall()
    ]


def example_pages(ledger: Ledger, rows: list[int], page: int) -> Iterator[pa.Table]:
    """Examples at the given rowids (ascending), ``page`` at a time, in order (without the rowid)."""
    i = 0
    while i < len(rows):
        j = min(i + page, len(rows))
        while rows[j - 1] - rows[i] > 8 * page and j - i > 1:  # sparse: keep the scanned range bounded
            j = i + max((j - i) // 2, 1)
        lo, hi = rows[i], rows[j - 1]
        table = ledger.con.execute(
            f"SELECT {_COLUMNS} FROM examples WHERE rowid BETWEEN ? AND ? ORDER BY rowid", [lo, hi]
        ).to_arrow_table()
        if hi - lo + 1 != j - i:
            table = table.filter(pc.is_in(table.column("row"), pa.array(rows[i:j], pa.int64())))
        yield table.drop(["row"])
        i = j


def stored_scores(ledger: Ledger, contexts: list[int], ids: list[str]) -> dict[str, dict[str, Any]]:
    """Scores stored for these examples under the given (sibling) contexts."""
    _ids = pa.table({"example_id": ids})  # read by name in the query below
    rows = ledger.con.execute(
        "SELECT d.example_id, any_value(json_extract(d.details, '$.scores'))::VARCHAR FROM decisions d "
        "SEMI JOIN _ids USING (example_id) "
        "WHERE d.batch_id IN (SELECT batch_id FROM decision_batches WHERE context_id IN (SELECT UNNEST(?)) "
        f"AND run_id IN ({COUNTED_RUNS})) "
        "GROUP BY d.example_id",
        [contexts],
    ).fetchall()
    return {e: json.loads(s) for e, s in rows if s is not None}


def current_decisions(ledger: Ledger, context_id: int) -> dict[str, tuple[str, str | None]]:
    """Example id → (decision, reason) currently stored under the context."""
    return {
        r[0]: (r[1], r[2])
        for r in ledger.con.execute(
            f"SELECT example_id, decision, reason FROM ({CURRENT_DECISIONS})", [context_id]
        ).fetchall()
    }


def sequential_basis(ledger: Ledger) -> tuple[Any, ...]:
    """What a sequential check's decisions depend on besides its settings (counts and last rowids)."""
    row = ledger.con.execute(_SEQUENTIAL_BASIS).fetchone()
    assert row is not None
    return tuple(row)


def last_basis(ledger: Ledger, context_id: int) -> str | None:
    """The basis the newest check run under the context recorded (None: no run yet)."""
    row = ledger.con.execute(
        f"SELECT basis FROM check_runs WHERE context_id = ? AND run_id IN ({COUNTED_RUNS}) "
        "ORDER BY started_at DESC LIMIT 1",
        [context_id],
    ).fetchone()
    return None if row is None else row[0]


def seed_instructions(ledger: Ledger) -> list[tuple[str, str]]:
    """(seed id, instruction) of every seed, in import order."""
    return [
        (r[0], r[1])
        for r in ledger.con.execute("SELECT seed_id, instruction FROM seeds ORDER BY rowid").fetchall()
    ]


def redacted_parents(ledger: Ledger) -> dict[str, str]:
    """Redacted copy → the example it was redacted from."""
    return dict(
        ledger.con.execute(
            "SELECT child_id, min(parent_id) FROM lineage WHERE relation = 'redacted-from' GROUP BY child_id"
        ).fetchall()
    )


def seed_example_ids(ledger: Ledger) -> set[str]:
    """Examples that are instances of a seed task."""
    return {
        r[0]
        for r in ledger.con.execute(
            "SELECT DISTINCT p.example_id FROM provenance p JOIN provenance_sets s USING (set_id) "
            "WHERE s.method = 'seed'"
        ).fetchall()
    }


def decision_counts(ledger: Ledger, context_id: int) -> dict[str, int]:
    """Decision → how many examples currently have it under the context."""
    rows = ledger.con.execute(
        f"SELECT decision, count(*) FROM ({CURRENT_DECISIONS}) GROUP BY decision ORDER BY decision",
        [context_id],
    ).fetchall()
    return {d: int(n) for d, n in rows}


def top_reasons(ledger: Ledger, context_id: int, *, licence: bool, limit: int = 5) -> list[tuple[str, int]]:
    """The commonest reasons for decisions other than pass (a licence decision's is its judgement's)."""
    reason = "coalesce(c.reason, j.reason)" if licence else "c.reason"
    rows = ledger.con.execute(
        f"SELECT {reason} AS r, count(*) AS n FROM ({CURRENT_DECISIONS}) c "
        "LEFT JOIN licence_judgements j ON j.judgement_no = c.ref "
        "WHERE c.decision <> 'pass' GROUP BY r ORDER BY n DESC, r LIMIT ?",
        [context_id, limit],
    ).fetchall()
    return [(str(r), int(n)) for r, n in rows]


def claims_of(ledger: Ledger, example_ids: list[str]) -> list[dict[str, Any]]:
    """Every provenance claim of these examples with what its set declares (teacher included).

    JSON columns come as JSON text; rows are ordered by example, set and claim.
    """
    _examples = pa.table({"example_id": pa.array(example_ids, pa.string())})  # read by name below
    cur = ledger.con.execute(
        f"""
        SELECT p.example_id, p.set_id, p.claim, p.source_index, p.source_line, p.source_part, p.source_row,
               p.source_item, p.source_record_id, p.prompt, p.prompt_template_hash, p.request_id,
               p.usage::VARCHAR AS usage, p.extra::VARCHAR AS extra,
               s.origin, s.method, s.licence, s.terms_id, s.terms_version, s.terms_retrieved,
               s.terms_status, s.source, s.source_file, s.source_sha256, s.source_format,
               s.declaration_hash, s.method_params::VARCHAR AS method_params,
               t.model AS teacher_model, t.provider AS teacher_provider, t.revision AS teacher_revision,
               t.fingerprint AS teacher_fingerprint, t.endpoint AS teacher_endpoint
        FROM provenance p SEMI JOIN _examples x USING (example_id)
        JOIN provenance_sets s USING (set_id) LEFT JOIN teachers t USING (teacher_id)
        WHERE p.run_id IN ({COUNTED_RUNS})
        ORDER BY p.example_id, p.set_id, p.claim
        """
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
