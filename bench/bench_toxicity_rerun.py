"""Toxicity check: a re-run on unchanged data against the first run (target: at least 50x faster).

Builds a bert-base-sized random 'original' detoxify checkpoint (the real model's size, so its cost
is the real model's), a ledger of N examples from ../shared/data (the teachers' answers to the
Self-Instruct evaluation tasks), and runs a pack with the toxicity check twice through the Python
API (``run_pack``, as ``provenance check`` does). The first run scores every field; the re-run
finds every decision stored under the same context and scores nothing.

    .venv/bin/python bench/bench_toxicity_rerun.py [--examples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()

    from results import record

    from policies.engine import run_pack
    from policies.packs import load_pack
    from policies.registry import load_registry
    from provenance.core.ledger import Ledger
    from provenance.testing.tinymodels import build_detoxify_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        checkpoint, config = build_detoxify_checkpoint(tmp_path / "detox", "original", size="base")
        rows = []
        for path in sorted((SHARED / "self-instruct" / "predictions").glob("*.jsonl")):
            for line in path.open(encoding="utf-8"):
                r = json.loads(line)
                rows.append({"instruction": r["instruction"], "input": r["input"], "output": r["response"]})
        data = tmp_path / "data.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows[-args.examples :]), "utf-8")
        pack = tmp_path / "pack.yaml"
        pack.write_text(
            "name: toxicity-only\nuse: research\nchecks:\n  - check: toxicity\n    action: flag\n"
            f"    settings: {{checkpoint: {checkpoint}, config: {config}, fields: [instruction, output]}}\n",
            "utf-8",
        )
        db = tmp_path / "ledger.duckdb"
        from click.testing import CliRunner

        from provenance.cli import cli

        result = CliRunner().invoke(
            cli,
            ["--db", str(db), "import", str(data), "--format", "jsonl", "--origin", "machine",
             "--teacher", "davinci", "--licence", "Apache-2.0"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        registry = load_registry(())
        times, examples = [], 0
        for label in ("first run", "re-run"):
            start = time.perf_counter()
            loaded = load_pack(str(pack))
            with Ledger.open(db) as ledger:
                out = run_pack(ledger, loaded, registry)
            seconds = time.perf_counter() - start
            tox = out.checks[0]
            times.append(seconds)
            examples = tox.examples
            print(
                f"{label:>9}: {seconds:7.2f} s · {tox.examples} examples · scored {tox.scored} · "
                f"reused {tox.reused} · {tox.counts}"
            )
        print(f"ratio first run / re-run: {times[0] / times[1]:.0f}x (target >= 50x)")
        ratio = times[0] / times[1]
        record(
            "toxicity_rerun",
            f"toxicity check, {examples} examples, re-run on unchanged data",
            f"first run {times[0]:.2f} s",
            f"re-run {times[1]:.2f} s",
            f"{ratio:.0f}x",
            ">= 50x",
            ratio >= 50,
        )


if __name__ == "__main__":
    main()
