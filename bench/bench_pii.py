"""PII: presidio's AnalyzerEngine called text by text vs the PII check's analyzer, side by side.

Both use the same engine configuration (the same recognizers and the same local NLP pipeline). The
texts are every field of real instruction data from ../shared/data: seeds, the evaluation tasks,
eight teachers' answers to them, and Code Alpaca. Findings must be identical; the ratio of
throughputs is printed for all texts (where the check scores each distinct text once) and for
distinct texts only (where only the worker processes help).

    .venv/bin/python bench/bench_pii.py [--limit N] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def texts() -> list[str]:
    """Every non-empty field of the real data, in file order."""
    out: list[str] = []
    si = SHARED / "self-instruct"
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for line in (si / name).open(encoding="utf-8"):
            r = json.loads(line)
            out.append(r["instruction"])
            for inst in r["instances"]:
                out += [inst["input"], inst["output"]]
    for path in sorted((si / "predictions").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            r = json.loads(line)
            out += [r["instruction"], r["input"], r["response"]]
    for r in json.loads((SHARED / "code-alpaca" / "new_codealpaca.json").read_text("utf-8")):
        out += [r["instruction"], r.get("input") or "", r["output"]]
    return [t for t in out if t and t.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="use the first N texts (0: all)")
    parser.add_argument("--processes", type=int, default=min(os.cpu_count() or 1, 4))
    args = parser.parse_args()

    from results import record

    from policies.checks.pii import Analyzer, PiiSettings, clean_findings

    data = texts()
    if args.limit:
        data = data[: args.limit]
    distinct = list(dict.fromkeys(data))
    settings = PiiSettings(spacy_model="blank", processes=args.processes)
    ours = Analyzer(settings)
    engine = ours.engine  # the baseline: the same AnalyzerEngine, called text by text
    print(f"{len(data):,} texts ({len(distinct):,} distinct), NER: {ours.ner or 'off (patterns only)'}")

    def baseline(items: list[str]) -> tuple[float, list]:
        t = time.perf_counter()
        found = [
            clean_findings(
                engine.analyze(text=x, language="en", entities=settings.entities, score_threshold=0)
            )
            for x in items
        ]
        return time.perf_counter() - t, found

    def fast(items: list[str]) -> tuple[float, list]:
        t = time.perf_counter()
        ours.start_pool(args.processes)
        found = ours.analyze_many(items)
        return time.perf_counter() - t, found

    rows = []
    for label, items in (("all texts", data), ("distinct texts", distinct)):
        base_s, base_found = baseline(items)
        ours.close()
        fast_s, fast_found = fast(items)
        assert fast_found == base_found, f"findings differ ({label})"
        n = sum(len(f) for f in base_found)
        rows.append((label, len(items), base_s, fast_s, n))
        print(
            f"{label:>15}: presidio per text {len(items) / base_s:,.0f} texts/s ({base_s:.1f} s) · "
            f"check {len(items) / fast_s:,.0f} texts/s ({fast_s:.1f} s) · {base_s / fast_s:.2f}x · "
            f"{n:,} findings, identical"
        )
    ours.close()
    print()
    print("| texts | presidio per text | PII check | ratio | target |")
    print("|---|---|---|---|---|")
    for label, n, b, f, _ in rows:
        print(f"| {label} ({n:,}) | {n / b:,.0f}/s | {n / f:,.0f}/s | {b / f:.2f}x | >= 1.5x |")
        record(
            "pii",
            f"PII, {label} ({n:,})",
            f"{n / b:,.0f}/s",
            f"{n / f:,.0f}/s",
            f"{b / f:.2f}x",
            ">= 1.5x",
            b / f >= 1.5,
        )


if __name__ == "__main__":
    main()
