"""Teacher resolution: a model id as it appears in the wild → exactly one registry entry, or unknown.

The id is normalised first (:mod:`policies.model_ids`), then matched against the registry's
aliases and patterns; several matches, like none, resolve to unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.model_ids import normalize_model_id, source_key
from policies.registry import Entry, EntryKind, Registry


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
