"""The Hugging Face model card (README.md with YAML metadata) of a student, written from a ledger's facts.

The base model, the dataset it was trained on, the licence, and every obligation of the training
data's terms as a requirement; every number is read from the ledger.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from provenance.core.errors import AmbiguousIdError, InputError, NotFoundError
from provenance.core.files import write_text
from reports.card_text import (
    HUB_ID,
    MIN_PREFIX,
    TEMPLATE,
    audit_section,
    hub_licence,
    requirement,
    safe,
    table,
    unique,
)
from reports.eu_summary_model import JSON_FILE as EU_JSON_FILE
from reports.eu_summary_model import MD_FILE as EU_MD_FILE
from reports.facts import Facts, Obligation, Training

HubLicence = tuple[str, str | None, str | None]


def _training(facts: Facts, training_id: str) -> Training:
    exact = [t for t in facts.trainings if t.training_id == training_id]
    if exact:
        return exact[0]
    if len(training_id) < MIN_PREFIX:
        raise InputError(
            f"training id prefix {training_id!r} is too short: give at least {MIN_PREFIX} characters"
        )
    found = [t for t in facts.trainings if str(t.training_id).startswith(training_id)]
    if not found:
        raise NotFoundError(
            f"no training {training_id!r} in this ledger; `provenance stats` lists the trainings"
        )
    if len(found) > 1:
        raise AmbiguousIdError(
            f"training id prefix {training_id!r} matches {len(found)} trainings; give more"
        )
    return found[0]


def _base_licence(training: Training) -> str | None:
    """The base model's licence, when the gate's judgement of the student names it."""
    finding = (training.gate or {}).get("student_finding") or {}
    if finding.get("licence"):
        return str(finding["licence"])
    reason = str(finding.get("reason") or "")
    m = re.match(r"base model .+? \(([^()]+)\): ", reason) or re.match(
        r"declared base licence (\S+?):", reason
    )
    return m.group(1) if m else None


def model_card(facts: Facts, training_id: str) -> str:
    """The model card (README.md text) for one training: a full id or a prefix of at least 6 characters.
    :class:`NotFoundError` when no training matches."""
    from huggingface_hub import ModelCard, ModelCardData

    t = _training(facts, training_id)
    disk = on_disk(t)
    kind, base = t.student_kind, t.base_model
    gate = t.gate or {}
    scratch = kind == "tiny" or not base
    hub_base = base if base and not scratch and (kind == "hub" or HUB_ID.match(str(base))) else None
    base_licence = None if scratch else _base_licence(t)
    if base_licence:
        licence, name, link = hub_licence([base_licence])
    else:
        # no base licence applies or is known: the student's use is bound by its training data's terms
        licence, name, link = "other", "bound-by-training-data-terms", None
    dataset = f"provenance-dataset-{str(t.dataset_id)[:16]}"
    tags = ["provenance", "synthetic-data", "distillation"] + (["trained-from-scratch"] if scratch else [])
    obligations = unique(
        [*(gate.get("obligations") or []), *((gate.get("student_finding") or {}).get("obligations") or [])]
    )
    extra = {"license_name": name, "license_link": link}
    if hub_base:
        extra["base_model_relation"] = "finetune"
    data = ModelCardData(
        base_model=hub_base,
        datasets=[dataset],
        license=licence,
        language=["en"],
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=tags,
        obligations=[
            {k: o.get(k) for k in ("kind", "text", "when", "source") if o.get(k) is not None}
            for o in obligations
        ],
        provenance={
            "training_id": t.training_id,
            "dataset_id": t.dataset_id,
            "weights_sha256": disk.weights or t.model_digest,
            "gate": "passed" if gate.get("passed") else ("failed" if gate else None),
            "audit_chain_head": facts.audit.head,
            "audit_entries": facts.audit.entries,
            "tool": "provenance",
            "tool_version": facts.tool_version,
        },
        **{k: v for k, v in extra.items() if v is not None},
    )
    body = _model_body(facts, t, obligations, base_licence, (licence, name, link), dataset, hub_base)
    body = body.replace(_WEIGHTS_MARK, "\n".join(_weights(t, disk)))
    card = ModelCard.from_template(data, template_str=TEMPLATE, body=body)
    return str(card).rstrip("\n") + "\n"


# ---- the body, section by section -----------------------------------------------------------------


def _model(t: Training, base_licence: str | None, licence: HubLicence, hub_base: str | None) -> list[str]:
    config = t.config or {}
    lines = ["## Model", ""]
    if t.student_kind == "tiny" or not t.base_model:
        dims = ", ".join(f"{k.removeprefix('tiny_')} {config[k]}" for k in config if k.startswith("tiny_"))
        lines.append(
            "A tiny causal language model trained from scratch by provenance"
            + (f" ({dims})" if dims else "")
            + ". It has no base model, so no base model licence applies."
        )
    else:
        where = f"`{safe(hub_base)}`" if hub_base else f"the local checkpoint `{safe(t.base_model)}`"
        lines.append(f"Fine-tuned from {where} ({safe(t.student_kind)} student).")
        lines.append(
            f"Base model licence: `{safe(base_licence)}`."
            if base_licence
            else "The base model's licence is not recorded in the ledger."
        )
    hub, name, _ = licence
    return [
        *lines,
        "",
        f"The hub's `license` field says `{hub}`" + (f" (`{name}`)" if name else "") + ". Whatever it says, "
        "the obligations below, which come from the training data's terms, bind this model.",
        "",
    ]


def _data(t: Training, dataset: str) -> list[str]:
    gate = t.gate or {}
    lines = [
        "## Training data",
        "",
        f"- Dataset `{dataset}`: Merkle root `{t.dataset_id}` over the sorted ids of its "
        f"{t.dataset_examples} examples.",
        f"- Policy pack `{safe(t.pack)}` (sha256 `{t.pack_hash}`), teacher registry "
        f"{safe(t.registry_version)}.",
    ]
    if "use" in gate:
        dist = "cleared for distribution" if gate.get("distribute") else "not cleared for distribution"
        lines.append(f"- Judged for **{safe(gate.get('use'))}** use, {dist}.")
    else:
        lines.append("- The gate record of this training does not state the use it was judged for.")
    if gate.get("teacher_mix"):
        lines += ["", *table(["teacher", "examples"], [[k, v] for k, v in gate["teacher_mix"].items()])]
    return lines


def _verdicts(gate: dict[str, Any]) -> list[str]:
    lines = ["", "## Gate and licence verdicts", ""]
    if not gate:
        return [*lines, "No gate record is linked to this training."]
    finding = gate.get("student_finding") or {}
    verdict = "PASSED" if gate.get("passed") else "FAILED"
    lines.append(
        f"The gate **{verdict}** for this dataset: {gate.get('selected')} of {gate.get('examples')} "
        "examples selected."
    )
    for r in gate.get("reasons") or []:
        text = f"{r.get('code')}: {r.get('message')}" if isinstance(r, dict) else r
        lines.append(f"- {safe(text)}")
    if gate.get("licence_verdicts"):
        lines += [
            "",
            *table(["licence verdict", "examples"], [[k, v] for k, v in gate["licence_verdicts"].items()]),
        ]
    if finding:
        lines += [
            "",
            f"The student itself: **{safe(finding.get('verdict'))}**: {safe(finding.get('reason'))}",
        ]
    return lines


def _obligations(gate: dict[str, Any], obligations: list[Obligation]) -> list[str]:
    lines = ["", "## Obligations", ""]
    if obligations:
        lines += ["These travel from the training data's terms and the student's licence to this model:", ""]
        lines += [requirement(o, model=True) for o in obligations]
    elif "obligations" in gate:
        lines.append("The gate recorded no obligations for this model.")
    else:
        lines.append(
            "The gate record of this training predates obligation tracking: no obligations were recorded. "
            "The teachers' terms on the dataset card still apply."
        )
    return lines


def _configuration(t: Training) -> list[str]:
    config, metrics = t.config or {}, t.metrics or {}
    lines = ["", "## Training configuration and metrics", ""]
    lines += table(["setting", "value"], [[k, v] for k, v in config.items()])
    lines += [""]
    lines += table(
        ["metric", "value"],
        [[k, ", ".join(map(str, v)) if isinstance(v, list) else v] for k, v in metrics.items()],
    )
    return [*lines, "", _WEIGHTS_MARK]


# ---- the files on disk ----------------------------------------------------------------------------

_WEIGHTS_MARK = "<!-- weights -->"


class OnDisk:
    """What the student's folder holds now: its weights' digest and its manifest's Merkle root
    (None when the folder, the weights or the manifest are not there)."""

    def __init__(self, folder: Path | None, weights: str | None, root: str | None) -> None:
        self.folder, self.weights, self.root = folder, weights, root


def on_disk(t: Training) -> OnDisk:
    """Read the student's folder (``out_dir`` of the training) as it is on this machine."""
    folder = Path(t.out_dir) if t.out_dir else None
    if folder is None or not folder.is_dir():
        return OnDisk(None, None, None)
    # the digest of audits.gated.weights_digest: each weight file's name, size and bytes, in name order
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}\0{p.stat().st_size}\0".encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    try:
        root = json.loads((folder / "manifest.json").read_text("utf-8")).get("merkle_root")
    except (OSError, ValueError, AttributeError):
        root = None
    return OnDisk(folder, h.hexdigest() if files else None, root if isinstance(root, str) else None)


