"""Concurrency: requests per second of ``provenance generate`` at --concurrency 16 against 1.

The teacher is a local OpenAI-compatible server (provenance.testing.fake_openai with the scripted teacher of
provenance.testing.fake_teacher) that answers every request after 200 ms, as a slow remote endpoint would.
Each run is the whole ``provenance generate alpaca`` command (in process, so interpreter start-up
is not counted) on a fresh ledger holding the 175 bundled seeds, stopped by --max-requests; the
two runs send the same requests and accept the same examples (checked). Target: at least 8x the
requests per second of --concurrency 1.

    python bench/bench_concurrency.py                   # --requests 160 --delay 0.2
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

from click.testing import CliRunner  # noqa: E402
from results import record  # noqa: E402

from provenance.cli import cli  # noqa: E402
from provenance.testing.fake_openai import FakeOpenAI  # noqa: E402
from provenance.testing.fake_teacher import ScriptedTeacher  # noqa: E402

SEEDS = ROOT / "examples" / "self-instruct" / "seed_tasks.jsonl"


def run(db: Path, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else {}


def generate(folder: Path, url: str, concurrency: int, requests: int) -> tuple[float, dict, list[str]]:
    db = folder / f"c{concurrency}.duckdb"
    run(db, "seeds", "import", str(SEEDS), "--licence", "Apache-2.0")
    start = time.perf_counter()
    summary = run(
        db,
        "generate",
        "alpaca",
        "--teacher",
        "text-davinci-003",
        "--base-url",
        url,
        "-n",
        "100000",
        "--max-requests",
        str(requests),
        "--concurrency",
        str(concurrency),
        "--json",
    )
    elapsed = time.perf_counter() - start
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT example_id FROM examples ORDER BY 1").fetchall()]
    return elapsed, summary, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    with FakeOpenAI(ScriptedTeacher(), delay=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        t1, s1, ids1 = generate(Path(tmp), server.url, 1, args.requests)
        t16, s16, ids16 = generate(Path(tmp), server.url, 16, args.requests)
    assert s1["requests"] == s16["requests"] == args.requests, (s1, s16)
    assert ids1 == ids16, "the two runs accepted different examples"
    r1, r16 = args.requests / t1, args.requests / t16
    ratio = r16 / r1
    holds = ratio >= 8
    print(f"--concurrency 1:  {args.requests} requests in {t1:6.2f} s = {r1:6.2f} requests/s")
    print(f"--concurrency 16: {args.requests} requests in {t16:6.2f} s = {r16:6.2f} requests/s")
    print(f"accepted {s16['accepted']:,} examples in both runs (identical ids)")
    print()
    print(f"{'measurement':<50} {'baseline':>12} {'ours':>12} {'ratio':>7} {'target':>7}")
    name = f"requests/s, server {args.delay * 1000:.0f} ms, conc. 16 vs 1"
    print(
        f"{name:<50} {r1:>10.2f}/s {r16:>10.2f}/s {ratio:>6.1f}x {'≥ 8x':>7} {'holds' if holds else 'MISSED'}"
    )
    record("concurrency", f"{name} ({args.requests} requests)", f"{r1:.2f}/s", f"{r16:.2f}/s",
           f"{ratio:.1f}x", "≥ 8x", holds)  # fmt: skip
    return 0 if holds else 1


if __name__ == "__main__":
    raise SystemExit(main())
