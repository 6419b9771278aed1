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


@pytest.mark.slow
@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "provenance").exists(),
    reason="quickstart.sh installs into .venv; run it after `pip install -e .` there",
)
def test_quickstart_script_runs_the_whole_pipeline(tmp_path: Path) -> None:
    env = {**os.environ, "DEMO_DIR": str(tmp_path / "demo"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["bash", str(ROOT / "examples" / "quickstart.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out, demo = run.stdout, tmp_path / "demo"
    # the OpenAI outputs went through the journal's replay: recorded, never sent
    assert out.count("accepted 252 examples") == 2 and out.count("(0 sent, 252 from the journal") == 2
    assert "policy pack commercial" in out and "NOT RUN" in out and "PERSON detection was off" in out
    assert "gate PASSED" in out and "verified:" in out
    student = demo / "student"
    for name in (
        "model.safetensors",
        "AUDIT.md",
        "AUDIT.json",
        "manifest.json",
        "README.md",
        "dataset.spdx3.json",
        "dataset.spdx.json",
    ):
        assert (student / name).is_file(), name
    assert (demo / "reports" / "audit.html").is_file() and (
        demo / "reports" / "dataset-card" / "README.md"
    ).is_file()
    report = json.loads((student / "AUDIT.json").read_text())
    assert report["verdict"] == "passed" and "text-davinci-003" not in report["teacher_mix"]  # dropped
    assert "check (CI)" in out and "done in" in out
    # provenance is in .venv, not on PATH: the last lines say how to call it
    assert "source .venv/bin/activate" in out and ".venv/bin/provenance --db" in out
    # README's excerpt of the demo is its real output (times and the chain head aside)
    printed = {line.rstrip() for line in out.splitlines()}
    assert readme_demo_lines() and [line for line in readme_demo_lines() if line not in printed] == []


def readme_demo_lines() -> list[str]:
    """The lines of README's demo excerpt that every run prints alike: the pack, its checks, the gate."""
    readme = (ROOT / "README.md").read_text("utf-8")
    excerpt = readme.split("## What the demo shows", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    steady = ("policy pack ", "check ", "gate PASSED", "  dataset Merkle root")
    steady += ("licence ", "pii ", "profanity ", "toxicity ", "contamination ", "duplicates ", "diversity ")
    return [line.rstrip() for line in excerpt.splitlines() if line.startswith(steady)]


def test_readme_shows_the_demo_s_pack_checks_and_gate() -> None:
    lines = readme_demo_lines()
    assert len(lines) == 11 and any(line.startswith("gate PASSED") for line in lines)


def test_the_quickstart_ends_by_saying_how_to_call_provenance_from_its_venv() -> None:
    """The quickstart installs into .venv and activates nothing: its last lines say how to call it."""
    script = (ROOT / "examples" / "quickstart.sh").read_text()
    last = script[script.index("provenance demo --dir") :]
    assert "source .venv/bin/activate" in last and ".venv/bin/provenance --db" in last
    run = subprocess.run(["bash", "-n", str(ROOT / "examples" / "quickstart.sh")], capture_output=True)
    assert run.returncode == 0, run.stderr


def test_the_ci_example_runs_the_check_and_uploads_its_junit_report() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "provenance.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "provenance check --policy release --junit build/provenance-junit.xml" in runs
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and "build/provenance-junit.xml" in uploads[0]["with"]["path"]
    assert all(s.get("if") == "always()" for s in uploads)
