"""Import benchmark: our Arrow bulk import against a row-by-row executemany INSERT, side by side.

Input: ../shared/data/code-alpaca/new_codealpaca.json (4,535 records) replicated to N distinct
records (replica k > 0 appends " [k]" to the instruction), written in the original's layout (a
JSON list, indent 4).

Baseline: parse the file with json, compute the same content ids the naive way, and INSERT each
example and its provenance row with executemany into the same schema (a ledger made by our
migrations), in one transaction. Ours: ``import_file`` in a fresh process (so peak memory is its
own), timed from opening the ledger to closing it, median of --repeat runs.

Targets (issue 2): ratio ≥ 20x, ≥ 50,000 examples/s, peak memory < 1 GiB at 100,000 records.

    python bench/bench_import.py                  # 100,000 records
    python bench/bench_import.py --records 300000 --baseline-sample 20000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "code-alpaca" / "new_codealpaca.json"
sys.path.insert(0, str(ROOT / "bench"))

from results import record  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from provenance.core.ledger import Ledger
from provenance.core.models import Declaration
from generators.importers import import_file
db, path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
with Ledger.open(db) as ledger:
    summary = import_file(ledger, path, "alpaca", Declaration(licence="CC-BY-NC-4.0"))
seconds = time.perf_counter() - started
# VmHWM belongs to this process's address space, made at exec; ru_maxrss would also count the
# parent's memory at fork time
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) * 1024 if "VmHWM:" in status else (
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps({"seconds": seconds, "peak": peak, "examples": summary.examples_new}))
"""


def build_input(path: Path, records: int) -> None:
    """Write the replicated list record by record, laid out as json.dump(indent=4) would."""
    base = json.loads(SOURCE.read_text("utf-8"))
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(records):
            record = dict(base[i % len(base)])
            replica = i // len(base)
            if replica:
                record["instruction"] = f"{record['instruction']} [{replica}]"
            text = "    " + json.dumps(record, indent=4).replace("\n", "\n    ")
            out.write(text if i == 0 else ",\n" + text)
        out.write("\n]")


def fresh_ledger(path: Path) -> None:
    from provenance.core.ledger import Ledger

    for suffix in ("", ".wal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    Ledger.open(path).close()


def baseline(db: Path, data: Path, sample: int | None) -> tuple[float, int]:
    """Row-by-row executemany into the same schema; returns (seconds, rows inserted)."""
    import duckdb

    from provenance.core.clock import utcnow

    started = time.perf_counter()
    records = json.loads(data.read_text("utf-8"))
    if sample:
        records = records[:sample]
    now, run_id, set_id = utcnow(), "baseline", "b" * 64
    con = duckdb.connect(str(db))
    con.execute("BEGIN TRANSACTION")
    con.execute(
        "INSERT INTO runs (run_id, kind, started_at, status, tool_version) "
        "VALUES (?, 'import', ?, 'running', 'baseline')",
        [run_id, now],
    )
    con.execute(
        "INSERT INTO provenance_sets (set_id, run_id, origin, method, licence, source_file, "
        "declaration_hash, created_at) VALUES (?, ?, 'unknown', 'imported', 'CC-BY-NC-4.0', ?, ?, ?)",
        [set_id, run_id, str(data), "d" * 64, now],
    )
    examples, claims = [], []
    for index, r in enumerate(records):
        content = {"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        eid = hashlib.sha256(text.encode("utf-8")).hexdigest()
        examples.append(
            (
                eid,
                "instruction",
                content["instruction"],
                content["input"],
                content["output"],
                None,
                run_id,
                now,
            )
        )
        pid = hashlib.sha256(f"{eid}|{set_id}|{index}.".encode()).hexdigest()
        extra = json.dumps({"response": r["response"]}, ensure_ascii=False) if "response" in r else None
        none9 = (None,) * 9
        claims.append((pid, eid, set_id, index, *none9, extra, run_id))
    con.executemany("INSERT INTO examples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", examples)
    con.executemany("INSERT INTO provenance VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", claims)
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - started, len(records)


def ours(db: Path, data: Path) -> dict[str, float]:
    fresh_ledger(db)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), str(data)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def example_ids_digest(db: Path) -> tuple[int, str]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    ids = [r[0] for r in con.execute("SELECT example_id FROM examples ORDER BY 1").fetchall()]
    con.close()
    return len(ids), hashlib.sha256("\n".join(ids).encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of our import (median reported)")
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=None,
        help="time the baseline on the first N records and scale linearly (default: all)",
    )
    args = parser.parse_args()
    if not SOURCE.exists():
        print(f"missing {SOURCE}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "codealpaca_replicated.json"
        build_input(data, args.records)
        print(
            f"input: {args.records:,} records, {data.stat().st_size / 1e6:.1f} MB "
            f"(new_codealpaca.json replicated, JSON list, indent 4)"
        )

        runs = []
        for i in range(args.repeat):
            run = ours(tmpdir / "ours.duckdb", data)
            runs.append(run)
            print(
                f"ours    run {i + 1}: {run['seconds']:.2f} s, {run['examples'] / run['seconds']:,.0f} "
                f"examples/s, peak RSS {run['peak'] / 2**20:,.0f} MiB"
            )
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak"] for r in runs)

        base_db = tmpdir / "baseline.duckdb"
        fresh_ledger(base_db)
        base_seconds, base_rows = baseline(base_db, data, args.baseline_sample)
        scaled = base_seconds * args.records / base_rows
        note = "" if base_rows == args.records else f" (timed on {base_rows:,}, scaled linearly)"
        print(
            f"baseline (executemany, row by row): {scaled:.1f} s, "
            f"{args.records / scaled:,.0f} examples/s{note}"
        )

        if base_rows == args.records:
            same = example_ids_digest(base_db) == example_ids_digest(tmpdir / "ours.duckdb")
            print(f"same examples in both ledgers: {same}")
            if not same:
                return 1

    rate, ratio = args.records / seconds, scaled / seconds
    checks = [
        (f"ratio {ratio:.1f}x >= 20x", ratio >= 20),
        (f"rate {rate:,.0f}/s >= 50,000/s", rate >= 50_000),
        (f"peak {peak / 2**20:,.0f} MiB < 1024 MiB", peak < 2**30),
    ]
    print(f"ours (median of {len(runs)}): {seconds:.2f} s → {rate:,.0f} examples/s; ratio {ratio:.1f}x")
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    name = f"import, {args.records:,} records"
    record(
        "import",
        f"{name}: time",
        f"{scaled:.1f} s",
        f"{seconds:.2f} s",
        f"{ratio:.1f}x",
        ">= 20x",
        checks[0][1],
    )
    record(
        "import",
        f"{name}: examples/s",
        f"{args.records / scaled:,.0f}/s",
        f"{rate:,.0f}/s",
        "",
        ">= 50,000/s",
        checks[1][1],
    )
    record("import", f"{name}: peak memory", "", f"{peak / 2**20:,.0f} MiB", "", "< 1024 MiB", checks[2][1])
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
