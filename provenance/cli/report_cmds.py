"""``provenance report``: the audit report, the data card, the model card, SPDX and Croissant."""

from __future__ import annotations

import functools
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
      provenance report eu-summary --student students/tiny-1 --answers eu-answers.yaml
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


@functools.cache
def _registry() -> Any:
    """The shipped teacher registry, read once."""
    from policies.registry import load_registry

    return load_registry()


def _registry_link(model: str) -> dict[str, Any] | None:
    """The teacher registry's entry for ``model``: its id, provider and first evidence link."""
    from policies.resolve import resolve_model

    entry = resolve_model(_registry(), model).entry
    if entry is None:
        return None
    url = next((e.url for e in entry.evidence if e.url), None)
    return {"entry": entry.id, "provider": entry.provider, "url": url}


def _student_subject(ledger: Ledger, folder: Path) -> Any:
    """The dataset and training of the student in ``folder``: its manifest's selection, the training
    its AUDIT.json names (else the newest training written to that folder)."""
    import json

    from audits.manifest import read_manifest
    from provenance.core.errors import InputError, NotFoundError
    from provenance.queries import eu
    from reports.eu_summary import Subject

    try:
        manifest = read_manifest(folder / "manifest.json")
    except FileNotFoundError:
        raise InputError("holds no manifest.json: not the folder of a trained student", path=folder) from None
    except ValueError as exc:
        raise InputError(str(exc), path=folder / "manifest.json") from None
    try:
        named = json.loads((folder / "AUDIT.json").read_text("utf-8"))["training"]["training_id"]
    except (OSError, ValueError, KeyError, TypeError):
        named = None
    training = eu.training(ledger, named) if named else eu.training_in_folder(ledger, str(folder.resolve()))
    if training is None:
        raise NotFoundError(f"no training in this ledger wrote the student in {folder}")
    root = manifest["merkle_root"]
    if training["dataset_id"] != root or eu.dataset_example_ids(ledger, root) != manifest["example_ids"]:
        raise InputError(
            f"the manifest's dataset {root[:16]} is not what training {training['training_id'][:12]} "
            "was trained on in this ledger",
            path=folder / "manifest.json",
        )
    return Subject(dataset_id=root, training=training, student_dir=folder, link=_registry_link)


@report.command("eu-summary")
@click.option(
    "--student", "student_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A trained student's folder: the summary covers exactly the examples that trained it.",
)  # fmt: skip
@click.option("--dataset", "dataset_id", metavar="ID", help="A dataset (gate selection) by its Merkle root.")
@click.option(
    "--answers", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="YAML with what only the provider can answer (provider, crawling, user data, opt-outs).",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (default: the student's folder; required with --dataset).",
)  # fmt: skip
@json_option
@pass_state
def eu_summary(
    state: State,
    student_dir: Path | None,
    dataset_id: str | None,
    answers: Path | None,
    out_dir: Path | None,
    as_json: bool,
) -> None:
    """The EU AI Act public summary of training content (AI Office template, July 2025).

    Fills from the ledger what it can answer: modalities, size band (tokens counted with the
    student's tokenizer), languages (langdetect), latest acquisition date, each declared source's
    share, the synthetic data with every generating model, its provider, share and link, the
    licences, and which checks ran. Each value names the query and the audit chain head it was read
    at. What only the provider can say comes from --answers; whatever is missing is written as "to
    be completed by the provider". Writes EU-SUMMARY.md and EU-SUMMARY.json.

    \b
    Example:
      provenance report eu-summary --student students/tiny-1 --answers eu-answers.yaml
    """
    from provenance.core.errors import InputError, NotFoundError
    from provenance.queries import eu
    from reports.eu_answers import load_answers
    from reports.eu_summary import Subject, build, write

    started = time.perf_counter()
    if (student_dir is None) == (dataset_id is None):
        raise InputError("give exactly one of --student DIR or --dataset ID")
    if out_dir is None and student_dir is None:
        raise InputError("--out is required with --dataset")
    filled = load_answers(answers) if answers else None
    with state.open(read_only=True) as ledger:
        if student_dir is not None:
            subject = _student_subject(ledger, student_dir)
        elif eu.dataset(ledger, str(dataset_id)) is None:
            raise NotFoundError(f"no dataset {dataset_id!r} in this ledger; `provenance stats` lists them")
        else:
            subject = Subject(dataset_id=str(dataset_id), link=_registry_link)
        summary = build(ledger, subject, filled)
    _done(write(summary, out_dir or student_dir), started, as_json)  # type: ignore[arg-type]
