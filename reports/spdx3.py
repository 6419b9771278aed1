"""The SPDX 3.0.1 (JSON-LD) document of the dataset and its trained models.

Written through ``spdx-python-model``, the official generated bindings, from the format-neutral
plan of :mod:`reports.spdx`; the bindings check required properties, counts and patterns as they
serialize.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

from provenance.core.files import write_bytes
from provenance.core.ids import content_id
from reports.facts import Facts
from reports.spdx import BASE, LEDGER_KEY, DatasetPackage, ModelPackage, Plan, SpdxError, plan
from reports.statements import LICENSE_REF

SPDX3_FILE = "dataset.spdx3.json"


class _Builder:
    """The elements of one SPDX 3.0.1 document as they are made, with the licences and packages
    made so far (each licence expression is one element, shared)."""

    def __init__(self, m: Any, p: Plan) -> None:
        self.m, self.plan = m, p
        self.base = f"{BASE}/{p.namespace}"
        self.info = m.CreationInfo(specVersion="3.0.1", created=p.created)
        if p.chain:
            self.info.comment = f"Written from a provenance ledger, {p.chain}."
        agent = m.SoftwareAgent(spdxId=f"{self.base}/agent-provenance", name=p.tool, creationInfo=self.info)
        tool = m.Tool(spdxId=f"{self.base}/tool-provenance", name=p.tool, creationInfo=self.info)
        self.info.createdBy.append(agent)
        self.info.createdUsing.append(tool)
        self.elements: list[Any] = [agent, tool]
        self.licences: dict[str, Any] = {}
        self.packages: dict[str, Any] = {}
        self.providers: dict[str, Any] = {}
        self.origin: dict[str, str] = {}

    def licence(self, text: str) -> Any:
        """The licence expression element for ``text`` (made once)."""
        if text not in self.licences:
            expr = self.m.simplelicensing_LicenseExpression(
                spdxId=f"{self.base}/licence-{content_id(text)[:16]}",
                creationInfo=self.info,
                simplelicensing_licenseExpression=text,
            )
            refs = [ref for ref in LICENSE_REF.findall(text) if ref in self.plan.ref_texts]
            notes = [f"{ref}: {self.plan.ref_texts[ref]}" for ref in refs]
            if notes:
                expr.comment = " ".join(notes)
            self.licences[text] = expr
            self.elements.append(expr)
        return self.licences[text]

    def relate(self, source: Any, kind: str, target: Any, key: str, comment: str | None = None) -> None:
        """A relationship ``source --kind--> target``."""
        rel = self.m.Relationship(
            spdxId=f"{self.base}/{key}-{kind}",
            creationInfo=self.info,
            from_=source,
            to=[target],
            relationshipType=getattr(self.m.RelationshipType, kind),
        )
        if comment:
            rel.comment = comment
        self.elements.append(rel)

    def organizations(self, facts: Facts) -> None:
        """One organization per teacher provider (the best capitalised of its spellings)."""
        for t in facts.teachers:
            name = t.provider
            if not name:
                continue
            known = self.providers.get(name.lower())
            if known is None:
                self.providers[name.lower()] = self.m.Organization(
                    spdxId=f"{self.base}/organization-{quote(name.lower(), safe='')}",
                    name=name,
                    creationInfo=self.info,
                )
            elif sum(map(str.isupper, name)) > sum(map(str.isupper, known.name)):
                known.name = name  # "OpenAI" over "openai"
        self.elements.extend(self.providers.values())
        self.origin = {t.model: t.provider.lower() for t in facts.teachers if t.model and t.provider}

    def dataset(self, d: DatasetPackage) -> None:
        """The dataset package, its licences and, for a selection, the package it descends from."""
        m = self.m
        pkg = m.dataset_DatasetPackage(
            spdxId=f"{self.base}/{d.key}",
            creationInfo=self.info,
            name=d.name,
            summary=d.summary,
            comment=d.comment,
            software_primaryPurpose=m.software_SoftwarePurpose.data,
            dataset_datasetType=[m.dataset_DatasetType.text],
            dataset_dataCollectionProcess=d.collection,
            dataset_hasSensitivePersonalInformation=getattr(m.PresenceType, d.pii),
            dataset_knownBias=d.biases,
            dataset_dataPreprocessing=d.preprocessing,
            dataset_anonymizationMethodUsed=d.anonymization,
            # dataset_datasetSize is in bytes (SPDX 3.0.1); the facts count examples, not bytes, so the
            # size is left out (the count is in the name and summary).
            # the organizations whose models wrote some of the examples
            originatedBy=[
                self.providers[k]
                for k in dict.fromkeys(self.origin[t] for t in d.teachers if t in self.origin)
            ],
        )
        if d.intended_use:
            pkg.dataset_intendedUse = d.intended_use
        if d.source_info:
            pkg.software_sourceInfo = d.source_info
        if d.root:
            pkg.externalIdentifier.append(
                m.ExternalIdentifier(
                    externalIdentifierType=m.ExternalIdentifierType.other,
                    identifier=d.root,
                    issuingAuthority="provenance",
                    comment="dataset id: Merkle root (sha256) over the sorted example ids",
                )
            )
        self.packages[d.key] = pkg
        self.elements.append(pkg)
        self.relate(pkg, "hasDeclaredLicense", self.licence(d.declared), d.key)
        self.relate(pkg, "hasConcludedLicense", self.licence(d.concluded), d.key, d.concluded_note)
        if d.parent:
            self.relate(
                pkg, "descendantOf", self.packages[d.parent], d.key, "selected from the ledger by the gate"
            )

    def model(self, mod: ModelPackage) -> None:
        """The AI package of a trained model, trained on its dataset's package, with its licences."""
        m = self.m
        pkg = m.ai_AIPackage(
            spdxId=f"{self.base}/{mod.key}",
            creationInfo=self.info,
            name=mod.name,
            comment=mod.comment,
            software_primaryPurpose=m.software_SoftwarePurpose.model,
            ai_typeOfModel=mod.types,
            ai_informationAboutTraining=mod.training,
            ai_hyperparameter=[m.DictionaryEntry(key=k, value=v) for k, v in mod.hyperparameters],
            ai_metric=[m.DictionaryEntry(key=k, value=v) for k, v in mod.metrics],
            ai_useSensitivePersonalInformation=getattr(m.PresenceType, mod.pii),
            externalIdentifier=[
                m.ExternalIdentifier(
                    externalIdentifierType=m.ExternalIdentifierType.other,
                    identifier=mod.training_id,
                    issuingAuthority="provenance",
                    comment="training id in the provenance ledger",
                )
            ],
            # No ai_safetyRiskAssessment: provenance judges the training data, it does not assess the
            # safety risk of the model or of the system it goes into; a level here would be invented.
        )
        if mod.limitation:
            pkg.ai_limitation = mod.limitation
        if mod.built:
            pkg.builtTime = mod.built
        if mod.digest:
            pkg.verifiedUsing.append(
                m.Hash(
                    algorithm=m.HashAlgorithm.sha256,
                    hashValue=mod.digest,
                    comment="sha256 over the weight files (name, size, bytes) in name order",
                )
            )
        self.packages[mod.key] = pkg
        self.elements.append(pkg)
        self.relate(pkg, "trainedOn", self.packages[mod.dataset], mod.key)
        self.relate(pkg, "hasDeclaredLicense", self.licence(mod.declared), mod.key, mod.declared_note)
        self.relate(pkg, "hasConcludedLicense", self.licence(mod.concluded), mod.key, mod.concluded_note)

    def document(self) -> Any:
        """The SPDX document over every element made, as a ``SHACLObjectSet``."""
        m, p = self.m, self.plan
        document = m.SpdxDocument(
            spdxId=f"{self.base}/document",
            creationInfo=self.info,
            name=f"SPDX for {p.datasets[0].name}",
            dataLicense=self.licence("CC0-1.0"),
            profileConformance=[
                m.ProfileIdentifierType.core,
                m.ProfileIdentifierType.software,
                m.ProfileIdentifierType.simpleLicensing,
                m.ProfileIdentifierType.dataset,
                m.ProfileIdentifierType.ai,
            ],
            rootElement=[self.packages[LEDGER_KEY], *(self.packages[mod.key] for mod in p.models)],
            element=self.elements,
        )
        return m.SHACLObjectSet([document, *self.elements])


def spdx3_document(facts: Facts, *, namespace: str | None = None) -> Any:
    """The SPDX 3.0.1 document of the dataset and its trained models, as an spdx-python-model
    ``SHACLObjectSet``. ``namespace`` defaults to one derived from the audit chain head."""
    from spdx_python_model import v3_0_1 as m

    builder = _Builder(m, plan(facts, namespace))
    builder.organizations(facts)
    for d in builder.plan.datasets:
        builder.dataset(d)
    for mod in builder.plan.models:
        builder.model(mod)
    return builder.document()


def write_spdx3(facts: Facts, out_dir: Path) -> Path:
    """Write ``<out_dir>/dataset.spdx3.json`` (SPDX 3.0.1 JSON-LD) and return its path."""
    from spdx_python_model import v3_0_1 as m

    objects = spdx3_document(facts)
    buffer = io.BytesIO()
    try:
        m.JSONLDSerializer(indent=2).write(objects, buffer, force_at_graph=True)
    except ValueError as exc:  # a required property missing or a value out of range
        raise SpdxError([str(exc)], what="SPDX 3.0.1") from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPDX3_FILE
    write_bytes(path, buffer.getvalue() + b"\n")
    return path
