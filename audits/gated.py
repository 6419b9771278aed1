"""Training only through the gate: verify, gate, fine-tune, record, report, then publish the folder.

The student is written into a hidden temporary folder next to ``out_dir`` and renamed to it only
when the model, its audit report and its manifest are all written, so an interrupted or failed
training never leaves a folder that looks like a finished student. A gate that says no trains
nothing and leaves only the audit report (and the manifest) in ``out_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from audits import report as audit_report
from audits.gate import GateReason, GateResult, evaluate
from audits.manifest import file_digests, write_manifest
from audits.verify import verify_ledger
from policies.packs import LoadedPack
from provenance.core.errors import InputError
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.core.trainings import Training, store_training
from provenance.queries import audit as trail
from provenance.queries import gate as gate_queries
from provenance.queries.trainings import student_of_weights

#: The audit report's files; the training's run records their content apart (see :func:`_train`).
AUDIT_FILES = ("AUDIT.json", "AUDIT.md")
REPORT_FILES = frozenset({*AUDIT_FILES, "manifest.json"})


@dataclass
class Outcome:
    """What ``provenance train`` did."""

    gate: GateResult
    out_dir: Path
    report: dict[str, Any]
    trained: bool
    training_id: str | None = None


def check_out_dir(out_dir: Path, force: bool, ledger_path: Path | None = None) -> None:
    """Refuse an output folder that exists and is not empty, unless forced or it holds only the
    audit report of an earlier refusal. Never replace a folder that holds the ledger, a git
    repository, or the working directory, forced or not."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("exists and is not a folder", path=out_dir)
    if out_dir.exists():
        resolved = out_dir.resolve()
        cwd = Path.cwd().resolve()
        inside = ledger_path is not None and resolved in Path(ledger_path).resolve().parents
        if inside or (resolved / ".git").exists() or resolved == cwd or resolved in cwd.parents:
            what = "the ledger" if inside else "a git repository or the working directory"
            raise InputError(f"holds {what}; the student goes in a folder of its own", path=out_dir)
    if not out_dir.exists() or force:
        return
    names = {p.name for p in out_dir.iterdir()}
    if names and not names <= REPORT_FILES:
        raise InputError("exists and is not empty; choose another --out or give --force", path=out_dir)
    if names:
        try:
            earlier = json.loads((out_dir / "AUDIT.json").read_text("utf-8"))
        except (OSError, ValueError):
            earlier = {}
        if earlier.get("verdict") != "failed":
            raise InputError("holds an audit report; choose another --out or give --force", path=out_dir)


