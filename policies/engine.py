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
from provenance.core.clock import utcnow
from provenance.core.decisions import CURRENT_DECISIONS, close_batch, ensure_context, new_batch
from provenance.core.errors import LedgerError
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger

#: progress(check name, examples done, examples in all); total 0 means "unknown yet".
Progress = Callable[[str, int, int], None]

PAGE = 1024
COMMIT_EVERY = 8192
MAX_PASSES = 5
_COLUMNS = "rowid AS row, example_id, kind, instruction, input, output, messages"
#: What a sequential check's decisions depend on besides settings: every example (in order), the
#: seeds, which examples are seed instances, and which are redacted copies.
_SEQUENTIAL_BASIS = """
    SELECT (SELECT count(*) FROM examples), (SELECT max(rowid) FROM examples),
           (SELECT count(*) FROM seeds), (SELECT max(rowid) FROM seeds),
           (SELECT count(*) FROM provenance p JOIN provenance_sets s USING (set_id) WHERE s.method = 'seed'),
           (SELECT count(*) FROM lineage WHERE relation = 'redacted-from')
"""
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
    with ledger.transaction():
        run_id = ledger.begin_run(
            "check",
            {"pack": pack.name, "pack_hash": pack.hash, "path": str(loaded.path), "student": student},
        )
        ledger.con.execute(
            "INSERT INTO policy_packs SELECT ?, ?, ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM policy_packs WHERE pack_hash = ?)",
            [pack.hash, pack.name, str(loaded.path), pack.model_dump_json(), run_id, utcnow(), pack.hash],
        )
    result = PackResult(
        run_id=run_id,
        pack=pack.name,
        pack_hash=pack.hash,
        pack_path=str(loaded.path),
        student=student or pack.student,
        use=pack.use.value,
        registry_version=registry.version,
    )
    runner = _Runner(ledger, loaded, registry, result, progress)
    try:
        # Redaction adds examples; they go through the whole pack too (only they are new on pass two).
        for _ in range(MAX_PASSES):
            before = result.redacted
            result.checks = [
                runner.run_check(spec, settings)
                for spec, settings in zip(pack.checks, loaded.settings, strict=True)
            ]
            if result.redacted == before:
                break
        else:
            raise LedgerError(f"redaction still wrote new examples after {MAX_PASSES} passes over the pack")
    except BaseException:
        with ledger.transaction():
            ledger.end_run(run_id, {"pack": pack.name, "error": "interrupted or failed"}, status="failed")
        raise
    finally:
        for check in runner.checks.values():
            check.close()
    result.examples = int(ledger.con.execute("SELECT count(*) FROM examples").fetchone()[0])
    with ledger.transaction():
        for i, report in enumerate(result.checks):
            _store_check_run(ledger, run_id, i, pack.hash, report)
        ledger.end_run(
            run_id,
            {
                "pack": pack.name,
                "pack_hash": pack.hash,
                "examples": result.examples,
                "redacted": result.redacted,
                "blocked": result.blocked,
                "checks": {c.name: {"status": c.status, **c.counts} for c in result.checks},
            },
            status="failed" if result.blocked else "ok",
        )
    return result


