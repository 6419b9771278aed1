"""What checks write besides examples: policy packs, decisions, check runs, licence judgements.

Each function writes inside the caller's transaction (a :meth:`Ledger.run` or one of its steps).
Decisions are only ever inserted; the current decision of an example is the newest batch's.
Redacted copies are examples and go through :meth:`Ledger.write` like any other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger
from provenance.core.vouched import COUNTED_RUNS

#: Examples with more than one provenance claim and the sets they carry (see
#: :func:`build_licence_candidates`): a temporary table of the licence check.
LICENCE_CANDIDATES = "temp.licence_candidates"


def store_policy_pack(ledger: Ledger, pack_hash: str, name: str, path: str, body: str, run_id: str) -> None:
    """Store a policy pack's validated body under its hash, once."""
    ledger.con.execute(
        "INSERT INTO policy_packs SELECT ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM policy_packs WHERE pack_hash = ?)",
        [pack_hash, name, path, body, run_id, utcnow(), pack_hash],
    )


def insert_decisions(ledger: Ledger, _table: pa.Table) -> int:
    """Insert decisions given as Arrow (example_id, batch_id, basis, verdict, decision, score, reason,
    details as JSON text); return how many."""
    ledger.con.execute(
        "INSERT INTO decisions (example_id, batch_id, basis, verdict, decision, score, reason, details) "
        "SELECT example_id, batch_id, basis, verdict, decision, score, reason, details::JSON FROM _table"
    )
    return _table.num_rows


def store_check_run(
    ledger: Ledger, run_id: str, position: int, pack_hash: str, report: Mapping[str, Any]
) -> None:
    """Record what one check of a pack did in a run (``report``: the engine's check report as a dict)."""
    r = report
    ledger.con.execute(
        "INSERT INTO check_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            position,
            r["name"],
            r["kind"],
            r["version"],
            pack_hash,
            r["context_id"],
            r["action"],
            r["status"],
            r["blocking"],
            r["reason"],
            json.dumps(r["notes"]),
            r["examples"],
            r["scored"],
            r["redecided"],
            r["reused"],
            json.dumps(r["counts"]),
            json.dumps(r["top_reasons"]),
            r["basis"],
            r["seconds"],
            utcnow(),
        ],
    )


# ---- the licence check -------------------------------------------------------------------


def build_licence_candidates(ledger: Ledger) -> None:
    """Fill :data:`LICENCE_CANDIDATES`: every example whose 64-bit hash is shared by several
    provenance rows, grouped exactly, with the sets it carries (``combo``). Every other example
    has exactly one provenance row, whose set is its combination: those need no grouping at all.

    A temporary table: it works on a read-only ledger too.
    """
    ledger.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LICENCE_CANDIDATES.removeprefix("temp.")} AS
        SELECT example_id, hash(example_id) AS h, string_agg(DISTINCT set_id, ',' ORDER BY set_id) AS combo
        FROM provenance
        WHERE hash(example_id) IN (
            SELECT hash(example_id) AS h FROM provenance GROUP BY h HAVING count(*) > 1
        )
        GROUP BY example_id
        """
    )


def drop_licence_candidates(ledger: Ledger) -> None:
    """Drop :data:`LICENCE_CANDIDATES`."""
    ledger.con.execute(f"DROP TABLE {LICENCE_CANDIDATES}")


def store_judgement(
    ledger: Ledger,
    judgement_id: str,
    context_id: int,
    judgement: Mapping[str, Any],
    reason: str,
    terms: Iterable[tuple[str, str, str | None]],
    run_id: str,
) -> int:
    """Store one licence judgement (``judgement``: its dict form) and the terms it used; return its number."""
    row = ledger.con.execute(
        "INSERT INTO licence_judgements (judgement_id, context_id, verdict, permitted, reason, reasons, "
        "obligations, findings, first_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING judgement_no",
        [
            judgement_id,
            context_id,
            judgement["verdict"],
            judgement["permitted"],
            reason,
            json.dumps(judgement["reasons"]),
            json.dumps(judgement["obligations"]),
            json.dumps(judgement["findings"]),
            run_id,
            utcnow(),
        ],
    ).fetchone()
    assert row is not None
    number = int(row[0])
    for entry_id, terms_id, version in terms:
        ledger.con.execute(
            "INSERT INTO judgement_terms VALUES (?, ?, ?, ?)", [number, entry_id, terms_id, version]
        )
    return number


def _licence_todo(context_id: int | None) -> str:
    """One row per example whose licence decision under the context is not stored with its basis by a
    run whose rows count (:mod:`provenance.core.vouched`).

    Reads ``_combo_map`` (combo, basis, ref, verdict, decision) and :data:`LICENCE_CANDIDATES`;
    with no context (a new one) nothing is stored, so the anti-join is left out.
    """
    stored = (
        f"""ANTI JOIN (
            SELECT d.example_id, d.basis FROM decisions d JOIN decision_batches b USING (batch_id)
            WHERE b.context_id = {int(context_id)} AND b.run_id IN ({COUNTED_RUNS})
        ) old ON old.example_id = todo.example_id AND old.basis = todo.basis"""
        if context_id is not None
        else ""
    )
    return f"""
        WITH todo AS (
            SELECT p.example_id, m.basis, m.ref, m.verdict, m.decision
            FROM provenance p JOIN _combo_map m ON m.combo = p.set_id
            WHERE hash(p.example_id) NOT IN (SELECT h FROM {LICENCE_CANDIDATES})
            UNION ALL
            SELECT x.example_id, m.basis, m.ref, m.verdict, m.decision
            FROM {LICENCE_CANDIDATES} x JOIN _combo_map m USING (combo)
        )
        SELECT todo.example_id, todo.basis, todo.verdict, todo.decision, todo.ref
        FROM todo {stored}
    """


def store_licence_decisions(
    ledger: Ledger, _combo_map: pa.Table, batch_id: int, context_id: int | None
) -> int:
    """Write one licence decision per example not decided yet (see :func:`_licence_todo`); return how many.

    ``_combo_map``: combo, basis, ref (judgement number), verdict, decision. ``context_id``: the
    batch's context when decisions of it may be stored already, else None.
    """
    sql = (
        "INSERT INTO decisions (example_id, batch_id, basis, verdict, decision, ref) "
        f"SELECT example_id, $batch, basis, verdict, decision, ref FROM ({_licence_todo(context_id)})"
    )
    return int(ledger.con.execute(sql, {"batch": batch_id}).fetchone()[0])


def count_licence_decisions_due(ledger: Ledger, _combo_map: pa.Table, context_id: int | None) -> int:
    """How many decisions :func:`store_licence_decisions` would write now; writes nothing."""
    return int(ledger.con.execute(f"SELECT count(*) FROM ({_licence_todo(context_id)})").fetchone()[0])
