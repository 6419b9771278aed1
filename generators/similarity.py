"""How machine instructions are compared for diversity: a tokenizer and a pool of kept ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Collision(Protocol):
    """A pool member scoring above the threshold."""

    index: int
    score: float


class SimilarityPool(Protocol):
    """The diversity pool (policies.rouge.RougePool satisfies it)."""

    def add(self, tokens: Sequence[str], key: int) -> None:
        """Add a member under ``key``."""
        ...

    def collision(self, tokens: Sequence[str]) -> Collision | None:
        """The member with the highest score above the threshold, or None."""
        ...


@dataclass(frozen=True)
class Similarity:
    """How instructions are compared: a tokenizer and a pool factory taking the threshold.

    The command line passes the exact fast ROUGE-L of the content checks (``policies.rouge``).
    """

    tokenize: Callable[[str], list[str]]
    pool: Callable[[float], SimilarityPool]
