"""Named reads of the audit trail: its rows, the digests it vouches for, and the runs it covers."""

from __future__ import annotations

from typing import Any

from provenance.core import audit_log
from provenance.core.ledger import Ledger
from provenance.core.vouched import INTERRUPTED


def entries(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every audit row as (seq, recorded_at, kind, run_id, payload, vouched, prev_hash, hash,
    digest_version), in sequence order; payload and vouched as stored (JSON text)."""
    return ledger.con.execute(
        "SELECT seq, recorded_at, kind, run_id, payload, vouched, prev_hash, hash, digest_version "
        "FROM audit_log ORDER BY seq"
    ).fetchall()


def head(ledger: Ledger) -> tuple[int, str]:
    """(seq, hash) of the last audit row; (0, the genesis hash) for an empty log."""
    return audit_log.head(ledger.con)


def hash_at(ledger: Ledger, seq: Any) -> str | None:
    """The hash of audit row ``seq``, or None when there is no such row."""
    row = ledger.con.execute("SELECT hash FROM audit_log WHERE seq = ?", [seq]).fetchone()
    return None if row is None else str(row[0])


def digests(ledger: Ledger, version: int) -> dict[str, dict[str, dict[str, Any]]]:
    """run id → table → {"rows", "digest"} of every run's rows now, under digest ``version``."""
    return audit_log.digests(ledger.con, version=version)


def run_payload(ledger: Ledger, run_id: str) -> dict[str, Any] | None:
    """The run row as an audit row records it, or None when the run row is gone."""
    try:
        return audit_log.run_payload(ledger.con, run_id)
    except LookupError:
        return None


def row_counts(ledger: Ledger) -> dict[str, dict[str, int]]:
    """run id → audited table → rows that name the run."""
    return audit_log.row_counts(ledger.con)


def run_statuses(ledger: Ledger) -> dict[str, str]:
    """run id → status, for every run."""
    return dict(ledger.con.execute("SELECT run_id, status FROM runs").fetchall())


def running_runs(ledger: Ledger) -> list[tuple[str, bool, bool]]:
    """(run id, has an end time, an audited run began after it) of each run marked running, oldest first."""
    return [
        (str(run_id), bool(finished), bool(later))
        for run_id, finished, later in ledger.con.execute(
            "SELECT r.run_id, r.finished_at IS NOT NULL, EXISTS (SELECT 1 FROM runs b "
            "JOIN audit_log a USING (run_id) WHERE b.started_at > r.started_at) "
            "FROM runs r WHERE r.status = 'running' ORDER BY r.started_at"
        ).fetchall()
    ]


def legacy_runs_after_log(ledger: Ledger) -> list[str]:
    """Runs listed as older than the audit log that began after its first row."""
    return [
        str(run_id)
        for (run_id,) in ledger.con.execute(
            "SELECT run_id FROM audit_legacy JOIN runs USING (run_id) "
            "WHERE started_at > (SELECT min(recorded_at) FROM audit_log)"
        ).fetchall()
    ]


def recorded_heads(ledger: Ledger) -> list[tuple[str, str, int, str]]:
    """(run id, kind, seq, hash) of each chain head a gate or training recorded in its run's summary,
    highest seq first."""
    return [
        (str(run_id), str(kind), int(seq), str(digest))
        for run_id, kind, seq, digest in ledger.con.execute(
            "SELECT run_id, kind, CAST(json_extract(summary, '$.chain_head.seq') AS BIGINT), "
            "json_extract_string(summary, '$.chain_head.hash') FROM runs "
            "WHERE json_extract(summary, '$.chain_head.seq') IS NOT NULL ORDER BY 3 DESC, 1"
        ).fetchall()
    ]


def interrupted_runs(ledger: Ledger) -> list[str]:
    """Runs the next writer closed because their process was gone (their rows never count)."""
    return [
        str(run_id)
        for (run_id,) in ledger.con.execute(
            "SELECT run_id FROM runs WHERE status = 'failed' "
            f"AND json_extract_string(summary, '$.{INTERRUPTED}') = 'true' ORDER BY started_at"
        ).fetchall()
    ]
