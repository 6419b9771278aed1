"""Reading YAML files validated by pydantic, with errors that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from provenance.core.errors import InputError


def load_yaml(path: str | Path, what: str) -> tuple[Any, Any]:
    """Parse a YAML file; return its data and its node tree (for line numbers).

    Raises:
        InputError: missing file, not UTF-8, YAML syntax error, empty file.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} does not exist", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not valid UTF-8 ({exc.reason})", path=path) from None
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
        raise InputError(f"{what} is empty", path=path)
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a YAML mapping of fields", path=path, line=1)
    return data, node


def line_of(node: Any, loc: list[str | int], aliases: dict[str, str] | None = None) -> int | None:
    """1-based line of the YAML node at a field path, or of its deepest existing parent.

    ``aliases`` maps a field name to another spelling the file may use (``licence`` → ``license``).
    """
    import yaml

    aliases = aliases or {}
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == str(part) or key.value == aliases.get(str(part)):
                node, line = value, key.start_mark.line + 1
                break
        else:
            break
    return line


def validation_error(
    exc: ValidationError,
    *,
    path: str | Path,
    node: Any,
    model: type[BaseModel],
    describe: Any = None,
    aliases: dict[str, str] | None = None,
) -> InputError:
    """Turn pydantic's first error into an InputError at the offending line.

    ``describe(loc)`` may return a prefix naming the element (e.g. ``entry 'llama-3.1'``).
    """
    err = exc.errors()[0]
    loc = list(err["loc"])
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        reason = f"unknown field {loc[-1]!r}"
        parent = _model_at(model, loc[:-1])
        if parent is not None:
            reason += f" (allowed: {', '.join(parent.model_fields)})"
    field = ".".join(str(p) for p in loc)
    prefix = describe(loc) if describe else None
    message = f"{prefix}: {field}: {reason}" if prefix else f"{field}: {reason}"
    return InputError(message, path=path, line=line_of(node, loc, aliases))


def _model_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for listing allowed fields)."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        current = info.annotation
        for _ in range(3):  # unwrap list[X], X | None
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if not args:
                break
            current = args[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
