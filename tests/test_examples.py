"""The bundled example: faithful copies, and the main job README's first command runs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, run_cli


def test_bundled_files_match_their_recorded_sha256() -> None:
    table = re.findall(
        r"\| `([^`]+\.jsonl)` \|.*\| `([0-9a-f]{64})` \|", (EXAMPLES / "SOURCE.md").read_text()
    )
    assert len(table) == 3
    for name, digest in table:
        assert hashlib.sha256((EXAMPLES / name).read_bytes()).hexdigest() == digest, name


def test_bundled_files_equal_the_shared_originals(shared: Path) -> None:
    for name in ("seed_tasks.jsonl",):
        assert (EXAMPLES / name).read_bytes() == (shared / "self-instruct" / name).read_bytes()
    for name in ("davinci_predictions.jsonl", "text-davinci-003_predictions.jsonl"):
        assert (EXAMPLES / name).read_bytes() == (
            shared / "self-instruct" / "predictions" / name
        ).read_bytes()


def test_the_quickstart_steps_give_the_expected_ledger(db: Path) -> None:
    steps = [
        ["seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--manifest", str(EXAMPLES / "seeds.yaml")],
        [
            "import",
            str(EXAMPLES / "text-davinci-003_predictions.jsonl"),
            "--manifest",
            str(EXAMPLES / "text-davinci-003.yaml"),
        ],
        ["import", str(EXAMPLES / "davinci_predictions.jsonl"), "--manifest", str(EXAMPLES / "davinci.yaml")],
    ]
    for step in steps:
        assert run_cli(*step, db=db).exit_code == 0
    s = json.loads(run_cli("stats", "--json", db=db).stdout)
    assert s["counts"]["examples"] == 679 and s["counts"]["seeds"] == 175
    assert s["teachers"] == {"davinci": 252, "text-davinci-003": 252, "none (human)": 175}
    assert s["origin"] == {"machine": 504, "human": 175}
    # the two teachers answered the same 252 prompts differently: no shared examples
    assert s["counts"]["provenance_rows"] == 679


@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "provenance").exists(),
    reason="quickstart.sh installs into .venv; run it after `pip install -e .` there",
)
def test_quickstart_script_runs_and_is_idempotent(tmp_path: Path) -> None:
    env = {**os.environ, "PROVENANCE_DB": str(tmp_path / "example.duckdb")}
    first, second = (
        subprocess.run(
            ["bash", str(ROOT / "examples" / "quickstart.sh")],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        for _ in range(2)
    )
    assert first.returncode == 0, first.stderr
    assert "679 examples" in first.stdout and "text-davinci-003" in first.stdout
    assert second.returncode == 0 and second.stdout.count("nothing new") == 3
    assert "679 examples: allowed 175 · prohibited 504 (679 judged now" in first.stdout
    assert "679 examples: allowed 175 · non_competing_only 504" in first.stdout
    # the pack's PII redaction added redacted copies; on the second run nothing is judged or scored again
    assert "judged now, 679 decisions reused" in second.stdout
    assert "policy pack commercial" in first.stdout and "NOT RUN" in first.stdout
    assert "PERSON detection was off" in first.stdout
    assert "scored now: 0 " in second.stdout and "ok: no block action fired" in second.stdout
