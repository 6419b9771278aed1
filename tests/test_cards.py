"""Hugging Face dataset and model cards written from a ledger's facts (reports.cards)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from provenance.core.errors import InputError, NotFoundError
from reports import cards
from reports.facts import Facts

FACTS = Path(__file__).parent / "data" / "facts_example.json"
TRAINING = "b387155c47618c9442d691a63b48730f6b6da0bb7cecc79cc7e1544023b9f4e3"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")
LLAMA = {
    "kind": "name_prefix",
    "text": 'The model name must begin with "Llama"',
    "when": "distributed",
    "value": "Llama",
    "source": "Meta Llama 3.1",
}


@pytest.fixture(scope="module")
def original() -> dict[str, Any]:
    return json.loads(FACTS.read_text("utf-8"))


@pytest.fixture
def facts(original: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(original)


def split(card: str) -> tuple[dict[str, Any], str]:
    lines = card.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end])), "\n".join(lines[end + 1 :])


def training(facts: dict[str, Any], training_id: str = TRAINING) -> dict[str, Any]:
    return next(t for t in facts["trainings"] if t["training_id"] == training_id)


# ---- hub_licence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expressions", "hub"),
    [
        (["Apache-2.0"], "apache-2.0"),
        (["MIT"], "mit"),
        (["CC-BY-NC-4.0"], "cc-by-nc-4.0"),
        (["cc-by-sa-4.0"], "cc-by-sa-4.0"),  # SPDX ids are matched case-insensitively
        (["ODC-By-1.0"], "odc-by"),
        (["GPL-3.0-only"], "gpl-3.0"),
        (["LicenseRef-scancode-llama-3.1-license-2024"], "llama3.1"),
        (["LicenseRef-scancode-gemma-tou-2025-03-24"], "gemma"),
        (["MIT", "mit"], "mit"),  # the same licence twice is one licence
    ],
)
def test_hub_licence_maps_single_known_ids(expressions: list[str], hub: str) -> None:
    assert cards.hub_licence(expressions) == (hub, None, None)


@pytest.mark.parametrize(
    "expressions",
    [
        ["Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314"],
        ["MIT OR Apache-2.0"],
        ["Apache-2.0", "MIT"],
        ["LicenseRef-scancode-openai-tou-20230314"],
        ["Foo-Bar-1.0"],
        ["Apache-2.0", "unknown"],
    ],
)
def test_hub_licence_never_simplifies(expressions: list[str]) -> None:
    licence, name, link = cards.hub_licence(expressions)
    assert licence == "other"
    assert name and re.fullmatch(r"[a-z0-9.-]+", name)
    assert link is None


def test_hub_licence_names_what_the_data_carries() -> None:
    assert cards.hub_licence(["Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314"])[1] == (
        "apache-2.0-and-openai-tou-20230314"
    )
    name = cards.hub_licence(["Apache-2.0", "LicenseRef-scancode-openai-tou-20241211"])[1]
    assert "apache-2.0" in name and "openai-tou-20241211" in name


def test_hub_licence_unknown_when_nothing_is_declared() -> None:
    assert cards.hub_licence([]) == ("unknown", None, None)
    assert cards.hub_licence(["unknown"]) == ("unknown", None, None)


def test_licence_table_values_are_hub_ids() -> None:
    assert len(cards.HUB_LICENCES) > 50
    assert all(re.fullmatch(r"[a-z0-9.+-]+", v) for v in cards.HUB_LICENCES.values())


# ---- dataset card ---------------------------------------------------------------------------------


def test_dataset_card_metadata_equals_facts(facts: dict[str, Any]) -> None:
    meta, body = split(cards.dataset_card(Facts.from_dict(facts), pretty_name="Self-Instruct replay"))
    assert meta["size_categories"] == [facts["dataset"]["size_category"]]
    assert meta["pretty_name"] == "Self-Instruct replay"
    assert meta["language"] == ["en"]
    assert meta["task_categories"] == ["text-generation"]
    assert {t["model"]: t["examples"] for t in meta["teachers"]} == {
        t["model"]: t["examples"] for t in facts["teachers"]
    }
    assert meta["teachers"][0]["verdicts"] == facts["teachers"][0]["verdicts"]
    assert {x["expression"]: x["examples"] for x in meta["terms"]["licences"]} == (
        facts["licences"]["expressions"]
    )
    # three different expressions: no single hub licence may stand for them
    assert meta["license"] == "other"
    assert meta["license_name"]
    assert meta["provenance"]["audit_chain_head"] == facts["audit"]["head"]
    assert meta["provenance"]["audit_entries"] == facts["audit"]["entries"]
    assert meta["provenance"]["tool_version"] == facts["tool_version"]
    assert f"{facts['dataset']['examples']} examples" in body
    assert f"{facts['lineage']['seeds']} seeds" in body
    assert f"Deepest lineage: {facts['lineage']['max_depth']}" in body


def test_dataset_card_reads_back_with_huggingface_hub(facts: dict[str, Any]) -> None:
    from huggingface_hub import DatasetCard

    data = DatasetCard(cards.dataset_card(Facts.from_dict(facts))).data
    assert data.size_categories == [facts["dataset"]["size_category"]]
    assert data.license == "other"
    assert data.to_dict()["teachers"][0]["model"] == facts["teachers"][0]["model"]


def test_creators_follow_origin(facts: dict[str, Any]) -> None:
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert "machine-generated" in meta["annotations_creators"]
    assert "expert-generated" in meta["annotations_creators"]  # the human seed tasks
    assert meta["language_creators"] == meta["annotations_creators"]

    facts["dataset"]["origin"] = {"human": 177}
    facts["dataset"]["method"] = {"seed": 177}
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert "machine-generated" not in meta["annotations_creators"]
    assert "machine-generated" not in meta["language_creators"]
    assert meta["annotations_creators"] == ["expert-generated"]

    facts["dataset"]["origin"] = {"human": 300}
    facts["dataset"]["method"] = {"seed": 100, "imported": 200}
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert meta["annotations_creators"] == ["expert-generated", "found"]


def test_source_datasets(facts: dict[str, Any]) -> None:
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    # 40 examples were generated here; the rest came from two declared sources
    assert meta["source_datasets"][0] == "original"
    assert meta["source_datasets"][1:] == [f"extended|{s['source']}" for s in facts["sources"]]

    facts["dataset"]["method"] = {"imported": 470}
    facts["sources"] = [{"source": "tatsu-lab/alpaca", "examples": 470}]
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert meta["source_datasets"] == ["extended|tatsu-lab/alpaca"]

    facts["sources"] = []
    facts["dataset"]["method"] = {"teacher": 470}
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert meta["source_datasets"] == ["original"]


def test_single_licence_is_the_hub_licence(facts: dict[str, Any]) -> None:
    facts["licences"]["expressions"] = {"CC-BY-NC-4.0": 470}
    meta, _ = split(cards.dataset_card(Facts.from_dict(facts)))
    assert meta["license"] == "cc-by-nc-4.0"
    assert "license_name" not in meta


def test_dataset_card_states_obligations_and_limitations(facts: dict[str, Any]) -> None:
    _, body = split(cards.dataset_card(Facts.from_dict(facts)))
    limits = body.split("## Limitations and obligations", 1)[1]
    text = "Do not use the student to develop models that compete with OpenAI."
    assert text in limits
    assert "must not be used to develop models that compete" in limits
    assert f"{facts['dataset']['unknown']['terms']} examples have no recorded terms" in limits
    assert "PERSON detection off" in limits


def test_not_run_check_is_not_a_verdict(facts: dict[str, Any]) -> None:
    _, body = split(cards.dataset_card(Facts.from_dict(facts)))
    row = next(line for line in body.splitlines() if line.startswith("| toxicity |"))
    assert "NOT RUN" in row and "no verdict" in row and "| ran |" not in row
    assert "toxicity was not run" in body
    assert "The toxicity check did not run" in body


def test_pii_statement(facts: dict[str, Any]) -> None:
    _, body = split(cards.dataset_card(Facts.from_dict(facts)))
    pii = body.split("## Personal information", 1)[1].split("##", 1)[0]
    assert f"in {facts['pii']['examples_with_pii']} examples" in pii
    assert "EMAIL_ADDRESS 9" in pii and "PHONE_NUMBER 1" in pii
    assert f"Redacted copies written: {facts['pii']['redacted']}" in pii
    assert "PERSON detection was off" in pii

    check = next(c for c in facts["checks"] if c["kind"] == "pii")
    check.update(status="not-run", not_run_reason="presidio is not installed", counts={}, context_id=None)
    facts["pii"] = {"ran": False, "examples_with_pii": 0, "entities": {}, "redacted": 0, "notes": []}
    _, body = split(cards.dataset_card(Facts.from_dict(facts)))
    pii = body.split("## Personal information", 1)[1].split("##", 1)[0]
    assert "did not run" in pii and "presidio is not installed" in pii
    assert "found personal information" not in pii


def test_no_gate_and_no_checks(facts: dict[str, Any]) -> None:
    facts["gate"], facts["checks"] = None, []
    _, body = split(cards.dataset_card(Facts.from_dict(facts)))
    assert "No gate has run on this ledger" in body
    assert "No policy checks have run" in body


# ---- model card -----------------------------------------------------------------------------------


def test_model_card_for_a_tiny_student(facts: dict[str, Any]) -> None:
    from huggingface_hub import ModelCard

    text = cards.model_card(Facts.from_dict(facts), TRAINING)
    meta, body = split(text)
    t = training(facts)
    assert "base_model" not in meta and "base_model_relation" not in meta
    assert "trained from scratch" in body and "no base model" in body
    assert meta["datasets"] == [f"provenance-dataset-{t['dataset_id'][:16]}"]
    assert t["dataset_id"] in body
    assert {"provenance", "synthetic-data", "distillation", "trained-from-scratch"} <= set(meta["tags"])
    assert meta["license"] == "other" and meta["license_name"]
    assert meta["provenance"]["weights_sha256"] == t["model_digest"]
    obligations = t["gate"]["obligations"] + t["gate"]["student_finding"]["obligations"]
    assert obligations
    for o in obligations:
        assert o["text"] in body
    assert "This model must not be used to develop models that compete" in body
    assert f"sha256 `{t['model_digest']}`" in body
    assert facts["audit"]["head"] in body
    assert "provenance verify --report AUDIT.json --pubkey KEY.pub" in body
    assert f"its {t['dataset_examples']} examples" in body
    assert "research" in body and "not cleared for distribution" in body
    assert f"| train_loss | {t['metrics']['train_loss']} |" in body
    data = ModelCard(text).data
    assert data.datasets == meta["datasets"]
    assert data.base_model is None
    assert data.license == "other"


def test_model_card_prefix_and_unknown_id(facts: dict[str, Any]) -> None:
    assert cards.model_card(Facts.from_dict(facts), TRAINING[:8]) == cards.model_card(
        Facts.from_dict(facts), TRAINING
    )
    with pytest.raises(NotFoundError) as err:
        cards.model_card(Facts.from_dict(facts), "ffffffffffff")
    assert err.value.exit_code == 2
    with pytest.raises(InputError) as err:
        cards.model_card(Facts.from_dict(facts), TRAINING[:3])
    assert err.value.exit_code == 2


def test_model_card_states_a_llama_obligation_as_a_requirement(facts: dict[str, Any]) -> None:
    t = training(facts)
    t["gate"]["obligations"].append(LLAMA)
    _, body = split(cards.model_card(Facts.from_dict(facts), TRAINING))
    assert LLAMA["text"] in body
    assert 'You must give this model a name that begins with "Llama" when you distribute it' in body


def test_model_card_for_a_fine_tuned_student(facts: dict[str, Any]) -> None:
    t = training(facts)
    base = "meta-llama/Llama-3.1-8B"
    built = {
        "kind": "attribution",
        "text": 'Display "Built with Llama".',
        "when": "distributed",
        "value": None,
        "source": "Meta Llama 3.1",
    }
    t.update(student=base, student_kind="hub", base_model=base)
    t["gate"]["student_finding"] = {
        "subject": f"student {base}",
        "rule": "llama-3.1",
        "terms_class": "allowed_with_conditions",
        "verdict": "allowed_with_conditions",
        "reason": "base model Meta Llama 3.1 (LicenseRef-scancode-llama-3.1-license-2024): "
        "commercial use of derivatives: yes",
        "obligations": [LLAMA, built],
        "terms": None,
    }
    text = cards.model_card(Facts.from_dict(facts), TRAINING)
    meta, body = split(text)
    assert meta["base_model"] == base
    assert meta["base_model_relation"] == "finetune"
    assert meta["license"] == "llama3.1" and "license_name" not in meta
    assert "trained-from-scratch" not in meta["tags"]
    assert "Built with Llama" in body and LLAMA["text"] in body
    assert "You must display this attribution when you distribute it" in body
    assert "Do not use the student to develop models that compete with OpenAI." in body
    assert "trained from scratch" not in body


def test_model_card_without_obligation_record(facts: dict[str, Any]) -> None:
    old = facts["trainings"][0]  # a gate record from before obligations were recorded
    _, body = split(cards.model_card(Facts.from_dict(facts), old["training_id"]))
    assert "no obligations were recorded" in body
    assert old["model_digest"] in body


# ---- safety and files -----------------------------------------------------------------------------


def test_no_raw_contact_data(facts: dict[str, Any]) -> None:
    assert PHONE.search(json.dumps(facts))  # the facts hold one: the cards must not
    facts["checks"][1]["top_reasons"].append(["PII near jane.doe@example.com", 1])
    facts["checks"][3]["not_run_reason"] = "mail ops@example.org for the checkpoint"
    facts["pii"]["notes"].append("ask bob.smith@corp.example.net")
    facts["trainings"][1]["gate"]["reasons"] = [{"code": "x", "message": "from alice@example.com"}]
    texts = [cards.dataset_card(Facts.from_dict(facts)), cards.model_card(Facts.from_dict(facts), TRAINING)]
    for text in texts:
        assert not EMAIL.search(text), EMAIL.search(text)
        # a check sample in the example facts holds a phone number the PII check missed: samples stay out
        assert not PHONE.search(text), PHONE.search(text)
    assert "<EMAIL_ADDRESS>" in texts[0]


def test_write_cards(facts: dict[str, Any], tmp_path: Path) -> None:
    path = cards.write_dataset_card(Facts.from_dict(facts), tmp_path / "data", pretty_name="X")
    assert path == tmp_path / "data" / "README.md"
    assert split(path.read_text("utf-8"))[0]["pretty_name"] == "X"
    path = cards.write_model_card(Facts.from_dict(facts), TRAINING[:10], tmp_path / "student")
    assert path == tmp_path / "student" / "README.md"
    assert path.read_text("utf-8") == cards.model_card(Facts.from_dict(facts), TRAINING)
    with pytest.raises(NotFoundError):
        cards.write_model_card(Facts.from_dict(facts), "0000000000", tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()
