"""``provenance report``: the audit report, the data card, the model card, SPDX and Croissant."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state

if TYPE_CHECKING:
    from provenance.core.ledger import Ledger
    from reports.facts import Facts


def _out_option(fn: Any) -> Any:
    return click.option(
        "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
        help="Folder to write into (created when missing).",
    )(fn)  # fmt: skip


def _collect(ledger: Ledger) -> Facts:
    """The facts every report is written from, with what verify found."""
    from audits.verify import verify_ledger
    from reports.facts import collect

    result = verify_ledger(ledger)
    verified = {
        "ok": result.ok,
        "entries": result.entries,
        "first_problem": result.problems[0].message if result.problems else None,
    }
    return collect(ledger, verified=verified)


def _facts(state: State) -> Facts:
    """Read the ledger once: the facts every report is written from, with what verify found."""
    with state.open(read_only=True) as ledger:
        return _collect(ledger)


def _done(paths: list[Path], started: float, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        seconds = round(time.perf_counter() - started, 3)
        echo_json({"files": [str(p) for p in paths], "seconds": seconds, **(extra or {})})
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
      provenance report croissant --out release/
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
    from reports.dataset_card import write_dataset_card

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
    from reports.model_card import write_model_card

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
    from reports.spdx3 import write_spdx3
    from reports.spdx23 import write_spdx23

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = _facts(state)
    _done([write_spdx3(facts, out_dir), write_spdx23(facts, out_dir)], started, as_json)


@report.command("croissant")
@_out_option
@click.option("--name", help="The dataset's name in the description.")
@json_option
@pass_state
def croissant(state: State, out_dir: Path, name: str | None, as_json: bool) -> None:
    """A Croissant 1.1 description with Responsible-AI fields, beside the exported data.

    Exports every example with its provenance to DIR/data.jsonl, then writes DIR/croissant.json:
    licences, the file and its sha256, the record set `examples` (content, teacher, licence and
    terms by column), and the RAI fields the ledger can fill: how the data was made, personal
    information found, biases, limitations (checks not run and why), use cases and conditions,
    the teacher models. mlcroissant loads it back offline and a few records read through it are
    compared with the ledger. Needs `pip install 'provenance[croissant]'`.

    \b
    Example:
      provenance report croissant --out release/
    """
    from provenance.core.export import export
    from reports.croissant import DATA_FILE, CroissantError, require_mlcroissant, write_croissant
    from reports.croissant_validate import validate

    started = time.perf_counter()
    require_mlcroissant()  # before any work: without it nothing can be validated
    out_dir.mkdir(parents=True, exist_ok=True)
    with state.open(read_only=True) as ledger:
        facts = _collect(ledger)
        data = Path(export(ledger, out_dir / DATA_FILE, "jsonl")["path"])
        path = write_croissant(facts, out_dir, data, name=name)
        try:
            checked = validate(path, ledger, expected=facts.dataset.examples)
        except CroissantError as exc:  # never leave an invalid description under the name of a valid one
            rejected = path.replace(path.with_name(f"rejected-{path.name}"))
            raise CroissantError([*exc.problems, f"the description is kept as {rejected}"]) from exc
    _done([data, path], started, as_json, {"validated": checked})
    if not as_json:
        missing = ", ".join(checked["recommended_missing"])
        console().print(
            f"validated with mlcroissant: {checked['records_checked']} records read back match the ledger"
            + (f"; recommended but not in the ledger, so left out: {missing}" if missing else "")
        )
        for warning in checked["warnings"]:
            console().print(f"mlcroissant: {warning}")
