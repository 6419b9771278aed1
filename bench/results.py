"""Machine-readable benchmark rows: one JSON line per measurement, appended to ``$BENCH_RESULTS``.

Every ``bench/bench_*.py`` calls :func:`record` once per measurement it reports, with the values
formatted as the script prints them; ``bench/run`` sets ``BENCH_RESULTS`` to a temporary file per
benchmark and gathers the rows into one table. Without the variable, :func:`record` does nothing,
so running a benchmark by hand is unchanged.
"""

from __future__ import annotations

import json
import os

ENV = "BENCH_RESULTS"


def record(
    bench: str,
    measurement: str,
    baseline: str,
    ours: str,
    ratio: str,
    target: str,
    holds: bool | None,
) -> None:
    """Append one row to the file named by ``$BENCH_RESULTS`` (when set).

    ``target`` is empty and ``holds`` is None for a row shown for information only.
    """
    path = os.environ.get(ENV)
    if not path:
        return
    row = {
        "bench": bench,
        "measurement": measurement,
        "baseline": baseline,
        "ours": ours,
        "ratio": ratio,
        "target": target,
        "holds": None if holds is None else bool(holds),
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
