"""Arrow and Parquet sources: Hugging Face datasets saved with ``save_to_disk`` (a Dataset or a
DatasetDict folder), folders of Parquet files, single ``.parquet`` / ``.arrow`` files.

Rows are read batch by batch (memory-mapped for Arrow), so memory stays bounded. The folder's
``state.json`` decides which data files are read and in which order, as ``datasets`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.importers.source import ByteCounter, Source
from provenance.core.errors import InputError


@dataclass(frozen=True)
class ColumnarSource:
    """The data files of a saved Hugging Face dataset, a Parquet folder, or one file."""

    files: tuple[Path, ...]
    kind: str  # "arrow" or "parquet"

    @property
    def total_bytes(self) -> int:
        """Sum of the data files' sizes."""
        return sum(p.stat().st_size for p in self.files)


def find_columnar(path: Path) -> ColumnarSource:
    """Locate the data files of ``path``: a ``save_to_disk`` folder (Dataset or DatasetDict),
    a folder of Parquet files, or a single ``.parquet`` / ``.arrow`` file."""
    if path.is_file():
        if path.suffix == ".parquet":
            return ColumnarSource((path,), "parquet")
        if path.suffix == ".arrow":
            return ColumnarSource((path,), "arrow")
        raise InputError(
            "expected a Parquet file, an Arrow file, or a folder written by datasets' save_to_disk",
            path=path,
        )
    if (path / "dataset_dict.json").is_file():
        splits = _read_json_file(path / "dataset_dict.json").get("splits")
        if not isinstance(splits, list) or not splits:
            raise InputError("dataset_dict.json lists no splits", path=path / "dataset_dict.json")
        files: list[Path] = []
        for split in splits:
            files.extend(find_columnar(path / str(split)).files)
        return ColumnarSource(tuple(files), "arrow")
    if (path / "state.json").is_file():
        state = _read_json_file(path / "state.json")
        entries = state.get("_data_files")
        if not isinstance(entries, list) or not entries:
            raise InputError("state.json lists no data files", path=path / "state.json")
        found = []
        for entry in entries:
            name = entry.get("filename") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not (path / name).is_file():
                raise InputError(f"state.json names a missing data file {name!r}", path=path / "state.json")
            found.append(path / name)
        return ColumnarSource(tuple(found), "arrow")
    parquet = sorted(path.glob("**/*.parquet"))
    if parquet:
        return ColumnarSource(tuple(parquet), "parquet")
    raise InputError(
        "not a saved Hugging Face dataset (no state.json or dataset_dict.json) and no Parquet files",
        path=path,
    )


def _read_json_file(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed JSON: {exc}", path=path) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    return value


def columnar_names(source: ColumnarSource) -> list[str]:
    """Column names of the first data file."""
    return list(_open_batches(source.files[0], source.kind, schema_only=True))


class Columnar(Source):
    """Rows of Arrow / Parquet data files as dicts, batch by batch, file by file."""

    unit = "row"

    def __init__(
        self,
        source: ColumnarSource,
        root: Path,
        on_bytes: ByteCounter | None = None,
        batch_size: int = 8192,
    ) -> None:
        super().__init__(source.files[0])
        self._source, self._root = source, root
        self._on_bytes, self._batch_size = on_bytes, batch_size

    def __iter__(self) -> Iterator[tuple[Any, int | None]]:
        for path in self._source.files:
            self.path = str(path)
            self.part = str(path.relative_to(self._root)) if path != self._root else path.name
            row = 0
            for batch in _open_batches(path, self._source.kind, batch_size=self._batch_size):
                for record in batch.to_pylist():
                    yield record, row
                    row += 1
            if self._on_bytes is not None:
                self._on_bytes(path.stat().st_size)


def _open_batches(path: Path, kind: str, *, batch_size: int = 8192, schema_only: bool = False) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            pf = pq.ParquetFile(path)
            if schema_only:
                return pf.schema_arrow.names
            return _guard(pf.iter_batches(batch_size=batch_size), path)
        try:
            reader = pa.ipc.open_stream(pa.memory_map(str(path)))
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(pa.memory_map(str(path)))
            if schema_only:
                return reader.schema.names
            return _guard((reader.get_batch(i) for i in range(reader.num_record_batches)), path)
        if schema_only:
            return reader.schema.names
        return _guard(iter(reader), path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {kind} data: {exc}", path=path) from None


def _guard(batches: Iterator[Any], path: Path) -> Iterator[Any]:
    import pyarrow as pa

    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read data: {exc}", path=path) from None