def weights_digest(folder: Path) -> str:
    """sha256 over the model's weight files (name, size, bytes), in name order."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    for p in files:
        h.update(f"{p.name}\0{p.stat().st_size}\0".encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _chain(ledger: Ledger, verified: bool) -> dict[str, Any]:
    seq, head = trail.head(ledger)
    return {"seq": seq, "head": head, "verified": verified}


def _records(ledger: Ledger) -> list[Any]:
    """The examples the gate selected, as training records."""
    from audits.train import TrainRecord

    return [
        TrainRecord(eid, instruction, given or "", output, messages)
        for eid, instruction, given, output, messages in gate_queries.selected_examples(ledger)
    ]


def _publish(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp`` (the old folder is removed only once the new one is in place)."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train_through_gate(
    ledger: Ledger,
    loaded: LoadedPack,
    registry: Any,
    *,
    student: str,
    out_dir: Path,
    config: Any,
    student_id: str | None = None,
    force: bool = False,
    sign_key: Path | None = None,
    today: date | None = None,
    progress: Any = None,
) -> Outcome:
    """Verify the ledger, run the gate, and train the student only when it passes.

    ``student`` is what is trained (``tiny``, a checkpoint folder, a hub id); ``student_id`` the
    model id the licence policy judges (default: :func:`audits.train.student_identity`).
    """
    from audits.signing import check_key, report_digest, sign, sign_folder, statement
    from audits.train import student_identity

    out_dir = Path(out_dir)
    check_out_dir(out_dir, force, ledger.path)
    identity = student_id or _trained_here(ledger, Path(student)) or student_identity(student)
    if sign_key is not None:
        if not Path(sign_key).is_file():
            raise InputError("no such key file (make one with `provenance keygen`)", path=sign_key)
        check_key(Path(sign_key), folder=True)  # a key that cannot sign fails now, before training
    verified = verify_ledger(ledger)
    gate = evaluate(ledger, loaded, registry, student=identity, today=today)
    if not verified.ok:
        first = verified.problems[0]
        gate.reasons.insert(0, GateReason("ledger-altered", f"`provenance verify` failed: {first.message}"))
        gate.passed = False
    _remove_stale_partials(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        write_manifest(tmp / "manifest.json", gate.selected, gate.merkle_root, gate.manifest_meta())
        training_id = None
        if gate.passed:
            report, training_id = _train(ledger, gate, student, tmp, config, progress, sign_key is not None)
        else:
            report = audit_report.build(gate, chain={}, training=None)
        report["audit_chain"] = chain = _chain(ledger, verified.ok)
        if sign_key is not None:
            model = report["training"]["model_digest"] if report["training"] else None
            message = statement(chain["head"], gate.merkle_root, model, report_digest(report))
            report["signature"] = sign(Path(sign_key), message)
        audit_report.write(tmp, report)
        if sign_key is not None and training_id is not None:
            sign_folder(Path(sign_key), tmp)  # every file, the weights and the audit report included
        _publish(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Outcome(gate, out_dir, report, gate.passed, training_id)


def _trained_here(ledger: Ledger, folder: Path) -> str | None:
    """The student a checkpoint was judged as when this ledger trained it: found by the digest of
    its weights (a copied AUDIT.json proves nothing), or None."""
    if not folder.is_dir() or not any(p.suffix in (".safetensors", ".bin") for p in folder.iterdir()):
        return None
    return student_of_weights(ledger, weights_digest(folder))


def _remove_stale_partials(out_dir: Path) -> None:
    """Remove what an interrupted training left next to ``out_dir`` (its process is gone)."""
    if not out_dir.parent.is_dir():
        return
    for partial in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = partial.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _train(
    ledger: Ledger, gate: GateResult, student: str, tmp: Path, config: Any, progress: Any, signed: bool
) -> tuple[dict[str, Any], str]:
    """Fine-tune into ``tmp``; record the training (an audited run) with its edge to the dataset.

    The run's summary also records the sha256 of every file of the student (``files``), of the
    audit report's content (``report``: all of AUDIT.json but its chain head, which is this run's
    own audit row, and its signature) and whether the folder is to be signed, so that
    ``provenance verify --student`` notices any file edited afterwards. Returns the report
    (without its chain head) and the training id."""
    from audits.signing import SIGNATURE_FILE, report_body_digest
    from audits.train import train_student

    records = _records(ledger)
    params = {"student": student, "dataset": gate.merkle_root, "config": config.as_dict()}
    with ledger.run("train", params, atomic=False) as run:
        result = train_student(records, student, tmp, config, progress=progress)
        digest = weights_digest(tmp)
        training_id = content_id({"dataset": gate.merkle_root, "model": digest, "run": run.run_id})
        stored = Training(
            training_id=training_id,
            dataset_id=gate.merkle_root,
            student=student,
            kind=result.student.get("kind", "checkpoint"),
            base_model=result.student.get("base_model"),
            path=str(gate_out(tmp)),
            model_digest=digest,
            config=result.config,
            metrics=result.metrics,
        )
        training = {
            "run_id": run.run_id,
            "student": result.student,
            "model_digest": digest,
            "config": result.config,
            "metrics": result.metrics,
            "seconds": round(result.seconds, 3),
            "files": result.files,
            "training_id": training_id,
        }
        report = audit_report.build(gate, chain={}, training=training)
        sealed = {
            "files": file_digests(tmp, (*AUDIT_FILES, SIGNATURE_FILE)),
            "report": report_body_digest(report),
            "signed": signed,
        }
        with run.step():
            store_training(ledger, stored, run.run_id)
            seq, head = trail.head(ledger)  # the chain head this training saw (verify warns if it goes)
            sealed["chain_head"] = {"seq": seq, "hash": head}
            run.end({"training_id": training_id, "model_digest": digest, "metrics": result.metrics, **sealed})
    return report, training_id


def gate_out(tmp: Path) -> Path:
    """The published folder a temporary training folder becomes."""
    name = tmp.name.removeprefix(".")
    return tmp.with_name(name.rsplit(".partial-", 1)[0]).resolve()
