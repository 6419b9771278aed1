"""PII, pattern mode: presidio's own AnalyzerEngine.analyze called text by text vs the PII check.

The texts: every field of real instruction data from ../shared/data (seeds, the evaluation tasks,
eight teachers' answers to them, Code Alpaca), as found; and 200,000 distinct texts made of two real
texts each, 5% of them with a labelled PII sentence from the Faker set (bench/pii_eval_set.py).

presidio's side is its stock recognizers on the same local spaCy pipeline, one ``analyze`` call per
text. The check's side is ``Analyzer.analyze_many``: identical texts once, one combined prefilter
that skips texts no recognizer can match, worker processes on every core. presidio's loop is timed
on a seeded sample of ``--baseline-sample`` texts (0: all; it runs at ~100 texts/s on two cores);
on that sample the check's findings must equal its own engine's per-text findings (the prefilter
loses nothing) and must hold every finding presidio counts (score >= 0.5), except the UK_NHS
numbers without a context word that the check no longer reports (a phone number or a timestamp
passes NHS's checksum one time in eleven).

    .venv/bin/python bench/bench_pii.py [--texts 200000] [--baseline-sample 4000] [--processes 2]
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


def corpus(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct texts of two real texts each; 5% with a PII sentence from the Faker set."""
    from pii_eval_set import build

    real = list(dict.fromkeys(texts()))
    pii = [s.text for s in build(per_locale=20, seed=seed) if s.spans]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = real[i % len(real)] + "\n\n" + real[(i * 7919 + i // len(real)) % len(real)]
        if rng.random() < 0.05:
            text += "\n" + rng.choice(pii)
        out.append(text)
    return out


def presidio_stock(ours: object) -> object:
    """presidio's AnalyzerEngine with its own predefined recognizers, on the check's NLP engine."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    nlp = ours.engine.nlp_engine  # type: ignore[attr-defined]
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def missed(base: list, fast: list, threshold: float) -> dict[str, int]:
    """presidio's counted findings that the check does not report (same entity, overlapping)."""
    out: dict[str, int] = {}
    for b, f in zip(base, fast, strict=True):
        for e, s, t, score in b:
            if score >= threshold and not any(
                e == g[0] and g[1] < t and s < g[2] and g[3] >= threshold for g in f
            ):
                out[e] = out.get(e, 0) + 1
    return out


def compare(label: str, data: list[str], sample_n: int, processes: int) -> tuple:
    """Time presidio's per-text loop (on a sample) and the check (on all); check the findings."""
    from policies.checks.pii import Analyzer, PiiSettings, clean_findings

    settings = PiiSettings(spacy_model="blank", processes=processes)
    ours = Analyzer(settings)
    stock = presidio_stock(ours)
    sample = random.Random(1).sample(data, sample_n) if 0 < sample_n < len(data) else data
    t = time.perf_counter()
    base = [clean_findings(stock.analyze(text=x, language="en", entities=settings.entities)) for x in sample]
    base_rate = len(sample) / (time.perf_counter() - t)
    t = time.perf_counter()
    ours.start_pool(processes)
    found = ours.analyze_many(data)
    fast_s = time.perf_counter() - t
    ours.close()
    by_text = dict(zip(data, found, strict=True))
    fast = [by_text[x] for x in sample]
    assert fast == [ours.analyze(x) for x in sample], f"prefilter or pool changed findings ({label})"
    lost = missed(base, fast, settings.min_score)
    assert set(lost) <= {"UK_NHS"}, f"presidio findings missed ({label}): {lost}"
    rate = len(data) / fast_s
    n = sum(1 for f in found for g in f if g[3] >= settings.min_score)
    print(
        f"{label}: presidio per text {base_rate:,.0f} texts/s (timed on {len(sample):,}) · check "
        f"{rate:,.0f} texts/s ({fast_s:.1f} s for {len(data):,}) · {rate / base_rate:.2f}x · {n:,} findings "
        f">= {settings.min_score}; presidio's not reported: {lost or 'none'}"
    )
    return label, len(data), base_rate, rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=200_000, help="size of the generated corpus")
    parser.add_argument("--baseline-sample", type=int, default=4000, help="presidio timed on N (0: all)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from results import record

    real = texts()
    print(f"real texts {len(real):,} ({len(set(real)):,} distinct); generated {args.texts:,}")
    rows = [
        compare(f"real texts ({len(real):,})", real, args.baseline_sample, args.processes),
        compare(
            f"generated, 5% PII ({args.texts:,})", corpus(args.texts), args.baseline_sample, args.processes
        ),
    ]
    print()
    print("| texts | presidio per text | PII check | ratio | target |")
    print("|---|---|---|---|---|")
    for label, _, b, f in rows:
        print(f"| {label} | {b:,.0f}/s | {f:,.0f}/s | {f / b:.2f}x | >= 5x |")
        record("pii", f"PII, {label}", f"{b:,.0f}/s", f"{f:,.0f}/s", f"{f / b:.2f}x", ">= 5x", f / b >= 5)


if __name__ == "__main__":
    main()
