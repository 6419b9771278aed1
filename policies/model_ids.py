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


def split_org(normalized: str) -> tuple[str | None, str]:
    """``org/name`` → ``(org, name)``; a bare name → ``(None, name)``."""
    org, sep, name = normalized.rpartition("/")
    return (org or None, name) if sep else (None, normalized)


#: Words that may follow a model's name in any id without making it another model: roles
#: (instruct, chat, it, base, hf), quantisation and format tags (GGUF, AWQ, GPTQ, int4, fp8,
#: Q4_K_M, exl2, mlx, bnb-4bit, w4a16, …), serving tiers that keep the weights (Together's
#: turbo/lite, Vertex's maas, Groq's versatile/instant/specdec/preview), sizes (7b, 1.5b, 8x7b,
#: a22b, e4b, 16e, 128k) and dates or release numbers (2024-08-06, 0125, 2407, 20240620,
#: 08-2024). Versions such as ``v0.2`` are an entry's own ``variants``.
SUFFIX_WORDS = (
    r"instruct|chat|it|base|hf",
    r"gguf|ggml|awq|gptq|exl[23]|mlx|bnb|onnx|litert|qat|imatrix|quantized|dynamic|unsloth|marlin",
    r"fp(4|8|16|32)|bf16|f(16|32)|int[2348]|nf4|mxfp4|\d+bit|\d+(\.\d+)?bpw|w\d+a\d+|g\d+",
    r"i?q\d(_[a-z0-9]+)*",
    r"turbo|lite|maas|versatile|instant|specdec|preview",
    r"\d+(\.\d+)?[bmk]|\d+x\d+(\.\d+)?b|[ae]\d+(\.\d+)?b|\d+e",
    r"\d{4}-\d{2}-\d{2}|\d{2}-\d{4}|\d{4}|\d{6}|\d{8}",
)
#: Words that mark a fine-tune, merge or other derivative: never part of a vendor's API name.
DERIVATIVE_WORDS = frozenset(
    {
        "abliterated", "uncensored", "finetune", "finetuned", "fine", "tuned", "ft", "merge", "merged",
        "lora", "qlora", "dpo", "sft", "orpo", "kto", "distill", "distilled", "jailbreak", "rp",
        "roleplay", "nsfw", "dolphin", "hermes", "openhermes", "wizard", "vicuna", "alpaca",
    }
)  # fmt: skip
_SEP = "[-_.:]"


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(f"(?:{w})" for w in words) or "(?!)"


def extra_words(prefix: str, rest: str, variants: tuple[str, ...]) -> list[str]:
    """Words around a pattern's match that are neither known suffixes nor the entry's variants.

    ``prefix`` is the part of the name before the match (only the entry's ``variants``, such as
    ``meta`` in ``Meta-Llama-3``, may stand there); ``rest`` the part after it, beginning with
    the separator that ends the match (``""`` when the match ends the name). Empty: the name is
    the model's name on whole tokens.
    """
    own = _alternation(variants)
    after = f"(?:{_alternation(SUFFIX_WORDS)}|{own})"
    if re.fullmatch(f"(?:{_SEP}+{after}(?={_SEP}|$))*{_SEP}*", rest) and re.fullmatch(
        f"(?:(?:{own}){_SEP}+)*", prefix
    ):
        return []
    words = [w for w in re.split(f"{_SEP}+", prefix) if w and not re.fullmatch(own, w)]
    words += [w for w in re.split(f"{_SEP}+", rest) if w and not re.fullmatch(after, w)]
    return words or [rest.strip("-_.:") or prefix]


def derivative_words(text: str) -> list[str]:
    """The words of ``text`` that mark a fine-tune, merge or other derivative."""
    return [w for w in re.split(f"{_SEP}+", text) if w in DERIVATIVE_WORDS]