class _Runner:
    """Runs the checks of one pack run; keeps loaded check objects between passes."""

    def __init__(
        self,
        ledger: Ledger,
        loaded: LoadedPack,
        registry: Any,
        result: PackResult,
        progress: Progress | None,
    ) -> None:
        self.ledger = ledger
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
            with self.ledger.transaction():
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
        report.blocking = report.blocking or report.counts.get("block", 0) > 0
        self.previous[spec.name] = report
        return report

    # ---- licence -----------------------------------------------------------------------

    def _licence(self, spec: CheckSpec, report: CheckReport) -> None:
        from policies.judge import Judge
        from policies.licence_check import judge_ledger

        judge = Judge(self.registry, self.loaded.pack.licence_policy(self.result.student))
        with self.ledger.transaction():
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
        if finding.verdict.value in ("prohibited", "unknown"):
            report.blocking = spec.action is Action.BLOCK
            report.notes.append(
                f"the student itself is {finding.verdict.value} for this use: {finding.reason}"
            )
        if self.progress:
            self.progress(spec.name, res.examples, res.examples)

    # ---- batch checks ------------------------------------------------------------------

    def _batch(self, check: BatchCheck, spec: CheckSpec, config: dict[str, Any], report: CheckReport) -> None:
        con = self.ledger.con
        ctx = report.context_id
        todo = [
            r[0]
            for r in con.execute(
                "SELECT e.rowid FROM examples e WHERE e.example_id NOT IN ("
                "  SELECT d.example_id FROM decisions d JOIN decision_batches b USING (batch_id)"
                "  WHERE b.context_id = ?) ORDER BY e.rowid",
                [ctx],
            ).fetchall()
        ]
        siblings = [
            r[0]
            for r in con.execute(
                "SELECT context_id FROM decision_contexts WHERE context_id <> ? AND check_version = ? "
                "AND json_extract_string(config, '$.kind') = ? "
                "AND json_extract_string(config, '$.score_hash') = ?",
                [ctx, check.version, spec.check, config["score_hash"]],
            ).fetchall()
        ]
        total = len(todo)
        if self.progress:
            self.progress(spec.name, 0, total)
        if total and not siblings:
            check.load()
            check.prepare(total)
        done = 0
        pages = _pages(con, todo)
        page = next(pages, None)
        while page is not None:
            with self.ledger.transaction():
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
        stored = _stored_scores(self.ledger.con, siblings, ids) if siblings else {}
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
        decisions = [spec.action.value if o.hit else "pass" for o in outcomes]
        if spec.action is Action.REDACT:
            self.result.redacted += _redact(self.ledger, check, page, outcomes, scores, self.result.run_id)
        return _insert_decisions(self.ledger, _decision_table(ids, batch_id, outcomes, decisions, scores))

    # ---- sequential checks -------------------------------------------------------------

    def _sequential(self, check: SequentialCheck, spec: CheckSpec, report: CheckReport) -> None:
        con = self.ledger.con
        ctx = report.context_id
        current = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                f"SELECT example_id, decision, reason FROM ({CURRENT_DECISIONS})", [ctx]
            ).fetchall()
        }
        total = int(con.execute("SELECT count(*) FROM examples").fetchone()[0])
        report.basis = content_id(con.execute(_SEQUENTIAL_BASIS).fetchone())
        last = con.execute(
            "SELECT basis FROM check_runs WHERE context_id = ? ORDER BY started_at DESC LIMIT 1", [ctx]
        ).fetchone()
        if len(current) == total and last is not None and last[0] == report.basis:
            report.reused = total
            if self.progress:
                self.progress(spec.name, total, total)
            return
        seeds = [
            (r[0], r[1])
            for r in con.execute("SELECT seed_id, instruction FROM seeds ORDER BY rowid").fetchall()
        ]
        rows = [r[0] for r in con.execute("SELECT rowid FROM examples ORDER BY rowid").fetchall()]
        parents: dict[str, str] = dict(
            con.execute(
                "SELECT child_id, min(parent_id) FROM lineage WHERE relation = 'redacted-from' "
                "GROUP BY child_id"
            ).fetchall()
        )
        seed_ids = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT p.example_id FROM provenance p JOIN provenance_sets s USING (set_id) "
                "WHERE s.method = 'seed'"
            ).fetchall()
        }

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            for page in _pages(con, rows):
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
                    self.progress(spec.name, done, total)

        if self.progress:
            self.progress(spec.name, 0, total)
        outcomes: dict[str, Outcome] = dict(check.run(seeds, batches()))
        for child, parent in parents.items():
            seen = {child}
            while parent in parents and parent not in seen:  # a copy of a copy: go to the original
                seen.add(parent)
                parent = parents[parent]
            o = outcomes.get(parent)
            if o is not None:
                outcomes[child] = Outcome(
                    o.hit, o.verdict, o.score, o.reason, {**(o.details or {}), "as": parent}
                )
        ids, outs, decisions = [], [], []
        for example_id, o in outcomes.items():
            decision = spec.action.value if o.hit else "pass"
            if current.get(example_id) != (decision, o.reason):
                ids.append(example_id)
                outs.append(o)
                decisions.append(decision)
        report.scored = len(ids)  # decided now (new, or changed because earlier examples changed)
        if ids:
            with self.ledger.transaction():
                batch_id = new_batch(self.ledger, ctx, self.result.run_id)
                table = _decision_table(ids, batch_id, outs, decisions, None)
                _insert_decisions(self.ledger, table)
                close_batch(self.ledger, batch_id, len(ids))

    # ---- summary -----------------------------------------------------------------------

    def _summarise(self, report: CheckReport) -> None:
        con = self.ledger.con
        counts = con.execute(
            f"SELECT decision, count(*) FROM ({CURRENT_DECISIONS}) GROUP BY decision ORDER BY decision",
            [report.context_id],
        ).fetchall()
        report.counts = {d: int(n) for d, n in counts}
        report.examples = sum(report.counts.values())
        report.reused = max(report.examples - report.scored - report.redecided, 0)
        reason = "coalesce(c.reason, j.reason)" if report.kind == "licence" else "c.reason"
        top = con.execute(
            f"SELECT {reason} AS r, count(*) AS n FROM ({CURRENT_DECISIONS}) c "
            "LEFT JOIN licence_judgements j ON j.judgement_no = c.ref "
            "WHERE c.decision <> 'pass' GROUP BY r ORDER BY n DESC, r LIMIT 5",
            [report.context_id],
        ).fetchall()
        report.top_reasons = [(str(r), int(n)) for r, n in top]


