"""The record source protocol shared by every reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from provenance.core.errors import InputError

ByteCounter = Callable[[int], None]
CHUNK_RECORDS = 2048


class Source:
    """A stream of ``(record, position)`` pairs.

    ``unit`` says what a position is: ``"line"`` (1-based line of a JSON-lines file), ``"row"``
    (0-based row of the current Arrow/Parquet data file) or ``"record"`` (no position: records
    of a JSON list are located by their index, and a line is computed only for an error).
    ``path`` is the file being read and ``part`` the data file within a dataset folder.
    """

    unit = "line"

    def __init__(self, path: object) -> None:
        self.path = str(path)
        self.part: str | None = None
        # True once the text read holds a \ud… escape: only then can decoded strings hold lone
        # surrogates (which cannot be stored), so only then are they checked record by record
        self.escapes = False

    def __iter__(self) -> Iterator[tuple[Any, int | None]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def chunks(self, size: int = CHUNK_RECORDS) -> Iterator[tuple[list[Any], list[int | None]]]:
        """Records in lists, with their positions; a chunk never spans two data files."""
        records: list[Any] = []
        positions: list[int | None] = []
        part = self.part
        for record, position in self:
            if self.part != part and records:
                yield records, positions
                records, positions = [], []
            part = self.part
            records.append(record)
            positions.append(position)
            if len(records) >= size:
                yield records, positions
                records, positions = [], []
        if records:
            yield records, positions

    def line_of(self, index: int) -> int | None:
        """The line where record ``index`` starts, when the source can tell (error path only)."""
        return None

    def error(self, message: str, position: int | None, record: int | None = None) -> InputError:
        """An InputError for a record at ``position`` (and index ``record``)."""
        if self.unit == "row":
            return InputError(f"row {position}: {message}", path=self.path, record=record)
        line = position if self.unit == "line" else (self.line_of(record) if record is not None else None)
        return InputError(message, path=self.path, line=line, record=record)