def _weights(t: Training, disk: OnDisk) -> list[str]:
    """The weights section, from the files on disk; each value that disagrees with the ledger named."""
    lines = ["## Weights", ""]
    how = "over the weight files (`*.safetensors`, `*.bin`) in name order, each as its name, size and bytes"
    if disk.folder is None:
        lines.append(
            f"- sha256 `{t.model_digest}` (as the ledger records it: the student's folder is not "
            f"on this machine): {how}."
        )
        return lines
    lines.append(f"- sha256 `{disk.weights}`, read from the files in the student's folder: {how}.")
    disagree = []
    if disk.weights != t.model_digest:
        disagree.append(
            f"the weights: the ledger recorded sha256 `{t.model_digest}`, the folder holds `{disk.weights}`"
        )
    if disk.root != t.dataset_id:
        disagree.append(
            f"manifest.json: the ledger recorded Merkle root `{t.dataset_id}`, the folder's "
            f"manifest says `{disk.root}`"
        )
    if disagree:
        lines += [
            "",
            "**The files on disk disagree with the ledger**; "
            "`provenance verify --student FOLDER` names every file that changed:",
            "",
        ]
        lines += [f"- {d}" for d in disagree]
    else:
        lines.append("- The weights and manifest.json on disk match the ledger's record of this training.")
    return lines


