"""The training gate: which examples may train this student under this policy pack, and may it train.

1. Current decisions: the pack is run (:func:`policies.engine.run_pack`), which is incremental: an
   example already decided under the same pack hash, check versions and registry is not looked at
   again, and no check loads its model when there is nothing to score. What is missing or stale is
   decided now.
2. Selection: an example trains when no check's current decision drops, blocks or redacts it (a
   redacted copy takes its original's place), and its licence verdict permits this use for this
   student, whatever action the pack gives the licence check. A waiver that has not expired turns a
   check's decision on its example, or on every example of its teacher, into a pass.
3. Thresholds: any block, a required check that did not run, a student its own licence forbids
   for this use, a pack without a licence check, more dropped than ``gate.max_dropped_share``,
   fewer selected than ``gate.min_examples``: each is a reason the gate says no.
4. The manifest: the selected example ids, sorted, and the Merkle root over them
   (:mod:`audits.manifest`), stored as a dataset with its members. The verdict is a run of its own,
   so the audit log records it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from audits.manifest import merkle_root
from audits.waivers import Waiver, active_waivers
from policies.engine import CheckReport, PackResult, run_pack
from policies.packs import LoadedPack
from provenance.core.clock import utcnow
from provenance.core.decisions import CURRENT_DECISIONS
from provenance.core.ledger import Ledger

EXCLUDING = ("drop", "block", "redact")


@dataclass(frozen=True)
class GateReason:
    """Why the gate said no (or what it noted)."""

    code: str
    message: str
    check: str | None = None
    count: int | None = None


@dataclass
class GateResult:
    """The gate's verdict with everything the audit report shows."""

    passed: bool
    run_id: str
    pack: dict[str, Any]
    student: str
    use: str
    distribute: bool
    registry_version: str
    examples: int
    selected: list[str]
    merkle_root: str
    reasons: list[GateReason] = field(default_factory=list)
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # check → decision → examples
    dropped: int = 0
    redacted_replaced: int = 0
    redacted_copies_unused: int = 0  # copies whose original trains (or was dropped for another reason)
    waivers_used: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    teacher_mix: dict[str, int] = field(default_factory=dict)
    licence_verdicts: dict[str, int] = field(default_factory=dict)
    obligations: list[dict[str, Any]] = field(default_factory=list)
    student_finding: dict[str, Any] | None = None
    check_run_id: str | None = None

    def as_dict(self, *, with_ids: bool = False) -> dict[str, Any]:
        """Plain dict for JSON (the id list only when asked: it can be long)."""
        out = asdict(self)
        out["reasons"] = [asdict(r) for r in self.reasons]
        if not with_ids:
            out.pop("selected")
        out["selected_examples"] = len(self.selected)
        return out


def _current(ledger: Ledger, reports: list[CheckReport]) -> None:
    """Fill the temp table ``gate_current(check_name, example_id, decision, permitted)``."""
    con = ledger.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gate_current "
        "(check_name VARCHAR, example_id VARCHAR, decision VARCHAR, permitted BOOLEAN)"
    )
    for report in reports:
        if report.status != "ran" or report.context_id is None:
            continue
        if report.kind == "licence":
            con.execute(
                "INSERT INTO gate_current SELECT ?, c.example_id, c.decision, coalesce(j.permitted, false) "
                f"FROM ({CURRENT_DECISIONS}) c LEFT JOIN licence_judgements j ON j.judgement_no = c.ref",
                [report.name, report.context_id],
            )
        else:
            con.execute(
                f"INSERT INTO gate_current SELECT ?, example_id, decision, NULL FROM ({CURRENT_DECISIONS})",
                [report.name, report.context_id],
            )


def _waived(ledger: Ledger, waivers: list[Waiver]) -> None:
    """Fill ``gate_waived(check_name, example_id, waiver_id)`` with what the waivers cover."""
    con = ledger.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gate_waived (check_name VARCHAR, example_id VARCHAR, waiver_id VARCHAR)"
    )
    for w in waivers:
        if w.example_id is not None:
            con.execute("INSERT INTO gate_waived VALUES (?, ?, ?)", [w.check, w.example_id, w.waiver_id])
        else:
            con.execute(
                "INSERT INTO gate_waived SELECT DISTINCT ?, example_id, ? FROM provenance_records "
                "WHERE teacher_model = ?",
                [w.check, w.waiver_id, w.teacher],
            )


