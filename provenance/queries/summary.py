"""Read-side summaries of the ledger: ``stats`` for the whole ledger, ``show`` for one node."""

from __future__ import annotations

import json
from typing import Any

from provenance.core import migrate
from provenance.core.ledger import Ledger
from provenance.core.models import NodeKind, ProvenanceRecord, Run, Teacher, Terms, TermsStatus


def _scalar(ledger: Ledger, sql: str, params: list[Any] | None = None) -> Any:
    return ledger.con.execute(sql, params or []).fetchone()[0]


def stats(ledger: Ledger) -> dict[str, Any]:
    """Counts, the origin / teacher / licence / terms mix, and what is unknown.

    Mixes count distinct examples; an example with several claims counts once per value claimed.
    """
    counts = ledger.rows(
        """
        SELECT (SELECT count(*) FROM examples) AS examples,
               (SELECT count(*) FROM examples WHERE kind = 'instruction') AS instruction_examples,
               (SELECT count(*) FROM examples WHERE kind = 'chat') AS chat_examples,
               (SELECT count(*) FROM seeds) AS seeds,
               (SELECT count(*) FROM instructions) AS machine_instructions,
               (SELECT count(*) FROM provenance) AS provenance_rows,
               (SELECT count(*) FROM teachers) AS teachers,
               (SELECT count(*) FROM lineage) AS lineage_edges,
               (SELECT count(*) FROM runs) AS runs
        """
    )[0]

    def mix(expr: str) -> dict[str, int]:
        rows = ledger.con.execute(
            f"SELECT coalesce({expr}, 'unknown') AS k, count(DISTINCT example_id) AS n "
            "FROM provenance_records GROUP BY k ORDER BY n DESC, k"
        ).fetchall()
        return {k: n for k, n in rows}

    unknown = ledger.rows(
        """
        WITH per_example AS (
            SELECT example_id,
                   bool_and(licence IS NULL) AS no_licence,
                   bool_and(terms_id IS NULL) AS no_terms,
                   bool_and(origin = 'unknown') AS no_origin,
                   bool_or(origin <> 'human') AND bool_and(teacher_id IS NULL OR origin = 'human')
                       AS no_teacher
            FROM provenance_records GROUP BY example_id
        )
        SELECT count_if(no_licence) AS licence, count_if(no_terms) AS terms,
               count_if(no_origin) AS origin, count_if(no_teacher) AS teacher
        FROM per_example
        """
    )[0]
    conflicts = _scalar(
        ledger,
        "SELECT count(*) FROM (SELECT example_id FROM provenance_records "
        "GROUP BY example_id HAVING count(DISTINCT coalesce(licence, '?')) > 1)",
    )
    runs = [run.model_dump(mode="json") for run in recent_runs(ledger, 5)]
    return {
        "ledger": str(ledger.path),
        "schema_version": migrate.current_version(ledger.con),
        "bytes": ledger.path.stat().st_size if ledger.path.exists() else 0,
        "counts": counts,
        "origin": mix("origin"),
        "method": mix("method"),
        "teachers": mix("coalesce(teacher_model, CASE WHEN origin = 'human' THEN 'none (human)' END)"),
        "licences": mix("licence"),
        "terms": mix(
            "terms_id || coalesce('@' || terms_version, '') || ' (' || "
            "coalesce(terms_status, 'unknown') || ')'"
        ),
        "unknown": dict(unknown),
        "licence_conflicts": conflicts,
        "recent_runs": runs,
    }


def recent_runs(ledger: Ledger, limit: int) -> list[Run]:
    """The latest runs, newest first."""
    return [
        Run(**{**row, "params": _json(row["params"]), "summary": _json(row["summary"])})
        for row in ledger.rows("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", [limit])
    ]


