"""``provenance report``: the audit report, the data card, the model card and SPDX documents."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state


def _out_option(fn: Any) -> Any:
    return click.option(
        "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
        help="Folder to write into (created when missing).",
    )(fn)  # fmt: skip


def _facts(state: State) -> dict[str, Any]:
    """Read the ledger once: the facts every report is written from, with what verify found."""
    from audits.verify import verify_ledger
    from reports.facts import collect

    with state.open(read_only=True) as ledger:
        result = verify_ledger(ledger)
        verified = {
            "ok": result.ok,
            "entries": result.entries,
            "first_problem": result.problems[0].message if result.problems else None,
        }
        return collect(ledger, verified=verified)


def _done(paths: list[Path], started: float, as_json: bool) -> None:
    if as_json:
        echo_json({"files": [str(p) for p in paths], "seconds": round(time.perf_counter() - started, 3)})
        return
    out = console()
    for p in paths:
        out.print(f"wrote {p}")


@click.group()
def report() -> None:
    """What reviewers, CI systems and a model's readers see; every number comes from the ledger.

    \b
    Example:
      provenance report audit --out review/
      provenance report card --out dataset/
      provenance report model-card --training 3fa2c1 --out students/tiny-1
      provenance report spdx --out sbom/
    """


@report.command("audit")
@_out_option
@json_option
@pass_state
def audit(state: State, out_dir: Path, as_json: bool) -> None:
    """The audit report: one self-contained HTML file (opens offline, no script), Markdown and JSON.

    The dataset at a glance, the teacher mix with terms, verdicts and obligations, licence
    conflicts, each check's results with a few examples (PII masked), personal data, toxicity,
    lineage depth and seed coverage, waivers, the gate verdict and the audit chain head.

    \b
    Example:
      provenance report audit --out review/ && xdg-open review/audit.html
    """
    from reports.audit import write

    started = time.perf_counter()
    _done(write(_facts(state), out_dir), started, as_json)


@report.command("card")
@_out_option
@click.option("--name", "pretty_name", help="The dataset's pretty_name on the card.")
@json_option
@pass_state
def card(state: State, out_dir: Path, pretty_name: str | None, as_json: bool) -> None:
    """A Hugging Face dataset card (README.md with YAML metadata) written from the ledger.

    \b
    Example:
      provenance report card --out dataset/ --name "Acme distilled instructions"
    """
    from reports.cards import write_dataset_card

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    kw = {"pretty_name": pretty_name} if pretty_name else {}
    _done([write_dataset_card(_facts(state), out_dir, **kw)], started, as_json)


@report.command("model-card")
@click.option("--training", "training_id", required=True, metavar="ID", help="The training (id or prefix).")
@_out_option
@json_option
@pass_state
def model_card(state: State, training_id: str, out_dir: Path, as_json: bool) -> None:
    """The student's model card: base model, dataset, licence, and every obligation as a requirement.

    \b
    Example:
      provenance report model-card --training 3fa2c1 --out students/tiny-1
    """
    from reports.cards import write_model_card

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    _done([write_model_card(_facts(state), training_id, out_dir)], started, as_json)


@report.command("spdx")
@_out_option
@json_option
@pass_state
def spdx(state: State, out_dir: Path, as_json: bool) -> None:
    """SPDX 3.0.1 JSON-LD (dataset and AI packages, trainedOn, licences) and an SPDX 2.3 document.

    \b
    Example:
      provenance report spdx --out sbom/
    """
    from reports.spdx import write_spdx3, write_spdx23

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = _facts(state)
    _done([write_spdx3(facts, out_dir), write_spdx23(facts, out_dir)], started, as_json)
