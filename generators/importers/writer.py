"""A background writer: DuckDB inserts one batch while Python parses the next.

DuckDB releases the GIL while it executes, so the two overlap on a multi-core machine. Only the
writer thread touches the connection between ``__enter__`` and ``__exit__``; ``__exit__`` always
joins it before the caller commits or rolls back.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType

from provenance.core.batch import WriteBatch
from provenance.core.ledger import Ledger, ProvenanceSet, WriteCounts

_DONE = None


class BackgroundWriter:
    """Writes submitted batches in order on one thread, adding to ``counts``."""

    def __init__(self, ledger: Ledger, context: ProvenanceSet, counts: WriteCounts, depth: int = 2) -> None:
        self._ledger, self._context, self.counts = ledger, context, counts
        self._queue: queue.Queue[WriteBatch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="provenance-writer", daemon=True)

    def __enter__(self) -> BackgroundWriter:
        self._thread.start()
        return self

    def submit(self, batch: WriteBatch) -> None:
        """Queue a batch (blocks while the queue is full); re-raises a failed write."""
        self._raise()
        if len(batch):
            batch.freeze()
            self._queue.put(batch)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    self.counts += self._ledger.write(batch, self._context)
                except BaseException as exc:  # handed to the submitting thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if kind is None:
            self._raise()
