"""An SPDX expression as a small tree: ("symbol", id) | ("and", [...]) | ("or", [...]).

``WITH`` exceptions are judged as their licence: an exception only ever widens a licence, so
ignoring it can only make a verdict stricter.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from provenance.core.licences import normalize_licence

Tree = tuple[str, Any]


@lru_cache(maxsize=1024)
def parse_tree(expression: str) -> Tree:
    """Parse a (valid) SPDX expression.

    Raises:
        LicenceError: the expression is not valid SPDX.
    """
    from license_expression import AND, OR, LicenseWithExceptionSymbol, get_spdx_licensing

    text = normalize_licence(expression)
    parsed = get_spdx_licensing().parse(text, validate=False, strict=True)

    def walk(node: Any) -> Tree:
        if isinstance(node, AND):
            return ("and", tuple(walk(a) for a in node.args))
        if isinstance(node, OR):
            return ("or", tuple(walk(a) for a in node.args))
        if isinstance(node, LicenseWithExceptionSymbol):
            return ("symbol", node.license_symbol.key)
        return ("symbol", node.key)

    return walk(parsed)


def render(tree: Tree) -> str:
    """The tree as an expression again (parenthesised where needed)."""
    op, value = tree
    if op == "symbol":
        return str(value)
    joined = f" {op.upper()} ".join(
        f"({render(child)})" if child[0] not in ("symbol", op) else render(child) for child in value
    )
    return joined
