"""Verify a student's folder: every file against what its training recorded, and its signature.

The training's run (an audited row of the ledger) records the sha256 of every file of the student as
written (weights, configuration, tokenizer, manifest.json), of the audit report's content (AUDIT.json
but its chain head and signature) and whether the folder was signed. :func:`check_student`
re-hashes every file against that list and against the training row (weights digest, Merkle root),
checks that AUDIT.json's chain head is the training's own audit row and that AUDIT.md is what
AUDIT.json renders to, and, with a public key, checks the folder's OpenSSF model-signing signature
(``model.sig``), which covers every file. Each mismatch names the file, what was expected and what
was found.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audits.manifest import file_digests, file_sha256, read_manifest
from audits.signing import (
    SIGNATURE_FILE,
    check,
    check_folder,
    report_body_digest,
    report_digest,
    signed_files,
)
from audits.signing import statement as signed_statement
from provenance.core.errors import InputError
from provenance.core.ledger import Ledger
from provenance.queries.trainings import StudentRecord, student_record

#: The audit report's files, checked apart from the recorded list (see the module's docstring).
AUDIT_JSON, AUDIT_MD = "AUDIT.json", "AUDIT.md"
#: Documents that ``provenance report`` writes into a student's folder after its training: allowed,
#: and listed as not covered by the training's record.
LATER_DOCUMENTS = frozenset(
    {"README.md", "dataset.spdx3.json", "dataset.spdx.json", "EU-SUMMARY.md", "EU-SUMMARY.json"}
)
MISSING = "missing"


@dataclass(frozen=True)
class Mismatch:
    """One file that is not what the record says: the file, what was expected, what was found."""

    file: str
    expected: str
    found: str

    def line(self) -> str:
        """One line for the terminal."""
        return f"{self.file}: expected {self.expected}, found {self.found}"


@dataclass
class StudentCheck:
    """What ``provenance verify --student`` found."""

    folder: str
    training_id: str | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signature: str | None = None  # "valid", "not checked", or why not

    @property
    def ok(self) -> bool:
        """True when every file is what the training recorded (and the signature, if checked, holds)."""
        return not self.mismatches

    @property
    def lines(self) -> list[str]:
        """The findings, one line each, mismatches first."""
        head = f"student {self.folder}" + (f" (training {self.training_id[:12]})" if self.training_id else "")
        verdict = "every file matches the ledger" if self.ok else f"{len(self.mismatches)} files do NOT match"
        return [
            f"{head}: {verdict}",
            *(f"  ✗ {m.line()}" for m in self.mismatches),
            *(f"  note: {n}" for n in self.notes),
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "ok": self.ok,
            "folder": self.folder,
            "training_id": self.training_id,
            "mismatches": [asdict(m) for m in self.mismatches],
            "notes": self.notes,
            "signature": self.signature,
        }


def _report(folder: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((folder / AUDIT_JSON).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _find(ledger: Ledger, folder: Path, report: dict[str, Any] | None, weights: str) -> StudentRecord | None:
    """The training of this folder: the one its AUDIT.json names, else the one written to this
    folder, else the one with these weights (everything is then checked against it)."""
    named = ((report or {}).get("training") or {}).get("training_id")
    return student_record(
        ledger,
        training_id=named if isinstance(named, str) else None,
        out_dir=str(folder.resolve()),
        model_digest=weights,
    )


def _files(folder: Path, record: StudentRecord, result: StudentCheck) -> None:
    """Every recorded file against its digest; every other file is named (a later document is a note)."""
    recorded = record.summary.get("files")
    on_disk = file_digests(folder, (AUDIT_JSON, AUDIT_MD, SIGNATURE_FILE))
    if not isinstance(recorded, dict):
        result.notes.append(
            "the ledger recorded no per-file digests for this training (trained by an earlier version): "
            "only the weights, the manifest and the report's chain head are checked"
        )
        return
    for name, want in sorted(recorded.items()):
        got = on_disk.get(name)
        if got != want:
            result.mismatches.append(Mismatch(name, f"sha256 {want}", f"sha256 {got}" if got else MISSING))
    for name, got in sorted(on_disk.items()):
        if name in recorded:
            continue
        if name in LATER_DOCUMENTS:
            result.notes.append(f"{name} was written after the training; the record does not cover it")
        else:
            result.mismatches.append(
                Mismatch(name, "no such file (not written by the training)", f"sha256 {got}")
            )


def _training_row(folder: Path, record: StudentRecord, found: str, result: StudentCheck) -> None:
    """The weights (``found``: their digest now) against the training row's digest, manifest.json
    against its Merkle root."""
    if found != record.model_digest:
        result.mismatches.append(
            Mismatch("weights (*.safetensors, *.bin)", f"digest {record.model_digest}", f"digest {found}")
        )
    try:
        root = str(read_manifest(folder / "manifest.json")["merkle_root"])
    except OSError:
        root = MISSING
    except (ValueError, KeyError, TypeError) as exc:
        root = f"a manifest that does not check out ({exc})"
    if root != record.dataset_id:
        result.mismatches.append(Mismatch("manifest.json", f"Merkle root {record.dataset_id}", root))


def _audit_files(
    folder: Path, record: StudentRecord, report: dict[str, Any] | None, result: StudentCheck
) -> None:
    """AUDIT.json's content and chain head against the training's run; AUDIT.md against AUDIT.json."""
    from audits.report import markdown

    if report is None:
        found = MISSING if not (folder / AUDIT_JSON).exists() else "not a JSON object"
        result.mismatches.append(Mismatch(AUDIT_JSON, "the training's audit report", found))
        return
    want = record.summary.get("report")
    if want is not None and report_body_digest(report) != want:
        result.mismatches.append(
            Mismatch(AUDIT_JSON, f"content sha256 {want}", f"content sha256 {report_body_digest(report)}")
        )
    chain = report.get("audit_chain") or {}
    if record.audit_hash is not None and (chain.get("seq"), chain.get("head")) != (
        record.audit_seq,
        record.audit_hash,
    ):
        result.mismatches.append(
            Mismatch(
                AUDIT_JSON,
                f"chain head {record.audit_hash} (row {record.audit_seq}, the training's audit row)",
                f"chain head {chain.get('head')} (row {chain.get('seq')})",
            )
        )
    md = folder / AUDIT_MD
    if not md.is_file():
        result.mismatches.append(Mismatch(AUDIT_MD, "the rendering of AUDIT.json", MISSING))
    elif md.read_text("utf-8", errors="replace") != markdown(report):
        result.mismatches.append(
            Mismatch(AUDIT_MD, "the rendering of AUDIT.json", f"other text (sha256 {file_sha256(md)})")
        )


def _signature(
    folder: Path,
    record: StudentRecord,
    report: dict[str, Any] | None,
    pubkey: Path | None,
    result: StudentCheck,
) -> None:
    """A signed student keeps its signature; with ``pubkey``, the signature and the report's hold."""
    signature = folder / SIGNATURE_FILE
    signed = bool(record.summary.get("signed"))
    if signed and not signature.is_file():
        result.mismatches.append(
            Mismatch(SIGNATURE_FILE, "the signature (the ledger says the student was signed)", MISSING)
        )
    elif not signed and signature.is_file() and "files" in record.summary:
        result.mismatches.append(
            Mismatch(
                SIGNATURE_FILE, "no signature (the ledger says the student was not signed)", "a signature"
            )
        )
    if pubkey is None:
        result.signature = "not checked (no --pubkey)"
        return
    problem = check_folder(pubkey, folder) if signature.is_file() else "the folder is not signed"
    if problem is None:
        result.signature = "valid"
    else:
        result.signature = problem
        _name_signed_files(folder, result, problem)
    block = (report or {}).get("signature")
    if block and report is not None:
        chain = report.get("audit_chain") or {}
        model = (report.get("training") or {}).get("model_digest")
        root = (report.get("dataset") or {}).get("merkle_root", "")
        message = signed_statement(chain.get("head", ""), root, model, report_digest(report))
        if not check(pubkey, block, message):
            result.mismatches.append(Mismatch(AUDIT_JSON, "a report signature valid for this key", "INVALID"))


