"""PII quality on a labelled Faker set: recall per entity and false positives, ours vs presidio's stock.

"ours" is the PII check's analyzer at the packs' default settings (policies/commercial.yaml); "presidio"
is presidio's stock AnalyzerEngine (its predefined recognizers, on the same local spaCy pipeline,
since the stock engine would download a model) at the same threshold and at its own default of 0.
A labelled value counts as found when a counted finding of its entity overlaps it; a PII-free text
is a false positive when it has any counted finding. Set: bench/pii_eval_set.py (seeded).

    .venv/bin/python bench/bench_pii_quality.py [--per-locale 40] [--seed 17]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from pii_eval_set import CLEAN, NER_ENTITIES, PATTERN_ENTITIES, Sample, build  # noqa: E402

Finding = tuple[str, int, int, float]


def pack_settings(pack: str = "commercial") -> dict:
    """The PII check's settings in a pack (policies/PACK.yaml)."""
    spec = yaml.safe_load((ROOT / "policies" / f"{pack}.yaml").read_text("utf-8"))
    return next(c.get("settings") or {} for c in spec["checks"] if c["check"] == "pii")


def counted(findings: list[Finding], entities: set[str], threshold: float, per: dict[str, float]) -> list:
    """The findings that count: a wanted entity at or above its threshold."""
    return [f for f in findings if f[0] in entities and f[3] >= per.get(f[0], threshold)]


def score(samples: list[Sample], found: list[list]) -> dict[str, tuple[int, int]]:
    """Per entity (hits, total) over labelled spans; CLEAN: (texts with a finding, texts)."""
    out: dict[str, list[int]] = {}
    for sample, findings in zip(samples, found, strict=True):
        if sample.kind == CLEAN:
            row = out.setdefault(CLEAN, [0, 0])
            row[0] += bool(findings)
            row[1] += 1
        for span in sample.spans:
            row = out.setdefault(span.entity, [0, 0])
            row[0] += any(f[0] == span.entity and f[1] < span.end and span.start < f[2] for f in findings)
            row[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def wrong_types(samples: list[Sample], found: list[list]) -> dict[str, int]:
    """Findings of another entity over a labelled value (e.g. UK_NHS over a phone number)."""
    out: dict[str, int] = {}
    for sample, findings in zip(samples, found, strict=True):
        for span in sample.spans:
            for f in findings:
                if f[0] != span.entity and f[1] < span.end and span.start < f[2] and f[0] != "URL":
                    key = f"{f[0]} on {span.entity}"
                    out[key] = out.get(key, 0) + 1
    return out


def run(per_locale: int, seed: int) -> None:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    from policies.checks.pii import Analyzer, PiiSettings, clean_findings

    samples = build(per_locale=per_locale, seed=seed)
    texts = [s.text for s in samples]
    settings = PiiSettings(**pack_settings())
    ours = Analyzer(settings)
    t = time.perf_counter()
    ours_found = ours.analyze_many(texts)
    ours_s = time.perf_counter() - t
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=ours.engine.nlp_engine, languages=["en"])
    stock = AnalyzerEngine(nlp_engine=ours.engine.nlp_engine, registry=registry, supported_languages=["en"])
    t = time.perf_counter()
    stock_found = [
        clean_findings(stock.analyze(text=x, language="en", entities=settings.entities)) for x in texts
    ]
    stock_s = time.perf_counter() - t
    wanted = set(settings.entities)
    cols = {
        f"ours (min_score {settings.min_score})": [
            counted(f, wanted, settings.min_score, settings.min_scores) for f in ours_found
        ],
        f"presidio stock at {settings.min_score}": [
            counted(f, wanted, settings.min_score, {}) for f in stock_found
        ],
        "presidio stock at 0": [counted(f, wanted, 0.0, {}) for f in stock_found],
    }
    report(samples, cols, ours.ner)
    print(f"\n{len(samples):,} texts; ours {ours_s:.1f} s, presidio stock {stock_s:.1f} s")


def report(samples: list[Sample], cols: dict[str, list[list]], ner: str | None) -> None:
    """Print the table: recall per entity and the false-positive rate, one column per analyzer."""
    scores = {name: score(samples, found) for name, found in cols.items()}
    print("| entity | n | " + " | ".join(cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for entity in (*PATTERN_ENTITIES, *NER_ENTITIES):
        n = next(iter(scores.values())).get(entity, (0, 0))[1]
        cells = [f"{s[entity][0] / n:.3f}" if n else "-" for s in scores.values()]
        note = " (no NER model)" if entity in NER_ENTITIES and ner is None else ""
        print(f"| {entity} recall{note} | {n} | " + " | ".join(cells) + " |")
    n = next(iter(scores.values()))[CLEAN][1]
    cells = [f"{s[CLEAN][0] / n:.2%} ({s[CLEAN][0]})" for s in scores.values()]
    print(f"| false positives on PII-free texts | {n} | " + " | ".join(cells) + " |")
    for name, found in cols.items():
        wrong = wrong_types(samples, found)
        if wrong:
            print(f"wrong entity over a labelled value, {name}: {wrong}")
    for name, found in cols.items():
        shown = 0
        for sample, f in zip(samples, found, strict=True):
            if sample.kind == CLEAN and f and shown < 5:
                print(f"  FP {name}: {sample.text!r} -> {f}")
                shown += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-locale", type=int, default=40, help="values of each entity per locale")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    run(args.per_locale, args.seed)


if __name__ == "__main__":
    main()
