"""Verify the audit trail: recompute the hash chain and every row's vouched digests.

Finds: a deleted, inserted or edited audit row (a gap in the sequence, a previous hash that does
not match, a hash that does not recompute); a ledger row edited, inserted or deleted with SQL (the
digest of its run's rows in that table no longer matches what the audit row vouched for); a run
whose row changed after it was audited; rows of a finished run that no audit row vouches for.
Each problem names the audit row (its sequence number, kind and run) and the table.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audits.signing import check, report_digest, statement
from audits.student_verify import StudentCheck, check_student
from provenance.core import audit_log
from provenance.core.errors import InputError
from provenance.core.ledger import Ledger
from provenance.queries import audit as trail


@dataclass(frozen=True)
class Problem:
    """One thing that does not match."""

    seq: int | None
    run_id: str | None
    table: str | None
    message: str


@dataclass
class VerifyResult:
    """What ``provenance verify`` found."""

    entries: int
    head: str
    problems: list[Problem] = field(default_factory=list)
    unsealed: list[str] = field(default_factory=list)  # runs in progress in this process (not yet audited)
    interrupted: list[str] = field(default_factory=list)  # runs closed failed by the next writer
    warnings: list[str] = field(default_factory=list)  # what does not fail verify but should be seen
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing was altered."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "first_problem": asdict(self.problems[0]) if self.problems else None,
            "problems": [asdict(p) for p in self.problems],
            "unsealed_runs": self.unsealed,
            "interrupted_runs": self.interrupted,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


#: run id → (seq, payload, vouched, kind, digest version) of the last audit row of the run
_Audited = dict[str, tuple[int, Any, Any, str, int]]


def _chain(rows: list[tuple[Any, ...]], problems: list[Problem]) -> tuple[str, _Audited]:
    """Walk the audit rows: a gap, a broken link or a hash that does not recompute is a problem.
    Return the chain's head and the last audit row of each run."""
    prev, expected = audit_log.GENESIS, 1
    last_of_run: _Audited = {}
    for seq, at, kind, run_id, payload_text, vouched_text, prev_hash, digest, version in rows:
        payload, vouched = _loads(payload_text), _loads(vouched_text)
        if seq != expected:
            problems.append(
                Problem(
                    seq,
                    run_id,
                    "audit_log",
                    f"audit row {seq} follows row {expected - 1}: rows {expected}..{seq - 1} were deleted",
                )
            )
        if prev_hash != prev:
            problems.append(
                Problem(
                    seq,
                    run_id,
                    "audit_log",
                    f"audit row {seq} ({kind}) does not continue the chain: its previous hash is "
                    f"{prev_hash[:12]}, the row before it has {prev[:12]}",
                )
            )
        body = audit_log.entry_body(seq, str(at), kind, run_id, payload, vouched, version)
        if audit_log.entry_hash(prev_hash, body) != digest:
            problems.append(
                Problem(
                    seq,
                    run_id,
                    "audit_log",
                    f"audit row {seq} ({kind}, run {run_id[:12]}) was altered: its hash does not recompute",
                )
            )
        last_of_run[run_id] = (seq, payload, vouched if isinstance(vouched, dict) else {}, kind, version)
        prev, expected = digest, seq + 1
    return prev, last_of_run


