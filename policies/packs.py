"""Policy packs: a YAML file naming the intended use, the student and the checks to run.

A pack is validated by pydantic, each check's settings by that check's own settings model, so a
misspelt field, an unknown check or an unknown PII entity is an error that names the file, the
line and the field. The pack's hash (canonical JSON of the validated pack) goes into the context
of every decision it produces.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.checks import CHECK_KINDS, check_class
from policies.judge import LicencePolicy, Use
from provenance.core.errors import InputError
from provenance.core.ids import content_id
from provenance.core.licences import spdx_field
from provenance.core.vocabulary import Decision
from provenance.core.yamlfile import line_of, load_yaml, validation_error

SHIPPED = ("research", "commercial", "release")


class Action(StrEnum):
    """What a check's finding does to the example."""

    FLAG = Decision.FLAG.value
    DROP = Decision.DROP.value
    REDACT = Decision.REDACT.value
    BLOCK = Decision.BLOCK.value


class CheckSpec(BaseModel):
    """One check in a pack: which check, its settings, and what a finding does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    name: str = ""
    action: Action
    settings: dict[str, Any] = Field(default_factory=dict)
    if_not_run: Literal["block", "report"] = "report"

    @field_validator("check")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CHECK_KINDS:
            raise ValueError(f"unknown check {value!r} (known: {', '.join(CHECK_KINDS)})")
        return value

    @model_validator(mode="after")
    def _action_fits(self) -> CheckSpec:
        kind = check_class(self.check)
        if self.action.value not in kind.actions:
            raise ValueError(
                f"check {self.check!r} cannot {self.action.value} (its actions: {', '.join(kind.actions)})"
            )
        if not self.name:
            object.__setattr__(self, "name", self.check)
        return self


class GateSpec(BaseModel):
    """Thresholds the training gate applies to what the checks decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_dropped_share: float | None = Field(default=None, ge=0, le=1)
    min_examples: int = Field(default=1, ge=0)


class Pack(BaseModel):
    """A validated policy pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = "1"
    description: str = ""
    use: Use
    student: str = "tiny"
    student_licence: str | None = None
    distribute: bool = False
    competing: bool | None = None
    checks: list[CheckSpec] = Field(min_length=1)
    gate: GateSpec = Field(default_factory=GateSpec)

    @field_validator("student_licence")
    @classmethod
    def _spdx(cls, value: str | None) -> str | None:
        return spdx_field(value) if value is not None else None

    @model_validator(mode="after")
    def _unique_names(self) -> Pack:
        seen: set[str] = set()
        for spec in self.checks:
            if spec.name in seen:
                raise ValueError(f"two checks are named {spec.name!r}; give one a distinct `name:`")
            seen.add(spec.name)
        return self

    @property
    def hash(self) -> str:
        """Content hash of the validated pack."""
        return content_id(self.model_dump(mode="json"))

    def licence_policy(self, student: str | None = None) -> LicencePolicy:
        """The licence policy this pack asks for (optionally for another student)."""
        return LicencePolicy(
            use=self.use,
            student=student or self.student,
            student_licence=self.student_licence,
            distribute=self.distribute,
            competing=self.competing,
        )


class LoadedPack(BaseModel):
    """A pack with where it came from and each check's validated settings."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    pack: Pack
    path: Path
    settings: list[Any]  # one validated settings model per check, in pack order


def pack_path(name_or_path: str) -> Path:
    """A shipped pack's file (``research``, ``commercial``, ``release``) or the given file."""
    if name_or_path in SHIPPED:
        return Path(str(resources.files("policies").joinpath(f"{name_or_path}.yaml")))
    path = Path(name_or_path)
    if not path.exists() and not path.suffix:
        raise InputError(f"no policy pack {name_or_path!r}: give a YAML file or one of {', '.join(SHIPPED)}")
    return path


def load_pack(name_or_path: str) -> LoadedPack:
    """Read and validate a pack, including every check's settings.

    Raises:
        InputError: the file, the line and the field of the first problem.
    """
    path = pack_path(name_or_path)
    data, node = load_yaml(path, "policy pack")
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, path=path, node=node, model=Pack, describe=_describe(data)) from None
    settings = []
    for i, spec in enumerate(pack.checks):
        model = check_class(spec.check).Settings
        try:
            settings.append(model.model_validate(spec.settings, context={"base": path.parent}))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ["checks", i, "settings", *err["loc"]]
            reason = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                reason = f"unknown setting {err['loc'][-1]!r} (allowed: {', '.join(model.model_fields)})"
            field = ".".join(str(p) for p in err["loc"])
            raise InputError(
                f"check {spec.name!r}: settings.{field}: {reason}"
                if field
                else f"check {spec.name!r}: {reason}",
                path=path,
                line=line_of(node, loc),
            ) from None
    return LoadedPack(pack=pack, path=path, settings=settings)


def _describe(data: dict[str, Any]) -> Any:
    def describe(loc: list[Any]) -> str | None:
        if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int):
            checks = data.get("checks") or []
            if loc[1] < len(checks) and isinstance(checks[loc[1]], dict):
                return f"check {checks[loc[1]].get('name') or checks[loc[1]].get('check')!r}"
        return None

    return describe
