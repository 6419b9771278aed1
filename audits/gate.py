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
from pathlib import Path
from typing import Any

from audits.manifest import merkle_root, write_manifest
from audits.waivers import Waiver, active_waivers
from policies.engine import CheckReport, PackResult, run_pack
from policies.packs import LoadedPack
from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger
from provenance.core.trainings import Dataset, store_dataset
from provenance.core.vocabulary import NOT_PERMITTED, Decision
from provenance.queries import audit as audit_trail
from provenance.queries import gate as queries


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

    def manifest_meta(self) -> dict[str, Any]:
        """What the manifest says the selection is for."""
        return {"pack": self.pack["name"], "pack_hash": self.pack["hash"], "student": self.student}


def evaluate(
    ledger: Ledger,
    loaded: LoadedPack,
    registry: Any,
    *,
    student: str | None = None,
    today: date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    manifest: Path | None = None,
) -> GateResult:
    """Run the gate; record its verdict and the dataset (whether it passes or fails), and write the
    manifest to ``manifest`` when given."""
    result: PackResult = run_pack(ledger, loaded, registry, student=student, progress=progress)
    waivers = active_waivers(ledger, today or utcnow().date())
    contexts = [
        queries.CheckContext(c.name, c.kind == "licence", c.context_id)
        for c in result.checks
        if c.status == "ran" and c.context_id is not None
    ]
    scopes = [queries.WaiverScope(w.waiver_id, w.check, w.example_id, w.teacher) for w in waivers]
    selection = queries.select(ledger, contexts, scopes)
    gate = _result(loaded, result, selection, waivers)
    _reasons(gate, result, loaded, selection.blocked)
    _describe_selection(ledger, gate, result)
    _record(ledger, gate)
    if manifest is not None:
        write_manifest(manifest, gate.selected, gate.merkle_root, gate.manifest_meta())
    return gate


def _result(
    loaded: LoadedPack, result: PackResult, selection: queries.Selection, waivers: list[Waiver]
) -> GateResult:
    """The verdict before its reasons: what was selected, and what kept the rest out."""
    pack = loaded.pack
    used = selection.waiver_examples
    return GateResult(
        passed=True,
        run_id="",
        pack={"name": pack.name, "hash": pack.hash, "path": str(loaded.path), "gate": pack.gate.model_dump()},
        student=result.student,
        use=result.use,
        distribute=pack.distribute,
        registry_version=result.registry_version,
        examples=selection.examples,
        selected=selection.selected,
        merkle_root=merkle_root(selection.selected),
        excluded=selection.excluded,
        dropped=selection.examples
        - len(selection.selected)
        - selection.redacted_replaced
        - selection.unneeded_copies,
        redacted_replaced=selection.redacted_replaced,
        redacted_copies_unused=selection.unneeded_copies,
        waivers_used=[{**w.as_dict(), "examples": used[w.waiver_id]} for w in waivers if w.waiver_id in used],
        checks=[_check_summary(c) for c in result.checks],
        check_run_id=result.run_id,
    )


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
        if finding.get("verdict") in NOT_PERMITTED:
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
        by_check = {k: v.get(Decision.BLOCK, 0) for k, v in gate.excluded.items() if v.get(Decision.BLOCK)}
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
    gate.teacher_mix = queries.teacher_mix(ledger)
    licence = next((c for c in result.checks if c.kind == "licence" and c.context_id is not None), None)
    if licence is None:
        return
    gate.student_finding = licence.student_finding
    verdicts, obligations = queries.licence_verdicts(ledger, licence.context_id)
    seen = {json.dumps(o, sort_keys=True): o for o in obligations}
    for o in (licence.student_finding or {}).get("obligations", []):
        seen.setdefault(json.dumps(o, sort_keys=True), o)
    gate.licence_verdicts = verdicts
    gate.obligations = list(seen.values())


def _record(ledger: Ledger, gate: GateResult) -> None:
    """The gate's verdict as a run (audited), with the dataset and its members."""
    params = {"pack": gate.pack["name"], "pack_hash": gate.pack["hash"], "student": gate.student}
    seq, head = audit_trail.head(ledger)  # the chain head the verdict saw (verify warns if it goes)
    with ledger.run("gate", params) as run:
        gate.run_id = run.run_id
        dataset = Dataset(
            gate.merkle_root,
            len(gate.selected),
            gate.pack["name"],
            gate.pack["hash"],
            gate.student,
            gate.registry_version,
        )
        store_dataset(ledger, dataset, run.run_id)
        run.summary = {
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
            "chain_head": {"seq": seq, "hash": head},
        }
        run.status = "ok" if gate.passed else "failed"
