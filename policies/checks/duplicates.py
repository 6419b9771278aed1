"""Exact duplicates after normalisation: the first example in ledger order is kept, later copies hit.

Normalised text: Unicode NFKC, case-folded, whitespace runs collapsed, ends trimmed, over the
example's instruction, input and output (or its messages). Example ids already make byte-identical
content one example; this finds the copies that differ only in case, spacing or Unicode form.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from policies.checks.base import CheckSettings, Outcome, SequentialCheck, example_texts

if TYPE_CHECKING:
    import pyarrow as pa

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


class DuplicateSettings(CheckSettings):
    """Settings of the duplicates check."""

    fields: list[str] = Field(default_factory=lambda: ["instruction", "input", "output", "messages"])


class DuplicatesCheck(SequentialCheck):
    """Later copies of an example that are equal after normalisation."""

    kind = "duplicates"
    version = "1"
    measures = "exact duplicates after Unicode, case and whitespace normalisation (first one kept)"
    Settings = DuplicateSettings
    settings: DuplicateSettings

    def run(
        self, seeds: Sequence[tuple[str, str]], batches: Iterator[pa.RecordBatch]
    ) -> Iterator[tuple[str, Outcome]]:
        first: dict[bytes, str] = {}
        fields = self.settings.fields
        for batch in batches:
            ids = batch.column("example_id").to_pylist()
            for example_id, texts in zip(ids, example_texts(batch, fields), strict=True):
                key = hashlib.blake2b(
                    "\x1f".join(f"{f}\x1e{normalise(t)}" for f, t in texts.items()).encode(), digest_size=16
                ).digest()
                original = first.setdefault(key, example_id)
                if original == example_id:
                    yield example_id, Outcome(False, "unique")
                else:
                    yield (
                        example_id,
                        Outcome(
                            True,
                            "duplicate",
                            1.0,
                            f"duplicate of {original[:12]}",
                            {"duplicate_of": original},
                        ),
                    )
