"""Model-id and source normalisation: the forms registry aliases and patterns are written against.

Normalisation removes what says where a model was served rather than which model it is:
provider routes (``openrouter/``, ``together_ai/``, ``accounts/fireworks/models/``,
``models/``), Bedrock's region and vendor prefixes (``us.anthropic.``), version and variant
suffixes after a colon (``:0``, ``:free``), Vertex's ``@version``, and OpenAI fine-tune wrappers
(``ft:gpt-3.5-turbo:org::id`` → ``gpt-3.5-turbo``; ``davinci:ft-org-2023-…`` → ``davinci``).
Ollama tags ``name:size`` become ``name-size``. Hugging Face organisations stay: they tell
``xai-org/grok-2`` (open weights) from ``grok-2-1212`` (the API).

Both the registry (normalising its aliases) and resolution (normalising a model id) use it; it
imports neither.
"""

from __future__ import annotations

import re

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


def source_key(source: str) -> str:
    """A declared source, lower-cased, for matching dataset entries (URLs keep their path)."""
    return source.strip().lower()
