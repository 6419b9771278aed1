"""The licence check over the ledger: judge once per distinct provenance, join in DuckDB.

Licences are never resolved per example. The check judges each provenance set (teacher,
licence, terms, source: a handful per import) in Python, then each distinct combination of sets
that some example carries, and writes one decision per example with a single INSERT … SELECT
that joins examples to their combination. Decisions already stored for the same check version,
policy, registry and basis are reused, not written again. On a read-only ledger (or asked not to
record) the check answers the same and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from policies.judge import Finding, Judge, Judgement, LicencePolicy, combine
from policies.registry import Registry
from provenance.core.checks_store import (
    build_licence_candidates,
    count_licence_decisions_due,
    drop_licence_candidates,
    store_judgement,
    store_licence_decisions,
)
from provenance.core.decisions import close_batch, ensure_context, find_context, new_batch
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.core.vocabulary import NOT_PERMITTED, Decision
from provenance.queries.licence import combo_counts, judgement_numbers, provenance_sets

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

    run_id: str | None  # None: judged without recording (a read-only ledger, or --no-record)
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
        blocked = sum(self.verdicts.get(v, 0) for v in NOT_PERMITTED)
        return blocked == 0 and self.student_finding.verdict.value not in NOT_PERMITTED

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "check": CHECK,
            "check_version": VERSION,
            "ok": self.ok,
            "run_id": self.run_id,
            "recorded": self.run_id is not None,
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


def check_licences(
    ledger: Ledger, registry: Registry, policy: LicencePolicy, *, record: bool = True
) -> LicenceResult:
    """Judge every example in the ledger for ``policy`` and record one decision per example.

    Runs in one transaction: on any error the ledger is unchanged. With ``record=False``, or on
    a ledger opened read-only, it answers the same and writes nothing (no run, no decisions).
    """
    judge = Judge(registry, policy)
    if not record or ledger.read_only:
        return judge_ledger(ledger, registry, judge, None)
    params = {
        "check": CHECK,
        "check_version": VERSION,
        **judge.config,
        "registry_version": registry.version,
        "registry_hash": registry.hash,
    }
    with ledger.run("check", params) as run:
        result = judge_ledger(ledger, registry, judge, run.run_id)
        run.summary = {
            "examples": result.examples,
            "judged": result.judged,
            "reused": result.reused,
            **result.verdicts,
        }
        run.status = "ok" if result.ok else "failed"
    return result


def judge_ledger(
    ledger: Ledger,
    registry: Registry,
    judge: Judge,
    run_id: str | None,
    *,
    pack: dict[str, Any] | None = None,
    action: str = Decision.DROP.value,
) -> LicenceResult:
    """The licence check inside a caller's transaction and run (``run_id`` None: record nothing).

    ``pack`` (name, hash, check name) goes into the decision context; ``action`` is the decision
    for examples the policy does not permit.
    """
    config = judge.config if pack is None else {**judge.config, "pack": pack, "action": action}
    context = {"check": CHECK, "version": VERSION, "config": config, "registry_hash": registry.hash}
    if run_id is None:
        context_id, fresh = find_context(ledger, **context), False
    else:
        context_id, fresh = ensure_context(
            ledger, **context, run_id=run_id, registry_version=registry.version
        )
    result = LicenceResult(
        run_id=run_id,
        policy=judge.policy.model_dump(mode="json"),
        student=judge.student.as_dict(),
        student_finding=judge.student_finding(),
        registry_version=registry.version,
        registry_hash=registry.hash,
        config_hash=judge.config_hash,
        context_id=context_id or 0,
    )
    sets = provenance_sets(ledger)
    by_set = _judge_sets(judge, sets)
    build_licence_candidates(ledger)
    combos = combo_counts(ledger)
    by_combo: dict[str, Judgement] = dict(by_set)  # every set, so any single-set combination maps
    for combo in combos:
        if combo not in by_combo:
            parts = [by_set[s] for s in combo.split(",")]
            by_combo[combo] = combine(parts, f"{len(parts)} provenance claims; the most restrictive wins")
    stored = None if fresh else context_id  # a new context has no decisions to compare with
    if run_id is None:
        result.judged = count_licence_decisions_due(ledger, _combo_map(by_combo, None, action), stored)
    else:
        numbers = _store_judgements(ledger, by_combo, result.context_id, run_id)
        batch = new_batch(ledger, result.context_id, run_id)
        result.judged = store_licence_decisions(ledger, _combo_map(by_combo, numbers, action), batch, stored)
        close_batch(ledger, batch, result.judged)
    drop_licence_candidates(ledger)
    _tally(result, sets, by_set, by_combo, combos)
    return result


def _tally(
    result: LicenceResult,
    sets: list[dict[str, Any]],
    by_set: dict[str, Judgement],
    by_combo: dict[str, Judgement],
    combos: dict[str, int],
) -> None:
    """Fill the result's verdict counts, by-teacher rows and obligations."""
    per_set: dict[str, int] = defaultdict(int)
    for combo, n in combos.items():
        v = by_combo[combo].verdict.value
        result.verdicts[v] = result.verdicts.get(v, 0) + n
        for set_id in combo.split(","):
            per_set[set_id] += n
    result.examples = sum(result.verdicts.values())
    result.reused = result.examples - result.judged
    result.rows = _teacher_rows(sets, by_set, per_set)
    seen: dict[str, dict[str, Any]] = {}
    for combo in combos:
        for o in by_combo[combo].obligations:
            seen.setdefault(content_id(o), o)
    for o in result.student_finding.obligations:
        seen.setdefault(content_id(o), o)
    result.obligations = list(seen.values())


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
    ids = {combo: content_id([j.as_dict(), context_id]) for combo, j in by_combo.items()}
    judgements = {ids[c]: j for c, j in by_combo.items()}
    numbers = judgement_numbers(ledger, list(judgements))
    for jid, j in judgements.items():
        if jid not in numbers:
            numbers[jid] = store_judgement(
                ledger, jid, context_id, j.as_dict(), _short_reason(j), j.terms, run_id
            )
    return {combo: numbers[ids[combo]] for combo in by_combo}


def basis_of(combo: str) -> int:
    """A stable 63-bit digest of an example's provenance sets."""
    return int(content_id(combo)[:15], 16)


def _combo_map(by_combo: dict[str, Judgement], numbers: dict[str, int] | None, refused: str) -> pa.Table:
    """Per combination of sets: its basis, judgement number (None when not stored), verdict, decision."""
    combos = list(by_combo)
    return pa.table(
        {
            "combo": combos,
            "basis": pa.array([basis_of(c) for c in combos], pa.int64()),
            "ref": pa.array([numbers[c] if numbers else None for c in combos], pa.int32()),
            "verdict": [by_combo[c].verdict.value for c in combos],
            "decision": [Decision.PASS.value if by_combo[c].permitted else refused for c in combos],
        }
    )


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
