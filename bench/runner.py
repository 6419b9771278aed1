"""Run every benchmark of the project and print one Markdown table of their targets.

Each ``bench/bench_*.py`` runs its baseline and our code side by side and records one JSON row per
measurement (``bench/results.py``) in the file named by ``$BENCH_RESULTS``. This runs each script
as a subprocess, fastest first, with that variable pointing at a temporary file, keeps each
script's full output in a log folder, and prints the rows of all of them as one table (benchmark,
measurement, baseline, ours, ratio, target, holds) and a count of targets held and missed.

The entry point is ``bench/run`` (``.venv/bin/python bench/run [--quick] [--only NAME,...]``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOG_LINE = "bench/logs/"  # the line .gitignore needs for `--logs bench/logs`


@dataclass(frozen=True)
class Benchmark:
    name: str
    quick: tuple[str, ...]  # the script's own size flags for --quick; the full run uses its defaults

    @property
    def script(self) -> Path:
        return BENCH / f"bench_{self.name}.py"


#: Every benchmark, fastest first (rough full-size wall times on a 2-core machine in the comments).
BENCHMARKS = (
    Benchmark("teacher_overhead", ("--calls", "60", "--repeats", "1")),  # ~1 min
    Benchmark("concurrency", ("--requests", "64")),  # ~1 min
    Benchmark("self_instruct_filter", ("--n", "3000", "--naive", "300")),  # ~1.5 min
    Benchmark("licence", ("--examples", "100000", "--repeat", "1")),  # ~2 min
    Benchmark("import", ("--records", "20000", "--repeat", "1")),  # ~2 min
    Benchmark("pii", ("--limit", "2000")),  # ~1 min
    Benchmark("toxicity_rerun", ("--examples", "20")),  # ~2 min
    Benchmark("toxicity", ("--n", "20")),  # ~5 min
    Benchmark("check_memory", ("--examples", "5000")),  # ~4 min
    Benchmark("gate", ("--examples", "5000", "--steps", "5")),  # ~5+ min
    Benchmark("reports", ("--examples", "5000")),  # ~5+ min
    Benchmark("diversity", ("--n", "500", "--big", "5000")),  # ~12 min (the naive loop)
)
NAMES = tuple(b.name for b in BENCHMARKS)


@dataclass
class Outcome:
    bench: Benchmark
    command: list[str]
    log: Path
    returncode: int | None = None  # None: timed out
    seconds: float = 0.0
    rows: list[dict] = field(default_factory=list)

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def missed(self) -> int:
        return sum(r.get("holds") is False for r in self.rows)

    @property
    def failed(self) -> bool:
        """Timed out, recorded nothing, or exited non-zero without a missed target to explain it."""
        if self.timed_out or not self.rows:
            return True
        return self.returncode != 0 and not self.missed

    @property
    def status(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        return f"exit {self.returncode}, {self.seconds:.1f} s, {len(self.rows)} rows"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run every benchmark (bench/bench_*.py) and print one Markdown table of their targets.",
        epilog=f"benchmarks, in the order they run: {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (each script's own size flags): the whole run takes minutes; "
        "the numbers are not docs/performance.md's figures and are not written there",
    )
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="per-benchmark limit, after which it is reported as timed out (default 1800, 600 with --quick)",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        metavar="DIR",
        help="folder for each benchmark's full output (default: a new temporary folder); "
        f"`--logs bench/logs` needs `{LOG_LINE}` in .gitignore",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not stream the benchmarks' output, only one line each"
    )
    parser.add_argument("--list", action="store_true", help="print the commands that would run, and exit")
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = 600.0 if args.quick else 1800.0
    if args.only:
        wanted = [n.strip().removeprefix("bench_").removesuffix(".py") for n in args.only.split(",")]
        unknown = [n for n in wanted if n and n not in NAMES]
        if unknown:
            parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
        args.selected = [b for b in BENCHMARKS if b.name in wanted]
    else:
        args.selected = list(BENCHMARKS)
    return args


def command(bench: Benchmark, quick: bool) -> list[str]:
    return [sys.executable, str(bench.script.relative_to(ROOT)), *(bench.quick if quick else ())]


def run_one(bench: Benchmark, cmd: list[str], log: Path, timeout: float, stream: bool) -> Outcome:
    """Run one benchmark with $BENCH_RESULTS set, its output teed to ``log`` (and the console)."""
    outcome = Outcome(bench, cmd, log)
    with tempfile.TemporaryDirectory(prefix="bench-results-") as tmp:
        results = Path(tmp) / f"{bench.name}.jsonl"
        env = {**os.environ, "BENCH_RESULTS": str(results), "PYTHONUNBUFFERED": "1"}
        started = time.perf_counter()
        with log.open("wb") as out:
            out.write(f"$ {shlex.join(cmd)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout ends its workers too
            )
            assert proc.stdout is not None
            reader = threading.Thread(target=tee, args=(proc.stdout, out, stream), daemon=True)
            reader.start()
            try:
                outcome.returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop(proc)
                reader.join(timeout=10)
                out.write(f"\n[bench/run: timed out after {timeout:.0f} s]\n".encode())
            except BaseException:  # Ctrl-C: its own session does not get the SIGINT
                stop(proc)
                raise
            reader.join(timeout=10)
        outcome.seconds = time.perf_counter() - started
        if results.exists():
            for line in results.read_text("utf-8").splitlines():
                if line.strip():
                    outcome.rows.append(json.loads(line))
    return outcome


def tee(source: IO[bytes], log: IO[bytes], stream: bool) -> None:
    """Copy the benchmark's output, line by line, to its log and (when streaming) the console."""
    for line in iter(source.readline, b""):
        log.write(line)
        log.flush()
        if stream:
            text = line.decode("utf-8", "replace")
            sys.stdout.write("    " + text if text.strip() else "\n")
            sys.stdout.flush()


