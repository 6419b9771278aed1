"""The reads the reports need: one function a question, every one read-only.

The audit report, the cards, the SPDX and Croissant documents and the JUnit XML are written from
these (through :func:`reports.facts.collect` for all but the JUnit XML and Croissant validation).
"""

from __future__ import annotations

from typing import Any

from provenance.core import audit_log
from provenance.core.decisions import CURRENT_DECISIONS
from provenance.core.ledger import Ledger
from provenance.core.vouched import COUNTED_RUNS

_TEXT = ("instruction", "input", "output")


# ---- check runs -----------------------------------------------------------------------------------


def latest_check_run(ledger: Ledger) -> str | None:
    """The run id of the latest ``provenance check`` run that recorded its checks, or None."""
    row = ledger.con.execute(
        "SELECT run_id FROM runs WHERE kind = 'check' AND run_id IN (SELECT run_id FROM check_runs) "
        "ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def check_run_info(ledger: Ledger, run_id: str | None) -> dict[str, Any] | None:
    """A check run's id, start time and the pack and student it ran for; None when there is none."""
    rows = ledger.rows(
        "SELECT r.run_id, CAST(r.started_at AS VARCHAR) AS at, "
        "json_extract_string(r.params, '$.pack') AS pack, "
        "json_extract_string(r.params, '$.pack_hash') AS pack_hash, "
        "json_extract_string(r.params, '$.student') AS student FROM runs r WHERE r.run_id = ?",
        [run_id],
    )
    return rows[0] if rows else None


def checks_of_run(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """The checks of one check run in pack order, with the name of their policy pack."""
    return ledger.rows(
        "SELECT c.position, c.check_name, c.check_kind, c.check_version, c.pack_hash, c.context_id, "
        "c.action, c.status, c.blocking, c.reason, c.notes, c.examples, c.counts, c.top_reasons, "
        "p.name AS pack "
        "FROM check_runs c LEFT JOIN policy_packs p USING (pack_hash) WHERE c.run_id = ? ORDER BY c.position",
        [run_id],
    )


def run_times_and_params(ledger: Ledger, run_id: str) -> dict[str, Any] | None:
    """A run's start and finish times and its parameters (JSON text); None when there is no such run."""
    rows = ledger.rows("SELECT started_at, finished_at, params FROM runs WHERE run_id = ?", [run_id])
    return rows[0] if rows else None


def check_run_rows(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """Every column of the ``check_runs`` rows of one run, in pack order."""
    return ledger.rows("SELECT * FROM check_runs WHERE run_id = ? ORDER BY position", [run_id])


def blocked_examples(ledger: Ledger, context_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` examples a check context blocks, with the reason (the licence judgement's)."""
    return ledger.rows(
        f"SELECT c.example_id, coalesce(c.reason, j.reason) AS reason FROM ({CURRENT_DECISIONS}) c "
        "LEFT JOIN licence_judgements j ON j.judgement_no = c.ref "
        "WHERE c.decision = 'block' ORDER BY c.example_id LIMIT ?",
        [context_id, limit],
    )


# ---- decisions --------------------------------------------------------------------------------------


def decision_details(ledger: Ledger, context_id: int) -> list[tuple[str, Any]]:
    """(example id, details) of every decision of a check context that has details, whatever it
    decided (a finding under the pack's threshold is still there)."""
    return ledger.con.execute(
        "SELECT d.example_id, d.details FROM decisions d JOIN decision_batches b USING (batch_id) "
        f"WHERE b.context_id = ? AND b.run_id IN ({COUNTED_RUNS}) AND d.details IS NOT NULL",
        [context_id],
    ).fetchall()


def current_findings_details(ledger: Ledger, context_id: int) -> list[Any]:
    """The details of every decision of a check context, other than pass, on its current examples."""
    return [
        details
        for (details,) in ledger.con.execute(
            f"SELECT d.details FROM decisions d SEMI JOIN ({CURRENT_DECISIONS}) c "
            "ON c.example_id = d.example_id JOIN decision_batches b USING (batch_id) "
            f"WHERE b.context_id = ? AND b.run_id IN ({COUNTED_RUNS}) AND d.decision <> 'pass'",
            [context_id, context_id],
        ).fetchall()
    ]


def decided_instruction_examples(ledger: Ledger, context_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` instruction examples a check context decided other than pass, by example id,
    with their texts, the decision and its reason."""
    return ledger.rows(
        f"SELECT e.example_id, e.instruction, e.input, e.output, c.decision, c.reason "
        f"FROM ({CURRENT_DECISIONS}) c JOIN examples e USING (example_id) "
        "WHERE c.decision <> 'pass' AND e.kind = 'instruction' ORDER BY e.example_id LIMIT ?",
        [context_id, limit],
    )


def redacted_copy(ledger: Ledger, example_id: str) -> dict[str, Any] | None:
    """The redacted copy of an example (every column of ``examples``), or None."""
    rows = ledger.rows(
        "SELECT e.* FROM lineage l JOIN examples e ON e.example_id = l.child_id "
        "WHERE l.parent_id = ? AND l.relation = 'redacted-from' LIMIT 1",
        [example_id],
    )
    return rows[0] if rows else None


def redacted_copies(ledger: Ledger) -> int:
    """How many redacted copies the ledger holds."""
    return int(
        ledger.con.execute("SELECT count(*) FROM lineage WHERE relation = 'redacted-from'").fetchone()[0]
    )


def current_scores(ledger: Ledger, context_id: int) -> list[Any]:
    """The score of every decision of a check context on its current examples (None where unscored)."""
    return [
        score
        for (score,) in ledger.con.execute(
            f"SELECT d.score FROM decisions d JOIN decision_batches b USING (batch_id) "
            f"SEMI JOIN ({CURRENT_DECISIONS}) c ON c.example_id = d.example_id WHERE b.context_id = ? "
            f"AND b.run_id IN ({COUNTED_RUNS})",
            [context_id, context_id],
        ).fetchall()
    ]


# ---- teachers, licences, sources ------------------------------------------------------------------


def teacher_claims(ledger: Ledger) -> list[dict[str, Any]]:
    """Each teacher (None for human data) with its provider, examples and declared licences and terms."""
    return ledger.rows(
        "SELECT teacher_model AS model, any_value(teacher_provider) AS provider, "
        "count(DISTINCT example_id) AS examples, list(DISTINCT licence) AS licences, "
        "list(DISTINCT terms_id || coalesce('@' || terms_version, '')) AS terms, "
        "list(DISTINCT terms_status) AS terms_status "
        "FROM provenance_records WHERE origin <> 'human' OR teacher_model IS NOT NULL "
        "GROUP BY teacher_model ORDER BY examples DESC, model"
    )


def licence_verdicts_by_teacher(ledger: Ledger, context_id: int) -> list[tuple[Any, ...]]:
    """(teacher, verdict, examples, obligations, reason) for each teacher and verdict of a licence
    check context."""
    return ledger.con.execute(
        f"SELECT p.teacher_model, j.verdict, count(DISTINCT c.example_id), any_value(j.obligations), "
        f"any_value(j.reason) FROM ({CURRENT_DECISIONS}) c "
        "JOIN licence_judgements j ON j.judgement_no = c.ref "
        "JOIN provenance_records p USING (example_id) GROUP BY p.teacher_model, j.verdict",
        [context_id],
    ).fetchall()


def licence_conflict_sets(ledger: Ledger) -> list[tuple[list[str | None], int]]:
    """Each set of licences declared for the same example, with how many examples carry it."""
    return ledger.con.execute(
        "SELECT lic, count(*) FROM (SELECT example_id, "
        "list_sort(list(DISTINCT coalesce(licence, 'unknown'))) AS lic FROM provenance_records "
        "GROUP BY example_id HAVING count(DISTINCT coalesce(licence, '?')) > 1) "
        "GROUP BY lic ORDER BY 2 DESC"
    ).fetchall()


def sources(ledger: Ledger) -> list[dict[str, Any]]:
    """Each declared source with how many examples came from it."""
    return ledger.rows(
        "SELECT source, count(DISTINCT example_id) AS examples FROM provenance_records "
        "WHERE source IS NOT NULL GROUP BY source ORDER BY examples DESC, source"
    )


# ---- lineage --------------------------------------------------------------------------------------


def seed_coverage(ledger: Ledger) -> list[dict[str, Any]]:
    """Each seed with the examples that descend from it and the depth of its deepest descendant."""
    return ledger.rows(
        """
        WITH RECURSIVE down(seed_id, id, depth) AS (
            SELECT parent_id, child_id, 1 FROM lineage WHERE parent_kind = 'seed'
            UNION
            SELECT d.seed_id, l.child_id, d.depth + 1 FROM lineage l JOIN down d ON l.parent_id = d.id
            WHERE d.depth < 64
        )
        SELECT s.seed_id, s.name, s.external_id,
               count(DISTINCT d.id) FILTER (WHERE d.id IN (SELECT example_id FROM examples)) AS examples,
               coalesce(max(d.depth), 0) AS depth
        FROM seeds s LEFT JOIN down d USING (seed_id) GROUP BY ALL ORDER BY examples DESC, s.seed_id
        """
    )


def deepest_example_lineage(ledger: Ledger) -> int:
    """The most edges from an example up through other examples (seed edges not counted)."""
    return int(
        ledger.con.execute(
            """
            WITH RECURSIVE up(id, depth) AS (
                SELECT example_id, 0 FROM examples
                UNION
                SELECT l.parent_id, u.depth + 1 FROM lineage l JOIN up u ON l.child_id = u.id
                WHERE l.parent_kind <> 'seed' AND u.depth < 64
            )
            SELECT coalesce(max(depth), 0) FROM up
            """
        ).fetchone()[0]
    )


# ---- gate, trainings, generation, waivers, audit ----------------------------------------------------


def latest_gate_run(ledger: Ledger) -> dict[str, Any] | None:
    """The latest gate run that recorded a summary: run id, params, summary, status, finish time."""
    rows = ledger.rows(
        "SELECT run_id, params, summary, status, CAST(finished_at AS VARCHAR) AS at FROM runs "
        "WHERE kind = 'gate' AND summary IS NOT NULL ORDER BY started_at DESC LIMIT 1"
    )
    return rows[0] if rows else None


def trainings(ledger: Ledger) -> list[dict[str, Any]]:
    """Every training with its dataset's pack, size and registry version, oldest first."""
    return ledger.rows(
        "SELECT t.*, d.pack_name, d.pack_hash, d.examples AS dataset_examples, d.registry_version "
        "FROM trainings t JOIN datasets d USING (dataset_id) ORDER BY t.created_at"
    )


def latest_gate_summary(ledger: Ledger, dataset_id: str) -> Any:
    """The summary (JSON text) of the latest gate run that selected ``dataset_id``, or None."""
    rows = ledger.rows(
        "SELECT summary FROM runs WHERE kind = 'gate' AND json_extract_string(summary, '$.dataset') = ? "
        "ORDER BY started_at DESC LIMIT 1",
        [dataset_id],
    )
    return rows[0]["summary"] if rows else None


def generations(ledger: Ledger) -> list[dict[str, Any]]:
    """Each generation with its candidates accepted and rejected and its method's teacher calls."""
    return ledger.rows(
        "SELECT g.generation_id, g.method, g.teacher_model, g.endpoint, g.params, "
        "(SELECT count(*) FROM generation_candidates c WHERE c.generation_id = g.generation_id "
        " AND c.status = 'accepted' AND c.stage NOT IN ('classification', 'instruction')) AS accepted, "
        "(SELECT count(*) FROM generation_candidates c WHERE c.generation_id = g.generation_id "
        " AND c.status = 'rejected') AS rejected, "
        "(SELECT count(*) FROM teacher_calls t WHERE t.run_id IN "
        " (SELECT run_id FROM runs WHERE json_extract_string(params, '$.method') = g.method)) AS calls "
        "FROM generations g ORDER BY g.created_at"
    )


def waivers(ledger: Ledger) -> list[dict[str, Any]]:
    """Every waiver, oldest first."""
    return ledger.rows("SELECT * FROM waivers ORDER BY created_at")


def audit_head(ledger: Ledger) -> tuple[int, str]:
    """(entries, hash) of the audit log's last row."""
    return audit_log.head(ledger.con)


# ---- Croissant validation -----------------------------------------------------------------------


def example_texts(ledger: Ledger, example_ids: list[str]) -> list[dict[str, Any]]:
    """The id, instruction, input and output of the given examples (those that exist)."""
    return ledger.rows(
        "SELECT example_id, instruction, input, output FROM examples WHERE list_contains(?, example_id)",
        [example_ids],
    )


def teacher_licence_terms_claims(ledger: Ledger, example_ids: list[str]) -> list[dict[str, Any]]:
    """The teacher, licence and terms id of every provenance claim on the given examples, in the
    order they were recorded."""
    return ledger.rows(
        "SELECT example_id, teacher_model, licence, terms_id FROM provenance_records "
        "WHERE list_contains(?, example_id) ORDER BY created_at, provenance_id",
        [example_ids],
    )


def numeric_text_columns(ledger: Ledger) -> list[str]:
    """The text columns of ``examples`` whose every value looks like a number."""
    counts = ", ".join(f"count({c}), count(TRY_CAST({c} AS DOUBLE))" for c in _TEXT)
    row = ledger.con.execute(f"SELECT {counts} FROM examples").fetchone()
    return [c for i, c in enumerate(_TEXT) if row[2 * i] and row[2 * i] == row[2 * i + 1]]
