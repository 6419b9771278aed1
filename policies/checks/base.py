"""What every check shares: settings, outcomes, dependencies, and the two ways to decide.

A :class:`BatchCheck` scores a record batch of examples (the model time) and then decides per
example from the scores alone, so a changed threshold is decided again from stored scores without
running the model. A :class:`SequentialCheck` decides each example against those before it in
ledger order (diversity, duplicates).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from provenance.core.vocabulary import Decision

if TYPE_CHECKING:
    import pyarrow as pa

#: The text fields of an example a check may read; ``messages`` is the contents of a chat.
TEXT_FIELDS = ("instruction", "input", "output", "messages")


class CheckSettings(BaseModel):
    """Base of every check's settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Outcome:
    """What a check found for one example. ``hit`` means the pack's action applies."""

    hit: bool
    verdict: str
    score: float | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None


class CheckUnavailable(Exception):
    """The check cannot run here (a dependency or model is missing); the message says how to fix it."""


class Check(ABC):
    """A check: a name, a version, what it needs, and what actions it supports."""

    kind: ClassVar[str]
    version: ClassVar[str]
    measures: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = "pip install provenance"
    actions: ClassVar[tuple[str, ...]] = (Decision.FLAG.value, Decision.DROP.value, Decision.BLOCK.value)
    Settings: ClassVar[type[CheckSettings]] = CheckSettings

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self._loaded = False

    def ensure_available(self) -> None:
        """Raise :class:`CheckUnavailable` when a declared dependency is not installed."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise CheckUnavailable(
                f"{self.kind} needs {', '.join(missing)}, not installed here ({self.install_hint})"
            )

    def load(self) -> None:
        """Load models once (idempotent); raises :class:`CheckUnavailable`."""
        if not self._loaded:
            self.ensure_available()
            self._load()
            self._loaded = True

    def _load(self) -> None:  # noqa: B027 - optional hook
        """Load what scoring needs (models, indexes)."""

    def prepare(self, examples: int) -> None:  # noqa: B027 - optional hook
        """Called before scoring ``examples`` examples (e.g. to start worker processes)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers and models at the end of a run."""

    def identity(self) -> dict[str, Any]:
        """Everything the scores depend on (settings that change scores, model digests)."""
        return {"settings": self.settings.model_dump(mode="json")}

    def notes(self) -> list[str]:
        """Plain statements every report must carry about how the check ran."""
        return []


class BatchCheck(Check):
    """Scores a batch, then decides per example from the scores alone."""

    @abstractmethod
    def score(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        """One JSON-serialisable score record per example row, in order."""

    @abstractmethod
    def decide(self, scores: dict[str, Any]) -> Outcome:
        """The outcome for one example from its score record."""


class SequentialCheck(Check):
    """Decides every example against the seeds and the examples before it, in ledger order."""

    @abstractmethod
    def run(self, seeds: Sequence[str], batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[str, Outcome]]:
        """(example id, outcome) for every example of ``batches`` (which carry an ``is_seed`` column)."""


def example_texts(
    batch: pa.RecordBatch, fields: Sequence[str], *, split_messages: bool = False
) -> list[dict[str, str]]:
    """Per example row, field → text for the non-empty fields among ``fields``.

    A chat's messages are one text (``messages``), or one per message (``messages[0]``, …).
    """
    import orjson

    columns = {f: batch.column(f).to_pylist() for f in fields if f in batch.schema.names}
    out: list[dict[str, str]] = []
    for i in range(batch.num_rows):
        texts: dict[str, str] = {}
        for field, values in columns.items():
            value = values[i]
            if not value:
                continue
            if field == "messages":
                contents = [str(m.get("content") or "") for m in orjson.loads(value)]
                if split_messages:
                    texts.update({f"messages[{j}]": c for j, c in enumerate(contents) if c})
                    continue
                value = "\n".join(contents)
            texts[field] = value
        out.append(texts)
    return out
