"""Licence-check benchmark: judge per distinct provenance and join in DuckDB, against a per-example loop.

Ledger: N examples (default 1,000,000) from 20 teachers under 21 provenance sets (20 teachers
with their licences and terms, one human set), and 5% of the examples with a second claim from
another set, built directly in SQL with the ledger's own schema.

Baseline: fetch every (example, provenance) row into Python, judge each row with the same Judge
(its licence parser and registry lookups keep their caches), combine an example's rows
most-restrictive-wins, and write the decisions with one Arrow insert. Ours: ``check_licences``.
Both run on copies of the same ledger in this process; each run's decisions are compared.

Targets (issue 3): ratio ≥ 50x; ours under 10 s for 1,000,000 examples.

    python bench/bench_licence.py                       # 1,000,000 examples
    python bench/bench_licence.py --examples 200000 --baseline-sample 50000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import pyarrow as pa  # noqa: E402
from results import record  # noqa: E402

from policies.judge import Judge, LicencePolicy, combine  # noqa: E402
from policies.licence_check import CHECK, VERSION, check_licences  # noqa: E402
from policies.registry import load_registry  # noqa: E402
from provenance.core.clock import utcnow  # noqa: E402
from provenance.core.decisions import close_batch, ensure_context, new_batch  # noqa: E402
from provenance.core.ledger import Ledger  # noqa: E402

#: (teacher model, licence, terms id@version, origin)
SETS = [
    ("gpt-4o-mini-2024-07-18", None, "openai-terms-of-use@2024-12-11", "machine"),
    ("text-davinci-003", "CC-BY-NC-4.0 AND LicenseRef-scancode-openai-tou-20230314", None, "machine"),
    ("claude-3-5-sonnet-20241022", None, "anthropic-commercial-terms@2025-06-17", "machine"),
    ("gemini-1.5-pro-002", None, None, "machine"),
    ("meta-llama/Llama-2-70b-chat-hf", None, None, "machine"),
    ("meta-llama/Llama-3.1-70B-Instruct", None, None, "machine"),
    ("llama3.3:70b", "MIT OR Apache-2.0", None, "machine"),
    ("Qwen/Qwen2.5-72B-Instruct", None, None, "machine"),
    ("Qwen/Qwen2.5-7B-Instruct", "Apache-2.0", None, "machine"),
    ("deepseek-ai/DeepSeek-R1", None, None, "machine"),
    ("deepseek-ai/DeepSeek-V3", None, None, "machine"),
    ("microsoft/phi-4", None, None, "machine"),
    ("tiiuae/falcon-40b", None, None, "machine"),
    ("CohereForAI/c4ai-command-r-v01", None, None, "machine"),
    ("allenai/OLMo-2-1124-7B-Instruct", None, None, "machine"),
    ("grok-2-1212", None, None, "machine"),
    ("mistralai/Mistral-7B-Instruct-v0.3", None, None, "machine"),
    ("mistralai/Mistral-Large-Instruct-2407", None, None, "machine"),
    ("google/gemma-2-9b-it", None, None, "machine"),
    ("acme/internal-model-v2", None, None, "machine"),
    (None, "CC-BY-SA-3.0", None, "human"),
]


def build(path: Path, examples: int) -> None:
    """A ledger with ``examples`` examples spread over SETS, 5% with a second claim."""
    with Ledger.open(path) as ledger, ledger.transaction():
        run = ledger.begin_run("bench", {})
        now = utcnow()
        for i, (model, licence, terms, origin) in enumerate(SETS):
            tid = f"t{i:02d}" if model else None
            if model:
                ledger.con.execute(
                    "INSERT INTO teachers VALUES (?, ?, NULL, NULL, NULL, NULL, ?)", [tid, model, run]
                )
            terms_id, _, version = (terms or "").partition("@")
            ledger.con.execute(
                "INSERT INTO provenance_sets (set_id, run_id, origin, method, teacher_id, licence, terms_id, "
                "terms_version, declaration_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"s{i:02d}",
                    run,
                    origin,
                    "imported",
                    tid,
                    licence,
                    terms_id or None,
                    version or None,
                    "-",
                    now,
                ],
            )
        n = len(SETS)
        ledger.con.execute(
            f"""
            INSERT INTO examples
            SELECT sha256(i::VARCHAR), 'instruction', 'instruction ' || i, '', 'output ' || i, NULL, ?, ?
            FROM range({examples}) t(i)
            """,
            [run, now],
        )
        ledger.con.execute(
            f"""
            INSERT INTO provenance (example_id, set_id, claim, source_index, run_id)
            SELECT sha256(i::VARCHAR), 's' || lpad((i % {n})::VARCHAR, 2, '0'), i::VARCHAR, i, $run
            FROM range({examples}) t(i)
            UNION ALL
            SELECT sha256(i::VARCHAR), 's' || lpad(((i * 7 + 3) % {n})::VARCHAR, 2, '0'), 'x' || i, i, $run
            FROM range({examples}) t(i) WHERE i % 20 = 0 AND (i * 7 + 3) % {n} != i % {n}
            """,
            {"run": run},
        )
        ledger.end_run(run, {})


def baseline(path: Path, policy: LicencePolicy, limit: int | None) -> tuple[float, int, dict[str, str]]:
    """Judge row by row in Python; return seconds, examples and example → verdict."""
    registry = load_registry()
    started = time.perf_counter()
    with Ledger.open(path) as ledger, ledger.transaction():
        judge = Judge(registry, policy)
        where = (
            f"WHERE p.example_id IN (SELECT example_id FROM examples ORDER BY example_id LIMIT {limit})"
            if limit
            else ""
        )
        cur = ledger.con.execute(
            f"""SELECT p.example_id, t.model, s.licence, s.terms_id, s.terms_version, s.terms_status,
                       s.origin, s.method, s.source
                FROM provenance p JOIN provenance_sets s USING (set_id)
                LEFT JOIN teachers t USING (teacher_id) {where} ORDER BY p.example_id"""
        )
        per_example: dict[str, list] = {}
        while rows := cur.fetchmany(50_000):
            for ex, model, licence, terms_id, version, status, origin, method, source in rows:
                j = judge.judge(
                    teacher=model,
                    licence=licence,
                    terms_id=terms_id,
                    terms_version=version,
                    terms_status=status,
                    origin=origin,
                    method=method,
                    source=source,
                )
                per_example.setdefault(ex, []).append(j)
        verdicts = {}
        ids, verdict_col, reason_col = [], [], []
        for ex, parts in per_example.items():
            j = parts[0] if len(parts) == 1 else combine(parts)
            verdicts[ex] = j.verdict.value
            ids.append(ex)
            verdict_col.append(j.verdict.value)
            reason_col.append(j.reasons[0])
        rows_table = pa.table({"example_id": ids, "verdict": verdict_col, "reason": reason_col})  # noqa: F841
        run = ledger.begin_run("baseline", {})
        context, _ = ensure_context(ledger, check=CHECK, version=VERSION, config=judge.config, run_id=run)
        batch = new_batch(ledger, context, run)
        ledger.con.execute(
            "INSERT INTO decisions (example_id, batch_id, basis, verdict, decision, reason) "
            "SELECT example_id, ?, 0, verdict, "
            "CASE WHEN verdict IN ('prohibited', 'unknown') THEN 'drop' ELSE 'pass' END, reason "
            "FROM rows_table",
            [batch],
        )
        close_batch(ledger, batch, len(ids))
    return time.perf_counter() - started, len(per_example), verdicts


def ours(path: Path, policy: LicencePolicy) -> tuple[float, int]:
    registry = load_registry()
    started = time.perf_counter()
    with Ledger.open(path) as ledger:
        result = check_licences(ledger, registry, policy)
    return time.perf_counter() - started, result.examples


def verdicts_of(path: Path, sample: set[str] | None) -> dict[str, str]:
    with Ledger.open(path, read_only=True) as ledger:
        rows = ledger.con.execute(
            "SELECT example_id, verdict FROM decision_records WHERE check_name = 'licence'"
        ).fetchall()
    return {ex: v for ex, v in rows if sample is None or ex in sample}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (median reported)")
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=0,
        help="time the baseline on this many examples and scale linearly (0: all)",
    )
    args = parser.parse_args()
    policy = LicencePolicy(use="commercial", student="mistralai/Mistral-7B-v0.3", distribute=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.duckdb"
        t0 = time.perf_counter()
        build(template, args.examples)
        print(f"built a ledger of {args.examples:,} examples in {time.perf_counter() - t0:.1f} s")

        times = []
        for k in range(args.repeat):
            copy = Path(tmp) / f"ours{k}.duckdb"
            shutil.copy(template, copy)
            seconds, n = ours(copy, policy)
            times.append(seconds)
            print(f"ours run {k + 1}: {seconds:.2f} s for {n:,} examples")
        ours_s = statistics.median(times)
        ours_verdicts = verdicts_of(Path(tmp) / "ours0.duckdb", None)

        copy = Path(tmp) / "baseline.duckdb"
        shutil.copy(template, copy)
        sample = args.baseline_sample or None
        base_s, base_n, base_verdicts = baseline(copy, policy, sample)
        scale = args.examples / base_n
        print(
            f"baseline: {base_s:.2f} s for {base_n:,} examples"
            + (f" (scaled x{scale:.1f})" if sample else "")
        )
        mismatch = sum(1 for ex, v in base_verdicts.items() if ours_verdicts.get(ex) != v)
        if mismatch:
            raise SystemExit(f"verdicts differ on {mismatch:,} examples")
        base_full = base_s * scale
        ratio = base_full / ours_s
        print()
        print("| measurement | baseline | ours | ratio | target | holds |")
        print("|---|---|---|---|---|---|")
        measurement = f"licence check, {args.examples:,} examples, 20 teachers"
        base_cell = f"{base_full:.1f} s ({args.examples / base_full:,.0f}/s)"
        ours_cell = f"{ours_s:.2f} s ({args.examples / ours_s:,.0f}/s)"
        holds = ratio >= 50 and ours_s < 10
        print(
            f"| {measurement} | {base_cell} | {ours_cell} | "
            f"{ratio:.0f}x | >= 50x and < 10 s | {'yes' if holds else 'NO'} |"
        )
        record("licence", measurement, base_cell, ours_cell, f"{ratio:.0f}x", ">= 50x and < 10 s", holds)
        print(f"verdicts agree on all {len(base_verdicts):,} baseline examples")


if __name__ == "__main__":
    main()
