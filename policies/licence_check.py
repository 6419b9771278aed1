"""The licence check over the ledger: judge once per distinct provenance, join in DuckDB.

Licences are never resolved per example. The check judges each provenance set (teacher,
licence, terms, source: a handful per import) in Python, then each distinct combination of sets
that some example carries, and writes one decision per example with a single INSERT … SELECT
that joins examples to their combination. Decisions already stored for the same check version,
policy, registry and basis are reused, not written again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from policies.judge import Finding, Judge, Judgement, LicencePolicy, combine
from policies.registry import Registry
from provenance.core.clock import utcnow
from provenance.core.decisions import close_batch, ensure_context, new_batch
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger

CHECK = "licence"
VERSION = "1"


@dataclass
class TeacherRow:
    """One line of the by-teacher table: a teacher (or none) under one licence and terms."""

    teacher: str | None
    origin: str
    licence: str | None
    terms: str | None
    examples: int
    verdict: str
    permitted: bool
    reasons: list[str]
    obligations: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return dict(self.__dict__)


@dataclass
class LicenceResult:
    """What one licence check found."""

    run_id: str
    policy: dict[str, Any]
    student: dict[str, Any]
    student_finding: Finding
    registry_version: str
    registry_hash: str
    config_hash: str
    context_id: int = 0
    examples: int = 0
    judged: int = 0
    reused: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    rows: list[TeacherRow] = field(default_factory=list)
    obligations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No example (and not the student itself) is prohibited or unknown for this use."""
        blocked = self.verdicts.get("prohibited", 0) + self.verdicts.get("unknown", 0)
        return blocked == 0 and self.student_finding.verdict.value not in ("prohibited", "unknown")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "check": CHECK,
            "check_version": VERSION,
            "ok": self.ok,
            "run_id": self.run_id,
            "policy": self.policy,
            "student": {**self.student, "finding": self.student_finding.as_dict()},
            "registry": {"version": self.registry_version, "hash": self.registry_hash},
            "config_hash": self.config_hash,
            "examples": self.examples,
            "judged": self.judged,
            "reused": self.reused,
            "verdicts": self.verdicts,
            "teachers": [r.as_dict() for r in self.rows],
            "obligations": self.obligations,
        }


_SETS = """
    SELECT s.set_id, s.origin, s.method, t.model AS teacher, s.licence, s.terms_id, s.terms_version,
           s.terms_status, s.source
    FROM provenance_sets s LEFT JOIN teachers t USING (teacher_id)
"""
#: Candidates for examples with more than one claim: every example whose 64-bit hash is shared by
#: several provenance rows, grouped exactly, with the sets it carries. Every other example has
#: exactly one provenance row, whose set is its combination: those need no grouping at all.
_CANDIDATES = """
    CREATE OR REPLACE TEMP TABLE licence_candidates AS
    SELECT example_id, hash(example_id) AS h, string_agg(DISTINCT set_id, ',' ORDER BY set_id) AS combo
    FROM provenance
    WHERE hash(example_id) IN (SELECT hash(example_id) AS h FROM provenance GROUP BY h HAVING count(*) > 1)
    GROUP BY example_id
"""
#: Examples per combination of sets (a single set's id is its own combination).
_COMBO_COUNTS = """
    SELECT combo, sum(n)::BIGINT AS n FROM (
        SELECT set_id AS combo, count(*) AS n FROM provenance GROUP BY set_id
        UNION ALL
        SELECT set_id, -count(*) FROM provenance SEMI JOIN temp.licence_candidates USING (example_id)
        GROUP BY set_id
        UNION ALL
        SELECT combo, count(*) FROM temp.licence_candidates GROUP BY combo
    ) GROUP BY combo HAVING sum(n) > 0
"""


def check_licences(ledger: Ledger, registry: Registry, policy: LicencePolicy) -> LicenceResult:
    """Judge every example in the ledger for ``policy`` and record one decision per example.

    Runs in one transaction: on any error the ledger is unchanged.
    """
    judge = Judge(registry, policy)
    with ledger.transaction():
        run_id = ledger.begin_run(
            "check",
            {
                "check": CHECK,
                "check_version": VERSION,
                **judge.config,
                "registry_version": registry.version,
                "registry_hash": registry.hash,
            },
        )
        result = judge_ledger(ledger, registry, judge, run_id)
        ledger.end_run(
            run_id,
            {
                "examples": result.examples,
                "judged": result.judged,
                "reused": result.reused,
                **result.verdicts,
            },
            status="ok" if result.ok else "failed",
        )
    return result


