"""Toxicity with detoxify's models, loaded offline from a local checkpoint and a local config.

Every label the model has is scored and stored; a threshold per label decides. Where no checkpoint
is installed the check does not run, and says so with the reason and how to provide one: nothing
else is ever presented as detoxify's verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from policies.checks.base import BatchCheck, CheckSettings, CheckUnavailable, Outcome, example_texts
from provenance.core.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

#: Labels detoxify's models report (the 'original' six, then the 'unbiased' / 'multilingual' extras).
LABELS = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "threat",
    "insult",
    "identity_attack",
    "sexual_explicit",
    "male",
    "female",
    "homosexual_gay_or_lesbian",
    "christian",
    "jewish",
    "muslim",
    "black",
    "white",
    "psychiatric_or_mental_illness",
)


class ToxicitySettings(CheckSettings):
    """Settings of the toxicity check."""

    model: Literal["original", "unbiased", "multilingual", "original-small", "unbiased-small"] = "original"
    checkpoint: str | None = None
    config: str | None = None
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {
            "toxicity": 0.5,
            "severe_toxicity": 0.5,
            "obscene": 0.5,
            "threat": 0.5,
            "insult": 0.5,
            "identity_attack": 0.5,
        },
        min_length=1,
    )
    fields: list[str] = Field(default_factory=lambda: ["instruction", "input", "output", "messages"])
    batch_size: int = Field(default=32, ge=1)

    @field_validator("checkpoint", "config")
    @classmethod
    def _local_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = (Path((info.context or {}).get("base") or Path.cwd()) / value).resolve()
        if not path.exists():
            raise ValueError(f"{path} does not exist")
        return str(path)

    @field_validator("thresholds")
    @classmethod
    def _labels(cls, value: dict[str, float]) -> dict[str, float]:
        for label, t in value.items():
            if label not in LABELS:
                raise ValueError(f"unknown toxicity label {label!r} (detoxify's labels: {', '.join(LABELS)})")
            if not 0 < t <= 1:
                raise ValueError(f"threshold for {label} must be in (0, 1], not {t}")
        return value


class ToxicityCheck(BatchCheck):
    """detoxify's label probabilities per field; a label at or above its threshold hits."""

    kind = "toxicity"
    version = "1"
    measures = "toxicity labels (toxicity, threat, insult, identity attack, …) by a detoxify model"
    requires = ("torch", "transformers")
    install_hint = "pip install 'provenance[ml]'"
    Settings = ToxicitySettings
    settings: ToxicitySettings

    def _files(self) -> tuple[Any, Any]:
        """The checkpoint and the config directory (raises CheckUnavailable when missing)."""
        from policies.detox import DetoxifyMissing, locate

        s = self.settings
        try:
            return locate(s.model, s.checkpoint, s.config)
        except DetoxifyMissing as exc:
            raise CheckUnavailable(str(exc)) from None

    def _load(self) -> None:
        from policies.detox import DetoxifyScorer

        checkpoint, config = self._files()
        self.scorer = DetoxifyScorer(
            checkpoint, config, batch_size=self.settings.batch_size, model_type=self.settings.model
        )
        missing = [label for label in self.settings.thresholds if label not in self.scorer.labels]
        if missing:
            raise InputError(
                f"toxicity thresholds: the {self.settings.model} checkpoint {checkpoint} "
                f"has no label {', '.join(missing)} "
                f"(its labels: {', '.join(self.scorer.labels)}); fix the pack's thresholds"
            )

    def identity(self) -> dict[str, Any]:
        from policies.detox import config_sha256
        from provenance.core.ids import digest_file_cached

        checkpoint, config = self._files()
        if getattr(self, "_identity", None) is None:
            self._identity = {
                "model": self.settings.model,
                "checkpoint_sha256": digest_file_cached(checkpoint),
                "config_sha256": config_sha256(config),
                "fields": self.settings.fields,
            }
        return self._identity

    def notes(self) -> list[str]:
        return [
            f"toxicity scored by detoxify model '{self.settings.model}' "
            f"(checkpoint {self.identity()['checkpoint_sha256'][:12]})"
        ]

    def score(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        per_example = example_texts(batch, self.settings.fields)
        flat = [(i, f, t) for i, texts in enumerate(per_example) for f, t in texts.items()]
        probs = self.scorer.predict([t for _, _, t in flat]) if flat else []
        labels = self.scorer.labels
        out: list[dict[str, Any]] = [{} for _ in per_example]
        for (i, field, _), row in zip(flat, probs, strict=True):
            out[i][field] = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        return out

    def decide(self, scores: dict[str, Any]) -> Outcome:
        worst: dict[str, tuple[float, str]] = {}
        for field, labels in scores.items():
            for label, p in labels.items():
                if label not in worst or p > worst[label][0]:
                    worst[label] = (p, field)
        top = max((p for p, _ in worst.values()), default=0.0)
        over = [
            (label, worst[label])
            for label, t in self.settings.thresholds.items()
            if label in worst and worst[label][0] >= t
        ]
        if not over:
            return Outcome(False, "clean", top)
        over.sort(key=lambda x: -x[1][0])
        reason = "toxic: " + ", ".join(f"{label} {p:.2f} in {field}" for label, (p, field) in over[:3])
        return Outcome(True, "toxic", top, reason, {"labels": {label: p for label, (p, _) in over}})
