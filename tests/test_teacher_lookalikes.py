"""Lookalike teacher ids fail closed (issue 15, section 2).

An id whose organisation is not the entry's publisher or a re-host the registry declares, or whose
name adds words to the model's name, is unknown, naming the entry it looks like; real ids from
hubs and providers (routes, Bedrock, Vertex, Ollama, OpenAI fine-tunes, re-hosts) resolve as
before. The table is tests/data/teacher_ids.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policies.model_ids import normalize_model_id, split_org
from policies.registry import EntryKind, load_registry
from policies.resolve import resolve_model
from tests.conftest import run_cli

REGISTRY = load_registry()
TABLE = yaml.safe_load((Path(__file__).parent / "data" / "teacher_ids.yaml").read_text("utf-8"))
RESOLVES: dict[str, str] = TABLE["resolves"]
LOOKALIKES: dict[str, str] = TABLE["lookalikes"]
LOOKALIKE = "someuser/Mistral-7B-Instruct-v0.2"


def test_the_table_is_large_enough() -> None:
    assert len(RESOLVES) + len(LOOKALIKES) >= 60 and len(LOOKALIKES) >= 30
    assert not set(RESOLVES) & set(LOOKALIKES)
    assert set(RESOLVES.values()) | set(LOOKALIKES.values()) <= set(REGISTRY.entries)


@pytest.mark.parametrize(("model", "expected"), RESOLVES.items(), ids=list(RESOLVES))
def test_real_ids_resolve(model: str, expected: str) -> None:
    res = resolve_model(REGISTRY, model)
    assert res.entry is not None and res.entry.id == expected, res


def _pattern_hits(model: str) -> set[str]:
    """The entries whose patterns merely search-match the id: how ids resolved before."""
    normalized = normalize_model_id(model)
    return {
        e.id
        for e in REGISTRY.entries.values()
        if e.kind is not EntryKind.DATASET and any(p.search(normalized) for p in e.patterns)
    }


@pytest.mark.parametrize(("model", "looks_like"), LOOKALIKES.items(), ids=list(LOOKALIKES))
def test_lookalikes_are_unknown_naming_what_they_look_like(model: str, looks_like: str) -> None:
    # before: exactly one entry's pattern matched, so the id resolved to it
    assert _pattern_hits(model) == {looks_like}
    assert normalize_model_id(model) not in REGISTRY.entries[looks_like].aliases
    res = resolve_model(REGISTRY, model)
    assert res.entry is None, res
    reason = res.reason or ""
    assert f"{model!r} looks like" in reason and f"(entry {looks_like})" in reason, reason
    assert "which the registry does not vouch for" in reason
    assert f"provenance teachers alias {model} {looks_like} --to FILE" in reason and "--registry" in reason
    org = split_org(normalize_model_id(model))[0]
    if org is not None and not REGISTRY.vouches(REGISTRY.entries[looks_like], org):
        assert f"published by {org}," in reason


def test_the_words_that_make_it_a_lookalike_are_named() -> None:
    reason = resolve_model(REGISTRY, "Llama-3.1-8B-Instruct-abliterated-uncensored").reason or ""
    assert "'abliterated', 'uncensored'" in reason
    reason = resolve_model(REGISTRY, "TheBloke/Mistral-7B-OpenOrca-GGUF").reason or ""
    assert "'openorca'" in reason and "published by" not in reason


def test_rehosts_are_data_in_the_registry_and_can_be_narrowed(tmp_path: Path) -> None:
    assert {"thebloke", "bartowski", "unsloth", "lmstudio-community"} <= set(REGISTRY.rehosts)
    narrowed = tmp_path / "rehosts.yaml"
    narrowed.write_text(
        yaml.safe_dump(
            {
                "version": "narrow.1",
                "rehosts": [
                    {
                        "org": "TheBloke",
                        "what": "only Llama 2 conversions",
                        "entries": ["llama-2"],
                        "evidence": [{"source": "review", "level": "U", "retrieved": "2026"}],
                    }
                ],
            }
        ),
        "utf-8",
    )
    registry = load_registry([narrowed])
    assert resolve_model(registry, "TheBloke/Llama-2-13B-chat-GPTQ").entry.id == "llama-2"
    res = resolve_model(registry, "TheBloke/Mistral-7B-Instruct-v0.2-GGUF")
    assert res.entry is None and "published by thebloke," in (res.reason or "")
    assert registry.hash != REGISTRY.hash


def test_teachers_alias_vouches_for_a_faithful_reupload(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    shown = run_cli("teachers", "show", LOOKALIKE)
    assert shown.exit_code == 1 and "does not vouch for" in shown.stdout
    result = run_cli("teachers", "alias", LOOKALIKE, "mistral-apache", "--to", str(mine))
    assert result.exit_code == 0 and str(mine) in result.stdout
    registry = load_registry([mine])
    res = resolve_model(registry, LOOKALIKE)
    assert res.entry is not None and res.entry.id == "mistral-apache" and res.via == "alias"
    assert any("teachers alias" in ev.source for ev in res.entry.evidence)
    # a second alias goes into the same entry; the first stays
    run_cli("teachers", "alias", "otheruser/Mistral-7B-v0.1", "mistral-apache", "--to", str(mine))
    registry = load_registry([mine])
    assert resolve_model(registry, LOOKALIKE).entry.id == "mistral-apache"
    assert resolve_model(registry, "otheruser/Mistral-7B-v0.1").entry.id == "mistral-apache"
    bad = run_cli("teachers", "alias", LOOKALIKE, "no-such-entry", "--to", str(tmp_path / "x.yaml"))
    assert bad.exit_code == 2 and not (tmp_path / "x.yaml").exists()


def test_an_import_with_a_lookalike_teacher_is_judged_unknown(db: Path, write_jsonl, tmp_path: Path) -> None:
    path = write_jsonl([{"instruction": "Say hi.", "input": "", "output": "Hi."}])
    result = run_cli(
        "import", str(path), "--format", "jsonl", "--teacher", LOOKALIKE, "--licence", "Apache-2.0", db=db
    )
    assert result.exit_code == 0, result.output
    check = run_cli("licence", "check", "--use", "commercial", "--student", "tiny", "--json", db=db)
    assert check.exit_code == 1, check.output
    out = json.loads(check.stdout)
    assert out["ok"] is False and out["verdicts"] == {"unknown": 1}
    reasons = " ".join(out["teachers"][0]["reasons"])
    assert "looks like" in reasons and "published by someuser" in reasons and "does not vouch for" in reasons
    text = run_cli("licence", "check", "--use", "commercial", "--student", "tiny", db=db)
    assert text.exit_code == 1 and "unknown" in text.stdout
    # vouching for it (a faithful re-upload) makes it the entry's teacher again
    mine = tmp_path / "mine.yaml"
    assert run_cli("teachers", "alias", LOOKALIKE, "mistral-apache", "--to", str(mine)).exit_code == 0
    check = run_cli(
        "licence",
        "check",
        "--use",
        "commercial",
        "--student",
        "tiny",
        "--registry",
        str(mine),
        "--json",
        db=db,
    )
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["verdicts"] == {"allowed": 1}