def show(ledger: Ledger, ref: str) -> dict[str, Any]:
    """One example (content, every claim about it, its parents and children), seed or machine instruction."""
    kind, node = ledger.resolve(ref)
    if kind is NodeKind.SEED:
        return _show_seed(ledger, node)
    if kind is NodeKind.INSTRUCTION:
        return _show_instruction(ledger, node)
    row = ledger.rows("SELECT * FROM examples WHERE example_id = ?", [node])[0]
    content: dict[str, Any]
    if row["kind"] == "chat":
        content = {"messages": json.loads(row["messages"])}
    else:
        content = {k: row[k] for k in ("instruction", "input", "output")}
    claims = [
        _claim(r)
        for r in ledger.rows(
            "SELECT * FROM provenance_records WHERE example_id = ? ORDER BY created_at, source_index",
            [node],
        )
    ]
    parents = ledger.rows(
        "SELECT parent_id, parent_kind, relation, position FROM lineage WHERE child_id = ? "
        "ORDER BY relation, position, parent_id",
        [node],
    )
    children = _scalar(ledger, "SELECT count(*) FROM lineage WHERE parent_id = ?", [node])
    return {
        "kind": "example",
        "id": node,
        "example_kind": row["kind"],
        "content": content,
        "first_run_id": row["first_run_id"],
        "created_at": row["created_at"],
        "provenance": claims,
        "parents": parents,
        "children": children,
    }


def _claim(row: dict[str, Any]) -> dict[str, Any]:
    """A provenance_records row as the record model's shape, plus its locator."""
    teacher = (
        Teacher(
            model=row["teacher_model"],
            provider=row["teacher_provider"],
            revision=row["teacher_revision"],
            fingerprint=row["teacher_fingerprint"],
            endpoint=row["teacher_endpoint"],
        )
        if row["teacher_model"]
        else None
    )
    terms = (
        Terms(
            id=row["terms_id"],
            version=row["terms_version"],
            retrieved=row["terms_retrieved"],
            status=TermsStatus(row["terms_status"] or "unknown"),
        )
        if row["terms_id"]
        else None
    )
    record = ProvenanceRecord(
        teacher=teacher,
        terms=terms,
        method_params=_json(row["method_params"]),
        usage=_json(row["usage"]),
        extra=_json(row["extra"]),
        **{
            k: row[k]
            for k in ProvenanceRecord.model_fields
            if k not in {"teacher", "terms", "method_params", "usage", "extra"}
        },
    )
    out = record.model_dump(mode="json")
    out["locator"] = record.locator()
    return out


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _show_seed(ledger: Ledger, node: str) -> dict[str, Any]:
    row = ledger.rows("SELECT * FROM seeds WHERE seed_id = ?", [node])[0]
    descendants = _scalar(
        ledger,
        """
        WITH RECURSIVE down(id) AS (
            SELECT child_id FROM lineage WHERE parent_id = ?
            UNION
            SELECT l.child_id FROM lineage l JOIN down d ON l.parent_id = d.id
        )
        SELECT count(*) FROM down
        """,
        [node],
    )
    return {
        "kind": "seed",
        "id": node,
        "external_id": row["external_id"],
        "name": row["name"],
        "instruction": row["instruction"],
        "instances": json.loads(row["instances"]),
        "is_classification": row["is_classification"],
        "origin": row["origin"],
        "licence": row["licence"],
        "source": row["source"],
        "source_file": row["source_file"],
        "source_line": row["source_line"],
        "extra": _json(row["extra"]),
        "run_id": row["run_id"],
        "created_at": row["created_at"],
        "descendants": descendants,
    }


def _show_instruction(ledger: Ledger, node: str) -> dict[str, Any]:
    row = ledger.rows("SELECT * FROM instructions WHERE instruction_id = ?", [node])[0]
    candidate = ledger.rows(
        "SELECT c.generation_id, g.method, g.teacher_model, g.endpoint, c.request_hash, c.run_id "
        "FROM generation_candidates c JOIN generations g USING (generation_id) "
        "WHERE c.node_id = ? AND c.stage = 'instruction' ORDER BY c.created_at LIMIT 1",
        [node],
    )
    return {
        "kind": "instruction",
        "id": node,
        "instruction": row["instruction"],
        "is_classification": row["is_classification"],
        "first_run_id": row["first_run_id"],
        "created_at": row["created_at"],
        "generated_by": candidate[0] if candidate else None,
        "parents": ledger.rows(
            "SELECT parent_id, parent_kind, relation, position FROM lineage WHERE child_id = ? "
            "ORDER BY relation, position, parent_id",
            [node],
        ),
        "children": _scalar(ledger, "SELECT count(*) FROM lineage WHERE parent_id = ?", [node]),
    }
