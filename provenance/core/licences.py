"""SPDX licence expressions, validated with the ``license-expression`` parser.

Accepted symbols: official SPDX licence and exception ids (any case, normalised to the official
spelling), ScanCode keys as ``LicenseRef-scancode-*``, and any other ``LicenseRef-<idstring>``
(SPDX allows own references; ``DocumentRef-<id>:LicenseRef-<id>`` too). Everything else is an
error that says what to write instead.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from provenance.core.errors import LicenceError

_UNKNOWN_WORDS = {"NOASSERTION", "NONE", "UNKNOWN"}
_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")


@lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@lru_cache(maxsize=1)
def _known_keys() -> dict[str, str]:
    licensing = _licensing()
    keys: dict[str, str] = {}
    for symbol in licensing.known_symbols.values():
        keys[symbol.key.lower()] = symbol.key
        for alias in getattr(symbol, "aliases", ()) or ():
            keys.setdefault(alias.lower(), symbol.key)
    return keys


@lru_cache(maxsize=4096)
def normalize_licence(expression: str) -> str:
    """Validate an SPDX expression and return it in normalised form.

    Raises:
        LicenceError: the expression does not parse, or names an id that is neither an SPDX id
            nor a ``LicenseRef-``.
    """
    from license_expression import ExpressionError, ExpressionParseError

    text = expression.strip()
    if not text:
        raise LicenceError("licence expression is empty")
    licensing = _licensing()
    try:
        parsed = licensing.parse(text, validate=False, strict=True)
    except (ExpressionError, ExpressionParseError) as exc:
        raise LicenceError(f"invalid licence expression {expression!r}: {exc}") from None
    if parsed is None:
        raise LicenceError(f"invalid licence expression {expression!r}")
    known = _known_keys()
    if text.upper() in _UNKNOWN_WORDS:
        raise LicenceError(f"{expression!r} is not a licence; leave the licence out to record it as unknown")
    for symbol in licensing.license_symbols(parsed, unique=True, decompose=True):
        key = symbol.key
        if key.lower() in known or _REF.match(key):
            continue
        hint = difflib.get_close_matches(key.lower(), known.keys(), n=1, cutoff=0.75)
        suggestion = f" (did you mean {known[hint[0]]!r}?)" if hint else ""
        raise LicenceError(
            f"unknown licence id {key!r} in {expression!r}{suggestion}; use an SPDX id, a "
            "LicenseRef-scancode-<key>, or your own LicenseRef-<name>"
        )
    return _canonical_case(parsed.render("{symbol.key}"), known)


def _canonical_case(rendered: str, known: dict[str, str]) -> str:
    """Replace each known id by its official spelling; keep LicenseRefs verbatim."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if word in {"AND", "OR", "WITH"} or _REF.match(word):
            return word
        return known.get(word.lower(), word)

    return re.sub(r"[A-Za-z0-9.\-+:]+", fix, rendered)


def spdx_field(value: str) -> str:
    """:func:`normalize_licence` for pydantic validators: a bad expression is a ValueError, so
    the validation error names the field."""
    try:
        return normalize_licence(value)
    except LicenceError as exc:
        raise ValueError(exc.message) from None
