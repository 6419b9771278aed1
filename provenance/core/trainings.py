"""Writes of the gate and the fine-tune: a dataset with its members, and a training.

Each runs inside the transaction of the run that records it (see :meth:`Ledger.run`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger

#: The temporary table of the connection that holds the gate's selected example ids
#: (filled by :func:`provenance.queries.gate.select`).
SELECTION_TABLE = "gate_selected"


@dataclass(frozen=True)
class Dataset:
    """A selection: its Merkle root (the dataset id), size, and the pack and student it was selected for."""

    dataset_id: str
    examples: int
    pack: str
    pack_hash: str
    student: str
    registry_version: str


@dataclass(frozen=True)
class Training:
    """A trained student: where it went, its weights' digest, its configuration and metrics."""

    training_id: str
    dataset_id: str
    student: str
    kind: str
    base_model: str | None
    path: str
    model_digest: str
    config: dict[str, Any]
    metrics: dict[str, Any]


def store_dataset(ledger: Ledger, dataset: Dataset, run_id: str) -> None:
    """Store the dataset and its members (the ids in :data:`SELECTION_TABLE`) unless it is stored."""
    con = ledger.con
    con.execute(
        "INSERT INTO datasets SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM datasets WHERE dataset_id = ?)",
        [
            dataset.dataset_id,
            dataset.examples,
            dataset.pack,
            dataset.pack_hash,
            dataset.student,
            dataset.registry_version,
            run_id,
            utcnow(),
            dataset.dataset_id,
        ],
    )
    con.execute(
        f"INSERT INTO dataset_examples SELECT ?, example_id, ? FROM {SELECTION_TABLE} "
        "WHERE NOT EXISTS (SELECT 1 FROM dataset_examples WHERE dataset_id = ?)",
        [dataset.dataset_id, run_id, dataset.dataset_id],
    )


def store_training(ledger: Ledger, training: Training, run_id: str) -> None:
    """Store a training, with its edge to the dataset it trained on."""
    ledger.con.execute(
        "INSERT INTO trainings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            training.training_id,
            run_id,
            training.dataset_id,
            training.student,
            training.kind,
            training.base_model,
            training.path,
            training.model_digest,
            json.dumps(training.config, default=str),
            json.dumps(training.metrics, default=str),
            utcnow(),
        ],
    )
