"""The shape of the EU AI Act public summary of training content, section by section.

The sections follow the AI Office's template (24 July 2025): 1 general information (1.1 provider
and model, 1.2 modalities and size, 1.3 content), 2 list of data sources (2.1 ... 2.6), 3 data
processing aspects (3.1 ... 3.3). Every field is a :class:`Value` that says where it came from: the
ledger (with the named query and the audit chain head it was read at), the tool itself, the
provider's answers, or nowhere yet ("to be completed by the provider"). ``eu_summary_schema.json``
is :meth:`Summary.model_json_schema` (a test keeps it from drifting); :func:`validate` checks a JSON
document against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MD_FILE, JSON_FILE = "EU-SUMMARY.md", "EU-SUMMARY.json"  # in the student's folder, beside AUDIT.md
TO_BE_COMPLETED = "to be completed by the provider"
TEMPLATE = (
    "Template for the Public Summary of Training Content for general-purpose AI models "
    "(AI Office, European Commission, 24 July 2025), Article 53(1)(d) AI Act"
)
SCHEMA_FILE = Path(__file__).with_name("eu_summary_schema.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Snapshot(_Strict):
    """The ledger snapshot a value was read at: the audit chain head."""

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Value(_Strict):
    """One field of the summary and where it came from."""

    value: Any
    source: Literal["ledger", "answers", "missing"]
    query: str | None = None
    snapshot: Snapshot | None = None
    note: str | None = None


class Scope(_Strict):
    """What the summary covers: a trained student's dataset, or a dataset (gate selection)."""

    kind: Literal["student", "dataset"]
    dataset_id: str
    examples: int = Field(ge=0)
    training_id: str | None = None
    student: str | None = None


class ProviderAndModel(_Strict):
    """1.1 Provider identification and model."""

    provider_name: Value
    provider_contact: Value
    model_name: Value
    model_version: Value
    model_dependencies: Value
    placed_on_market: Value


class ModalitiesAndSize(_Strict):
    """1.2 Modality, training data size (as a band) per modality."""

    modalities: Value
    text_size_band: Value
    text_tokens: Value


class ContentInformation(_Strict):
    """1.3 Types of content, latest date of acquisition, languages."""

    content_types: Value
    latest_acquisition: Value
    languages: Value


class General(_Strict):
    """1 General information."""

    provider_and_model: ProviderAndModel = Field(alias="1.1")
    modalities_and_size: ModalitiesAndSize = Field(alias="1.2")
    content: ContentInformation = Field(alias="1.3")
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class PrivateData(_Strict):
    """2.2 Private non-publicly available datasets obtained from third parties (licensed data)."""

    licences: Value
    provider_answer: Value


class DataSources(_Strict):
    """2 List of data sources."""

    public_datasets: Value = Field(alias="2.1")
    private_datasets: PrivateData = Field(alias="2.2")
    crawled_data: Value = Field(alias="2.3")
    user_data: Value = Field(alias="2.4")
    synthetic_data: Value = Field(alias="2.5")
    other_sources: Value = Field(alias="2.6")
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class RightsReservations(_Strict):
    """3.1 Respect of reservation of rights from the text and data mining exception."""

    evidence: Value
    measures: Value
    code_of_practice_signatory: Value


class IllegalContent(_Strict):
    """3.2 Removal of illegal content."""

    evidence: Value
    measures: Value


class Processing(_Strict):
    """3 Data processing aspects."""

    rights_reservations: RightsReservations = Field(alias="3.1")
    illegal_content: IllegalContent = Field(alias="3.2")
    other_information: Value = Field(alias="3.3")
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Summary(_Strict):
    """The whole summary."""

    template: Literal[TEMPLATE] = TEMPLATE  # type: ignore[valid-type]
    generated_at: str
    tool_version: str
    snapshot: Snapshot
    scope: Scope
    general: General = Field(alias="1")
    data_sources: DataSources = Field(alias="2")
    processing: Processing = Field(alias="3")
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    def to_json(self) -> str:
        """The JSON document (section numbers as keys, in the template's order)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False) + "\n"


class SummaryInvalidError(ValueError):
    """A JSON document that does not follow the summary's schema."""


def schema() -> dict[str, Any]:
    """The JSON Schema of the summary (what ``eu_summary_schema.json`` holds)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Summary.model_json_schema(by_alias=True),
    }


def validate(data: dict[str, Any]) -> Summary:
    """The summary a JSON document holds; :class:`SummaryInvalidError` names the first problem."""
    try:
        return Summary.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        raise SummaryInvalidError(f"{where}: {err['msg']}") from None
