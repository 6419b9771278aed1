"""``provenance demo``: the whole pipeline on the bundled example, offline, as one command."""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click

from provenance.cli.common import console

#: The bundled example: the Self-Instruct seeds and two OpenAI teachers' recorded outputs.
TEACHERS = {
    "text-davinci-003": "text-davinci-003_predictions.jsonl",
    "davinci": "davinci_predictions.jsonl",
}
RECORDED = "recorded://github.com/yizhongw/self-instruct/human_eval"
MARKER = ".provenance-demo"


def example_dir() -> Path:
    """Where the bundled example lives (the source tree's examples/self-instruct)."""
    here = Path(__file__).resolve().parents[2] / "examples" / "self-instruct"
    if (here / "seed_tasks.jsonl").is_file():
        return here
    packaged = Path(str(resources.files("provenance"))).parent / "examples" / "self-instruct"
    return packaged


def _manifest(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text("utf-8"))


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the ledger, the student and the reports (created; must be empty).",
)
@click.option("--force", is_flag=True, help="Empty an existing folder first.")
@click.option("--steps", type=int, default=40, show_default=True, help="Training steps of the tiny student.")
def demo(folder: Path, force: bool, steps: int) -> None:
    """Run the whole pipeline on the bundled example, offline, with no API key.

    Records the 175 Self-Instruct seed tasks (human, Apache-2.0) and two OpenAI teachers'
    recorded outputs (text-davinci-003 and davinci) through the teacher-call journal's replay,
    runs the commercial policy pack, trains a tiny student through the gate, writes the audit
    report, data card, model card and SPDX documents, and verifies the audit trail. It prints
    where everything is and what each verdict means.

    \\b
    Example:
      provenance demo --dir demo
    """
    from provenance.cli import cli
    from provenance.core.errors import InputError

    if folder.exists() and any(folder.iterdir()):
        if not force:
            raise InputError("exists and is not empty; choose another --dir or give --force", path=folder)
        if not (folder / MARKER).is_file():
            raise InputError(
                f"is not a folder an earlier demo made (no {MARKER}); --force only replaces those",
                path=folder,
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(
        "made by `provenance demo`; `provenance demo --force` may replace this folder\n"
    )
    db = folder / "provenance.duckdb"
    data = example_dir()
    out = console()
    started = time.perf_counter()

    def step(title: str, explain: str, *args: str, expect: tuple[int, ...] = (0,)) -> int:
        out.rule(f"[bold]{title}")
        out.print(f"[dim]$ provenance {' '.join(args)}[/]")
        try:
            cli.main(["--db", str(db), *args], prog_name="provenance", standalone_mode=False)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        if code not in expect:
            raise click.ClickException(f"step {title!r} exited {code}; see above")
        out.print(f"[green]→[/] {explain}")
        return code

    step(
        "1. Human seeds",
        "175 human-written seed tasks, Apache-2.0, the roots of lineage.",
        "seeds",
        "import",
        str(data / "seed_tasks.jsonl"),
        "--manifest",
        str(data / "seeds.yaml"),
    )
    for letter, (teacher, file) in zip("ab", TEACHERS.items(), strict=True):
        declared = _manifest(data / f"{teacher}.yaml")
        terms = declared["terms"]
        step(
            f"2{letter}. {teacher}: its recorded outputs into the teacher-call journal",
            "each logged response is now the journaled answer to the request the generator sends.",
            "journal",
            "import",
            str(data / file),
            "--from-log",
            "--teacher",
            teacher,
            "--base-url",
            RECORDED,
        )
        step(
            f"3{letter}. {teacher}: generate through the journal's replay (no network)",
            f"252 examples by {teacher}, each with its teacher, licence, "
            f"terms ({terms['id']}@{terms['version']}), "
            "request and prompt.",
            "generate",
            "responses",
            str(data / file),
            "--teacher",
            teacher,
            "--base-url",
            RECORDED,
            "--replay",
            "-n",
            "100000",
            "--licence",
            declared["licence"],
            "--terms",
            f"{terms['id']}@{terms['version']}",
            "--source",
            declared["source"],
        )
    step("4. The ledger", "what is recorded, and what is unknown.", "stats")
    code = step(
        "5. The commercial policy pack",
        "OpenAI's outputs may not train a commercial student that competes with OpenAI, so the licence "
        "check drops them; the contamination check finds those prompts are Self-Instruct's evaluation set; "
        "PII is redacted into new examples; toxicity runs only where a detoxify checkpoint is installed "
        "and is otherwise reported as not run.",
        "check",
        "--policy",
        "commercial",
        "--junit",
        str(folder / "check-junit.xml"),
        expect=(0, 1),
    )
    student = folder / "student"
    trained = step(
        "6. Train a tiny student through the gate",
        "only what the pack allows trains; the student leaves with AUDIT.md, AUDIT.json and its "
        "manifest (the Merkle root of its examples).",
        "train",
        "--policy",
        "commercial",
        "--student",
        "tiny",
        "--out",
        str(student),
        "--max-steps",
        str(steps),
        "--max-length",
        "256",
        expect=(0, 1),
    )
    reports = folder / "reports"
    step(
        "7. Audit report",
        "one HTML file that opens offline, with Markdown and JSON beside it.",
        "report",
        "audit",
        "--out",
        str(reports),
    )
    step(
        "8. Dataset card",
        "a Hugging Face dataset card whose numbers all come from the ledger.",
        "report",
        "card",
        "--out",
        str(reports / "dataset-card"),
    )
    step(
        "9. SPDX",
        "SPDX 3.0.1 (dataset and AI packages, trainedOn) and SPDX 2.3.",
        "report",
        "spdx",
        "--out",
        str(student if trained == 0 else reports),
    )
    if trained == 0:
        training = json.loads((student / "AUDIT.json").read_text("utf-8"))["training"]["training_id"]
        step(
            "10. Model card",
            "the student's card states every obligation as a requirement.",
            "report",
            "model-card",
            "--training",
            training,
            "--out",
            str(student),
        )
    verified = step(
        "11. Verify the audit trail",
        "every run's rows are still what the hash-chained log vouches for.",
        "verify",
        expect=(0, 1),
    )
    seconds = time.perf_counter() - started
    out.rule("[bold]Where everything is")
    out.print(f"ledger        {db}")
    out.print(
        f"check (CI)    {folder / 'check-junit.xml'}  "
        f"(exit {code}: {'a block fired' if code else 'no block'})"
    )
    if trained == 0:
        out.print(
            f"student       {student}/  (model.safetensors, AUDIT.md, AUDIT.json, manifest.json, README.md, "
            "dataset.spdx3.json, dataset.spdx.json)"
        )
    else:
        out.print(f"student       none: the gate said no; the reasons are in {student}/AUDIT.md")
    out.print(f"audit report  {reports / 'audit.html'}  (and audit.md, audit.json)")
    out.print(f"dataset card  {reports / 'dataset-card' / 'README.md'}")
    out.print(f"audit trail   {'verified' if verified == 0 else 'ALTERED'} (`provenance --db {db} verify`)")
    out.print(f"[bold]done in {seconds:.0f} s[/]")
