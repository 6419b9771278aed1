"""The gate and the audit trail, measured against the work they guard.

1. A ledger of 100,000 distinct examples built from ../shared/data (bench_check_memory's builder),
   imported with their teacher, plus the 175 seeds; ``provenance check`` with a pack of licence,
   PII, profanity, contamination, duplicates and diversity stores every decision (the baseline:
   what deciding costs). Then the gate, in process, with every model-bearing check's ``load``
   replaced by one that raises: it must reuse every decision and load no model. Target < 5 s.
2. ``provenance verify`` of that ledger (chain and every vouched digest recomputed). Target < 10 s.
3. On the bundled example, ``provenance train`` of the tiny student (--max-steps 30): the time
   spent in the audit trail (verify before training, audit rows appended, report written and
   signed) against the whole training run. Target < 5%.

    python bench/bench_gate.py                     # --examples 100000 --steps 30
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_check_memory import SHARED, records  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from results import record  # noqa: E402

from provenance.cli import cli  # noqa: E402

EXAMPLES = ROOT / "examples" / "self-instruct"
PACK = """name: bench-gate
use: research
student: tiny
checks:
  - {check: licence, action: drop}
  - {check: pii, action: flag}
  - {check: profanity, action: drop}
  - {check: contamination, action: drop, settings: {evalsets: [self-instruct-user-oriented]}}
  - {check: duplicates, action: drop}
  - {check: diversity, action: drop}
gate: {max_dropped_share: 0.99, min_examples: 10}
"""


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def no_models() -> None:
    """Make loading any check's model an error (the gate must not need one)."""
    from policies.checks import check_class

    def refuse(self: object) -> None:
        raise AssertionError(f"{type(self).__name__} loaded its model in the gate")

    for kind in ("pii", "profanity", "toxicity", "contamination"):
        check_class(kind).load = refuse  # type: ignore[method-assign]


def checked_ledger(folder: Path, n: int) -> tuple[Path, Path, float]:
    """(ledger, pack, seconds the check took): n examples with their teacher, the seeds, and every
    decision of the benchmark pack stored. bench_reports builds on the same ledger."""
    db = folder / "big.duckdb"
    data = folder / "data.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for r in records(n):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    run(db, "seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--licence", "Apache-2.0")
    run(
        db,
        "import",
        str(data),
        "--format",
        "jsonl",
        "--teacher",
        "text-davinci-003",
        "--origin",
        "machine",
        "--licence",
        "LicenseRef-scancode-openai-tou-20230314",
        "--terms",
        "openai-terms-of-use@2023-03-14",
    )
    pack = folder / "pack.yaml"
    pack.write_text(PACK, "utf-8")
    t0 = time.perf_counter()
    run(db, "check", "--policy", str(pack))
    return db, pack, time.perf_counter() - t0


def part_one(folder: Path, n: int) -> tuple[Path, float, float, float]:
    db, pack, t_check = checked_ledger(folder, n)
    from audits.gate import evaluate
    from policies.packs import load_pack
    from policies.registry import load_registry
    from provenance.core.ledger import Ledger

    no_models()
    with Ledger.open(db) as ledger:
        t0 = time.perf_counter()
        gate = evaluate(ledger, load_pack(str(pack)), load_registry(()))
        t_gate = time.perf_counter() - t0
    assert all(c["scored"] == 0 for c in gate.checks), "the gate decided something anew"
    print(f"gate: {len(gate.selected):,} of {gate.examples:,} selected, passed={gate.passed}")
    from audits.verify import verify_ledger

    with Ledger.open(db, read_only=True) as ledger:
        t0 = time.perf_counter()
        result = verify_ledger(ledger)
        t_verify = time.perf_counter() - t0
    assert result.ok, result.problems[:3]
    return db, t_check, t_gate, t_verify


def part_three(folder: Path, steps: int) -> tuple[float, float]:
    """(whole training run, time in the audit trail) on the bundled example."""
    import audits.gated as gated
    from provenance.core import audit_log

    db = folder / "example.duckdb"
    run(db, "seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--manifest", str(EXAMPLES / "seeds.yaml"))
    run(
        db,
        "import",
        str(EXAMPLES / "text-davinci-003_predictions.jsonl"),
        "--manifest",
        str(EXAMPLES / "text-davinci-003.yaml"),
    )
    run(db, "check", "--policy", "research")
    key = folder / "audit.key"
    run(db, "keygen", "--out", str(key))
    spent = [0.0]

    def timed(fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t

        return wrapper

    gated.verify_ledger = timed(gated.verify_ledger)
    audit_log.append = timed(audit_log.append)
    gated.audit_report.write = timed(gated.audit_report.write)
    gated.write_manifest = timed(gated.write_manifest)
    t0 = time.perf_counter()
    out = run(
        db,
        "train",
        "--policy",
        "research",
        "--student",
        "tiny",
        "--out",
        str(folder / "student"),
        "--max-steps",
        str(steps),
        "--sign",
        str(key),
        "--json",
    )
    total = time.perf_counter() - t0
    assert json.loads(out)["trained"], out
    return total, spent[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    if not (SHARED / "code-alpaca" / "new_codealpaca.json").is_file():
        print(f"real data not found under {SHARED}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        total, audit = part_three(folder, args.steps)
        _, t_check, t_gate, t_verify = part_one(folder, args.examples)
    rows = [
        (
            f"gate, {args.examples:,} examples, decisions stored",
            f"check {t_check:.1f} s",
            f"{t_gate:.2f} s",
            f"{t_check / t_gate:.0f}x",
            "< 5 s",
            t_gate < 5,
        ),
        (f"verify, {args.examples:,}-example ledger", "", f"{t_verify:.2f} s", "", "< 10 s", t_verify < 10),
        (
            f"audit trail in `train` (tiny, {args.steps} steps)",
            f"train {total:.1f} s",
            f"{audit:.2f} s",
            f"{audit / total:.1%}",
            "< 5%",
            audit / total < 0.05,
        ),
    ]
    print()
    print(f"{'measurement':<46} {'baseline':>16} {'ours':>9} {'ratio':>7} {'target':>7}")
    for name, base, ours, ratio, target, holds in rows:
        print(f"{name:<46} {base:>16} {ours:>9} {ratio:>7} {target:>7} {'holds' if holds else 'MISSED'}")
        record("gate", name, base, ours, ratio, target, holds)
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
