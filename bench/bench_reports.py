"""Reports on a 100,000-example ledger: each under 30 s (target).

The ledger: bench_check_memory's 100,000 distinct examples from ../shared/data with their teacher,
the 175 seeds, the checks of bench_gate's pack stored, and a tiny student trained through the gate
(5 steps). Then each report command runs in process, timed: ``report audit`` (HTML, Markdown,
JSON), ``report card``, ``report model-card``, ``report spdx`` (3.0.1 and 2.3) and ``report
croissant`` (export to JSON lines, Croissant 1.1 + RAI, loaded back by mlcroissant, a few records
compared with the ledger). Each includes ``verify`` of the whole ledger, which every report states.
The baseline is what building the ledger's decisions took (``provenance check``).

    python bench/bench_reports.py                  # --examples 100000
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

from bench_check_memory import SHARED  # noqa: E402
from bench_gate import checked_ledger  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from results import record  # noqa: E402

from provenance.cli import cli  # noqa: E402

EXAMPLES = ROOT / "examples" / "self-instruct"
TARGET = 30.0


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def build(folder: Path, n: int) -> tuple[Path, float, str]:
    db, pack, t_check = checked_ledger(folder, n)
    out = json.loads(
        run(
            db,
            "train",
            "--policy",
            str(pack),
            "--student",
            "tiny",
            "--out",
            str(folder / "student"),
            "--max-steps",
            "5",
            "--max-length",
            "128",
            "--json",
        )
    )
    assert out["trained"], out
    return db, t_check, out["report"]["training"]["training_id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    if not (SHARED / "code-alpaca" / "new_codealpaca.json").is_file():
        print(f"real data not found under {SHARED}", file=sys.stderr)
        return 2
    rows: list[tuple[str, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db, t_check, training = build(folder, args.examples)
        for name, argv in (
            ("report audit", ["report", "audit", "--out", str(folder / "audit")]),
            ("report card", ["report", "card", "--out", str(folder / "card")]),
            (
                "report model-card",
                ["report", "model-card", "--training", training, "--out", str(folder / "model")],
            ),
            ("report spdx", ["report", "spdx", "--out", str(folder / "spdx")]),
            ("report croissant", ["report", "croissant", "--out", str(folder / "croissant")]),
        ):
            t0 = time.perf_counter()
            try:
                run(db, *argv)
            except AssertionError as exc:  # a report that fails misses its target; the others still run
                rows.append((name, None))
                print(f"{name}: FAILED: {str(exc).splitlines()[0]}")
                continue
            seconds = time.perf_counter() - t0
            rows.append((name, seconds))
            print(f"{name}: {seconds:.2f} s")
        html = (folder / "audit" / "audit.html").stat().st_size
        exported = folder / "croissant" / "data.jsonl"
        data = exported.stat().st_size if exported.exists() else 0
    print()
    print(f"{'measurement':<50} {'baseline':>16} {'ours':>9} {'target':>8}")
    ok = True
    for name, seconds in rows:
        holds = seconds is not None and seconds < TARGET
        ok &= holds
        label = f"{name}, {args.examples:,} examples"
        base, verdict = f"check {t_check:.0f} s", "holds" if holds else "MISSED"
        ours = "failed" if seconds is None else f"{seconds:.2f} s"
        print(f"{label:<50} {base:>16} {ours:>9} {'< 30 s':>8} {verdict}")
        record("reports", label, base, ours, "", "< 30 s", holds)
    print(f"(audit.html: {html / 1024:.0f} KiB; croissant's data.jsonl: {data / 1e6:.0f} MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
