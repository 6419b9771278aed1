"""Toxicity benchmark: DetoxifyScorer.predict against upstream Detoxify.predict, same checkpoint, one run.

Checkpoint: a random-weight 'original' detoxify checkpoint at bert-base-uncased size (768 hidden,
12 layers, 12 heads, 3072 intermediate, 30522 vocabulary), in detoxify's release format, with a
WordPiece tokenizer trained on the texts (provenance/testing/tinymodels.py); built into a temporary
directory.

Texts: the "instruction" and "response" fields of ../shared/data/self-instruct/predictions/*.jsonl
and the "output" field of ../shared/data/code-alpaca/new_codealpaca.json (realistic lengths, and
the duplicates the files share: every predictions file repeats the same 252 instructions); a
deterministic sample of N, shuffled.

Baseline: upstream ``Detoxify.predict`` on consecutive, unsorted batches of 32 (the object built by
upstream's own loader, offline: provenance.testing.tinymodels.upstream_detoxify). Ours:
``DetoxifyScorer.predict`` on all N texts (distinct texts once, length-sorted batches, inference
mode). torch threads as default. Scores must agree within 1e-4. Target: ratio >= 1.2x.

    python bench/bench_toxicity.py            # N = 200: about 4 minutes on 2 CPU cores
    python bench/bench_toxicity.py --n 2000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from results import record  # noqa: E402

from policies.detox import DetoxifyScorer  # noqa: E402
from provenance.testing.tinymodels import build_detoxify_checkpoint, upstream_detoxify  # noqa: E402

SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def corpus() -> list[str]:
    """Every text of the pool, in file order."""
    texts: list[str] = []
    for path in sorted((SHARED / "self-instruct" / "predictions").glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            record = json.loads(line)
            texts += [record["instruction"], record["response"]]
    records = json.loads((SHARED / "code-alpaca" / "new_codealpaca.json").read_text("utf-8"))
    texts += [record["output"] for record in records]
    return texts


def score_upstream(upstream: Any, texts: list[str], batch_size: int) -> tuple[np.ndarray, float, float]:
    """Upstream ``Detoxify.predict`` on consecutive batches: the scores, wall seconds, CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    rows = []
    for i in range(0, len(texts), batch_size):
        result = upstream.predict(texts[i : i + batch_size])
        batch = np.array([np.atleast_1d(result[name]) for name in upstream.class_names], dtype=np.float32)
        rows.append(batch.T)
    return np.concatenate(rows), time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="texts to score (default 200)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    pool = corpus()
    rng = random.Random(0)
    texts = rng.sample(pool, min(args.n, len(pool)))
    rng.shuffle(texts)
    chars = np.mean([len(t) for t in texts])
    print(
        f"texts: {len(texts)} sampled from {len(pool)} ({len(set(texts))} distinct), mean {chars:.0f} chars"
    )
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPUs {os.cpu_count()}")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        checkpoint, config_dir = build_detoxify_checkpoint(Path(tmp), "original", size="base", corpus=pool)
        print(f"built bert-base 'original' checkpoint ({checkpoint.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - start:.1f} s")  # fmt: skip

        start = time.perf_counter()
        upstream = upstream_detoxify(checkpoint, config_dir)
        upstream_load = time.perf_counter() - start
        start = time.perf_counter()
        scorer = DetoxifyScorer(checkpoint, config_dir, batch_size=args.batch_size)
        ours_load = time.perf_counter() - start
        print(f"load: upstream {upstream_load:.2f} s, ours {ours_load:.2f} s (ours hashes the checkpoint)")

        warm = ["warm up", "a second short text"]
        upstream.predict(warm)
        scorer.predict(warm)

        tokens = [len(ids) for ids in scorer.tokenizer(texts, truncation=True)["input_ids"]]
        padded = sum(
            len(texts[i : i + args.batch_size]) * max(tokens[i : i + args.batch_size])
            for i in range(0, len(texts), args.batch_size)
        )
        print(f"tokens per text: mean {np.mean(tokens):.0f}, max {max(tokens)}; "
              f"baseline pads to {padded} tokens for {sum(tokens)} real")  # fmt: skip

        baseline, baseline_s, baseline_cpu = score_upstream(upstream, texts, args.batch_size)

        start, cpu = time.perf_counter(), time.process_time()
        ours = scorer.predict(texts)
        ours_s, ours_cpu = time.perf_counter() - start, time.process_time() - cpu

    assert scorer.labels == upstream.class_names, (scorer.labels, upstream.class_names)
    diff = float(np.abs(ours - baseline).max())
    assert diff <= 1e-4, f"scores differ by {diff}"
    spread = f"{baseline.min():.3f}..{baseline.max():.3f}"
    print(f"max |ours - upstream| = {diff:.2e} over {ours.size} scores (scores spread {spread})")
    print(f"baseline Detoxify.predict, batches of {args.batch_size}: {baseline_s:8.1f} s  "
          f"{len(texts) / baseline_s:7.2f} texts/s  (CPU {baseline_cpu:.1f} s)")  # fmt: skip
    print(f"ours DetoxifyScorer.predict:               {ours_s:8.1f} s  {len(texts) / ours_s:7.2f} texts/s  "
          f"(CPU {ours_cpu:.1f} s)")  # fmt: skip
    print(f"ratio: {baseline_s / ours_s:.2f}x wall, {baseline_cpu / ours_cpu:.2f}x CPU time (target >= 1.2x)")
    name = f"toxicity scoring, {len(texts)} texts, bert-base 'original'"
    ratio = baseline_s / ours_s
    record(
        "toxicity",
        name,
        f"{len(texts) / baseline_s:.2f} texts/s ({baseline_s:.1f} s)",
        f"{len(texts) / ours_s:.2f} texts/s ({ours_s:.1f} s)",
        f"{ratio:.2f}x",
        ">= 1.2x",
        ratio >= 1.2,
    )
    record(
        "toxicity",
        f"{name}: CPU time",
        f"{baseline_cpu:.1f} s",
        f"{ours_cpu:.1f} s",
        f"{baseline_cpu / ours_cpu:.2f}x",
        "",
        None,
    )


if __name__ == "__main__":
    main()
