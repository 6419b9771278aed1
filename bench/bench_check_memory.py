"""Memory and time of ``provenance check`` over 100,000 examples (target: peak under 2 GiB).

Builds a ledger of N distinct examples from ../shared/data (Code Alpaca, the Self-Instruct seeds,
evaluation tasks and eight teachers' answers, then perturbed copies until N), imports it with the
CLI, then runs ``provenance check --policy PACK`` in a subprocess while sampling the resident
memory of its whole process tree (the PII check's worker processes included). A second run on the
unchanged ledger shows what a re-run costs.

    .venv/bin/python bench/bench_check_memory.py [--examples 100000] [--policy commercial]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CLI = [str(Path(sys.executable).with_name("provenance"))]


def records(n: int, seed: int = 7) -> list[dict[str, str]]:
    """N distinct instruction records built from the real data."""
    base: list[dict[str, str]] = []
    for r in json.loads((SHARED / "code-alpaca" / "new_codealpaca.json").read_text("utf-8")):
        base.append({"instruction": r["instruction"], "input": r.get("input") or "", "output": r["output"]})
    si = SHARED / "self-instruct"
    for path in sorted((si / "predictions").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            r = json.loads(line)
            base.append({"instruction": r["instruction"], "input": r["input"], "output": r["response"]})
    rng = random.Random(seed)
    out = list(base)
    while len(out) < n:
        r = rng.choice(base)
        words = r["instruction"].split()
        if len(words) > 3:
            i = rng.randrange(len(words))
            words.insert(i, rng.choice(["please", "now", "briefly", "carefully", "also"]))
        out.append({**r, "instruction": " ".join(words), "output": r["output"] + f" ({len(out)})"})
    return out[:n]


def tree_rss(pid: int) -> int:
    """Memory of a process and all its descendants: proportional set size (PSS), so pages that
    forked workers share with their parent are counted once; RSS where PSS is not available."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Run a command; return wall seconds, peak tree RSS, and the result."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    done.set()
    thread.join()
    return time.perf_counter() - start, peak, subprocess.CompletedProcess(args, proc.returncode, out, err)


def main() -> None:
    from results import record

    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--policy", default="commercial")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        with data.open("w", encoding="utf-8") as f:
            for r in records(args.examples):
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        env = {**os.environ, "PROVENANCE_DB": str(Path(tmp) / "ledger.duckdb"), "HF_HUB_OFFLINE": "1"}
        seconds, peak, res = run(
            [*CLI, "import", str(data), "--format", "jsonl", "--origin", "machine",
             "--teacher", "gpt-oss-120b", "--licence", "Apache-2.0"],
            env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        print(f"import {args.examples:,} examples: {seconds:.1f} s, peak {peak / 2**20:,.0f} MiB")
        record(
            "check_memory",
            f"`provenance import`, {args.examples:,} examples",
            "",
            f"{seconds:.1f} s, peak {peak / 2**20:,.0f} MiB",
            "",
            "",
            None,
        )
        for label in ("first check", "re-run"):
            seconds, peak, res = run([*CLI, "check", "--policy", args.policy, "--json"], env)
            assert res.returncode in (0, 1), res.stderr
            out = json.loads(res.stdout)
            scored = sum(c["scored"] for c in out["checks"])
            status = ", ".join(f"{c['name']} {c['status']}" for c in out["checks"] if c["status"] != "ran")
            print(
                f"{label}: {seconds:.1f} s, peak memory {peak / 2**20:,.0f} MiB (target < 2048 MiB), "
                f"{out['examples']:,} examples, {scored:,} scored" + (f"; {status}" if status else "")
            )
            for c in out["checks"]:
                print(f"   {c['name']:<14} {c['seconds']:7.1f} s  {c['counts']}")
            record(
                "check_memory",
                f"`provenance check --policy {args.policy}`, {out['examples']:,} examples, {label}: "
                "peak memory",
                "",
                f"{peak / 2**20:,.0f} MiB ({seconds:.1f} s)",
                "",
                "< 2048 MiB",
                peak < 2048 * 2**20,
            )


if __name__ == "__main__":
    main()