def _vouched(ledger: Ledger, last_of_run: _Audited, problems: list[Problem]) -> None:
    """Each audited run's row and rows now against what its last audit row vouched for."""
    # the digests of each version some audit row vouches with (recomputing is the costly part)
    current = {
        version: trail.digests(ledger, version)
        for version in sorted({entry[4] for entry in last_of_run.values()} & {1, audit_log.DIGEST_VERSION})
    }
    for run_id, (seq, payload, vouched, kind, version) in sorted(
        last_of_run.items(), key=lambda kv: kv[1][0]
    ):
        if trail.run_payload(ledger, run_id) != payload:
            problems.append(
                Problem(
                    seq,
                    run_id,
                    "runs",
                    f"the run row of audit row {seq} ({kind}, run "
                    f"{run_id[:12]}) was changed or deleted after it was audited",
                )
            )
        have = current.get(version, {}).get(run_id, {})
        for table in sorted(set(vouched) | set(have)):
            want, got = vouched.get(table), have.get(table)
            if want == got:
                continue
            was = f"{want['rows']} rows" if want else "no rows"
            now = f"{got['rows']} rows" if got else "no rows"
            change = "edited" if want and got and want["rows"] == got["rows"] else f"{was} then, {now} now"
            problems.append(
                Problem(
                    seq,
                    run_id,
                    table,
                    f"{table}: the rows of run {run_id[:12]} ({kind}) "
                    f"that audit row {seq} vouches for do not match ({change})",
                )
            )


def _runs(ledger: Ledger, last_of_run: _Audited, problems: list[Problem]) -> list[str]:
    """Runs whose status or audit row does not fit the trail; return the runs still running."""
    statuses = trail.run_statuses(ledger)
    unsealed = sorted(r for r, s in statuses.items() if s == "running" and r not in last_of_run)
    # A run still marked running is one a killed process left; the next run to begin seals it. One
    # that ended, or that a later audited run began after, had its status altered.
    for run_id, finished, later in trail.running_runs(ledger):
        if run_id in unsealed and (finished or later):
            unsealed.remove(run_id)
            why = (
                "it has an end time" if finished else "a later run began after it and sealed the runs before"
            )
            problems.append(
                Problem(
                    None,
                    run_id,
                    "runs",
                    f"run {run_id[:12]} is marked running, but {why}: its status was altered",
                )
            )
    for run_id, status in sorted(statuses.items()):
        if status != "running" and run_id not in last_of_run:
            problems.append(
                Problem(
                    None,
                    run_id,
                    "audit_log",
                    f"run {run_id[:12]} finished ({status}) but has no audit row: the row was deleted",
                )
            )
    for run_id in trail.legacy_runs_after_log(ledger):
        problems.append(
            Problem(
                None,
                run_id,
                "audit_legacy",
                f"run {run_id[:12]} is listed as older than the audit log, "
                "but began after it: the list was altered",
            )
        )
    counts = trail.row_counts(ledger)
    unsealed = _unvouched(ledger, unsealed, counts, problems)
    for run_id, tables in counts.items():
        if run_id in statuses:
            continue
        for table, n in sorted(tables.items()):
            problems.append(
                Problem(
                    None,
                    run_id,
                    table,
                    f"{table}: {n} rows name run {run_id[:12]}, which is in no run row or audit row",
                )
            )
    return unsealed


def _unvouched(
    ledger: Ledger, running: list[str], counts: dict[str, dict[str, int]], problems: list[Problem]
) -> list[str]:
    """Rows of a run marked running that no live process holds: no audit row vouches for them, and
    none ever will (the next writer closes the run failed). Return the runs really in progress (this
    process's own; DuckDB's lock keeps any other writer out while verify reads) and those that
    wrote nothing."""
    live = ledger.live_runs()
    still: list[str] = []
    for run_id in running:
        tables = counts.get(run_id, {})
        if run_id in live or not tables:
            still.append(run_id)
            continue
        for table, n in sorted(tables.items()):
            problems.append(
                Problem(
                    None,
                    run_id,
                    table,
                    f"{table}: {n} rows of run {run_id[:12]}, which no audit row vouches for: the run is "
                    "marked running but no live process holds the ledger (rows written with SQL, or a "
                    "process that died); they do not count, and the next writer closes the run failed",
                )
            )
    return still


