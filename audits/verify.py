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
from typing import Any

from provenance.core import audit_log
from provenance.core.ledger import Ledger


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
    unsealed: list[str] = field(default_factory=list)  # runs still running (not yet audited)
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
            "seconds": round(self.seconds, 3),
        }


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def verify_ledger(ledger: Ledger) -> VerifyResult:
    """Recompute the chain and every vouched digest; list every mismatch, the first one first."""
    started = time.perf_counter()
    con = ledger.con
    rows = con.execute(
        "SELECT seq, recorded_at, kind, run_id, payload, vouched, prev_hash, hash, digest_version "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    problems: list[Problem] = []
    prev, expected = audit_log.GENESIS, 1
    last_of_run: dict[str, tuple[int, Any, Any, str, int]] = {}
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
    # the digests of each version some audit row vouches with (recomputing is the costly part)
    current = {
        version: audit_log.digests(con, version=version)
        for version in sorted({entry[4] for entry in last_of_run.values()} & {1, audit_log.DIGEST_VERSION})
    }
    for run_id, (seq, payload, vouched, kind, version) in sorted(
        last_of_run.items(), key=lambda kv: kv[1][0]
    ):
        try:
            now_payload = audit_log.run_payload(con, run_id)
        except LookupError:
            now_payload = None
        if now_payload != payload:
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
    statuses = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    unsealed = sorted(r for r, s in statuses.items() if s == "running" and r not in last_of_run)
    # A run still marked running is one a killed process left; the next run to begin seals it. One
    # that ended, or that a later audited run began after, had its status altered.
    for run_id, finished, later in con.execute(
        "SELECT r.run_id, r.finished_at IS NOT NULL, EXISTS (SELECT 1 FROM runs b "
        "JOIN audit_log a USING (run_id) WHERE b.started_at > r.started_at) "
        "FROM runs r WHERE r.status = 'running' ORDER BY r.started_at"
    ).fetchall():
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
    for (run_id,) in con.execute(
        "SELECT run_id FROM audit_legacy JOIN runs USING (run_id) "
        "WHERE started_at > (SELECT min(recorded_at) FROM audit_log)"
    ).fetchall():
        problems.append(
            Problem(
                None,
                run_id,
                "audit_legacy",
                f"run {run_id[:12]} is listed as older than the audit log, "
                "but began after it: the list was altered",
            )
        )
    for run_id, tables in audit_log.row_counts(con).items():
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
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyResult(
        entries=len(rows),
        head=prev,
        problems=problems,
        unsealed=unsealed,
        seconds=time.perf_counter() - started,
    )