def _name_signed_files(folder: Path, result: StudentCheck, problem: str) -> None:
    """A signature that fails: each file it lists that differs, else the signature itself."""
    if problem.startswith("Signature mismatch"):  # the signature holds; files it covers changed
        on_disk = file_digests(folder, (SIGNATURE_FILE,))
        named = {m.file for m in result.mismatches}
        for name, want in sorted(signed_files(folder / SIGNATURE_FILE).items()):
            got = on_disk.get(name)
            if got != want:
                detail = f"signed sha256 {want}"
                result.mismatches.append(
                    Mismatch(name, detail, f"sha256 {got}" if got else MISSING)
                    if name not in named
                    else Mismatch(name, detail + " (signature fails)", f"sha256 {got}" if got else MISSING)
                )
        return
    result.mismatches.append(Mismatch(SIGNATURE_FILE, "a signature valid for this public key", problem))


def check_student(ledger: Ledger, folder: Path, pubkey: Path | None = None) -> StudentCheck:
    """Check a student's folder against this ledger's record of its training (and, with ``pubkey``,
    its signature). :class:`InputError` when ``folder`` is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder (give the student's folder)", path=folder)
    result = StudentCheck(str(folder))
    from audits.gated import weights_digest

    report, weights = _report(folder), weights_digest(folder)
    record = _find(ledger, folder, report, weights)
    if record is None:
        result.mismatches.append(
            Mismatch(str(folder), "a student this ledger trained", "no training of this ledger matches it")
        )
        return result
    result.training_id = record.training_id
    _files(folder, record, result)
    _training_row(folder, record, weights, result)
    _audit_files(folder, record, report, result)
    _signature(folder, record, report, pubkey, result)
    return result
