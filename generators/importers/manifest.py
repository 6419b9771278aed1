"""The import manifest: a small YAML file that declares a file's provenance.

```yaml
format: predictions            # optional; the command line's --format wins
source: https://github.com/yizhongw/self-instruct/blob/0b26ccaa/…
origin: machine                # human | machine
licence: Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314
teacher: {model: text-davinci-003, provider: openai}   # or just a model id
terms: {id: openai-terms-of-use, version: "2023-03-14", retrieved: 2026-11-01,
        status: non_competing_only}                   # or "id@version"
```
What it leaves out is recorded as unknown. Errors name the manifest, the line and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from provenance.core.errors import InputError, LicenceError
from provenance.core.licences import normalize_licence
from provenance.core.models import Declaration, Origin, Teacher, Terms, control_problem, plain
from provenance.core.yamlfile import line_of, load_yaml, validation_error


class Manifest(BaseModel):
    """The manifest's fields."""

    model_config = ConfigDict(extra="forbid")

    format: str | None = None
    source: str | None = None
    origin: Origin | None = None
    licence: str | None = None
    teacher: Teacher | None = None
    terms: Terms | None = None

    @field_validator("licence")
    @classmethod
    def _spdx(cls, value: str | None) -> str | None:
        return normalize_licence(value) if value is not None else None

    @field_validator("source", "format")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return plain(value, "the value")

    @field_validator("teacher", "terms")
    @classmethod
    def _plain_parts(cls, value: Teacher | Terms | None) -> Teacher | Terms | None:
        problem = value.declared_problem() if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("teacher", mode="before")
    @classmethod
    def _teacher(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value

    @field_validator("terms", mode="before")
    @classmethod
    def _terms(cls, value: Any) -> Any:
        return Terms.parse(value).model_dump() if isinstance(value, str) else value


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest.

    Raises:
        InputError: missing file, YAML syntax error, unknown field, wrong type, bad licence.
    """
    data, node = load_yaml(path, "manifest")
    if "licence" not in data and "license" in data:
        data["licence"] = data.pop("license")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, path=path, node=node, model=Manifest, aliases=_ALIASES) from None
    except LicenceError as exc:
        raise InputError(
            f"licence: {exc.message}", path=path, line=line_of(node, ["licence"], _ALIASES)
        ) from None


_ALIASES = {"licence": "license"}


def declaration_from(
    manifest: Manifest | None,
    *,
    origin: str | None = None,
    teacher: str | None = None,
    licence: str | None = None,
    terms: str | None = None,
    source: str | None = None,
    default_origin: Origin = Origin.UNKNOWN,
) -> Declaration:
    """Merge a manifest with command-line options (options win) into a Declaration.

    Raises:
        InputError: the result contradicts itself or has a bad licence expression.
    """
    m = manifest or Manifest()
    options = {"--teacher": teacher, "--licence": licence, "--terms": terms, "--source": source}
    for name, value in options.items():
        problem = control_problem(value)
        if problem is not None:
            raise InputError(f"{name}: the value {problem}")
    parsed_teacher = (
        _option("--teacher", lambda: Teacher(model=teacher)) if teacher is not None else m.teacher
    )
    parsed_terms = _option("--terms", lambda: Terms.parse(terms)) if terms is not None else m.terms
    try:
        return Declaration(
            origin=Origin(origin) if origin else (m.origin or default_origin),
            teacher=parsed_teacher,
            licence=licence if licence is not None else m.licence,
            terms=parsed_terms,
            source=source if source is not None else m.source,
        )
    except ValidationError as exc:
        raise InputError(_reason(exc)) from None


def declare(manifest: str | Path | None, **options: Any) -> tuple[Manifest | None, Declaration]:
    """The manifest at ``manifest`` (None for none) and the Declaration it and the command-line
    ``options`` (see :func:`declaration_from`) make."""
    loaded = load_manifest(manifest) if manifest else None
    return loaded, declaration_from(loaded, **options)


def _option(name: str, build: Any) -> Any:
    """Build a value from a command-line option; a validation error names the option."""
    try:
        return build()
    except ValidationError as exc:
        raise InputError(f"{name}: {_reason(exc)}") from None


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    reason = err["msg"].removeprefix("Value error, ")
    return f"{where}: {reason}" if where else reason