def judge_ledger(
    ledger: Ledger,
    registry: Registry,
    judge: Judge,
    run_id: str,
    *,
    pack: dict[str, Any] | None = None,
    action: str = "drop",
) -> LicenceResult:
    """The licence check inside a caller's transaction and run.

    ``pack`` (name, hash, check name) goes into the decision context; ``action`` is the decision
    for examples the policy does not permit.
    """
    config = judge.config if pack is None else {**judge.config, "pack": pack, "action": action}
    context_id, fresh = ensure_context(
        ledger,
        check=CHECK,
        version=VERSION,
        config=config,
        run_id=run_id,
        registry_version=registry.version,
        registry_hash=registry.hash,
    )
    result = LicenceResult(
        run_id=run_id,
        policy=judge.policy.model_dump(mode="json"),
        student=judge.student.as_dict(),
        student_finding=judge.student_finding(),
        registry_version=registry.version,
        registry_hash=registry.hash,
        config_hash=judge.config_hash,
        context_id=context_id,
    )
    sets = ledger.rows(_SETS)
    by_set = _judge_sets(judge, sets)
    ledger.con.execute(_CANDIDATES)
    combos = {r["combo"]: r["n"] for r in ledger.rows(_COMBO_COUNTS)}
    by_combo: dict[str, Judgement] = dict(by_set)  # every set, so any single-set combination maps
    for combo in combos:
        if combo not in by_combo:
            parts = [by_set[s] for s in combo.split(",")]
            by_combo[combo] = combine(parts, f"{len(parts)} provenance claims; the most restrictive wins")
    numbers = _store_judgements(ledger, by_combo, context_id, run_id)
    batch = new_batch(ledger, context_id, run_id)
    result.judged = _store_decisions(ledger, by_combo, numbers, batch, check_stored=not fresh, refused=action)
    close_batch(ledger, batch, result.judged)
    per_set: dict[str, int] = defaultdict(int)
    for combo, n in combos.items():
        v = by_combo[combo].verdict.value
        result.verdicts[v] = result.verdicts.get(v, 0) + n
        for set_id in combo.split(","):
            per_set[set_id] += n
    result.examples = sum(result.verdicts.values())
    result.reused = result.examples - result.judged
    result.rows = _teacher_rows(sets, by_set, per_set)
    ledger.con.execute("DROP TABLE temp.licence_candidates")
    seen: dict[str, dict[str, Any]] = {}
    for combo in combos:
        for o in by_combo[combo].obligations:
            seen.setdefault(content_id(o), o)
    for o in result.student_finding.obligations:
        seen.setdefault(content_id(o), o)
    result.obligations = list(seen.values())
    return result


def _judge_sets(judge: Judge, sets: list[dict[str, Any]]) -> dict[str, Judgement]:
    """One judgement per provenance set, computed once per distinct declaration."""
    cache: dict[tuple[Any, ...], Judgement] = {}
    out: dict[str, Judgement] = {}
    for s in sets:
        key = tuple(s[k] for k in _DECLARED)
        if key not in cache:
            cache[key] = judge.judge(**{k: s[k] for k in _DECLARED})
        out[s["set_id"]] = cache[key]
    return out


_DECLARED = ("teacher", "licence", "terms_id", "terms_version", "terms_status", "origin", "method", "source")


