"""Named reads for the EU AI Act public summary of training content (``provenance report eu-summary``).

Every read is scoped to one dataset (a gate selection, the examples a student was trained on) and
answers one field of the AI Office's template; the summary names the function each value came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from provenance.core import audit_log
from provenance.core.ledger import Ledger
from provenance.core.vouched import COUNTED_RUNS

_IN_DATASET = "example_id IN (SELECT example_id FROM dataset_examples WHERE dataset_id = ?)"
_COUNTED = f"run_id IN ({COUNTED_RUNS})"  # claims and trainings count only when their run does


def chain_head(ledger: Ledger) -> tuple[int, str]:
    """(seq, hash) of the audit chain head: the ledger snapshot every value is read at."""
    return audit_log.head(ledger.con)


def training(ledger: Ledger, training_id: str) -> dict[str, Any] | None:
    """The trainings row with this id, or None."""
    rows = ledger.rows(
        "SELECT training_id, run_id, dataset_id, student, student_kind, base_model, out_dir, "
        f"CAST(created_at AS VARCHAR) AS created_at FROM trainings WHERE training_id = ? AND {_COUNTED}",
        [training_id],
    )
    return rows[0] if rows else None


def training_in_folder(ledger: Ledger, out_dir: str) -> dict[str, Any] | None:
    """The newest trainings row whose student was written to ``out_dir`` (a resolved path), or None."""
    row = ledger.con.execute(
        f"SELECT training_id FROM trainings WHERE out_dir = ? AND {_COUNTED} "
        "ORDER BY created_at DESC LIMIT 1",
        [out_dir],
    ).fetchone()
    return training(ledger, str(row[0])) if row else None


def dataset(ledger: Ledger, dataset_id: str) -> dict[str, Any] | None:
    """The datasets row (a gate selection: examples, pack, student, registry), or None."""
    rows = ledger.rows(
        "SELECT dataset_id, examples, pack_name, student, registry_version, run_id, "
        "CAST(created_at AS VARCHAR) AS created_at FROM datasets WHERE dataset_id = ?",
        [dataset_id],
    )
    return rows[0] if rows else None


def dataset_example_ids(ledger: Ledger, dataset_id: str) -> list[str]:
    """The sorted ids of the dataset's examples (the manifest's selection)."""
    return [
        str(r[0])
        for r in ledger.con.execute(
            "SELECT DISTINCT example_id FROM dataset_examples WHERE dataset_id = ? ORDER BY 1", [dataset_id]
        ).fetchall()
    ]


def example_kinds(ledger: Ledger, dataset_id: str) -> dict[str, int]:
    """Example kind (instruction, chat) → the dataset's examples of that kind."""
    rows = ledger.con.execute(
        f"SELECT kind, count(DISTINCT example_id) FROM examples WHERE {_IN_DATASET} GROUP BY 1 ORDER BY 1",
        [dataset_id],
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def example_texts(ledger: Ledger, dataset_id: str, size: int = 2048) -> Iterator[tuple[str, list[str]]]:
    """(example id, its text fields: instruction, input and output, or each message's content) for
    every example of the dataset, in id order, read in pages of ``size`` (consume it before the next
    query on the ledger)."""
    cur = ledger.con.execute(
        "SELECT example_id, any_value(instruction), any_value(input), any_value(output), "
        f"any_value(CAST(messages AS VARCHAR)) FROM examples WHERE {_IN_DATASET} GROUP BY 1 ORDER BY 1",
        [dataset_id],
    )
    while rows := cur.fetchmany(size):
        for example_id, instruction, input_, output, messages in rows:
            if messages:
                parts = [str(m.get("content") or "") for m in json.loads(messages)]
            else:
                parts = [x for x in (instruction, input_, output) if x]
            yield str(example_id), parts


def acquisition_dates(ledger: Ledger, dataset_id: str) -> dict[str, str | None]:
    """The first and newest time an example of the dataset entered the ledger, and the newest
    completion time of a recorded teacher call that wrote one of them (None when there is none)."""
    first, last = ledger.con.execute(
        f"SELECT CAST(min(created_at) AS VARCHAR), CAST(max(created_at) AS VARCHAR) FROM examples "
        f"WHERE {_IN_DATASET}",
        [dataset_id],
    ).fetchone() or (None, None)
    (calls,) = ledger.con.execute(
        "SELECT CAST(max(c.completed_at) AS VARCHAR) FROM teacher_calls c "
        "WHERE c.request_id IN (SELECT p.request_id FROM provenance p "
        f"WHERE p.{_IN_DATASET} AND p.request_id IS NOT NULL AND p.set_id IN "
        f"(SELECT set_id FROM provenance_sets WHERE {_COUNTED}))",
        [dataset_id],
    ).fetchone() or (None,)
    return {"first_example": first, "newest_example": last, "newest_teacher_call": calls}


def declared_sources(ledger: Ledger, dataset_id: str) -> list[dict[str, Any]]:
    """Each declared source of the dataset's examples (seed files and imported datasets) with its
    method, origin, declared licences and the number of the dataset's examples it claims."""
    return ledger.rows(
        "SELECT source, list_sort(list_distinct(list(method))) AS methods, "
        "list_sort(list_distinct(list(origin))) AS origins, "
        "list_sort(list_distinct(list(coalesce(licence, 'unknown')))) AS licences, "
        "count(DISTINCT example_id) AS examples FROM provenance_records "
        f"WHERE source IS NOT NULL AND {_IN_DATASET} AND {_COUNTED} GROUP BY source "
        "ORDER BY examples DESC, source",
        [dataset_id],
    )


def machine_writers(ledger: Ledger, dataset_id: str) -> list[dict[str, Any]]:
    """Each model that wrote machine examples of the dataset (None: not recorded), with its provider,
    the methods it wrote them by and the number of the dataset's examples it wrote."""
    return ledger.rows(
        "SELECT teacher_model AS model, any_value(teacher_provider) AS provider, "
        "list_sort(list_distinct(list(method))) AS methods, count(DISTINCT example_id) AS examples "
        f"FROM provenance_records WHERE origin = 'machine' AND {_IN_DATASET} AND {_COUNTED} "
        "GROUP BY teacher_model ORDER BY examples DESC, model NULLS LAST",
        [dataset_id],
    )


def origin_counts(ledger: Ledger, dataset_id: str) -> dict[str, int]:
    """Origin (human, machine, unknown) → the dataset's examples with a claim of that origin."""
    rows = ledger.con.execute(
        "SELECT origin, count(DISTINCT example_id) FROM provenance_records "
        f"WHERE {_IN_DATASET} AND {_COUNTED} GROUP BY 1 ORDER BY 1",
        [dataset_id],
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def licence_counts(ledger: Ledger, dataset_id: str) -> list[dict[str, Any]]:
    """Each declared licence and terms (id@version) with the number of the dataset's examples under it."""
    return ledger.rows(
        "SELECT coalesce(licence, 'unknown') AS licence, "
        "CASE WHEN terms_id IS NULL THEN NULL ELSE terms_id || coalesce('@' || terms_version, '') END "
        "AS terms, count(DISTINCT example_id) AS examples FROM provenance_records "
        f"WHERE {_IN_DATASET} AND {_COUNTED} "
        "GROUP BY 1, 2 ORDER BY examples DESC, licence, terms NULLS FIRST",
        [dataset_id],
    )


def check_run_before(ledger: Ledger, at: str | None) -> str | None:
    """The latest ``provenance check`` run with recorded checks that started at or before ``at``
    (the checks the selection was made from); the latest of all when ``at`` is None."""
    row = ledger.con.execute(
        "SELECT run_id FROM runs WHERE kind = 'check' AND run_id IN (SELECT run_id FROM check_runs) "
        "AND (CAST(? AS TIMESTAMP) IS NULL OR started_at <= CAST(? AS TIMESTAMP)) "
        "ORDER BY started_at DESC LIMIT 1",
        [at, at],
    ).fetchone()
    return str(row[0]) if row else None


def checks_of_run(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """The checks of one check run in pack order: name, kind, status, why not run, decision counts."""
    return ledger.rows(
        "SELECT check_name, check_kind, check_version, status, reason, notes, examples, counts "
        "FROM check_runs WHERE run_id = ? ORDER BY position",
        [run_id],
    )
