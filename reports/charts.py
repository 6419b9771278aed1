"""The audit report's charts: static SVG, drawn here, one small function a chart.

Each returns the SVG as markup (its labels escaped), or a short note when there is nothing to draw.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from provenance.core.vocabulary import DECISION_ORDER
from reports.facts import SeedCoverage


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


COLOURS = {"pass": "#4c9a5f", "flag": "#e0a030", "redact": "#5b7fc7", "drop": "#c8553d", "block": "#7a1f1f"}
PALETTE = ("#3b6ea5", "#c8553d", "#4c9a5f", "#e0a030", "#7e5ea6", "#2a9d8f", "#8d6e63", "#5f6b7a")


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 640) -> Markup:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return Markup(f'<p class="muted">{_e(title)}: nothing to show.</p>')
    row, left, top = 24, 220, 28
    biggest = max(v for _, v in items) or 1
    height = top + row * len(items) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>',
        f'<text x="0" y="16" class="t">{_e(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = int((width - left - 80) * value / biggest)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="l">{_e(label[:32])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{max(w, 1)}" height="16" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 6}" y="{y + 15}" class="l">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_chart(rows: Sequence[tuple[str, dict[str, int]]], *, title: str, width: int = 640) -> Markup:
    """One horizontal bar per check, split by decision."""
    if not rows:
        return Markup(f'<p class="muted">{_e(title)}: no check has run.</p>')
    row, left, top = 26, 130, 28
    height = top + row * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>',
        f'<text x="0" y="16" class="t">{_e(title)}</text>',
    ]
    span = width - left - 10
    for i, (name, counts) in enumerate(rows):
        y = top + i * row
        total = sum(counts.values()) or 1
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="l">{_e(name)}</text>')
        x = float(left)
        for decision in DECISION_ORDER:
            n = counts.get(decision, 0)
            if not n:
                continue
            w = span * n / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="18" '
                f'fill="{COLOURS[decision]}"><title>{decision} {n:,}</title></rect>'
            )
            x += w
    legend_y = top + row * len(rows) + 16
    for j, decision in enumerate(DECISION_ORDER):
        lx = left + j * 90
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[decision]}"/>'
        )
        parts.append(f'<text x="{lx + 16}" y="{legend_y}" class="l">{decision}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(bins: Sequence[int], labels: Sequence[str], *, title: str, width: int = 640) -> Markup:
    """Vertical bars over labelled bins."""
    if not bins or not any(bins):
        return Markup(f'<p class="muted">{_e(title)}: nothing to show.</p>')
    height, top, bottom, left = 200, 28, 36, 40
    biggest = max(bins)
    step = (width - left - 10) / len(bins)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>',
        f'<text x="0" y="16" class="t">{_e(title)}</text>',
    ]
    plot = height - top - bottom
    for i, (n, label) in enumerate(zip(bins, labels, strict=True)):
        h = plot * n / biggest if biggest else 0
        x = left + i * step
        y = top + plot - h
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{PALETTE[0]}"><title>{_e(label)}: {n:,}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="s">{n:,}</text>'
        )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
            f'class="s">{_e(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def seed_histogram(per_seed: Sequence[SeedCoverage]) -> tuple[list[int], list[str]]:
    """Seeds by how many examples descend from them (bins 1, 2-5, 6-20, 21-100, >100)."""
    edges = [
        (0, 0, "0"),
        (1, 1, "1"),
        (2, 5, "2-5"),
        (6, 20, "6-20"),
        (21, 100, "21-100"),
        (101, 10**18, ">100"),
    ]
    bins = [0] * len(edges)
    for s in per_seed:
        n = int(s.examples)
        for i, (lo, hi, _) in enumerate(edges):
            if lo <= n <= hi:
                bins[i] += 1
                break
    return bins, [label for *_, label in edges]