def _truncated(ledger: Ledger, entries: int, head: str) -> list[str]:
    """Warnings when a gate or training recorded a chain head that the trail no longer reaches or holds."""
    warnings: list[str] = []
    for run_id, kind, seq, digest in trail.recorded_heads(ledger):
        if seq > entries:
            warnings.append(
                f"the trail has {entries} rows, but {kind} run {run_id[:12]} recorded chain head "
                f"{digest[:12]} at row {seq}: the latest runs were deleted"
            )
        elif trail.hash_at(ledger, seq) != digest:
            warnings.append(
                f"{kind} run {run_id[:12]} recorded chain head {digest[:12]} at row {seq}, "
                "which is not that row of this trail"
            )
    return warnings


def verify_ledger(ledger: Ledger) -> VerifyResult:
    """Recompute the chain and every vouched digest; list every mismatch, the first one first."""
    started = time.perf_counter()
    rows = trail.entries(ledger)
    problems: list[Problem] = []
    head, last_of_run = _chain(rows, problems)
    _vouched(ledger, last_of_run, problems)
    unsealed = _runs(ledger, last_of_run, problems)
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyResult(
        entries=len(rows),
        head=head,
        problems=problems,
        unsealed=unsealed,
        interrupted=trail.interrupted_runs(ledger),
        warnings=_truncated(ledger, len(rows), head),
        seconds=time.perf_counter() - started,
    )


@dataclass
class ReportCheck:
    """Whether an AUDIT.json's chain head is in this ledger's trail (and its signature is valid)."""

    ok: bool
    lines: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {"ok": self.ok, "lines": self.lines}


def check_report(ledger: Ledger, path: Path, pubkey: Path | None = None) -> ReportCheck:
    """Check an AUDIT.json against this ledger: its chain head is a row of the trail, and (with
    ``pubkey``) its signature is valid for that key."""
    try:
        report = json.loads(Path(path).read_text("utf-8"))
        chain = report["audit_chain"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not an AUDIT.json: {exc}", path=path) from None
    lines, ok = [], True
    found = trail.hash_at(ledger, chain.get("seq"))
    last, _ = trail.head(ledger)
    if found is None and isinstance(chain.get("seq"), int) and chain["seq"] > last:
        ok = False
        lines.append(
            f"the trail ends at row {last}, but the report recorded chain head "
            f"{str(chain.get('head'))[:12]} at row {chain['seq']}: the latest runs were deleted"
        )
    elif found is None or found != chain.get("head"):
        ok = False
        lines.append(
            f"report chain head {str(chain.get('head'))[:12]} (row {chain.get('seq')}) "
            "is NOT in this ledger's trail"
        )
    else:
        lines.append(f"report chain head {chain['head'][:12]} is row {chain['seq']} of this ledger's trail")
    if pubkey is not None:
        sig = report.get("signature")
        model = (report.get("training") or {}).get("model_digest")
        message = statement(
            chain.get("head", ""), report["dataset"]["merkle_root"], model, report_digest(report)
        )
        if not sig:
            ok = False
            lines.append("the report is not signed")
        elif check(pubkey, sig, message):
            lines.append("signature valid for this public key")
        else:
            ok = False
            lines.append("signature INVALID for this public key")
    return ReportCheck(ok, lines)


@dataclass
class Verification:
    """What ``provenance verify`` found: the trail, and the report and the student when given."""

    trail: VerifyResult
    report: ReportCheck | None = None
    student: StudentCheck | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was altered and the report and the student (if any) check out."""
        return (
            self.trail.ok
            and (self.report is None or self.report.ok)
            and (self.student is None or self.student.ok)
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        report = None if self.report is None else self.report.as_dict()
        student = None if self.student is None else self.student.as_dict()
        return {**self.trail.as_dict(), "report": report, "student": student, "ok": self.ok}


def verify(
    ledger: Ledger, report: Path | None = None, pubkey: Path | None = None, student: Path | None = None
) -> Verification:
    """Verify the ledger's audit trail, an AUDIT.json against it when ``report`` is given, and a
    student's folder (every file, and its signature with ``pubkey``) when ``student`` is given."""
    return Verification(
        verify_ledger(ledger),
        check_report(ledger, report, pubkey) if report is not None else None,
        check_student(ledger, student, pubkey) if student is not None else None,
    )
