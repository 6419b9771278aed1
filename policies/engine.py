"""The policy engine: run a pack's checks over the ledger and store one decision per example.

Work is incremental. A decision is stored under a context (check, version, pack hash, settings,
action); an example whose decision under the same context is stored is not looked at again. An
example scored under another context with the same score identity (same check version, same
model, same scoring settings: only a threshold or the action changed) is decided again from its
stored scores, with no model time. Only the rest is scored. Batch checks commit every few
thousand examples, so a killed run keeps what it finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from policies.checks import check_class
from policies.checks.base import BatchCheck, Check, CheckUnavailable, Outcome, SequentialCheck
from policies.packs import Action, CheckSpec, LoadedPack
from provenance.core.checks_store import insert_decisions, store_check_run, store_policy_pack
from provenance.core.decisions import close_batch, ensure_context, new_batch
from provenance.core.errors import LedgerError
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger, Run
from provenance.core.vocabulary import NOT_PERMITTED, Decision
from provenance.queries import checks as q

#: progress(check name, examples done, examples in all); total 0 means "unknown yet".
Progress = Callable[[str, int, int], None]

PAGE = 1024
COMMIT_EVERY = 8192
MAX_PASSES = 5
_DECISION_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()),
        ("batch_id", pa.int32()),
        ("basis", pa.int64()),
        ("verdict", pa.string()),
        ("decision", pa.string()),
        ("score", pa.float64()),
        ("reason", pa.string()),
        ("details", pa.string()),
    ]
)


@dataclass
class CheckReport:
    """What one check of the pack did in this run."""

    name: str
    kind: str
    version: str
    action: str
    measures: str
    status: str = "ran"  # ran | not-run
    blocking: bool = False
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    examples: int = 0
    scored: int = 0
    redecided: int = 0
    reused: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    context_id: int | None = None
    basis: str | None = None
    student_finding: dict[str, Any] | None = None  # licence: the verdict on the student itself
    obligations: list[dict[str, Any]] = field(default_factory=list)  # licence: what travels to the student

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return dict(self.__dict__)


@dataclass
class PackResult:
    """What ``provenance check`` found."""

    run_id: str
    pack: str
    pack_hash: str
    pack_path: str
    student: str
    use: str
    registry_version: str
    checks: list[CheckReport] = field(default_factory=list)
    redacted: int = 0
    examples: int = 0

    @property
    def blocked(self) -> bool:
        """A block decision fired, or a check the pack requires did not run."""
        return any(c.blocking for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "run_id": self.run_id,
            "pack": {"name": self.pack, "hash": self.pack_hash, "path": self.pack_path},
            "student": self.student,
            "use": self.use,
            "registry_version": self.registry_version,
            "examples": self.examples,
            "redacted": self.redacted,
            "blocked": self.blocked,
            "checks": [c.as_dict() for c in self.checks],
        }


def run_pack(
    ledger: Ledger,
    loaded: LoadedPack,
    registry: Any,
    *,
    student: str | None = None,
    progress: Progress | None = None,
) -> PackResult:
    """Run every check of the pack over every example; record decisions and check runs."""
    pack = loaded.pack
    params = {"pack": pack.name, "pack_hash": pack.hash, "path": str(loaded.path), "student": student}
    with ledger.run("check", params, atomic=False) as run:
        run.summary, run.error = {"pack": pack.name}, "interrupted or failed"
        with run.step():
            store_policy_pack(
                ledger, pack.hash, pack.name, str(loaded.path), pack.model_dump_json(), run.run_id
            )
        result = PackResult(
            run_id=run.run_id,
            pack=pack.name,
            pack_hash=pack.hash,
            pack_path=str(loaded.path),
            student=student or pack.student,
            use=pack.use.value,
            registry_version=registry.version,
        )
        _passes(_Runner(ledger, run, loaded, registry, result, progress), loaded, result)
        result.examples = q.example_count(ledger)
        with run.step():
            for i, report in enumerate(result.checks):
                store_check_run(ledger, run.run_id, i, pack.hash, report.as_dict())
            run.end(
                {
                    "pack": pack.name,
                    "pack_hash": pack.hash,
                    "examples": result.examples,
                    "redacted": result.redacted,
                    "blocked": result.blocked,
                    "checks": {c.name: {"status": c.status, **c.counts} for c in result.checks},
                },
                "failed" if result.blocked else "ok",
            )
    return result


def _passes(runner: _Runner, loaded: LoadedPack, result: PackResult) -> None:
    """Run the pack until a pass writes no new redacted copy (they go through the whole pack too)."""
    try:
        for _ in range(MAX_PASSES):
            before = result.redacted
            result.checks = [
                runner.run_check(spec, settings)
                for spec, settings in zip(loaded.pack.checks, loaded.settings, strict=True)
            ]
            if result.redacted == before:
                return
        raise LedgerError(f"redaction still wrote new examples after {MAX_PASSES} passes over the pack")
    finally:
        for check in runner.checks.values():
            check.close()


class _Runner:
    """Runs the checks of one pack run; keeps loaded check objects between passes."""

    def __init__(
        self,
        ledger: Ledger,
        run: Run,
        loaded: LoadedPack,
        registry: Any,
        result: PackResult,
        progress: Progress | None,
    ) -> None:
        self.ledger = ledger
        self.run = run
        self.loaded = loaded
        self.registry = registry
        self.result = result
        self.progress = progress
        self.checks: dict[str, Check] = {}
        self.previous: dict[str, CheckReport] = {}

    def run_check(self, spec: CheckSpec, settings: Any) -> CheckReport:
        cls = check_class(spec.check)
        report = CheckReport(spec.name, spec.check, cls.version, spec.action.value, cls.measures)
        started = time.perf_counter()
        earlier = self.previous.get(spec.name)
        if spec.check == "licence":
            self._licence(spec, report)
        else:
            check = self.checks.get(spec.name) or cls(settings)
            self.checks[spec.name] = check
            try:
                check.ensure_available()
                score_hash = content_id(check.identity())
                if isinstance(check, SequentialCheck):
                    check.load()
            except CheckUnavailable as exc:
                report.status = "not-run"
                report.reason = str(exc)
                report.blocking = spec.if_not_run == "block"
                report.notes = [f"{spec.name} did not run: {exc}"]
                self.previous[spec.name] = report
                return report
            report.notes = check.notes()
            config = {
                "kind": spec.check,
                "pack": {"name": self.loaded.pack.name, "hash": self.loaded.pack.hash},
                "action": spec.action.value,
                "settings": settings.model_dump(mode="json"),
                "score_hash": score_hash,
            }
            with self.run.step():
                context_id, _ = ensure_context(
                    self.ledger,
                    check=spec.name,
                    version=cls.version,
                    config=config,
                    run_id=self.result.run_id,
                )
            report.context_id = context_id
            if isinstance(check, BatchCheck):
                self._batch(check, spec, config, report)
            elif isinstance(check, SequentialCheck):
                self._sequential(check, spec, report)
        if earlier is not None:  # a second pass over redacted examples adds to the first
            report.scored += earlier.scored
            report.redecided += earlier.redecided
            report.seconds += earlier.seconds
        report.seconds += time.perf_counter() - started
        self._summarise(report)
        report.blocking = report.blocking or report.counts.get(Decision.BLOCK.value, 0) > 0
        self.previous[spec.name] = report
        return report

    # ---- licence -----------------------------------------------------------------------

    def _licence(self, spec: CheckSpec, report: CheckReport) -> None:
        from policies.judge import Judge
        from policies.licence_check import judge_ledger

        judge = Judge(self.registry, self.loaded.pack.licence_policy(self.result.student))
        with self.run.step():
            res = judge_ledger(
                self.ledger,
                self.registry,
                judge,
                self.result.run_id,
                pack={"name": self.loaded.pack.name, "hash": self.loaded.pack.hash, "check": spec.name},
                action=spec.action.value,
            )
        report.context_id = res.context_id
        report.scored = res.judged
        finding = res.student_finding
        report.student_finding = finding.as_dict()
        report.obligations = res.obligations
        if finding.verdict.value in NOT_PERMITTED:
            report.blocking = spec.action is Action.BLOCK
            report.notes.append(
                f"the student itself is {finding.verdict.value} for this use: {finding.reason}"
            )
        if self.progress:
            self.progress(spec.name, res.examples, res.examples)

    # ---- batch checks ------------------------------------------------------------------

    def _batch(self, check: BatchCheck, spec: CheckSpec, config: dict[str, Any], report: CheckReport) -> None:
        ctx = report.context_id
        assert ctx is not None
        todo = q.undecided_rows(self.ledger, ctx)
        siblings = q.sibling_contexts(self.ledger, ctx, check.version, spec.check, config["score_hash"])
        total = len(todo)
        if self.progress:
            self.progress(spec.name, 0, total)
        if total and not siblings:
            check.load()
            check.prepare(total)
        done = 0
        pages = q.example_pages(self.ledger, todo, PAGE)
        page = next(pages, None)
        while page is not None:
            with self.run.step():
                batch_id = new_batch(self.ledger, ctx, self.result.run_id)
                written = 0
                while page is not None and written < COMMIT_EVERY:
                    written += self._batch_page(check, spec, siblings, page, batch_id, report)
                    done += page.num_rows
                    if self.progress:
                        self.progress(spec.name, done, total)
                    page = next(pages, None)
                close_batch(self.ledger, batch_id, written)

    def _batch_page(
        self,
        check: BatchCheck,
        spec: CheckSpec,
        siblings: list[int],
        page: pa.Table,
        batch_id: int,
        report: CheckReport,
    ) -> int:
        """Decide one page of examples (scoring only those with no stored scores); return how many."""
        ids = page.column("example_id").to_pylist()
        stored = q.stored_scores(self.ledger, siblings, ids) if siblings else {}
        need = [i for i, e in enumerate(ids) if e not in stored]
        if need:
            check.load()
        fresh = check.score(_rows(page, need)) if need else []
        scores: list[Any] = [stored.get(e) for e in ids]
        for i, s in zip(need, fresh, strict=True):
            scores[i] = s
        report.scored += len(need)
        report.redecided += len(ids) - len(need)
        outcomes = [check.decide(s) for s in scores]
        decisions = [spec.action.value if o.hit else Decision.PASS.value for o in outcomes]
        if spec.action is Action.REDACT:
            self.result.redacted += _redact(self.ledger, check, page, outcomes, scores, self.result.run_id)
        return insert_decisions(self.ledger, _decision_table(ids, batch_id, outcomes, decisions, scores))

    # ---- sequential checks -------------------------------------------------------------

    def _sequential(self, check: SequentialCheck, spec: CheckSpec, report: CheckReport) -> None:
        ledger, ctx = self.ledger, report.context_id
        assert ctx is not None
        current = q.current_decisions(ledger, ctx)
        total = q.example_count(ledger)
        report.basis = content_id(q.sequential_basis(ledger))
        if len(current) == total and q.last_basis(ledger, ctx) == report.basis:
            report.reused = total
            if self.progress:
                self.progress(spec.name, total, total)
            return
        parents = q.redacted_parents(ledger)
        if self.progress:
            self.progress(spec.name, 0, total)
        batches = self._sequential_batches(spec.name, parents, total)
        outcomes = _follow_originals(dict(check.run(q.seed_instructions(ledger), batches)), parents)
        ids, outs, decisions = [], [], []
        for example_id, o in outcomes.items():
            decision = spec.action.value if o.hit else Decision.PASS.value
            if current.get(example_id) != (decision, o.reason):
                ids.append(example_id)
                outs.append(o)
                decisions.append(decision)
        report.scored = len(ids)  # decided now (new, or changed because earlier examples changed)
        if ids:
            with self.run.step():
                batch_id = new_batch(ledger, ctx, self.result.run_id)
                insert_decisions(ledger, _decision_table(ids, batch_id, outs, decisions, None))
                close_batch(ledger, batch_id, len(ids))

    def _sequential_batches(self, name: str, parents: dict[str, str], total: int) -> Iterator[pa.RecordBatch]:
        """Every example but redacted copies, in order, with an ``is_seed`` column."""
        seed_ids = q.seed_example_ids(self.ledger)
        done = 0
        for page in q.example_pages(self.ledger, q.example_rows(self.ledger), PAGE):
            ids = page.column("example_id").to_pylist()
            keep = [i for i, e in enumerate(ids) if e not in parents]
            sub = page.take(pa.array(keep, pa.int64())).combine_chunks()
            flags = pa.array([ids[i] in seed_ids for i in keep])
            yield pa.RecordBatch.from_arrays(
                [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in sub.columns] + [flags],
                names=[*sub.column_names, "is_seed"],
            )
            done += len(ids)
            if self.progress:
                self.progress(name, done, total)

    # ---- summary -----------------------------------------------------------------------

    def _summarise(self, report: CheckReport) -> None:
        assert report.context_id is not None
        report.counts = q.decision_counts(self.ledger, report.context_id)
        report.examples = sum(report.counts.values())
        report.reused = max(report.examples - report.scored - report.redecided, 0)
        report.top_reasons = q.top_reasons(self.ledger, report.context_id, licence=report.kind == "licence")


def _follow_originals(outcomes: dict[str, Outcome], parents: dict[str, str]) -> dict[str, Outcome]:
    """Give each redacted copy its original's outcome (a copy of a copy: the first original's)."""
    for child, parent in parents.items():
        seen = {child}
        while parent in parents and parent not in seen:
            seen.add(parent)
            parent = parents[parent]
        o = outcomes.get(parent)
        if o is not None:
            outcomes[child] = Outcome(
                o.hit, o.verdict, o.score, o.reason, {**(o.details or {}), "as": parent}
            )
    return outcomes


def _rows(page: pa.Table, indices: list[int]) -> pa.RecordBatch:
    """The rows at ``indices`` as one record batch."""
    return page.take(pa.array(indices, pa.int64())).combine_chunks().to_batches()[0]


def _decision_table(
    ids: list[str],
    batch_id: int,
    outcomes: list[Outcome],
    decisions: list[str],
    scores: list[Any] | None,
) -> pa.Table:
    details = []
    for i, o in enumerate(outcomes):
        d: dict[str, Any] = dict(o.details or {})
        if scores is not None:
            d["scores"] = scores[i]
        details.append(json.dumps(d, ensure_ascii=False) if d else None)
    return pa.table(
        {
            "example_id": ids,
            "batch_id": pa.array([batch_id] * len(ids), pa.int32()),
            "basis": pa.array([0] * len(ids), pa.int64()),
            "verdict": [o.verdict for o in outcomes],
            "decision": decisions,
            "score": pa.array([o.score for o in outcomes], pa.float64()),
            "reason": [o.reason for o in outcomes],
            "details": details,
        },
        schema=_DECISION_SCHEMA,
    )


def _redact(
    ledger: Ledger,
    check: BatchCheck,
    page: pa.Table,
    outcomes: list[Outcome],
    scores: list[Any],
    run_id: str,
) -> int:
    """Write a redacted copy of every hit example, with a ``redacted-from`` edge; return how many are new."""
    from policies.redaction import write_redacted

    hits = [i for i, o in enumerate(outcomes) if o.hit]
    if not hits:
        return 0
    rows = page.take(pa.array(hits, pa.int64()))
    return write_redacted(ledger, check, rows, [scores[i] for i in hits], run_id)
