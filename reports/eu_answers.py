"""The answers only a person can give for the EU training-content summary (``--answers FILE``).

A small YAML file, validated by pydantic; an answer left out is written as "to be completed by the
provider" in the summary, never guessed. Errors name the file and the line.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from provenance.core.yamlfile import load_yaml, validation_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderAnswers(_Strict):
    """1.1: who places the model on the market, and how to reach them."""

    name: str | None = None
    contact: str | None = None


class ModelAnswers(_Strict):
    """1.1: the versioned model name, what it builds on, and when it was placed on the EU market."""

    name: str | None = None
    version: str | None = None
    dependencies: str | None = None
    placed_on_market: date | None = None


class UseAnswers(_Strict):
    """Whether a kind of source was used, and a description (2.2 licensed, 2.4 user data, 2.6 other)."""

    used: bool | None = None
    description: str | None = None


class CrawlerAnswers(_Strict):
    """2.3: data crawled and scraped from online sources."""

    used: bool | None = None
    crawlers: list[str] | None = None
    purposes: str | None = None
    robots_txt: str | None = None
    period: str | None = None
    top_domains: list[str] | None = None


class OptOutAnswers(_Strict):
    """3.1: respect of reservations of rights (text-and-data-mining opt-outs)."""

    measures: str | None = None
    code_of_practice_signatory: bool | None = None


class IllegalContentAnswers(_Strict):
    """3.2: measures to remove illegal content beyond the checks the ledger records."""

    measures: str | None = None


class Answers(_Strict):
    """Everything a person answers; every field is optional."""

    provider: ProviderAnswers = ProviderAnswers()
    model: ModelAnswers = ModelAnswers()
    content_types: str | None = None
    private_data: UseAnswers = UseAnswers()
    crawled_data: CrawlerAnswers = CrawlerAnswers()
    user_data: UseAnswers = UseAnswers()
    other_sources: UseAnswers = UseAnswers()
    opt_out: OptOutAnswers = OptOutAnswers()
    illegal_content: IllegalContentAnswers = IllegalContentAnswers()
    other_information: str | None = None


def load_answers(path: str | Path) -> Answers:
    """Read and validate an answers file. :class:`InputError` (exit 2) names the file and line."""
    data, node = load_yaml(path, "the answers file")
    try:
        return Answers.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, path=path, node=node, model=Answers) from None
