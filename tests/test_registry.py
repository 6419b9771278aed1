"""The teacher registry: the shipped file, overrides, bad files, and model-id resolution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from policies.model_ids import normalize_model_id
from policies.registry import load_registry, shipped_path
from policies.resolve import resolve_dataset, resolve_model
from provenance.core.errors import InputError
from tests.conftest import run_cli

REGISTRY = load_registry()

#: Every family the issue names, by entry id.
FAMILIES = {
    "openai-api", "gpt-oss", "anthropic-api", "gemini-api", "gemma", "gemma-4", "llama-1", "llama-2",
    "llama-3", "llama-3.1", "llama-3.2", "llama-3.3", "llama-4", "mistral-apache", "mistral-mrl",
    "mistral-mnpl", "qwen-apache", "qwen-license", "qwen2-tongyi", "qwen-research", "deepseek-r1",
    "deepseek-license", "deepseek-v3-mit", "phi", "falcon-apache", "falcon-180b", "falcon-2-3",
    "cohere-open-weights", "olmo", "xai-api", "grok-1", "grok-2-weights", "stanford-alpaca",
    "self-instruct-82k", "sharegpt", "dolly-15k", "oasst1",
}  # fmt: skip

#: Model ids as they appear in the wild → the entry they must resolve to (None: unknown).
RESOLUTION = [
    ("gpt-4o-mini-2024-07-18", "openai-api"),
    ("gpt-4o", "openai-api"),
    ("gpt-4-turbo", "openai-api"),
    ("gpt-4-0613", "openai-api"),
    ("gpt-3.5-turbo-0125", "openai-api"),
    ("gpt-35-turbo", "openai-api"),  # Azure deployment name
    ("gpt-4.1-mini", "openai-api"),
    ("o1-preview", "openai-api"),
    ("o3-mini-2025-01-31", "openai-api"),
    ("text-davinci-003", "openai-api"),
    ("davinci", "openai-api"),
    ("openai/gpt-4o", "openai-api"),  # OpenRouter
    ("azure/gpt-4o-mini", "openai-api"),  # LiteLLM
    ("ft:gpt-3.5-turbo:acme::8Abc123", "openai-api"),
    ("ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:9xyz", "openai-api"),
    ("davinci:ft-acme-2023-01-01-12-00-00", "openai-api"),
    ("openai/gpt-oss-120b", "gpt-oss"),
    ("gpt-oss:20b", "gpt-oss"),
    ("claude-3-5-sonnet-20240620", "anthropic-api"),
    ("claude-3-7-sonnet-latest", "anthropic-api"),
    ("anthropic/claude-3.5-sonnet", "anthropic-api"),
    ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic-api"),  # Bedrock
    ("anthropic.claude-v2:1", "anthropic-api"),
    ("claude-3-5-haiku@20241022", "anthropic-api"),  # Vertex
    ("gemini-1.5-pro-002", "gemini-api"),
    ("models/gemini-1.5-flash", "gemini-api"),
    ("publishers/google/models/gemini-2.0-flash-001", "gemini-api"),
    ("google/gemma-2-9b-it", "gemma"),
    ("google/gemma-7b", "gemma"),
    ("gemma3:12b", "gemma"),
    ("google/paligemma-3b-pt-224", "gemma"),
    ("huggyllama/llama-7b", "llama-1"),
    ("decapoda-research/llama-13b-hf", "llama-1"),
    ("meta-llama/Llama-2-7b-chat-hf", "llama-2"),
    ("TheBloke/Llama-2-70B-Chat-GPTQ", "llama-2"),
    ("llama2:70b", "llama-2"),
    ("codellama/CodeLlama-34b-Instruct-hf", "llama-2"),
    ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3"),
    ("llama3-70b-8192", "llama-3"),  # Groq
    ("meta.llama3-8b-instruct-v1:0", "llama-3"),  # Bedrock
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1"),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama-3.1"),
    ("accounts/fireworks/models/llama-v3p1-405b-instruct", "llama-3.1"),
    ("together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "llama-3.1"),
    ("openrouter/meta-llama/llama-3.1-8b-instruct:free", "llama-3.1"),
    ("meta.llama3-1-405b-instruct-v1:0", "llama-3.1"),
    ("llama-3.1-8b-instant", "llama-3.1"),
    ("NousResearch/Hermes-3-Llama-3.1-8B", "llama-3.1"),
    ("meta-llama/Llama-3.2-3B-Instruct", "llama-3.2"),
    ("llama3.2:1b", "llama-3.2"),
    ("meta-llama/Llama-3.3-70B-Instruct", "llama-3.3"),
    ("llama-3.3-70b-versatile", "llama-3.3"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4"),
    ("llama4:maverick", "llama-4"),
    ("mistralai/Mistral-7B-Instruct-v0.2", "mistral-apache"),
    ("mistralai/Mixtral-8x22B-Instruct-v0.1", "mistral-apache"),
    ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-apache"),
    ("mistralai/Mistral-Small-3.2-24B-Instruct-2506", "mistral-apache"),
    ("mistral-small-latest", "mistral-api"),
    ("open-mixtral-8x22b", "mistral-api"),
    ("mistralai/Mistral-Large-Instruct-2411", "mistral-mrl"),
    ("mistralai/Ministral-8B-Instruct-2410", "mistral-mrl"),
    ("mistralai/Codestral-22B-v0.1", "mistral-mnpl"),
    ("Qwen/Qwen2.5-72B-Instruct", "qwen-license"),
    ("Qwen/Qwen2.5-7B-Instruct", "qwen-apache"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen-apache"),
    ("Qwen/Qwen2.5-3B-Instruct", "qwen-research"),
    ("Qwen/Qwen2-72B-Instruct", "qwen2-tongyi"),
    ("Qwen/Qwen3-32B", "qwen-apache"),
    ("qwen3:8b", "qwen-apache"),
    ("deepseek-ai/DeepSeek-R1", "deepseek-r1"),
    ("deepseek-r1:671b", "deepseek-r1"),
    ("deepseek-reasoner", "deepseek-api"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", "deepseek-r1-distill-qwen"),
    ("deepseek-r1:7b", "deepseek-r1-distill-qwen"),  # Ollama's 7b tag is the Qwen distill
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek-r1-distill-llama-8b"),
    ("deepseek-r1-distill-llama-70b", "deepseek-r1-distill-llama-70b"),  # Groq
    ("deepseek-ai/DeepSeek-V3", "deepseek-license"),
    ("deepseek-ai/deepseek-coder-33b-instruct", "deepseek-license"),
    ("deepseek-ai/DeepSeek-V3-0324", "deepseek-v3-mit"),
    ("microsoft/Phi-3-mini-4k-instruct", "phi"),
    ("microsoft/phi-4", "phi"),
    ("phi3.5", "phi"),
    ("tiiuae/falcon-7b-instruct", "falcon-apache"),
    ("tiiuae/falcon-180B-chat", "falcon-180b"),
    ("tiiuae/Falcon3-10B-Instruct", "falcon-2-3"),
    ("CohereForAI/c4ai-command-r-plus-08-2024", "cohere-open-weights"),
    ("CohereForAI/aya-23-35B", "cohere-open-weights"),
    ("allenai/OLMo-2-1124-13B-Instruct", "olmo"),
    ("allenai/OLMoE-1B-7B-0924", "olmo"),
    ("grok-2-1212", "xai-api"),
    ("x-ai/grok-4", "xai-api"),
    ("xai-org/grok-1", "grok-1"),
    ("xai-org/grok-2", "grok-2-weights"),
    # unknown: not in the registry, or ambiguous on purpose
    ("mistral", None),  # Ollama's bare tag: which Mistral?
    ("command-r", None),  # Cohere's API, not the open weights
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", None),
    ("openlm-research/open_llama_7b", None),
    ("my-company/internal-model-v3", None),
    ("qwen-max", None),
]


def test_the_registry_has_every_family_and_is_versioned() -> None:
    assert set(REGISTRY.entries) >= FAMILIES
    raw = yaml.safe_load(shipped_path().read_text("utf-8"))
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", raw["version"])
    assert REGISTRY.version == raw["version"] and len(REGISTRY.hash) == 64
    for entry in REGISTRY.entries.values():
        assert entry.evidence and all(e.source and e.retrieved for e in entry.evidence), entry.id


def test_resolution_table_is_large_enough() -> None:
    assert len(RESOLUTION) >= 60


@pytest.mark.parametrize(("model", "expected"), RESOLUTION, ids=[m for m, _ in RESOLUTION])
def test_resolution(model: str, expected: str | None) -> None:
    res = resolve_model(REGISTRY, model)
    assert (res.entry.id if res.entry else None) == expected, res
    if expected is None:
        assert res.reason and model in res.reason


def test_normalisation() -> None:
    assert normalize_model_id("ft:gpt-3.5-turbo:acme::8Abc") == "gpt-3.5-turbo"
    assert (
        normalize_model_id("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude-3-5-sonnet-20240620-v1"
    )
    assert normalize_model_id("accounts/fireworks/models/llama-v3p1-8b-instruct") == "llama-v3p1-8b-instruct"
    assert normalize_model_id("openrouter/meta-llama/Llama-3.1-8B:free") == "meta-llama/llama-3.1-8b"
    assert normalize_model_id("llama3.1:70b") == "llama3.1-70b"
    assert normalize_model_id("xai-org/grok-2") == "xai-org/grok-2"


def test_datasets_resolve_by_source_not_as_teachers() -> None:
    assert (
        resolve_dataset(REGISTRY, "https://huggingface.co/datasets/tatsu-lab/alpaca").entry.id
        == "stanford-alpaca"
    )
    assert resolve_dataset(REGISTRY, "databricks/databricks-dolly-15k").entry.id == "dolly-15k"
    assert resolve_model(REGISTRY, "tatsu-lab/alpaca").entry is None
    # the seed tasks live in the Self-Instruct repository but are not its 82K generated set
    seeds = "https://github.com/yizhongw/self-instruct/blob/0b26ccaa/data/seed_tasks.jsonl"
    assert resolve_dataset(REGISTRY, seeds).entry is None


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


ENTRY = """\
version: "mine.1"
entries:
  - id: acme-teacher
    name: Acme teacher
    provider: Acme
    kind: open-weights
    family: acme
    match: ['(^|/)acme-lm-']
    aliases: [acme/acme-lm-7b]
    licence: {licence}
    training: allowed
    student_commercial: 'yes'
    evidence:
      - source: {source}
        level: P
        retrieved: "2026-11-01"