def _store_judgements(
    ledger: Ledger, by_combo: dict[str, Judgement], context_id: int, run_id: str
) -> dict[str, int]:
    """Store each distinct judgement once; return combination → judgement number."""
    now = utcnow()
    ids = {combo: content_id([j.as_dict(), context_id]) for combo, j in by_combo.items()}
    judgements = {ids[c]: j for c, j in by_combo.items()}
    numbers: dict[str, int] = {}
    if judgements:
        for r in ledger.rows(
            "SELECT judgement_id, judgement_no FROM licence_judgements "
            "WHERE judgement_id IN (SELECT UNNEST(?::VARCHAR[]))",
            [list(judgements)],
        ):
            numbers[r["judgement_id"]] = r["judgement_no"]
    for jid, j in judgements.items():
        if jid in numbers:
            continue
        d = j.as_dict()
        row = ledger.con.execute(
            "INSERT INTO licence_judgements (judgement_id, context_id, verdict, permitted, reason, reasons, "
            "obligations, findings, first_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING judgement_no",
            [
                jid,
                context_id,
                j.verdict.value,
                j.permitted,
                _short_reason(j),
                json.dumps(d["reasons"]),
                json.dumps(d["obligations"]),
                json.dumps(d["findings"]),
                run_id,
                now,
            ],
        ).fetchone()
        assert row is not None
        numbers[jid] = int(row[0])
        for entry_id, terms_id, version in j.terms:
            ledger.con.execute(
                "INSERT INTO judgement_terms VALUES (?, ?, ?, ?)", [numbers[jid], entry_id, terms_id, version]
            )
    return {combo: numbers[ids[combo]] for combo in by_combo}


def basis_of(combo: str) -> int:
    """A stable 63-bit digest of an example's provenance sets."""
    return int(content_id(combo)[:15], 16)


def _store_decisions(
    ledger: Ledger,
    by_combo: dict[str, Judgement],
    numbers: dict[str, int],
    batch: int,
    *,
    check_stored: bool,
    refused: str = "drop",
) -> int:
    """Write one decision per example whose current decision is not stored yet; return how many.

    ``check_stored``: decisions of this context may exist already (skip examples whose stored
    decision has the same basis). A new context has none, so the anti-join is left out.
    """
    combos = list(by_combo)
    _combo_map = pa.table(
        {
            "combo": combos,
            "basis": pa.array([basis_of(c) for c in combos], pa.int64()),
            "ref": pa.array([numbers[c] for c in combos], pa.int32()),
            "verdict": [by_combo[c].verdict.value for c in combos],
            "decision": ["pass" if by_combo[c].permitted else refused for c in combos],
        }
    )
    stored = (
        """ANTI JOIN (
            SELECT d.example_id, d.basis FROM decisions d JOIN decision_batches b USING (batch_id)
            WHERE b.context_id = (SELECT context_id FROM decision_batches WHERE batch_id = $batch)
        ) old ON old.example_id = todo.example_id AND old.basis = todo.basis"""
        if check_stored
        else ""
    )
    sql = f"""
        INSERT INTO decisions (example_id, batch_id, basis, verdict, decision, ref)
        WITH todo AS (
            SELECT p.example_id, m.basis, m.ref, m.verdict, m.decision
            FROM provenance p JOIN _combo_map m ON m.combo = p.set_id
            WHERE hash(p.example_id) NOT IN (SELECT h FROM temp.licence_candidates)
            UNION ALL
            SELECT x.example_id, m.basis, m.ref, m.verdict, m.decision
            FROM temp.licence_candidates x JOIN _combo_map m USING (combo)
        )
        SELECT todo.example_id, $batch, todo.basis, todo.verdict, todo.decision, todo.ref
        FROM todo {stored}
    """
    return int(ledger.con.execute(sql, {"batch": batch}).fetchone()[0])


def _short_reason(j: Judgement) -> str:
    """The decisive reason: the first reason of the most restrictive finding."""
    return j.reasons[0] if j.reasons else j.verdict.value


def _teacher_rows(
    sets: list[dict[str, Any]], by_set: dict[str, Judgement], counts: dict[str, int]
) -> list[TeacherRow]:
    """The by-teacher table: sets grouped by what they declare and how they were judged."""
    grouped: dict[tuple[Any, ...], TeacherRow] = {}
    for s in sets:
        j = by_set[s["set_id"]]
        terms = f"{s['terms_id']}@{s['terms_version']}" if s["terms_version"] else s["terms_id"]
        key = (s["teacher"], s["origin"], s["licence"], terms, j.verdict.value, j.reasons)
        if key not in grouped:
            grouped[key] = TeacherRow(
                teacher=s["teacher"],
                origin=s["origin"],
                licence=s["licence"],
                terms=terms,
                examples=0,
                verdict=j.verdict.value,
                permitted=j.permitted,
                reasons=list(j.reasons),
                obligations=list(j.obligations),
            )
        grouped[key].examples += counts.get(s["set_id"], 0)
    return sorted(grouped.values(), key=lambda r: (-r.examples, r.teacher or ""))
