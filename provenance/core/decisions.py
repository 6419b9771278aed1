"""Decision contexts and batches: the bookkeeping every check shares.

A context is what a decision depends on besides the example (check, version, configuration,
registry); a batch is one write of decisions under a context by one run. Decisions themselves are
written by the checks in bulk; this module never updates or deletes them.
"""

from __future__ import annotations

import json
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.core.vouched import COUNTED_RUNS

#: The current decision of every example under one context (``?`` = context id): the newest batch
#: wins, column by column (``arg_max_null`` keeps a newer NULL reason rather than an older one).
#: Only batches of runs whose rows count (:data:`provenance.core.vouched.COUNTED_RUNS`) are read.
CURRENT_DECISIONS = f"""
    SELECT example_id, arg_max(decision, batch_id) AS decision,
           arg_max_null(reason, batch_id) AS reason, arg_max_null(ref, batch_id) AS ref
    FROM decisions WHERE batch_id IN (SELECT batch_id FROM decision_batches WHERE context_id = ?
                                      AND run_id IN ({COUNTED_RUNS}))
    GROUP BY example_id
"""


def find_context(
    ledger: Ledger, *, check: str, version: str, config: dict[str, Any], registry_hash: str = ""
) -> int | None:
    """The stored context id for this check configuration, or None; writes nothing."""
    row = ledger.con.execute(
        "SELECT context_id FROM decision_contexts WHERE check_name = ? AND check_version = ? "
        "AND config_hash = ? AND registry_hash = ?",
        [check, version, content_id(config), registry_hash],
    ).fetchone()
    return None if row is None else int(row[0])


def ensure_context(
    ledger: Ledger,
    *,
    check: str,
    version: str,
    config: dict[str, Any],
    run_id: str,
    registry_version: str = "",
    registry_hash: str = "",
) -> tuple[int, bool]:
    """The context id for this check configuration, and whether it was created now."""
    config_hash = content_id(config)
    found = find_context(ledger, check=check, version=version, config=config, registry_hash=registry_hash)
    if found is not None:
        return found, False
    row = ledger.con.execute(
        "INSERT INTO decision_contexts (check_name, check_version, config_hash, config, registry_version, "
        "registry_hash, first_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING context_id",
        [
            check,
            version,
            config_hash,
            json.dumps(config, sort_keys=True),
            registry_version,
            registry_hash,
            run_id,
            utcnow(),
        ],
    ).fetchone()
    assert row is not None
    return int(row[0]), True


def new_batch(ledger: Ledger, context_id: int, run_id: str) -> int:
    """Open a batch of decisions; close it with :func:`close_batch`."""
    row = ledger.con.execute(
        "INSERT INTO decision_batches (context_id, run_id, decided_at, decisions) VALUES (?, ?, ?, 0) "
        "RETURNING batch_id",
        [context_id, run_id, utcnow()],
    ).fetchone()
    assert row is not None
    return int(row[0])


def close_batch(ledger: Ledger, batch_id: int, decisions: int) -> None:
    """Record how many decisions a batch wrote; an empty batch is removed."""
    if decisions:
        ledger.con.execute(
            "UPDATE decision_batches SET decisions = ? WHERE batch_id = ?", [decisions, batch_id]
        )
    else:
        ledger.con.execute("DELETE FROM decision_batches WHERE batch_id = ?", [batch_id])
