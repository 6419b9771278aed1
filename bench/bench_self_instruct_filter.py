"""Self-Instruct's filter stage on 10,000 candidate instructions: target under 10 s.

The stage is what ``provenance generate self-instruct`` does with each bootstrap reply: cut the
numbered list, clean up, the heuristic filters (length, keywords, "Write a program", first
character), then ROUGE-L F against the 175 seeds and every instruction kept so far (rejected above
0.7). Candidates: the real instructions of ../shared/data (Code Alpaca, the user-oriented tasks, the
prediction files) interleaved with perturbed copies (bench_diversity's builder), packed seven to a
reply as a teacher writes them ("9. …\\n10. …").

Side by side in one run: ours (generators.self_instruct.InstructionFilter over the exact pruned
ROUGE-L of policies.rouge) and the published loop (the same parsing and heuristics, then
rouge_score against every pool member). The published loop is quadratic, so it runs on the first
--naive candidates (default 2,000, about a minute); the kept lists must be identical there.

    python bench/bench_self_instruct_filter.py              # --n 10000 --naive 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_diversity import SHARED, build, load  # noqa: E402
from naive_rouge import SCORER  # noqa: E402
from results import record  # noqa: E402

from generators.parsing import SELF_INSTRUCT_BLACKLIST, instruction_filter, split_self_instruct  # noqa: E402
from generators.self_instruct import InstructionFilter, Similarity  # noqa: E402
from policies.rouge import RougePool, tokenize  # noqa: E402


def replies(candidates: list[str], per_reply: int = 7) -> list[str]:
    """Candidates as bootstrap replies: the text after "9." of a numbered list."""
    out = []
    for first in range(0, len(candidates), per_reply):
        part = candidates[first : first + per_reply]
        text = f" {part[0]}"
        for number, inst in enumerate(part[1:], start=10):
            text += f"\n{number}. {inst}"
        out.append(text)
    return out


def ours(seeds: list[str], texts: list[str]) -> list[tuple[str, str]]:
    """(instruction, reason) for every parsed candidate, through the generator's filter."""
    f = InstructionFilter(Similarity(tokenize, RougePool), threshold=0.7, blacklist=SELF_INSTRUCT_BLACKLIST)
    for i, seed in enumerate(seeds):
        f.keep("seed", str(i), seed)
    out = []
    for text in texts:
        for inst in split_self_instruct(text):
            rejected = f.check(inst)
            if rejected is None:
                f.keep("instruction", inst, inst)
                out.append((inst, "kept"))
            else:
                out.append((inst, rejected[0]))
    return out


def published(seeds: list[str], texts: list[str]) -> list[tuple[str, str]]:
    """The published loop: heuristics, then rouge_score against every seed and kept instruction."""
    pool = [SCORER._tokenizer.tokenize(s) for s in seeds]
    from rouge_score import rouge_scorer

    out = []
    for text in texts:
        for inst in split_self_instruct(text):
            reason = instruction_filter(inst, blacklist=SELF_INSTRUCT_BLACKLIST)
            if reason is None:
                tokens = SCORER._tokenizer.tokenize(inst)
                best = max((rouge_scorer._score_lcs(tokens, member).fmeasure for member in pool), default=0.0)
                if best > 0.7:
                    reason = "too-similar"
                else:
                    pool.append(tokens)
            out.append((inst, reason or "kept"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="candidate instructions for ours")
    parser.add_argument("--naive", type=int, default=2_000, help="candidates for the published loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (SHARED / "self-instruct/seed_tasks.jsonl").is_file():
        print(f"real data not found under {SHARED}", file=sys.stderr)
        return 2
    seeds, real = load(SHARED)
    candidates = build(real, args.n, args.seed)
    texts = replies(candidates)
    small = replies(candidates[: args.naive])

    t0 = time.perf_counter()
    full = ours(seeds, texts)
    t_full = time.perf_counter() - t0
    kept = sum(r == "kept" for _, r in full)
    print(f"ours      {len(full):,} candidates in {len(texts):,} replies: {t_full:6.2f} s, kept {kept:,}")

    t0 = time.perf_counter()
    mine = ours(seeds, small)
    t_mine = time.perf_counter() - t0
    print(f"published {len(mine):,} candidates: running (rouge_score, every pair)…", flush=True)
    t0 = time.perf_counter()
    theirs = published(seeds, small)
    t_theirs = time.perf_counter() - t0
    identical = mine == theirs
    print(
        f"published {len(theirs):,} candidates: {t_theirs:6.1f} s; ours {t_mine:.3f} s; "
        f"identical: {identical}"
    )
    assert identical, "the generator's filter differs from the published loop"
    print()
    print(f"{'measurement':<46} {'baseline':>10} {'ours':>9} {'ratio':>8} {'target':>10}")
    print(
        f"{f'filter stage, first {len(mine):,} candidates':<46} {t_theirs:>9.1f}s {t_mine:>8.3f}s "
        f"{t_theirs / t_mine:>7.0f}x {'':>10}"
    )
    holds = "holds" if t_full < 10 else "MISSED"
    print(
        f"{f'filter stage, {len(full):,} candidates':<46} {'':>10} {t_full:>8.2f}s {'':>8} "
        f"{'< 10 s':>10} {holds}"
    )
    record(
        "self_instruct_filter",
        f"filter stage, first {len(mine):,} candidates (published loop)",
        f"{t_theirs:.1f} s",
        f"{t_mine:.3f} s",
        f"{t_theirs / t_mine:.0f}x",
        "",
        None,
    )
    record(
        "self_instruct_filter",
        f"filter stage, {len(full):,} candidates",
        "",
        f"{t_full:.2f} s",
        "",
        "< 10 s",
        t_full < 10,
    )
    return 0 if t_full < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
