"""Teacher-call overhead: our journaled client with provenance against the bare ``openai`` client.

Both make the same chat calls, one at a time, to the same local OpenAI-compatible server
(provenance.testing.fake_openai, answering after a fixed delay). Ours: OpenAICompatibleClient (the request and
its raw reply committed to the journal before the reply is parsed) plus the example each call
produced, written with its provenance row and claim once per round of 16 calls, as ``provenance
generate`` does. The bare client: ``client.chat.completions.create`` and reading the text, nothing
stored.

Target: at most 10% slower per call against a server that answers in 50 ms (a fast local teacher;
real endpoints take longer, which only shrinks the ratio). The run with an instant server shows
the absolute cost of the two durable DuckDB commits per call.

    python bench/bench_teacher_overhead.py              # --calls 200 --delays 0,0.05
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from results import record  # noqa: E402

from generators.clients import OpenAICompatibleClient  # noqa: E402
from generators.generation import Generation, Limits, NewExample, Round, Templates  # noqa: E402
from generators.journal import Journal  # noqa: E402
from provenance.core.ledger import Ledger  # noqa: E402
from provenance.core.models import Declaration, Example, Method, Origin, Teacher  # noqa: E402
from provenance.testing.fake_openai import FakeOpenAI  # noqa: E402

ROUND = 16  # requests per round: the generators' default --round-size


def bare_calls(url: str, calls: int, tag: str) -> float:
    """Seconds per call of the bare openai client."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="bench-key", max_retries=0)
    start = time.perf_counter()
    for i in range(calls):
        reply = client.chat.completions.create(
            model="bench-teacher",
            messages=[{"role": "user", "content": f"{tag} question {i}"}],
            max_tokens=64,
        )
        assert reply.choices[0].message.content
    elapsed = (time.perf_counter() - start) / calls
    client.close()
    return elapsed


def our_calls(url: str, calls: int, tag: str, folder: Path) -> float:
    """Seconds per call of our client, journal and provenance write included."""
    os.environ["BENCH_KEY"] = "bench-key"
    with Ledger.open(folder / f"{tag}.duckdb") as ledger, ledger.run("bench", {}, atomic=False) as run:
        run_id, journal = run.run_id, Journal(ledger, run.run_id)
        client = OpenAICompatibleClient(url, "BENCH_KEY", "bench-teacher", journal=journal, concurrency=1)
        gen = Generation(
            ledger,
            run_id,
            client,
            method="bench",
            params={},
            templates=Templates(),
            template_names=("alpaca/prompt.txt",),
            declaration=Declaration(origin=Origin.MACHINE, teacher=Teacher(model="bench-teacher")),
            limits=Limits(n=10**9),
        )
        start = time.perf_counter()
        pending: list[NewExample] = []
        for i in range(calls):
            reply = client.chat([{"role": "user", "content": f"{tag} question {i}"}], max_tokens=64)
            assert reply.text
            example = Example(instruction=f"{tag} question {i}", input="", output=reply.text)
            pending.append(NewExample(example, reply, 0, 0, i, Method.TEACHER, "alpaca/prompt.txt", []))
            if len(pending) == ROUND or i == calls - 1:  # a generator writes once per round
                gen.write(Round(examples=pending))
                pending = []
        elapsed = (time.perf_counter() - start) / calls
        client.close()
        journal.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per measurement")
    parser.add_argument("--delays", default="0,0.05", help="server delays in seconds, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats (median kept)")
    args = parser.parse_args()
    rows = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for delay in [float(d) for d in args.delays.split(",")]:
            calls = args.calls if delay == 0 else max(20, int(args.calls * 0.3))
            bare, ours = [], []
            with FakeOpenAI(delay=delay) as server:
                bare_calls(server.url, 10, "warm")
                our_calls(server.url, 10, "warm", Path(tmp))
                for r in range(args.repeats):
                    bare.append(bare_calls(server.url, calls, f"b{delay}-{r}"))
                    ours.append(our_calls(server.url, calls, f"o{delay}-{r}", Path(tmp)))
            b, o = statistics.median(bare), statistics.median(ours)
            overhead = o / b - 1
            target = delay >= 0.05
            holds = overhead <= 0.10
            ok &= holds or not target
            rows.append((delay, calls, b, o, overhead, target, holds))
            print(
                f"server delay {delay * 1000:.0f} ms: bare {b * 1000:.2f} ms/call, "
                f"ours {o * 1000:.2f} ms/call, "
                f"overhead {overhead:+.1%} ({(o - b) * 1000:.2f} ms)"
            )
    print()
    print(f"{'measurement':<44} {'baseline':>11} {'ours':>11} {'ratio':>7} {'target':>8}")
    for delay, calls, b, o, _, target, holds in rows:
        name = f"per call, server {delay * 1000:.0f} ms ({calls} calls)"
        verdict = ("holds" if holds else "MISSED") if target else "(shown)"
        print(f"{name:<44} {b * 1000:>8.2f} ms {o * 1000:>8.2f} ms {o / b:>6.3f}x {'≤ 1.10x':>8} {verdict}")
        record(
            "teacher_overhead",
            name,
            f"{b * 1000:.2f} ms",
            f"{o * 1000:.2f} ms",
            f"{o / b:.3f}x",
            "≤ 1.10x" if target else "",
            holds if target else None,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
