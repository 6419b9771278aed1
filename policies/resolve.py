"""Teacher resolution: a model id as it appears in the wild → exactly one registry entry, or unknown.

Normalisation removes what says where a model was served rather than which model it is:
provider routes (``openrouter/``, ``together_ai/``, ``accounts/fireworks/models/``,
``models/``), Bedrock's region and vendor prefixes (``us.anthropic.``), version and variant
suffixes after a colon (``:0``, ``:free``), Vertex's ``@version``, and OpenAI fine-tune wrappers
(``ft:gpt-3.5-turbo:org::id`` → ``gpt-3.5-turbo``; ``davinci:ft-org-2023-…`` → ``davinci``).
Ollama tags ``name:size`` become ``name-size``. Hugging Face organisations stay: they tell
``xai-org/grok-2`` (open weights) from ``grok-2-1212`` (the API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.registry import Entry, Registry

#: Path segments that name a router or host, not the model's publisher.
ROUTES = frozenset(
    {
        "openai", "azure", "azure_ai", "anthropic", "bedrock", "vertex_ai", "vertex", "gemini",
        "google", "groq", "ollama", "ollama_chat", "together_ai", "together", "togethercomputer",
        "fireworks_ai", "fireworks", "openrouter", "deepinfra", "huggingface", "hf", "hf.co",
        "mistral", "deepseek", "xai", "x-ai", "cohere", "perplexity", "anyscale", "replicate",
        "sagemaker", "watsonx", "cloudflare", "databricks", "nvidia_nim", "lm_studio",
        "models", "publishers", "accounts",
    }
)  # fmt: skip
_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|global|us-gov)\.)?(?:anthropic|meta|mistral|cohere|amazon|ai21|deepseek|qwen|openai|writer)\."
)
_OPENAI_FT = re.compile(r"^ft:([^:]+):")
_LEGACY_FT = re.compile(r"^([a-z0-9.\-]+):ft-")
_SUFFIX = re.compile(r":(\d+|free|beta|nitro|floor|online|extended|thinking|latest)$")


def normalize_model_id(raw: str) -> str:
    """The form of a model id that registry patterns and aliases are written against."""
    text = raw.strip().lower()
    ft = _OPENAI_FT.match(text) or _LEGACY_FT.match(text)
    if ft:
        text = ft.group(1)
    text = text.replace("@", "-")
    parts = [p for p in text.split("/") if p]
    if "models" in parts[:-1]:  # accounts/fireworks/models/X, publishers/google/models/X, …
        parts = parts[len(parts) - parts[::-1].index("models") :]
    # drop routing segments, and the account names that follow "accounts/" or "publishers/"
    kept: list[str] = []
    skip_next = False
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if skip_next and not last:
            skip_next = False
            continue
        skip_next = False
        if not last and part in ROUTES:
            skip_next = part in {"accounts", "publishers"}
            continue
        kept.append(part)
    parts = kept[-2:] if kept else [text]
    name = _BEDROCK.sub("", parts[-1])
    while True:
        stripped = _SUFFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    name = name.replace(":", "-")
    return "/".join([*parts[:-1], name])


@dataclass(frozen=True)
class Resolution:
    """How a model id resolved: the entry, or why there is none."""

    model: str
    normalized: str
    entry: Entry | None
    via: str | None = None  # "alias" or the pattern that matched
    reason: str | None = None  # why it is unknown


def resolve_model(registry: Registry, model: str) -> Resolution:
    """Resolve a teacher or student model id against the registry's model entries."""
    return _resolve(registry, model, datasets=False)


def resolve_dataset(registry: Registry, source: str) -> Resolution:
    """Resolve a declared source (a dataset id, URL or file name) against the dataset entries."""
    return _resolve(registry, source, datasets=True)


def _resolve(registry: Registry, model: str, *, datasets: bool) -> Resolution:
    from policies.registry import EntryKind

    normalized = source_key(model) if datasets else normalize_model_id(model)
    candidates = [e for e in registry.entries.values() if (e.kind is EntryKind.DATASET) == datasets]
    exact = [e for e in candidates if normalized in e.aliases]
    if len(exact) == 1:
        return Resolution(model, normalized, exact[0], via="alias")
    hits: list[tuple[Entry, str]] = []
    for e in candidates:
        for p in e.patterns:
            if p.search(normalized):
                hits.append((e, p.pattern))
                break
    if len(hits) == 1:
        return Resolution(model, normalized, hits[0][0], via=hits[0][1])
    if not hits:
        what = "source" if datasets else "model id"
        return Resolution(
            model,
            normalized,
            None,
            reason=f"{what} {model!r} matches no registry entry; add one with a registry override "
            "(--registry FILE)",
        )
    names = ", ".join(f"{e.id!r} ({p!r})" for e, p in hits)
    return Resolution(
        model,
        normalized,
        None,
        reason=f"{model!r} matches several registry entries: {names}; add an alias to the right one",
    )


def source_key(source: str) -> str:
    """A declared source, lower-cased, for matching dataset entries (URLs keep their path)."""
    return source.strip().lower()
