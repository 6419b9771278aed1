"""Teacher resolution: a model id as it appears in the wild → exactly one registry entry, or unknown.

The id is normalised first (:mod:`policies.model_ids`), then matched against the registry's
aliases and patterns; several matches, like none, resolve to unknown. A pattern resolves an id
only when the id's organisation is the entry's publisher or a re-host the registry declares, and
the name is the model's name on whole tokens (:meth:`policies.registry.Registry.claim`); an id
that only looks like an entry (a re-upload, a fine-tune, extra words) is unknown, and the reason
says which entry it looks like and how to vouch for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies.model_ids import normalize_model_id, source_key
from policies.registry import Claim, Entry, EntryKind, Registry


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
    if datasets:
        hits = [(e, p.pattern) for e in candidates if (p := _first(e, normalized)) is not None]
        lookalikes: list[tuple[Entry, Claim]] = []
    else:
        claims = [(e, c) for e in candidates if (c := registry.claim(e, normalized)) is not None]
        hits = [(e, c.pattern) for e, c in claims if c.holds]
        lookalikes = [(e, c) for e, c in claims if not c.holds]
    if len(hits) == 1:
        return Resolution(model, normalized, hits[0][0], via=hits[0][1])
    if not hits and lookalikes:
        return Resolution(model, normalized, None, reason=lookalike_reason(model, *lookalikes[0]))
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


def _first(entry: Entry, key: str) -> re.Pattern[str] | None:
    return next((p for p in entry.patterns if p.search(key)), None)


def lookalike_reason(model: str, entry: Entry, claim: Claim) -> str:
    """Why an id that looks like ``entry`` does not resolve to it, and how to vouch for it."""
    words = ", ".join(repr(w) for w in claim.extra)
    if claim.unvouched:
        why = f", published by {claim.org}, which the registry does not vouch for"
        why += f" (and with the extra words {words})" if claim.extra else ""
    else:
        why = f" with the extra words {words}, which the registry does not vouch for"
    return (
        f"{model!r} looks like {entry.name} (entry {entry.id}){why}: a re-upload or fine-tune may carry "
        "any licence. If it is the same model under the same terms, vouch for it with "
        f"`provenance teachers alias {model} {entry.id} --to FILE` and pass --registry FILE; "
        "otherwise describe it in a registry override (--registry FILE)"
    )