def stop(proc: subprocess.Popen) -> None:
    """End the benchmark we started and its process group: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def cell(value: object) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def table(outcomes: list[Outcome], quick: bool) -> list[str]:
    size = "`--quick` sizes, not docs/performance.md's figures" if quick else "full sizes"
    lines = [f"Benchmarks, {size} ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs):", ""]
    if quick:
        lines += [
            "*Targets are set for the full sizes; at `--quick` sizes ratios and rates can fall short.*",
            "",
        ]
    lines += [
        "| benchmark | measurement | baseline | ours | ratio | target | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        for r in o.rows:
            holds = {True: "yes", False: "**NO**", None: ""}[r.get("holds")]
            cells = [o.bench.name, *(r.get(k, "") for k in ("measurement", "baseline", "ours", "ratio"))]
            cells += [r.get("target", ""), holds]
            lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
        if o.failed:
            why = o.status if o.timed_out else f"exit {o.returncode}" + ("" if o.rows else ", no results")
            verdict = "**timed out**" if o.timed_out else "**failed**"
            lines.append(f"| {o.bench.name} | *{cell(why)}* |  |  |  |  | {verdict} |")
    return lines


def tail(path: Path, lines: int = 15) -> list[str]:
    text = path.read_text("utf-8", errors="replace").splitlines()
    return text[-lines:]


def unlisted() -> list[str]:
    """bench/bench_*.py scripts missing from BENCHMARKS (so not run: their --quick sizes are unknown)."""
    return sorted(set(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py")) - set(NAMES))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skipped = [] if args.only else unlisted()
    if args.list:
        for b in args.selected:
            print(shlex.join(command(b, args.quick)))
        return 0
    logs = args.logs or Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    mode = "--quick" if args.quick else "full size"
    print(
        f"running {len(args.selected)} benchmark(s), {mode}, timeout {args.timeout:.0f} s each; "
        f"logs in {logs}",
        flush=True,
    )
    for name in skipped:
        print(f"skipping bench/bench_{name}.py: not listed in bench/runner.py's BENCHMARKS")
    outcomes: list[Outcome] = []
    for i, bench in enumerate(args.selected, start=1):
        cmd = command(bench, args.quick)
        print(f"\n[{i}/{len(args.selected)}] {bench.name}: {shlex.join(cmd)}", flush=True)
        outcome = run_one(bench, cmd, logs / f"{bench.name}.log", args.timeout, not args.quiet)
        outcomes.append(outcome)
        verdict = "FAILED" if outcome.failed else f"{outcome.missed} missed" if outcome.missed else "ok"
        print(f"[{i}/{len(args.selected)}] {bench.name}: {outcome.status}: {verdict}", flush=True)

    lines = table(outcomes, args.quick)
    lines += [f"| {name} | *not run: not in bench/runner.py* |  |  |  |  | **skipped** |" for name in skipped]
    held = sum(r.get("holds") is True for o in outcomes for r in o.rows)
    missed = sum(o.missed for o in outcomes)
    failed = [o for o in outcomes if o.failed]
    summary = (
        f"{held} targets held, {missed} missed, {len(failed) + len(skipped)} benchmarks failed or skipped"
    )
    (logs / "results.md").write_text("\n".join([*lines, "", summary]) + "\n", "utf-8")
    with (logs / "results.jsonl").open("w", encoding="utf-8") as f:
        for o in outcomes:
            for r in o.rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    print("\n" + "\n".join(lines))
    for o in failed:
        print(f"\n{o.bench.name} failed ({o.status}); last lines of {o.log}:")
        for line in tail(o.log):
            print(f"    {line}")
    print(f"\n{summary}")
    print(f"full output of each benchmark, results.md and results.jsonl: {logs}")
    gitignore = ROOT / ".gitignore"
    ignored = gitignore.exists() and LOG_LINE in gitignore.read_text("utf-8").split()
    if not ignored:
        print(
            f"to keep the logs in the repository (`--logs bench/logs`), add this line to .gitignore: "
            f"{LOG_LINE}"
        )
    return 0 if not missed and not failed and not skipped else 1
