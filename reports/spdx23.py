"""The SPDX 2.3 (JSON) document of the dataset and its trained models.

Written through spdx-tools from the format-neutral plan of :mod:`reports.spdx`, and validated with
spdx-tools' own validator before it is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.core.files import atomic_path
from reports.facts import Facts
from reports.spdx import BASE, DatasetPackage, ModelPackage, Plan, SpdxError, plan

SPDX23_FILE = "dataset.spdx.json"
_PII = {"yes": "found", "no": "none found", "noAssertion": "no assertion"}


def _licence(text: str) -> Any:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.license_expression_parser import LicenseExpressionParser

    try:
        return LicenseExpressionParser.parse_license_expression(text)
    except SPDXParsingError as exc:
        raise SpdxError(exc.get_messages()) from exc


def _dataset(doc: Any, d: DatasetPackage) -> None:
    from spdx_tools.spdx.model import Package, Relationship, RelationshipType, SpdxNoAssertion

    spdx_id = f"SPDXRef-{d.key}"
    description = [d.collection]
    if d.biases:
        description.append("Known biases: " + " ".join(d.biases))
    doc.packages.append(
        Package(
            spdx_id=spdx_id,
            name=d.name,
            download_location=SpdxNoAssertion(),
            files_analyzed=False,
            license_declared=_licence(d.declared),
            license_concluded=_licence(d.concluded),
            license_comment=f"Concluded: {d.concluded_note}.",
            summary=d.summary,
            description="\n".join(description),
            source_info=d.source_info,
            comment=f"{d.comment} Sensitive personal information: {_PII[d.pii]}."
            + (f" Anonymization: {', '.join(d.anonymization)}." if d.anonymization else ""),
        )
    )
    if d.parent is None:  # the document describes what SPDX 3.0.1 lists as root elements
        doc.relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, spdx_id))
    else:
        doc.relationships.append(
            Relationship(spdx_id, RelationshipType.DESCENDANT_OF, f"SPDXRef-{d.parent}", "gate selection")
        )


def _model(doc: Any, mod: ModelPackage) -> None:
    from spdx_tools.spdx.model import (
        Checksum,
        ChecksumAlgorithm,
        Package,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )

    spdx_id = f"SPDXRef-{mod.key}"
    hyper = ", ".join(f"{k}={v}" for k, v in mod.hyperparameters)
    comment = " ".join(
        x for x in (mod.comment, f"Limitations: {mod.limitation}" if mod.limitation else "") if x
    )
    doc.packages.append(
        Package(
            spdx_id=spdx_id,
            name=mod.name,
            download_location=SpdxNoAssertion(),
            files_analyzed=False,
            checksums=[Checksum(ChecksumAlgorithm.SHA256, mod.digest)] if mod.digest else [],
            license_declared=_licence(mod.declared),
            license_concluded=_licence(mod.concluded),
            license_comment=f"Declared: {mod.declared_note}. Concluded: {mod.concluded_note}.",
            summary=", ".join(mod.types),
            description=mod.training + (f" Hyperparameters: {hyper}." if hyper else ""),
            comment=comment or None,
            built_date=mod.built.replace(tzinfo=None) if mod.built else None,
        )
    )
    doc.relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, spdx_id))
    # SPDX 2.3 has no "trained on". GENERATED_FROM ("A is generated from B") says the weights were
    # produced from the data; DEPENDS_ON or DATA_FILE_OF would say the model needs the data to run.
    doc.relationships.append(
        Relationship(spdx_id, RelationshipType.GENERATED_FROM, f"SPDXRef-{mod.dataset}", "trained on")
    )


def _document(p: Plan) -> Any:
    from spdx_tools.spdx.model import Actor, ActorType, CreationInfo, Document

    return Document(
        CreationInfo(
            spdx_version="SPDX-2.3",
            spdx_id="SPDXRef-DOCUMENT",
            name=f"SPDX for {p.datasets[0].name}",
            document_namespace=f"{BASE}/{p.namespace}/spdx-2.3",
            creators=[Actor(ActorType.TOOL, p.tool.replace(" ", "-"))],
            created=p.created.replace(tzinfo=None),
            creator_comment=f"Written from a provenance ledger, {p.chain}." if p.chain else None,
        )
    )


def spdx23_document(facts: Facts, *, namespace: str | None = None) -> Any:
    """The SPDX 2.3 document (an spdx-tools ``Document``), not yet validated."""
    from spdx_tools.spdx.model import ExtractedLicensingInfo

    p = plan(facts, namespace)
    doc = _document(p)
    for d in p.datasets:
        _dataset(doc, d)
    for mod in p.models:
        _model(doc, mod)
    for ref, text in p.ref_texts.items():
        doc.extracted_licensing_info.append(
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=text,
                license_name=ref.removeprefix("LicenseRef-"),
                comment="a licence reference declared in the provenance ledger",
            )
        )
    return doc


def write_spdx23(facts: Facts, out_dir: Path) -> Path:
    """Validate the SPDX 2.3 document with spdx-tools, then write ``<out_dir>/dataset.spdx.json``.

    Raises SpdxError listing the validator's messages when it finds any.
    """
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    from spdx_tools.spdx.writer.write_anything import write_file

    doc = spdx23_document(facts)
    problems = validate_full_spdx_document(doc)
    if problems:
        raise SpdxError(
            [
                f"{p.context.spdx_id or p.context.parent_id or 'document'}: {p.validation_message}"
                for p in problems
            ]
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPDX23_FILE
    with atomic_path(path) as partial:
        write_file(doc, str(partial), validate=False)  # validated just above
    return path
