"""Diversity, Self-Instruct's rule done exactly: ROUGE-L F above the threshold against any seed or
any earlier kept instruction drops the example.

Order: the seeds (ledger order) form the initial pool; examples follow in ledger insertion order.
The rule applies to instructions: the instances of one instruction (examples with the same
instruction text) share its decision, and a seed's own instances pass; a teacher's verbatim copy of
a seed scores 1.0 against it, as in the naive loop. The
scores are rouge-score's own (same tokenizer, same float formula), computed by the exact pruned
search of :mod:`policies.rouge`; the result equals the naive rouge-score loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from policies.checks.base import CheckSettings, Outcome, SequentialCheck

if TYPE_CHECKING:
    import pyarrow as pa


class DiversitySettings(CheckSettings):
    """Settings of the diversity check."""

    threshold: float = Field(default=0.7, gt=0, le=1)


class DiversityCheck(SequentialCheck):
    """Near-duplicate instructions by ROUGE-L F against seeds and earlier kept instructions."""

    kind = "diversity"
    version = "1"
    measures = "instruction similarity: ROUGE-L F against every seed and earlier kept instruction"
    Settings = DiversitySettings
    settings: DiversitySettings

    def run(
        self, seeds: Sequence[tuple[str, str]], batches: Iterator[pa.RecordBatch]
    ) -> Iterator[tuple[str, Outcome]]:
        from policies.rouge import RougePool, tokenize

        threshold = self.settings.threshold
        pool = RougePool(threshold)
        names: list[tuple[str, str]] = []  # pool key → (kind, id)
        known: dict[str, Outcome] = {}  # outcomes of instructions met among the examples
        seen_seeds: set[str] = set()
        for seed_id, instruction in seeds:
            if instruction not in seen_seeds:
                pool.add(tokenize(instruction), len(names))
                names.append(("seed", seed_id))
                seen_seeds.add(instruction)
        for batch in batches:
            ids = batch.column("example_id").to_pylist()
            instructions = batch.column("instruction").to_pylist()
            seeds_flags = batch.column("is_seed").to_pylist()
            for example_id, instruction, is_seed in zip(ids, instructions, seeds_flags, strict=True):
                if not instruction:
                    yield example_id, Outcome(False, "no-instruction")
                    continue
                if is_seed and instruction in seen_seeds:
                    yield example_id, Outcome(False, "seed")
                    continue
                outcome = known.get(instruction)
                if outcome is None:
                    tokens = tokenize(instruction)
                    hit = None if is_seed else pool.collision(tokens)
                    if hit is None:
                        pool.add(tokens, len(names))
                        names.append(("example", example_id))
                        outcome = Outcome(False, "seed" if is_seed else "diverse")
                    else:
                        kind, other = names[hit.index]
                        outcome = Outcome(
                            True,
                            "similar",
                            hit.score,
                            f"ROUGE-L above {threshold} with "
                            + ("a seed instruction" if kind == "seed" else "an earlier kept instruction"),
                            {"collided_with": other, "collided_kind": kind, "rouge_l": hit.score},
                        )
                    known[instruction] = outcome
                yield example_id, outcome
