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

from provenance.errors import InputError, LicenceError
from provenance.licences import normalize_licence
from provenance.models import Declaration, Origin, Teacher, Terms


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
    import yaml

    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError("manifest does not exist", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"manifest is not valid UTF-8 ({exc.reason})", path=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"YAML syntax error: {problem}", path=path, line=mark.line + 1 if mark else None
        ) from None
    if data is None:
        raise InputError("manifest is empty", path=path)
    if not isinstance(data, dict):
        raise InputError("manifest must be a YAML mapping of fields", path=path, line=1)
    if "licence" not in data and "license" in data:
        data["licence"] = data.pop("license")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = f"unknown field (allowed: {', '.join(Manifest.model_fields)})"
        raise InputError(f"{'.'.join(loc)}: {reason}", path=path, line=_line_of(node, loc)) from None
    except LicenceError as exc:
        raise InputError(f"licence: {exc.message}", path=path, line=_line_of(node, ["licence"])) from None


def _line_of(node: Any, loc: list[str]) -> int | None:
    """1-based line of the YAML node at a field path, or of its deepest existing parent."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part or (part == "licence" and key.value == "license"):
                node, line = value, key.start_mark.line + 1
                break
        else:
            break
    return line


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