def evaluate(
    ledger: Ledger,
    loaded: LoadedPack,
    registry: Any,
    *,
    student: str | None = None,
    today: date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> GateResult:
    """Run the gate; record its verdict and (when it passes or fails) the dataset manifest."""
    pack = loaded.pack
    result: PackResult = run_pack(ledger, loaded, registry, student=student, progress=progress)
    today = today or utcnow().date()
    waivers = active_waivers(ledger, today)
    _current(ledger, result.checks)
    _waived(ledger, waivers)
    con = ledger.con
    # one row per example: whether a check excludes it (waivers applied), and whether it is a
    # redacted copy, which trains only in place of an original that redaction excluded
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gate_hits AS
        SELECT c.check_name, c.example_id, c.decision, c.permitted,
               (c.decision IN {EXCLUDING} OR c.permitted = false) AS excludes, w.waiver_id
        FROM gate_current c LEFT JOIN gate_waived w USING (check_name, example_id)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gate_verdicts AS
        WITH own AS (
            SELECT e.example_id,
                   coalesce(bool_or(h.excludes AND h.waiver_id IS NULL), false) AS excluded,
                   coalesce(bool_or(h.decision = 'redact' AND h.waiver_id IS NULL), false) AS redacted,
                   coalesce(bool_or(h.excludes AND h.decision <> 'redact' AND h.waiver_id IS NULL), false)
                       AS excluded_otherwise,
                   coalesce(bool_or(h.decision = 'block' AND h.waiver_id IS NULL), false) AS blocked
            FROM examples e LEFT JOIN gate_hits h USING (example_id) GROUP BY e.example_id
        ),
        copies AS (
            SELECT l.child_id AS example_id, bool_or(p.redacted) AS original_redacted
            FROM lineage l JOIN own p ON p.example_id = l.parent_id
            WHERE l.relation = 'redacted-from' GROUP BY l.child_id
        )
        SELECT o.example_id, o.redacted, o.blocked,
               (c.example_id IS NOT NULL AND NOT c.original_redacted) AS unneeded_copy,
               o.excluded OR (c.example_id IS NOT NULL AND NOT c.original_redacted) AS excluded,
               o.redacted AND NOT o.excluded_otherwise AS replaceable
        FROM own o LEFT JOIN copies c USING (example_id)"""
    )
    selected = [
        r[0]
        for r in con.execute(
            "SELECT example_id FROM gate_verdicts WHERE NOT excluded ORDER BY example_id"
        ).fetchall()
    ]
    examples, blocked, unneeded = con.execute(
        "SELECT count(*), count_if(blocked), count_if(unneeded_copy) FROM gate_verdicts"
    ).fetchone()
    # an original counts as replaced when redaction alone excluded it and a copy of it trains
    redacted = con.execute(
        "SELECT count(DISTINCT v.example_id) FROM gate_verdicts v "
        "JOIN lineage l ON l.parent_id = v.example_id AND l.relation = 'redacted-from' "
        "JOIN gate_verdicts c ON c.example_id = l.child_id "
        "WHERE v.replaceable AND NOT c.excluded"
    ).fetchone()[0]
    excluded: dict[str, dict[str, int]] = {}
    for check, decision, waived, n in con.execute(
        "SELECT check_name, CASE WHEN decision IN ('pass', 'flag') AND permitted = false "
        "THEN 'not permitted' ELSE decision END AS d, waiver_id IS NOT NULL, count(*) FROM gate_hits "
        "WHERE excludes GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        key = f"{decision} (waived)" if waived else decision
        excluded.setdefault(check, {})[key] = int(n)
    # a waiver is used for the examples it let through: waived exclusions of examples that train
    used = con.execute(
        "SELECT h.waiver_id, count(DISTINCT h.example_id) FROM gate_hits h "
        "JOIN gate_verdicts v USING (example_id) "
        "WHERE h.excludes AND h.waiver_id IS NOT NULL AND NOT v.excluded "
        "GROUP BY ALL"
    ).fetchall()
    used_count = {w: int(n) for w, n in used}
    dropped = int(examples) - len(selected) - int(redacted) - int(unneeded)
    gate = GateResult(
        passed=True,
        run_id="",
        pack={"name": pack.name, "hash": pack.hash, "path": str(loaded.path), "gate": pack.gate.model_dump()},
        student=result.student,
        use=result.use,
        distribute=pack.distribute,
        registry_version=result.registry_version,
        examples=int(examples),
        selected=selected,
        merkle_root=merkle_root(selected),
        excluded=excluded,
        dropped=dropped,
        redacted_replaced=int(redacted),
        redacted_copies_unused=int(unneeded),
        waivers_used=[
            {**w.as_dict(), "examples": used_count[w.waiver_id]} for w in waivers if w.waiver_id in used_count
        ],
        checks=[_check_summary(c) for c in result.checks],
        check_run_id=result.run_id,
    )
    _reasons(gate, result, loaded, int(blocked))
    _describe_selection(ledger, gate, result)
    _record(ledger, gate)
    return gate


def _check_summary(c: CheckReport) -> dict[str, Any]:
    keep = (
        "name",
        "kind",
        "version",
        "action",
        "measures",
        "status",
        "blocking",
        "reason",
        "notes",
        "examples",
        "scored",
        "redecided",
        "reused",
        "counts",
        "top_reasons",
        "context_id",
    )
    return {k: getattr(c, k) for k in keep}


def _reasons(gate: GateResult, result: PackResult, loaded: LoadedPack, blocked: int) -> None:
    pack = loaded.pack
    reasons = gate.reasons
    licence = [c for c in result.checks if c.kind == "licence"]
    if not licence:
        reasons.append(
            GateReason(
                "no-licence-check",
                "the pack has no licence check, so no licence verdict "
                "can be confirmed; add `- check: licence` to it",
            )
        )
    for c in licence:
        finding = c.student_finding or {}
        if finding.get("verdict") in ("prohibited", "unknown"):
            reasons.append(
                GateReason(
                    "student-not-permitted",
                    f"the student {gate.student!r} itself is "
                    f"{finding['verdict']} for {gate.use} use: {finding.get('reason')}",
                    c.name,
                )
            )
    for c in result.checks:
        if c.status != "ran" and c.blocking:
            reasons.append(
                GateReason(
                    "check-not-run", f"{c.name} did not run and the pack requires it: {c.reason}", c.name
                )
            )
    if blocked:
        by_check = {k: v.get("block", 0) for k, v in gate.excluded.items() if v.get("block")}
        detail = ", ".join(f"{k} {n:,}" for k, n in by_check.items())
        reasons.append(
            GateReason(
                "blocked",
                f"{blocked:,} examples have a block decision that no waiver covers ({detail})",
                None,
                blocked,
            )
        )
    considered = gate.dropped + len(gate.selected)
    share = gate.dropped / considered if considered else 0.0
    limit = pack.gate.max_dropped_share
    if limit is not None and share > limit:
        reasons.append(
            GateReason(
                "too-many-dropped",
                f"{gate.dropped:,} of {considered:,} examples were dropped "
                f"({share:.1%}), more than the pack's max_dropped_share {limit:.1%}",
                None,
                gate.dropped,
            )
        )
    if len(gate.selected) < pack.gate.min_examples:
        reasons.append(
            GateReason(
                "too-few-examples",
                f"{len(gate.selected):,} examples may train, fewer than "
                f"the pack's min_examples {pack.gate.min_examples:,}",
                None,
                len(gate.selected),
            )
        )
    gate.passed = not reasons


def _describe_selection(ledger: Ledger, gate: GateResult, result: PackResult) -> None:
    """Teacher mix, licence verdicts and obligations of the selected examples."""
    con = ledger.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gate_selected AS "
        "SELECT example_id FROM gate_verdicts WHERE NOT excluded"
    )
    gate.teacher_mix = {
        str(k): int(n)
        for k, n in con.execute(
            "SELECT coalesce(teacher_model, "
            "CASE WHEN origin = 'human' THEN 'none (human)' ELSE 'unknown' END) k, "
            "count(DISTINCT example_id) FROM provenance_records SEMI JOIN gate_selected USING (example_id) "
            "GROUP BY k ORDER BY 2 DESC, 1"
        ).fetchall()
    }
    licence = next((c for c in result.checks if c.kind == "licence" and c.context_id is not None), None)
    if licence is None:
        return
    gate.student_finding = licence.student_finding
    rows = con.execute(
        f"SELECT j.verdict, count(*), any_value(j.obligations) FROM ({CURRENT_DECISIONS}) c "
        "SEMI JOIN gate_selected USING (example_id) JOIN licence_judgements j ON j.judgement_no = c.ref "
        "GROUP BY j.verdict, j.judgement_no",
        [licence.context_id],
    ).fetchall()
    seen: dict[str, dict[str, Any]] = {}
    for verdict, n, obligations in rows:
        gate.licence_verdicts[verdict] = gate.licence_verdicts.get(verdict, 0) + int(n)
        for o in json.loads(obligations or "[]"):
            seen.setdefault(json.dumps(o, sort_keys=True), o)
    for o in (licence.student_finding or {}).get("obligations", []):
        seen.setdefault(json.dumps(o, sort_keys=True), o)
    gate.obligations = list(seen.values())


def _record(ledger: Ledger, gate: GateResult) -> None:
    """The gate's verdict as a run (audited), with the dataset and its members."""
    with ledger.transaction():
        run_id = ledger.begin_run(
            "gate", {"pack": gate.pack["name"], "pack_hash": gate.pack["hash"], "student": gate.student}
        )
        gate.run_id = run_id
        con = ledger.con
        con.execute(
            "INSERT INTO datasets SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM datasets WHERE dataset_id = ?)",
            [
                gate.merkle_root,
                len(gate.selected),
                gate.pack["name"],
                gate.pack["hash"],
                gate.student,
                gate.registry_version,
                run_id,
                utcnow(),
                gate.merkle_root,
            ],
        )
        con.execute(
            "INSERT INTO dataset_examples SELECT ?, example_id, ? FROM gate_selected "
            "WHERE NOT EXISTS (SELECT 1 FROM dataset_examples WHERE dataset_id = ?)",
            [gate.merkle_root, run_id, gate.merkle_root],
        )
        summary = {
            "passed": gate.passed,
            "reasons": [asdict(r) for r in gate.reasons],
            "dataset": gate.merkle_root,
            "selected": len(gate.selected),
            "examples": gate.examples,
            "waivers_used": [w["waiver_id"] for w in gate.waivers_used],
            "check_run": gate.check_run_id,
            "use": gate.use,
            "distribute": gate.distribute,
            "student": gate.student,
            "student_finding": gate.student_finding,
            "licence_verdicts": gate.licence_verdicts,
            "obligations": gate.obligations,
            "teacher_mix": gate.teacher_mix,
        }
        ledger.end_run(run_id, summary, "ok" if gate.passed else "failed")
