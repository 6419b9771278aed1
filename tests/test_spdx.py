"""SPDX 3.0.1 (spdx-python-model) and SPDX 2.3 (spdx-tools) documents written from report facts."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import spdx_python_model
from spdx_python_model import v3_0_1 as m
from spdx_tools.spdx.model import RelationshipType
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from reports.facts import Facts
from reports.spdx import SpdxError
from reports.spdx3 import spdx3_document, write_spdx3
from reports.spdx23 import write_spdx23
from reports.statements import combined_licence

FACTS = json.loads((Path(__file__).parent / "data" / "facts_example.json").read_text())
OLD_TOU = "LicenseRef-scancode-openai-tou-20230314"
NEW_TOU = "LicenseRef-scancode-openai-tou-20241211"
ALL = f"Apache-2.0 AND (Apache-2.0 AND {OLD_TOU}) AND {NEW_TOU}"
ROOT_A = "0979f55919e790f11029fa4c1ce047da78d2bcf3b80f30035aa33b6542936dc0"  # old gate: no teacher mix
ROOT_B = "cb8263b6463eb7a1395584a822bae1a50055111d2638c251b526a4f8fcf40def"  # human + gpt-3.5 only
NS = "https://provenance.invalid/audit-207bfa6702f5671c"


def facts(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(FACTS)
    out.update(changes)
    return out


def load3(f: dict[str, Any], tmp_path: Path) -> Any:
    _, objects = spdx_python_model.load(write_spdx3(Facts.from_dict(f), tmp_path))
    return objects


def packages(objects: Any, typ: Any) -> dict[str, Any]:
    """Packages of one type by the identifier provenance gave them (Merkle root / training id)."""
    out = {}
    for p in objects.foreach_type(typ, match_subclass=False):
        ids = [e.identifier for e in p.externalIdentifier]
        out[ids[0] if ids else p.spdxId.rsplit("/", 1)[1]] = p
    return out


def relations(objects: Any, source: Any, kind: str) -> list[Any]:
    iri = getattr(m.RelationshipType, kind)
    return [
        r for r in objects.foreach_type(m.Relationship) if r.from_ is source and r.relationshipType == iri
    ]


# ---- SPDX 3.0.1 ---------------------------------------------------------------------------------


@pytest.fixture
def far_from_utc(monkeypatch):
    """A local time zone other than UTC, so a naive timestamp read as local time would show."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_spdx3_json_ld_round_trips_through_the_deserializer(tmp_path, far_from_utc):
    path = write_spdx3(Facts.from_dict(FACTS), tmp_path)
    assert path == tmp_path / "dataset.spdx3.json"
    data = json.loads(path.read_text())
    assert data["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    assert isinstance(data["@graph"], list) and data["@graph"]
    model, objects = spdx_python_model.load(path)
    assert model is m
    assert objects.missing_ids == set()  # every reference resolves inside the document
    # Serializing again runs the bindings' own checks (required properties, max counts, patterns)
    # and gives the same JSON-LD back.
    assert m.JSONLDSerializer().serialize_data(objects, force_at_graph=True) == data
    (doc,) = objects.foreach_type(m.SpdxDocument)
    info = doc.creationInfo
    assert info.specVersion == "3.0.1"
    # generated_at is naive UTC; the bindings would shift a naive time to local time
    (created,) = [o["created"] for o in data["@graph"] if o["type"] == "CreationInfo"]
    assert created == "2026-11-30T10:32:32Z"
    assert [a.name for a in info.createdBy] == ["provenance 0.1.0"]
    assert [t.name for t in info.createdUsing] == ["provenance 0.1.0"]
    assert {e.spdxId for e in doc.rootElement} == {
        f"{NS}/dataset-ledger",
        *(f"{NS}/model-{t['training_id'][:16]}" for t in FACTS["trainings"]),
    }


def test_one_dataset_package_per_dataset_and_one_ai_package_per_training(tmp_path):
    objects = load3(FACTS, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    assert set(datasets) == {"dataset-ledger", ROOT_A, ROOT_B}
    assert datasets["dataset-ledger"].name == "provenance dataset (470 examples)"
    assert datasets[ROOT_A].name == f"provenance dataset {ROOT_A[:16]} (170 examples)"
    assert datasets[ROOT_B].spdxId == f"{NS}/dataset-{ROOT_B[:16]}"
    for d in datasets.values():
        assert d.dataset_datasetType == [m.dataset_DatasetType.text]
        assert d.software_primaryPurpose == m.software_SoftwarePurpose.data
        assert d.dataset_datasetSize is None  # bytes, which the facts do not have
        assert [o.name for o in d.originatedBy] == ["OpenAI"]
    for root in (ROOT_A, ROOT_B):
        (rel,) = relations(objects, datasets[root], "descendantOf")
        assert rel.to == [datasets["dataset-ledger"]]
    models = packages(objects, m.ai_AIPackage)
    assert set(models) == {t["training_id"] for t in FACTS["trainings"]}
    for t in FACTS["trainings"]:
        model = models[t["training_id"]]
        assert model.software_primaryPurpose == m.software_SoftwarePurpose.model
        (digest,) = model.verifiedUsing
        assert (digest.algorithm, digest.hashValue) == (m.HashAlgorithm.sha256, t["model_digest"])
        hyper = {e.key: e.value for e in model.ai_hyperparameter}
        assert hyper["learning_rate"] == "0.0005" and hyper["max_steps"] == str(t["config"]["max_steps"])
        assert "device" not in hyper and "torch" not in hyper  # environment, not hyperparameters
        assert "torch 2.13.0+cpu" in model.ai_informationAboutTraining
        assert "compete with OpenAI" in model.ai_limitation
        assert model.ai_safetyRiskAssessment is None
        assert "trained from scratch" in " ".join(model.ai_typeOfModel)


def test_each_model_is_trained_on_its_own_dataset(tmp_path):
    objects = load3(FACTS, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    models = packages(objects, m.ai_AIPackage)
    for t in FACTS["trainings"]:
        (rel,) = relations(objects, models[t["training_id"]], "trainedOn")
        assert rel.to == [datasets[t["dataset_id"]]]


def test_every_package_has_one_declared_and_one_concluded_licence_expression(tmp_path):
    objects = load3(FACTS, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    models = packages(objects, m.ai_AIPackage)
    expected = {
        datasets["dataset-ledger"]: (ALL, ALL),  # the licence check passed all 470 examples
        datasets[ROOT_A]: (ALL, "NOASSERTION"),  # its gate recorded no teacher mix nor verdicts
        # its teacher mix has no text-davinci-003, the only carrier of the 2023 terms
        datasets[ROOT_B]: (f"Apache-2.0 AND {NEW_TOU}", f"Apache-2.0 AND {NEW_TOU}"),
        **{model: ("NOASSERTION", "NOASSERTION") for model in models.values()},
    }
    for package, (declared, concluded) in expected.items():
        for kind, text in (("hasDeclaredLicense", declared), ("hasConcludedLicense", concluded)):
            (rel,) = relations(objects, package, kind)
            (target,) = rel.to
            assert isinstance(target, m.simplelicensing_LicenseExpression)
            assert target.simplelicensing_licenseExpression == text, (package.name, kind)
    (ledger_declared,) = relations(objects, datasets["dataset-ledger"], "hasDeclaredLicense")
    assert "openai-terms-of-use@2023-03-14" in ledger_declared.to[0].comment


def test_sensitive_personal_information_follows_the_pii_check(tmp_path):
    objects = load3(FACTS, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    ledger = datasets["dataset-ledger"]
    assert ledger.dataset_hasSensitivePersonalInformation == m.PresenceType.yes
    assert ledger.dataset_anonymizationMethodUsed == [
        "presidio EMAIL_ADDRESS replacement",
        "presidio PHONE_NUMBER replacement",
    ]
    # a selection may or may not hold the examples with PII: no assertion either way
    assert datasets[ROOT_B].dataset_hasSensitivePersonalInformation == m.PresenceType.noAssertion

    not_run = facts(pii={"ran": False, "examples_with_pii": 0, "entities": {}, "redacted": 0, "notes": []})
    ledger = packages(load3(not_run, tmp_path / "a"), m.dataset_DatasetPackage)["dataset-ledger"]
    assert ledger.dataset_hasSensitivePersonalInformation == m.PresenceType.noAssertion
    assert list(ledger.dataset_anonymizationMethodUsed) == []

    clean = facts(pii={"ran": True, "examples_with_pii": 0, "entities": {}, "redacted": 0, "notes": []})
    objects = load3(clean, tmp_path / "b")
    for d in packages(objects, m.dataset_DatasetPackage).values():
        assert d.dataset_hasSensitivePersonalInformation == m.PresenceType.no
    for model in packages(objects, m.ai_AIPackage).values():
        assert model.ai_useSensitivePersonalInformation == m.PresenceType.no


def test_collection_process_and_known_biases_come_from_the_facts(tmp_path):
    ledger = packages(load3(FACTS, tmp_path), m.dataset_DatasetPackage)["dataset-ledger"]
    process = ledger.dataset_dataCollectionProcess
    assert (
        "self-instruct generation with teacher gpt-3.5-turbo-instruct through http://127.0.0.1:39051/v1"
        in (process)
    )
    assert "Imported from https://github.com/yizhongw/self-instruct/" in process
    biases = "\n".join(ledger.dataset_knownBias)
    assert "the toxicity check did not run (detoxify 'original' checkpoint not found)" in biases
    assert "contamination: 257 of 470 examples" in biases
    assert "text-davinci-003 (253 examples)" in biases


def test_ids_are_stable_and_follow_the_namespace(tmp_path):
    first = write_spdx3(Facts.from_dict(FACTS), tmp_path / "a").read_bytes()
    assert write_spdx3(Facts.from_dict(FACTS), tmp_path / "b").read_bytes() == first
    objects = spdx3_document(Facts.from_dict(FACTS), namespace="my ledger")
    ids = {o.spdxId for o in objects.foreach_type(m.Element)}
    assert "https://provenance.invalid/my%20ledger/dataset-ledger" in ids
    assert all(i.startswith("https://provenance.invalid/my%20ledger/") for i in ids)


def test_without_trainings_the_document_is_dataset_only(tmp_path):
    objects = load3(facts(trainings=[]), tmp_path)
    assert list(packages(objects, m.dataset_DatasetPackage)) == ["dataset-ledger"]
    assert list(objects.foreach_type(m.ai_AIPackage)) == []
    assert not [r for r in objects.foreach_type(m.Relationship) if r.relationshipType.endswith("/trainedOn")]
    doc = parse_file(str(write_spdx23(Facts.from_dict(facts(trainings=[])), tmp_path)))
    assert [p.spdx_id for p in doc.packages] == ["SPDXRef-dataset-ledger"]


def test_a_training_on_every_example_uses_the_ledger_package(tmp_path):
    f = facts()
    f["trainings"] = [f["trainings"][1]]
    f["trainings"][0]["dataset_examples"] = f["dataset"]["examples"]
    objects = load3(f, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    assert list(datasets) == [ROOT_B]  # the ledger package, carrying the root as its identifier
    (rel,) = relations(objects, next(iter(packages(objects, m.ai_AIPackage).values())), "trainedOn")
    assert rel.to == [datasets[ROOT_B]]


def test_concluded_is_noassertion_unless_the_licence_check_permitted_everything(tmp_path):
    f = facts()
    licence = next(c for c in f["checks"] if c["kind"] == "licence")
    licence["counts"] = {"pass": 400, "drop": 70}
    f["trainings"][1]["gate"]["licence_verdicts"]["prohibited"] = 2
    objects = load3(f, tmp_path)
    datasets = packages(objects, m.dataset_DatasetPackage)
    for key in ("dataset-ledger", ROOT_B):
        (declared,) = relations(objects, datasets[key], "hasDeclaredLicense")
        (concluded,) = relations(objects, datasets[key], "hasConcludedLicense")
        assert declared.to[0].simplelicensing_licenseExpression != "NOASSERTION"
        assert concluded.to[0].simplelicensing_licenseExpression == "NOASSERTION"
        assert "did not permit every" in concluded.comment


def test_an_unknown_licence_makes_the_declared_licence_noassertion(tmp_path):
    f = facts(trainings=[])
    f["licences"]["expressions"]["unknown"] = 3
    objects = load3(f, tmp_path)
    ledger = packages(objects, m.dataset_DatasetPackage)["dataset-ledger"]
    for kind in ("hasDeclaredLicense", "hasConcludedLicense"):
        (rel,) = relations(objects, ledger, kind)
        assert rel.to[0].simplelicensing_licenseExpression == "NOASSERTION"


@pytest.mark.parametrize(
    ("expressions", "expected"),
    [
        ([], "NOASSERTION"),
        (["MIT AND Apache-2.0"], "MIT AND Apache-2.0"),
        (["MIT", "MIT", "Apache-2.0"], "Apache-2.0 AND MIT"),
        (
            ["MIT OR Apache-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"],
            ("GPL-2.0-only WITH Classpath-exception-2.0 AND (MIT OR Apache-2.0)"),
        ),
        (["MIT", "unknown"], "NOASSERTION"),
    ],
)
def test_combined_licence(expressions, expected):
    assert combined_licence(expressions) == expected


# ---- SPDX 2.3 -----------------------------------------------------------------------------------


def test_spdx23_validates_and_parses_back_with_licences_and_relationships(tmp_path):
    path = write_spdx23(Facts.from_dict(FACTS), tmp_path)
    assert path == tmp_path / "dataset.spdx.json"
    doc = parse_file(str(path))
    assert validate_full_spdx_document(doc) == []
    by_id = {p.spdx_id: p for p in doc.packages}
    ledger, a, b = (
        by_id["SPDXRef-dataset-ledger"],
        by_id[f"SPDXRef-dataset-{ROOT_A[:16]}"],
        by_id[f"SPDXRef-dataset-{ROOT_B[:16]}"],
    )
    assert (str(ledger.license_declared), str(ledger.license_concluded)) == (ALL, ALL)
    assert (str(a.license_declared), str(a.license_concluded)) == (ALL, "NOASSERTION")
    assert str(b.license_declared) == str(b.license_concluded) == f"Apache-2.0 AND {NEW_TOU}"
    generated = {
        (r.spdx_element_id, r.related_spdx_element_id)
        for r in doc.relationships
        if r.relationship_type == RelationshipType.GENERATED_FROM
    }
    for t in FACTS["trainings"]:
        model = by_id[f"SPDXRef-model-{t['training_id'][:16]}"]
        assert (model.spdx_id, f"SPDXRef-dataset-{t['dataset_id'][:16]}") in generated
        assert [c.value for c in model.checksums] == [t["model_digest"]]
        assert str(model.license_declared) == str(model.license_concluded) == "NOASSERTION"
        assert "compete with OpenAI" in model.comment
    assert "Teacher mix: none (human) 173, gpt-3.5-turbo-instruct 40" in b.comment
    described = {
        r.related_spdx_element_id for r in doc.relationships if r.relationship_type.name == "DESCRIBES"
    }
    assert "SPDXRef-dataset-ledger" in described
    refs = {e.license_id: e.extracted_text for e in doc.extracted_licensing_info}
    assert refs == {
        OLD_TOU: "See the teacher's terms: openai-terms-of-use@2023-03-14",
        NEW_TOU: "See the teacher's terms: openai-terms-of-use@2024-12-11",
    }


def test_spdx23_licence_refs_get_extracted_licensing_info(tmp_path):
    f = facts(trainings=[])
    f["licences"]["expressions"] = {"CC-BY-NC-4.0 AND LicenseRef-sharegpt-non-commercial": 10, "MIT": 5}
    f["teachers"] = [
        {
            **f["teachers"][0],
            "model": "sharegpt-import",
            "licences": ["CC-BY-NC-4.0 AND LicenseRef-sharegpt-non-commercial"],
            "terms": ["sharegpt-terms@2023-04-01"],
            "examples": 10,
        }
    ]
    doc = parse_file(str(write_spdx23(Facts.from_dict(f), tmp_path)))
    (info,) = doc.extracted_licensing_info
    assert info.license_id == "LicenseRef-sharegpt-non-commercial"
    assert info.extracted_text == "See the teacher's terms: sharegpt-terms@2023-04-01"
    (pkg,) = doc.packages
    assert str(pkg.license_declared) == "(CC-BY-NC-4.0 AND LicenseRef-sharegpt-non-commercial) AND MIT"
    assert validate_full_spdx_document(doc) == []

    f["teachers"] = []  # a reference no teacher accounts for still gets a text, so the document validates
    doc = parse_file(str(write_spdx23(Facts.from_dict(f), tmp_path)))
    (info,) = doc.extracted_licensing_info
    assert "no licence text is recorded" in info.extracted_text


def test_spdx23_validation_problems_raise_spdx_error(tmp_path):
    f = facts()
    f["trainings"][0]["model_digest"] = "not-a-sha256"
    with pytest.raises(SpdxError) as err:
        write_spdx23(Facts.from_dict(f), tmp_path)
    assert err.value.problems and any("not-a-sha256" in p for p in err.value.problems)
    assert "not-a-sha256" in str(err.value)
    assert not (tmp_path / "dataset.spdx.json").exists()


def test_importing_the_module_loads_neither_spdx_library():
    code = (
        "import sys, reports.spdx3, reports.spdx23; "
        "print(sorted(m for m in ('spdx_tools', 'spdx_python_model') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
