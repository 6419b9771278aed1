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
from provenance.clock import utcnow
from provenance.ids import content_id
from provenance.ledger import Ledger

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
_EXAMPLE_COMBOS = """
    SELECT example_id, string_agg(DISTINCT set_id, ',' ORDER BY set_id) AS combo
    FROM provenance GROUP BY example_id
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
        result = LicenceResult(
            run_id=run_id,
            policy=policy.model_dump(mode="json"),
            student=judge.student.as_dict(),
            student_finding=judge.student_finding(),
            registry_version=registry.version,
            registry_hash=registry.hash,
            config_hash=judge.config_hash,
        )
        sets = ledger.rows(_SETS)
        by_set = _judge_sets(judge, sets)
        combos = ledger.rows(f"SELECT combo, count(*) AS n FROM ({_EXAMPLE_COMBOS}) GROUP BY combo")
        by_combo: dict[str, Judgement] = {}
        for row in combos:
            parts = [by_set[s] for s in row["combo"].split(",")]
            by_combo[row["combo"]] = (
                parts[0]
                if len(parts) == 1
                else combine(parts, f"{len(parts)} provenance claims; the most restrictive wins")
            )
        ids = {combo: _judgement_id(j, judge, registry) for combo, j in by_combo.items()}
        _store_judgements(ledger, by_combo, ids, judge, registry, run_id)
        result.judged = _store_decisions(ledger, by_combo, ids, judge, registry, run_id)
        for row in combos:
            j = by_combo[row["combo"]]
            result.verdicts[j.verdict.value] = result.verdicts.get(j.verdict.value, 0) + row["n"]
        result.examples = sum(result.verdicts.values())
        result.reused = result.examples - result.judged
        result.rows = _teacher_rows(ledger, sets, by_set)
        seen: dict[str, dict[str, Any]] = {}
        for j in by_combo.values():
            for o in j.obligations:
                seen.setdefault(content_id(o), o)
        for o in result.student_finding.obligations:
            seen.setdefault(content_id(o), o)
        result.obligations = list(seen.values())
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


def _judge_sets(judge: Judge, sets: list[dict[str, Any]]) -> dict[str, Judgement]:
    """One judgement per provenance set, computed once per distinct declaration."""
    cache: dict[tuple[Any, ...], Judgement] = {}
    out: dict[str, Judgement] = {}
    for s in sets:
        key = tuple(
            s[k]
            for k in (
                "teacher",
                "licence",
                "terms_id",
                "terms_version",
                "terms_status",
                "origin",
                "method",
                "source",
            )
        )
        if key not in cache:
            cache[key] = judge.judge(
                teacher=s["teacher"],
                licence=s["licence"],
                terms_id=s["terms_id"],
                terms_version=s["terms_version"],
                terms_status=s["terms_status"],
                origin=s["origin"],
                method=s["method"],
                source=s["source"],
            )
        out[s["set_id"]] = cache[key]
    return out


def _judgement_id(j: Judgement, judge: Judge, registry: Registry) -> str:
    return content_id([j.as_dict(), judge.config_hash, registry.hash, VERSION])


def _store_judgements(
    ledger: Ledger,
    by_combo: dict[str, Judgement],
    ids: dict[str, str],
    judge: Judge,
    registry: Registry,
    run_id: str,
) -> None:
    now = utcnow()
    unique = {ids[c]: j for c, j in by_combo.items()}
    if not unique:
        return
    stored = {
        r["judgement_id"]
        for r in ledger.rows(
            "SELECT judgement_id FROM licence_judgements WHERE judgement_id IN (SELECT UNNEST(?::VARCHAR[]))",
            [list(unique)],
        )
    }
    config = json.dumps(judge.config, sort_keys=True)
    for jid, j in unique.items():
        if jid in stored:
            continue
        d = j.as_dict()
        ledger.con.execute(
            "INSERT INTO licence_judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                jid,
                j.verdict.value,
                j.permitted,
                json.dumps(d["reasons"]),
                json.dumps(d["obligations"]),
                json.dumps(d["findings"]),
                registry.version,
                registry.hash,
                judge.config_hash,
                config,
                run_id,
                now,
            ],
        )
        for entry_id, terms_id, version in j.terms:
            ledger.con.execute(
                "INSERT INTO judgement_terms VALUES (?, ?, ?, ?)", [jid, entry_id, terms_id, version]
            )


def _store_decisions(
    ledger: Ledger,
    by_combo: dict[str, Judgement],
    ids: dict[str, str],
    judge: Judge,
    registry: Registry,
    run_id: str,
) -> int:
    """Write one decision per example whose current decision is not stored yet; return how many."""
    combos = list(by_combo)
    _combo_map = pa.table(
        {
            "combo": combos,
            "judgement_id": [ids[c] for c in combos],
            "verdict": [by_combo[c].verdict.value for c in combos],
            "decision": ["pass" if by_combo[c].permitted else "drop" for c in combos],
            "reason": [_short_reason(by_combo[c]) for c in combos],
        }
    )
    sql = f"""
        INSERT INTO decisions
        WITH ex AS ({_EXAMPLE_COMBOS}),
        todo AS (
            SELECT ex.example_id, ex.combo, md5(ex.combo) AS basis FROM ex
            ANTI JOIN (
                SELECT example_id, basis FROM decisions
                WHERE check_name = $check AND check_version = $version AND config_hash = $config
                  AND registry_hash = $registry
            ) d ON d.example_id = ex.example_id AND d.basis = md5(ex.combo)
        )
        SELECT t.example_id, $check, $version, $config, $registry_version, $registry, t.basis,
               m.verdict, m.decision, NULL, m.reason, NULL, m.judgement_id, $run, $now
        FROM todo t JOIN _combo_map m USING (combo)
    """
    params = {
        "check": CHECK,
        "version": VERSION,
        "config": judge.config_hash,
        "registry": registry.hash,
        "registry_version": registry.version,
        "run": run_id,
        "now": utcnow(),
    }
    return int(ledger.con.execute(sql, params).fetchone()[0])


def _short_reason(j: Judgement) -> str:
    """The decisive reason: the first reason of the most restrictive finding."""
    return j.reasons[0] if j.reasons else j.verdict.value


def _teacher_rows(
    ledger: Ledger, sets: list[dict[str, Any]], by_set: dict[str, Judgement]
) -> list[TeacherRow]:
    counts = {
        r["set_id"]: r["n"]
        for r in ledger.rows("SELECT set_id, count(DISTINCT example_id) AS n FROM provenance GROUP BY set_id")
    }
    grouped: dict[tuple[Any, ...], TeacherRow] = {}
    members: dict[tuple[Any, ...], int] = defaultdict(int)
    for s in sets:
        j = by_set[s["set_id"]]
        terms = f"{s['terms_id']}@{s['terms_version']}" if s["terms_version"] else s["terms_id"]
        key = (s["teacher"], s["origin"], s["licence"], terms, j.verdict.value, j.reasons)
        members[key] += counts.get(s["set_id"], 0)
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
    for key, row in grouped.items():
        row.examples = members[key]
    return sorted(grouped.values(), key=lambda r: (-r.examples, r.teacher or ""))