def _eu_summary(t: Training) -> list[str]:
    """A link to the EU training-content summary beside the student, with its sha256, when it is there."""
    if not t.eu_summary:
        return []
    lines = ["", "## EU AI Act public summary of training content", ""]
    lines.append(
        f"The summary of the content this model was trained on, following the AI Office's template, is "
        f"[{EU_MD_FILE}]({EU_MD_FILE}) (machine-readable: [{EU_JSON_FILE}]({EU_JSON_FILE})) in the "
        "student's folder."
    )
    lines += [""] + [f"- {name} sha256 `{digest}`" for name, digest in t.eu_summary.items()]
    return lines


def _model_body(
    facts: Facts,
    t: Training,
    obligations: list[Obligation],
    base_licence: str | None,
    licence: HubLicence,
    dataset: str,
    hub_base: str | None,
) -> str:
    gate = t.gate or {}
    lines = [
        f"# Student `{safe(t.student)}` (training {str(t.training_id)[:12]})",
        "",
        f"This card was written by provenance {facts.tool_version} from its ledger and the student's "
        "folder: every number on it is read from the ledger, the weights' digest from the files on disk.",
        "",
        *_model(t, base_licence, licence, hub_base),
        *_data(t, dataset),
        *_verdicts(gate),
        *_obligations(gate, obligations),
        *_configuration(t),
        *_eu_summary(t),
        "",
        "## Provenance and how to verify it",
        "",
        *audit_section(facts),
    ]
    return "\n".join(lines)


def write_model_card(facts: Facts, training_id: str, out_dir: Path) -> Path:
    """Write the model card for one training to ``<out_dir>/README.md`` (next to the student)."""
    text = model_card(facts, training_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    write_text(path, text)
    return path
