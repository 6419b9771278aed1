"""Offensive language, offline, with alt-profanity-check's shipped model (MIT).

It measures profanity: a linear model over words, trained on swearing. It does not catch threats
or slurs that contain no swear word; the toxicity check (detoxify) is the one for those, and every
pack runs this one too because it needs nothing but the installed package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from policies.checks.base import BatchCheck, CheckSettings, Outcome, example_texts

if TYPE_CHECKING:
    import pyarrow as pa


class ProfanitySettings(CheckSettings):
    """Settings of the profanity check."""

    threshold: float = Field(default=0.8, gt=0, le=1)
    fields: list[str] = Field(default_factory=lambda: ["instruction", "input", "output", "messages"])


class ProfanityCheck(BatchCheck):
    """Probability that a field contains profanity (alt-profanity-check); the highest field counts."""

    kind = "profanity"
    version = "1"
    measures = "profanity (swearing) per field, by alt-profanity-check's shipped model; not threats or slurs"
    requires = ("profanity_check", "sklearn")
    install_hint = "pip install alt-profanity-check"
    Settings = ProfanitySettings
    settings: ProfanitySettings

    def _load(self) -> None:
        from profanity_check import predict_prob

        self._predict = predict_prob

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "fields": self.settings.fields,
            "model": f"alt-profanity-check {version('alt-profanity-check')}",
        }

    def score(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        per_example = example_texts(batch, self.settings.fields)
        flat = [(i, f, t) for i, texts in enumerate(per_example) for f, t in texts.items()]
        distinct = list(dict.fromkeys(t for _, _, t in flat))
        probs = (
            dict(zip(distinct, (float(p) for p in self._predict(distinct)), strict=True)) if distinct else {}
        )
        out: list[dict[str, Any]] = [{} for _ in per_example]
        for i, field, text in flat:
            out[i][field] = round(probs[text], 6)
        return out

    def decide(self, scores: dict[str, Any]) -> Outcome:
        if not scores:
            return Outcome(False, "clean", 0.0)
        field, top = max(scores.items(), key=lambda kv: kv[1])
        if top >= self.settings.threshold:
            return Outcome(True, "profane", top, f"profanity in {field} (p={top:.2f})", {"field": field})
        return Outcome(False, "clean", top)