def _pages(con: Any, rows: list[int]) -> Iterator[pa.Table]:
    """Examples at the given rowids (ascending), a page at a time, in order."""
    i = 0
    while i < len(rows):
        j = min(i + PAGE, len(rows))
        while rows[j - 1] - rows[i] > 8 * PAGE and j - i > 1:  # sparse: keep the scanned range bounded
            j = i + max((j - i) // 2, 1)
        lo, hi = rows[i], rows[j - 1]
        table = con.execute(
            f"SELECT {_COLUMNS} FROM examples WHERE rowid BETWEEN ? AND ? ORDER BY rowid", [lo, hi]
        ).to_arrow_table()
        if hi - lo + 1 != j - i:
            import pyarrow.compute as pc

            table = table.filter(pc.is_in(table.column("row"), pa.array(rows[i:j], pa.int64())))
        yield table.drop(["row"])
        i = j


def _rows(page: pa.Table, indices: list[int]) -> pa.RecordBatch:
    """The rows at ``indices`` as one record batch."""
    return page.take(pa.array(indices, pa.int64())).combine_chunks().to_batches()[0]


def _stored_scores(con: Any, contexts: list[int], ids: list[str]) -> dict[str, dict[str, Any]]:
    """Scores stored for these examples under sibling contexts (same score identity)."""
    _ids = pa.table({"example_id": ids})
    rows = con.execute(
        "SELECT d.example_id, any_value(json_extract(d.details, '$.scores'))::VARCHAR FROM decisions d "
        "SEMI JOIN _ids USING (example_id) "
        "WHERE d.batch_id IN (SELECT batch_id FROM decision_batches WHERE context_id IN (SELECT UNNEST(?))) "
        "GROUP BY d.example_id",
        [contexts],
    ).fetchall()
    return {e: json.loads(s) for e, s in rows if s is not None}


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


def _insert_decisions(ledger: Ledger, _table: pa.Table) -> int:
    ledger.con.execute(
        "INSERT INTO decisions (example_id, batch_id, basis, verdict, decision, score, reason, details) "
        "SELECT example_id, batch_id, basis, verdict, decision, score, reason, details::JSON FROM _table"
    )
    return _table.num_rows


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


def _store_check_run(ledger: Ledger, run_id: str, position: int, pack_hash: str, r: CheckReport) -> None:
    ledger.con.execute(
        "INSERT INTO check_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            position,
            r.name,
            r.kind,
            r.version,
            pack_hash,
            r.context_id,
            r.action,
            r.status,
            r.blocking,
            r.reason,
            json.dumps(r.notes),
            r.examples,
            r.scored,
            r.redecided,
            r.reused,
            json.dumps(r.counts),
            json.dumps(r.top_reasons),
            r.basis,
            r.seconds,
            utcnow(),
        ],
    )
