"""The baseline the diversity engine must equal: Self-Instruct / Alpaca's loop over rouge-score.

Used by the tests (equality) and by ``bench/bench_diversity.py`` (equality and timing).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rouge_score import rouge_scorer

from policies.rouge import Collision

SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def naive_diversity_filter(
    candidates: Sequence[str], seeds: Sequence[str] = (), threshold: float = 0.7, progress: bool = False
) -> list[Collision | None]:
    """Self-Instruct / Alpaca's loop, literally: tokenize once with the scorer's tokenizer, score the new
    instruction against every pool member with ``_score_lcs(new, member)``, take the max (np.argmax: the
    first of equal maxima) and keep it when the max is not above the threshold."""
    pool = [(-(i + 1), SCORER._tokenizer.tokenize(s)) for i, s in enumerate(seeds)]
    out: list[Collision | None] = []
    start = time.perf_counter()
    for i, text in enumerate(candidates):
        tokens = SCORER._tokenizer.tokenize(text)
        best_key, best = None, None
        for key, member in pool:
            score = rouge_scorer._score_lcs(tokens, member).fmeasure
            if best is None or score > best:
                best_key, best = key, score
        if best is not None and best > threshold:
            out.append(Collision(best_key, best))
        else:
            out.append(None)
            pool.append((i, tokens))
        if progress and (i + 1) % 500 == 0:
            print(f"  naive: {i + 1:>6,} done, {time.perf_counter() - start:7.1f} s", flush=True)
    return out
