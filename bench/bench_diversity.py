"""Self-Instruct diversity-filter benchmark: policies.rouge against rouge-score's pairwise loop.

Rule (Self-Instruct, Alpaca): a new instruction is kept when its ROUGE-L F against every seed and
every earlier kept instruction is at most 0.7. Seeds: the 175 Self-Instruct seed tasks. Candidates:
the distinct instructions of Code Alpaca's new_codealpaca.json, the 252 user-oriented tasks and the
eight prediction files, shuffled, interleaved with perturbed copies (light: one word dropped,
swapped or inserted, which nearly always collides; heavy: about 45% of the words replaced by words
drawn from the corpus, which mostly does not), deterministic for a given --seed. About a quarter of
the candidates are rejected. Beyond the ~4,800 real instructions every candidate is a perturbed copy.

Baseline: the loop of Self-Instruct's and Alpaca's bootstrap code, literally: tokenize each
instruction once with the scorer's tokenizer, ``rouge_scorer._score_lcs(new, member)`` against every
pool member, keep when the max is not above the threshold. Ours: ``policies.rouge.diversity_filter``
(tokenization included in both timings). Results must be identical: kept list, collided member and
its exact score.

Targets: ratio ≥ 300x on 5,000 candidates; 52,000 candidates in under 60 s.

    python bench/bench_diversity.py                   # --n 5000 --big 52000 (naive takes ~10+ min)
    python bench/bench_diversity.py --n 1000 --big 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from naive_rouge import naive_diversity_filter  # noqa: E402
from results import record  # noqa: E402

from policies.rouge import Collision, diversity_filter  # noqa: E402

SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))
P_REAL = 0.5  # share of candidates that are the next real instruction, while any are left
P_LIGHT = 0.2  # share of perturbed copies with a single-word edit
P_REPLACE = 0.45  # per-word replacement probability of a heavy perturbation


def load(shared: Path) -> tuple[list[str], list[str]]:
    """(seed instructions, distinct real candidate instructions)."""
    si = shared / "self-instruct"
    seeds = read_jsonl(si / "seed_tasks.jsonl")
    real = [
        row["instruction"]
        for row in json.loads((shared / "code-alpaca/new_codealpaca.json").read_text("utf-8"))
    ]
    for path in [si / "user_oriented_instructions.jsonl", *sorted(si.glob("predictions/*.jsonl"))]:
        real += read_jsonl(path)
    return seeds, list(dict.fromkeys(r for r in real if r and r.strip()))


def read_jsonl(path: Path) -> list[str]:
    """The "instruction" field of each line."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["instruction"] for line in f if line.strip()]


def build(real: list[str], n: int, seed: int) -> list[str]:
    """n candidates: real instructions interleaved with light and heavy perturbed copies."""
    rng = random.Random(seed)
    real = list(real)
    rng.shuffle(real)
    vocab = [w for text in real for w in text.split()]
    out: list[str] = []
    taken = 0
    while len(out) < n:
        if taken < len(real) and rng.random() < P_REAL:
            out.append(real[taken])
            taken += 1
            continue
        words = (rng.choice(out) if out and rng.random() < 0.5 else rng.choice(real)).split()
        if rng.random() < P_LIGHT:
            op, i = rng.randrange(3), rng.randrange(len(words))
            if op == 0 and len(words) > 1:
                del words[i]
            elif op == 1 and len(words) > 1:
                j = rng.randrange(len(words))
                words[i], words[j] = words[j], words[i]
            else:
                words.insert(i, rng.choice(vocab))
        else:
            words = [rng.choice(vocab) if rng.random() < P_REPLACE else w for w in words]
            if rng.random() < 0.5 and len(words) > 2:
                del words[rng.randrange(len(words))]
            if rng.random() < 0.5:
                words.insert(rng.randrange(len(words) + 1), rng.choice(vocab))
        out.append(" ".join(words))
    return out


def same(a: list[Collision | None], b: list[Collision | None]) -> bool:
    """Identical decisions, collided members and float scores."""
    return len(a) == len(b) and all(
        (x is None and y is None)
        or (x is not None and y is not None and x.index == y.index and repr(x.score) == repr(float(y.score)))
        for x, y in zip(a, b, strict=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="candidates for the side-by-side run")
    parser.add_argument("--big", type=int, default=52000, help="candidates for ours alone (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args()
    if not (SHARED / "self-instruct/seed_tasks.jsonl").is_file():
        print(f"real data not found under {SHARED}", file=sys.stderr)
        return 2
    seeds, real = load(SHARED)
    print(f"seeds {len(seeds)}, distinct real instructions {len(real):,}, threshold {args.threshold}")
    rows: list[tuple[str, str, str, str]] = []

    cands = build(real, args.n, args.seed)
    t0 = time.perf_counter()
    ours = diversity_filter(cands, seeds, args.threshold)
    t_ours = time.perf_counter() - t0
    for _ in range(2):  # best of three: the run is short
        t0 = time.perf_counter()
        again = diversity_filter(cands, seeds, args.threshold)
        t_ours = min(t_ours, time.perf_counter() - t0)
        assert again == ours
    rejected = sum(hit is not None for hit in ours)
    print(f"ours   {args.n:,} candidates: {t_ours:8.3f} s, rejected {rejected:,} ({rejected / args.n:.1%})")
    print(f"naive  {args.n:,} candidates: running (rouge_score, every pair)…", flush=True)
    t0 = time.perf_counter()
    slow = naive_diversity_filter(cands, seeds, args.threshold, progress=True)
    t_naive = time.perf_counter() - t0
    identical = same(ours, slow)
    print(f"naive  {args.n:,} candidates: {t_naive:8.1f} s; identical results: {identical}")
    assert identical, "diversity_filter differs from rouge_score"
    ratio = t_naive / t_ours
    print(f"ratio {ratio:,.0f}x (target ≥ 300x)")
    share = f"{rejected / args.n:.1%}"
    rows.append((f"naive rouge_score, {args.n:,}", f"{t_naive:.1f} s", share, ""))
    rows.append((f"policies.rouge, {args.n:,}", f"{t_ours:.3f} s", share, f"{ratio:,.0f}x"))
    record(
        "diversity",
        f"diversity filter, {args.n:,} candidates ({share} rejected)",
        f"{t_naive:.1f} s",
        f"{t_ours:.3f} s",
        f"{ratio:,.0f}x",
        "≥ 300x",
        ratio >= 300,
    )

    if args.big:
        big = build(real, args.big, args.seed)
        t0 = time.perf_counter()
        result = diversity_filter(big, seeds, args.threshold)
        t_big = time.perf_counter() - t0
        rej = sum(hit is not None for hit in result)
        print(
            f"ours   {args.big:,} candidates: {t_big:8.2f} s (target < 60 s), rejected {rej / args.big:.1%}"
        )
        rows.append((f"policies.rouge, {args.big:,}", f"{t_big:.2f} s", f"{rej / args.big:.1%}", ""))
        record(
            "diversity",
            f"diversity filter, {args.big:,} candidates ({rej / args.big:.1%} rejected)",
            "",
            f"{t_big:.2f} s",
            "",
            "< 60 s",
            t_big < 60,
        )

    print()
    print(f"{'run':<28} {'time':>10} {'rejected':>9} {'speed-up':>9}")
    for name, t, share, speed in rows:
        print(f"{name:<28} {t:>10} {share:>9} {speed:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
