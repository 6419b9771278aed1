"""Which runs' rows count: those that an audit row of their own vouches for.

A run's rows count when the run ended (``ok`` or ``failed``) and an audit row of its own seals it,
or when it is a run this connection began and has not yet ended (its own reads in progress). Rows
of a run left ``running`` by another process, whether killed or forged with SQL, never count: the
next writer closes such a run as ``failed`` with ``"interrupted": true`` in its summary
(:meth:`provenance.core.ledger.Ledger._seal_unaudited`), and those rows stay visible but are never
counted by the gate, a check or a report. The named queries (``provenance.queries``) and
:data:`provenance.core.decisions.CURRENT_DECISIONS` filter with :data:`COUNTED_RUNS`.
"""

from __future__ import annotations

#: The connection variable listing the runs this connection began (set by the ledger).
OWN_RUNS_VARIABLE = "provenance_own_runs"

#: SQL: the run ids whose rows count (no parameters).
COUNTED_RUNS = f"""
    SELECT r.run_id FROM runs r
    WHERE (r.status IN ('ok', 'failed')
           AND (r.run_id IN (SELECT run_id FROM audit_log) OR r.run_id IN (SELECT run_id FROM audit_legacy))
           AND coalesce(json_extract_string(r.summary, '$.interrupted'), '') <> 'true')
       OR list_contains(coalesce(getvariable('{OWN_RUNS_VARIABLE}'), []::VARCHAR[]), r.run_id)
"""

#: The summary key that marks a run the next writer closed because its process was gone.
INTERRUPTED = "interrupted"