"""


def test_an_override_adds_and_replaces_entries(tmp_path: Path) -> None:
    added = _write(tmp_path, ENTRY.format(licence="Apache-2.0", source="Acme model card"))
    registry = load_registry([added])
    assert resolve_model(registry, "acme/acme-lm-7b-instruct").entry.id == "acme-teacher"
    assert registry.version == f"{REGISTRY.version}+mine.1" and registry.hash != REGISTRY.hash
    replaced = yaml.safe_load(shipped_path().read_text("utf-8"))
    llama = next(e for e in replaced["entries"] if e["id"] == "llama-2")
    llama["training"] = "allowed"
    override = _write(tmp_path, yaml.safe_dump({"version": "x", "entries": [llama]}), "llama.yaml")
    registry = load_registry([override])
    assert registry.get("llama-2").training.value == "allowed"
    assert registry.origin["llama-2"] == str(override)


BAD = [
    (
        "unknown field",
        ENTRY.replace("    family: acme\n", "    family: acme\n    colour: blue\n"),
        8,
        "colour",
    ),
    ("invalid SPDX", ENTRY.format(licence="Apache-2.0 ANDD MIT", source="x"), 10, "licence"),
    ("unknown licence id", ENTRY.format(licence="Apachee-2.0", source="x"), 10, "Apachee-2.0"),
    ("missing evidence source", ENTRY.format(licence="MIT", source="''"), 14, "source"),
    ("bad regex", ENTRY.replace("'(^|/)acme-lm-'", "'^acme-(lm'"), 8, "regular expression"),
    ("overlapping pattern", ENTRY.replace("'(^|/)acme-lm-'", "'llama'"), 3, "overlaps entry"),
]


@pytest.mark.parametrize(("case", "text", "line", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_registry_files_are_rejected_with_file_line_and_entry(
    tmp_path: Path, case: str, text: str, line: int, words: str
) -> None:
    path = _write(tmp_path, text.format(licence="MIT", source="Acme card"))
    with pytest.raises(InputError) as err:
        load_registry([path])
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert "acme-teacher" in message and words in message, message
    result = run_cli("teachers", "list", "--registry", str(path))
    assert result.exit_code == 2 and str(path) in result.stderr


def test_an_alias_claimed_by_two_entries_is_rejected(tmp_path: Path) -> None:
    text = ENTRY.format(licence="MIT", source="card").replace("[acme/acme-lm-7b]", "[gpt-4o]")
    with pytest.raises(InputError, match=r"overlap|alias"):
        load_registry([_write(tmp_path, text)])


def test_teachers_list_and_show(tmp_path: Path) -> None:
    result = run_cli("teachers", "list", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and {e["id"] for e in data["entries"]} >= FAMILIES
    result = run_cli("teachers", "list", "--kind", "dataset", "--json")
    assert {e["id"] for e in json.loads(result.stdout)["entries"]} == {
        "stanford-alpaca",
        "self-instruct-82k",
        "sharegpt",
        "dolly-15k",
        "oasst1",
    }
    result = run_cli("teachers", "show", "meta-llama/Llama-3.1-8B-Instruct")
    assert result.exit_code == 0
    assert "entry llama-3.1" in result.stdout and 'begins with "Llama"' in result.stdout
    result = run_cli("teachers", "show", "ft:gpt-3.5-turbo:acme::8xyz", "--json")
    shown = json.loads(result.stdout)
    assert shown["entry"]["id"] == "openai-api" and shown["resolution"]["normalized"] == "gpt-3.5-turbo"
    result = run_cli("teachers", "show", "acme/unknown-model")
    assert result.exit_code == 1 and "unknown" in result.stdout
