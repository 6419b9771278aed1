"""Everything the reports state, read from the ledger once (read-only): one plain dict.

Every number in the audit report, the data card, the model card and the SPDX documents comes from
here, so they agree with each other and with ``provenance stats``. Example texts appear only with
every span the PII check found replaced by ``<ENTITY>``; where the PII check has not run, no
example text is shown at all.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from provenance.core import audit_log
from provenance.core.clock import utcnow
from provenance.core.decisions import CURRENT_DECISIONS
from provenance.core.ledger import Ledger, tool_version
from provenance.queries.summary import stats

SAMPLES = 3  # examples shown per check
_FIELDS = ("instruction", "input", "output")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def check_of(facts: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The collected check of ``kind`` (licence, pii, ...), or None when the pack has none."""
    return next((c for c in facts.get("checks") or [] if c.get("kind") == kind), None)


def size_category(n: int) -> str:
    """The Hugging Face hub's size_categories value for ``n`` examples."""
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "n>1T" if n > 10**12 else "10M<n<100M" if n < 100_000_000 else "100M<n<1B"


def _latest_check_run(ledger: Ledger) -> str | None:
    row = ledger.con.execute(
        "SELECT run_id FROM runs WHERE kind = 'check' AND run_id IN (SELECT run_id FROM check_runs) "
        "ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _checks(ledger: Ledger, run_id: str | None) -> list[dict[str, Any]]:
    if run_id is None:
        return []
    rows = ledger.rows(
        "SELECT c.position, c.check_name, c.check_kind, c.check_version, c.pack_hash, c.context_id, "
        "c.action, c.status, c.blocking, c.reason, c.notes, c.examples, c.counts, c.top_reasons, "
        "p.name AS pack "
        "FROM check_runs c LEFT JOIN policy_packs p USING (pack_hash) WHERE c.run_id = ? ORDER BY c.position",
        [run_id],
    )
    out = []
    for r in rows:
        out.append(
            {
                "name": r["check_name"],
                "kind": r["check_kind"],
                "version": r["check_version"],
                "pack": r["pack"],
                "pack_hash": r["pack_hash"],
                "context_id": r["context_id"],
                "action": r["action"],
                "status": r["status"],
                "blocking": bool(r["blocking"]),
                "not_run_reason": r["reason"],
                "notes": _json(r["notes"]) or [],
                "examples": int(r["examples"] or 0),
                "counts": _json(r["counts"]) or {},
                "top_reasons": [list(x) for x in _json(r["top_reasons"]) or []],
            }
        )
    return out


def _pii_spans(ledger: Ledger, context_id: int | None) -> dict[str, list[tuple[str, int, int, str]]]:
    """example id → [(field, start, end, entity)] for everything the PII check found, whatever it
    decided (a finding under the pack's threshold is still shown masked)."""
    if context_id is None:
        return {}
    spans: dict[str, list[tuple[str, int, int, str]]] = {}
    rows = ledger.con.execute(
        "SELECT d.example_id, d.details FROM decisions d JOIN decision_batches b USING (batch_id) "
        "WHERE b.context_id = ? AND d.details IS NOT NULL",  # below-threshold findings are masked too
        [context_id],
    ).fetchall()
    for example_id, details in rows:
        found = (_json(details) or {}).get("scores", {}).get("findings", [])
        for field, entity, start, end, *_ in found:
            spans.setdefault(example_id, []).append((field, int(start), int(end), entity))
    return spans


def _masked(row: dict[str, Any], spans: list[tuple[str, int, int, str]], limit: int = 240) -> dict[str, str]:
    out = {}
    for field in _FIELDS:
        text = row.get(field) or ""
        for _, start, end, entity in sorted((s for s in spans if s[0] == field), key=lambda s: -s[1]):
            text = text[:start] + f"<{entity}>" + text[end:]
        if text:
            out[field] = text if len(text) <= limit else text[:limit] + "…"
    return out


def _samples(ledger: Ledger, checks: list[dict[str, Any]]) -> None:
    """A few examples per check with a finding, PII masked; none when the PII check did not run."""
    pii = next((c for c in checks if c["kind"] == "pii" and c["status"] == "ran"), None)
    if pii is None:
        for c in checks:
            c["samples"] = []
            c["samples_note"] = "no example text is shown: the PII check has not run on this ledger"
        return
    spans = _pii_spans(ledger, pii["context_id"])
    for c in checks:
        c["samples"] = []
        if c["status"] != "ran" or c["context_id"] is None:
            continue
        rows = ledger.rows(
            f"SELECT e.example_id, e.instruction, e.input, e.output, c.decision, c.reason "
            f"FROM ({CURRENT_DECISIONS}) c JOIN examples e USING (example_id) "
            "WHERE c.decision <> 'pass' AND e.kind = 'instruction' ORDER BY e.example_id LIMIT ?",
            [c["context_id"], SAMPLES],
        )
        for r in rows:
            if c["kind"] == "pii":  # show the redacted copy where there is one, else the masked text
                red = ledger.rows(
                    "SELECT e.* FROM lineage l JOIN examples e ON e.example_id = l.child_id "
                    "WHERE l.parent_id = ? AND l.relation = 'redacted-from' LIMIT 1",
                    [r["example_id"]],
                )
                text = _masked(red[0], []) if red else _masked(r, spans.get(r["example_id"], []))
            else:
                text = _masked(r, spans.get(r["example_id"], []))
            c["samples"].append(
                {
                    "example_id": r["example_id"],
                    "decision": r["decision"],
                    "reason": r["reason"],
                    "text": text,
                }
            )


def _teachers(ledger: Ledger, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each teacher with its declared licence and terms and, when the licence check ran, its verdict
    and obligations."""
    rows = ledger.rows(
        "SELECT teacher_model AS model, any_value(teacher_provider) AS provider, "
        "count(DISTINCT example_id) AS examples, list(DISTINCT licence) AS licences, "
        "list(DISTINCT terms_id || coalesce('@' || terms_version, '')) AS terms, "
        "list(DISTINCT terms_status) AS terms_status "
        "FROM provenance_records WHERE origin <> 'human' OR teacher_model IS NOT NULL "
        "GROUP BY teacher_model ORDER BY examples DESC, model"
    )
    licence = next((c for c in checks if c["kind"] == "licence" and c["context_id"] is not None), None)
    verdicts: dict[str | None, dict[str, Any]] = {}
    if licence is not None:
        for model, verdict, n, obligations, reason in ledger.con.execute(
            f"SELECT p.teacher_model, j.verdict, count(DISTINCT c.example_id), any_value(j.obligations), "
            f"any_value(j.reason) FROM ({CURRENT_DECISIONS}) c "
            "JOIN licence_judgements j ON j.judgement_no = c.ref "
            "JOIN provenance_records p USING (example_id) GROUP BY p.teacher_model, j.verdict",
            [licence["context_id"]],
        ).fetchall():
            entry = verdicts.setdefault(model, {"verdicts": {}, "obligations": {}, "reasons": []})
            entry["verdicts"][verdict] = int(n)
            entry["reasons"].append(reason)
            for o in _json(obligations) or []:
                entry["obligations"].setdefault(json.dumps(o, sort_keys=True), o)
    out = []
    for r in rows:
        v = verdicts.get(r["model"], {})
        out.append(
            {
                "model": r["model"],
                "provider": r["provider"],
                "examples": int(r["examples"]),
                "licences": sorted(x for x in r["licences"] if x),
                "terms": sorted(x for x in r["terms"] if x),
                "terms_status": sorted(x for x in r["terms_status"] if x),
                "verdicts": v.get("verdicts", {}),
                "reasons": v.get("reasons", []),
                "obligations": list(v.get("obligations", {}).values()),
            }
        )
    return out


def _toxicity(ledger: Ledger, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The toxicity check's score distribution (ten bins over 0..1), or why there is none."""
    tox = next((c for c in checks if c["kind"] == "toxicity"), None)
    if tox is None or tox["status"] != "ran" or tox["context_id"] is None:
        return {"ran": False, "reason": (tox or {}).get("not_run_reason") or "no toxicity check in the pack"}
    bins = [0] * 10
    for (score,) in ledger.con.execute(
        f"SELECT d.score FROM decisions d JOIN decision_batches b USING (batch_id) "
        f"SEMI JOIN ({CURRENT_DECISIONS}) c ON c.example_id = d.example_id WHERE b.context_id = ?",
        [tox["context_id"], tox["context_id"]],
    ).fetchall():
        if score is not None:
            bins[min(9, max(0, int(float(score) * 10)))] += 1
    return {"ran": True, "bins": bins, "scored": sum(bins)}


def _lineage(ledger: Ledger) -> dict[str, Any]:
    per_seed = ledger.rows(
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
    depth = ledger.con.execute(
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
    with_descendants = sum(1 for s in per_seed if s["examples"] > 1)
    return {
        "max_depth": int(depth) + (1 if per_seed else 0),
        "seeds": len(per_seed),
        "seeds_with_machine_descendants": with_descendants,
        "per_seed": [{**s, "examples": int(s["examples"]), "depth": int(s["depth"])} for s in per_seed],
    }


def _gate(ledger: Ledger) -> dict[str, Any] | None:
    row = ledger.rows(
        "SELECT run_id, params, summary, status, CAST(finished_at AS VARCHAR) AS at FROM runs "
        "WHERE kind = 'gate' AND summary IS NOT NULL ORDER BY started_at DESC LIMIT 1"
    )
    if not row:
        return None
    summary, params = _json(row[0]["summary"]) or {}, _json(row[0]["params"]) or {}
    return {
        "run_id": row[0]["run_id"],
        "at": row[0]["at"],
        "verdict": "passed" if summary.get("passed") else "failed",
        "reasons": summary.get("reasons", []),
        "dataset": summary.get("dataset"),
        "selected": summary.get("selected"),
        "examples": summary.get("examples"),
        "pack": params.get("pack"),
        "student": params.get("student"),
        "waivers_used": summary.get("waivers_used", []),
    }


def _trainings(ledger: Ledger) -> list[dict[str, Any]]:
    rows = ledger.rows(
        "SELECT t.*, d.pack_name, d.pack_hash, d.examples AS dataset_examples, d.registry_version "
        "FROM trainings t JOIN datasets d USING (dataset_id) ORDER BY t.created_at"
    )
    out = []
    for r in rows:
        gate = ledger.rows(
            "SELECT summary FROM runs WHERE kind = 'gate' AND json_extract_string(summary, '$.dataset') = ? "
            "ORDER BY started_at DESC LIMIT 1",
            [r["dataset_id"]],
        )
        out.append(
            {
                "training_id": r["training_id"],
                "run_id": r["run_id"],
                "student": r["student"],
                "student_kind": r["student_kind"],
                "base_model": r["base_model"],
                "out_dir": r["out_dir"],
                "model_digest": r["model_digest"],
                "dataset_id": r["dataset_id"],
                "dataset_examples": int(r["dataset_examples"]),
                "pack": r["pack_name"],
                "pack_hash": r["pack_hash"],
                "registry_version": r["registry_version"],
                "config": _json(r["config"]),
                "metrics": _json(r["metrics"]),
                "created_at": str(r["created_at"]),
                "gate": (_json(gate[0]["summary"]) if gate else None),
            }
        )
    return out


def _generation(ledger: Ledger) -> list[dict[str, Any]]:
    rows = ledger.rows(
        "SELECT g.generation_id, g.method, g.teacher_model, g.endpoint, g.params, "
        "(SELECT count(*) FROM generation_candidates c WHERE c.generation_id = g.generation_id "
        " AND c.status = 'accepted' AND c.stage NOT IN ('classification', 'instruction')) AS accepted, "
        "(SELECT count(*) FROM generation_candidates c WHERE c.generation_id = g.generation_id "
        " AND c.status = 'rejected') AS rejected, "
        "(SELECT count(*) FROM teacher_calls t WHERE t.run_id IN "
        " (SELECT run_id FROM runs WHERE json_extract_string(params, '$.method') = g.method)) AS calls "
        "FROM generations g ORDER BY g.created_at"
    )
    out = []
    for r in rows:
        params = dict(_json(r["params"]) or {})
        seeds = params.pop("seeds", None)
        params["seeds_in_pool"] = len(seeds) if isinstance(seeds, list) else None
        out.append({**r, "params": params})
    return out


def collect(ledger: Ledger, *, verified: dict[str, Any] | None = None) -> dict[str, Any]:
    """The facts every report is written from. ``verified`` is what ``provenance verify`` found
    (the command wires it in: reports only read the ledger)."""
    s = stats(ledger)
    counts = s["counts"]
    check_run = _latest_check_run(ledger)
    checks = _checks(ledger, check_run)
    checked = ledger.rows(
        "SELECT r.run_id, CAST(r.started_at AS VARCHAR) AS at, "
        "json_extract_string(r.params, '$.pack') AS pack, "
        "json_extract_string(r.params, '$.pack_hash') AS pack_hash, "
        "json_extract_string(r.params, '$.student') AS student FROM runs r WHERE r.run_id = ?",
        [check_run],
    )
    _samples(ledger, checks)
    sources = ledger.rows(
        "SELECT source, count(DISTINCT example_id) AS examples FROM provenance_records "
        "WHERE source IS NOT NULL GROUP BY source ORDER BY examples DESC, source"
    )
    pii = next((c for c in checks if c["kind"] == "pii"), None)
    entities: Counter[str] = Counter()
    if pii is not None and pii["status"] == "ran":
        for (details,) in ledger.con.execute(
            f"SELECT d.details FROM decisions d SEMI JOIN ({CURRENT_DECISIONS}) c "
            "ON c.example_id = d.example_id JOIN decision_batches b USING (batch_id) "
            "WHERE b.context_id = ? AND d.decision <> 'pass'",
            [pii["context_id"], pii["context_id"]],
        ).fetchall():
            entities.update((_json(details) or {}).get("entities", {}))
    seq, head = audit_log.head(ledger.con)
    conflict_sets = [
        {"licences": sorted(x for x in lic if x), "examples": int(n)}
        for lic, n in ledger.con.execute(
            "SELECT lic, count(*) FROM (SELECT example_id, "
            "list_sort(list(DISTINCT coalesce(licence, 'unknown'))) AS lic FROM provenance_records "
            "GROUP BY example_id HAVING count(DISTINCT coalesce(licence, '?')) > 1) "
            "GROUP BY lic ORDER BY 2 DESC"
        ).fetchall()
    ]
    return {
        "ledger": str(ledger.path),
        "generated_at": str(utcnow()),
        "tool_version": tool_version(),
        "dataset": {
            "examples": int(counts["examples"]),
            "instruction_examples": int(counts["instruction_examples"]),
            "chat_examples": int(counts["chat_examples"]),
            "seeds": int(counts["seeds"]),
            "machine_instructions": int(counts.get("machine_instructions", 0)),
            "provenance_rows": int(counts["provenance_rows"]),
            "lineage_edges": int(counts["lineage_edges"]),
            "runs": int(counts["runs"]),
            "size_category": size_category(int(counts["examples"])),
            "origin": s["origin"],
            "method": s["method"],
            "teachers": s["teachers"],
            "unknown": s["unknown"],
        },
        "licences": {
            "expressions": s["licences"],
            "terms": s["terms"],
            "conflicts": int(s["licence_conflicts"]),
            "conflict_sets": conflict_sets,
        },
        "toxicity": _toxicity(ledger, checks),
        "sources": sources,
        "teachers": _teachers(ledger, checks),
        "generation": _generation(ledger),
        "checks": checks,
        "check_run": checked[0] if checked else None,
        "pii": {
            "ran": bool(pii and pii["status"] == "ran"),
            "examples_with_pii": sum(v for k, v in (pii or {}).get("counts", {}).items() if k != "pass"),
            "entities": dict(entities),
            "redacted": int(
                ledger.con.execute(
                    "SELECT count(*) FROM lineage WHERE relation = 'redacted-from'"
                ).fetchone()[0]
            ),
            "notes": (pii or {}).get("notes", []),
        },
        "lineage": _lineage(ledger),
        "waivers": [
            {**w, "expires": str(w["expires"]), "created_at": str(w["created_at"])}
            for w in ledger.rows("SELECT * FROM waivers ORDER BY created_at")
        ],
        "gate": _gate(ledger),
        "trainings": _trainings(ledger),
        "audit": {"entries": seq, "head": head, "verify": verified},
    }
