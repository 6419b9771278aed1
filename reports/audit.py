"""``provenance report audit``: the reviewer's report as one self-contained HTML file, Markdown and JSON.

The HTML has no script and loads nothing: its styles are inline and its charts are SVG drawn here
(teacher mix, decisions per check, toxicity scores, examples per seed). Every number comes from
:func:`reports.facts.collect`; example texts are shown only with their PII masked.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLOURS = {"pass": "#4c9a5f", "flag": "#e0a030", "redact": "#5b7fc7", "drop": "#c8553d", "block": "#7a1f1f"}
PALETTE = ("#3b6ea5", "#c8553d", "#4c9a5f", "#e0a030", "#7e5ea6", "#2a9d8f", "#8d6e63", "#5f6b7a")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _e(value)


# ---- charts (static SVG) ------------------------------------------------------------------------


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, width: int = 640) -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return f'<p class="muted">{_e(title)}: nothing to show.</p>'
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
    return "".join(parts)


def stacked_chart(rows: Sequence[tuple[str, dict[str, int]]], *, title: str, width: int = 640) -> str:
    """One horizontal bar per check, split by decision."""
    if not rows:
        return f'<p class="muted">{_e(title)}: no check has run.</p>'
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
        for decision in ("pass", "flag", "redact", "drop", "block"):
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
    for j, decision in enumerate(("pass", "flag", "redact", "drop", "block")):
        lx = left + j * 90
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[decision]}"/>'
        )
        parts.append(f'<text x="{lx + 16}" y="{legend_y}" class="l">{decision}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(bins: Sequence[int], labels: Sequence[str], *, title: str, width: int = 640) -> str:
    """Vertical bars over labelled bins."""
    if not bins or not any(bins):
        return f'<p class="muted">{_e(title)}: nothing to show.</p>'
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
    return "".join(parts)


def seed_histogram(per_seed: Sequence[dict[str, Any]]) -> tuple[list[int], list[str]]:
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
        n = int(s["examples"])
        for i, (lo, hi, _) in enumerate(edges):
            if lo <= n <= hi:
                bins[i] += 1
                break
    return bins, [label for *_, label in edges]


# ---- the report ---------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:980px;
color:#1d2430}
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #d7dce3;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}td,th{border:1px solid #d7dce3;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f1f3f6}.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5f6b7a}.ok{color:#2f7a43;font-weight:600}.bad{color:#a12b1f;font-weight:600}
.kpi{display:inline-block;margin:0 1.4rem .8rem 0}.kpi b{display:block;font-size:1.5rem}
code{background:#f1f3f6;padding:0 .2rem}svg .t{font:600 13px sans-serif}svg .l{font:12px sans-serif}
svg .s{font:10px sans-serif}pre{white-space:pre-wrap;background:#f7f8fa;padding:.4rem;margin:.2rem 0}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_n(c)}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _obligations(items: Sequence[dict[str, Any]]) -> str:
    return "<br>".join(_e(o.get("text", o)) for o in items) or "-"


def render_html(f: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    d = f["dataset"]
    out: list[str] = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        "<title>Provenance audit report</title>",
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Provenance audit report</h1>",
        f'<p class="muted">Ledger <code>{_e(f["ledger"])}</code> · written {_e(f["generated_at"])} UTC · '
        f"provenance {_e(f['tool_version'])}</p>",
        "<h2>The dataset at a glance</h2>",
    ]
    for label, value in (
        ("examples", d["examples"]),
        ("seed tasks", d["seeds"]),
        ("machine instructions", d["machine_instructions"]),
        ("teachers", len(f["teachers"])),
        ("provenance rows", d["provenance_rows"]),
        ("lineage edges", d["lineage_edges"]),
        ("runs", d["runs"]),
    ):
        out.append(
            f'<span class="kpi"><b id="kpi-{_e(label.replace(" ", "-"))}">{value:,}</b>{_e(label)}</span>'
        )
    out.append(_table(["origin", "examples"], [[_e(k), v] for k, v in d["origin"].items()], numeric=(1,)))
    unknown = "; ".join(f"{k} unknown for {v:,} examples" for k, v in d["unknown"].items() if v)
    out.append(
        f"<p>Recorded as unknown: {_e(unknown)}.</p>" if unknown else "<p>Nothing is recorded as unknown.</p>"
    )

    out.append("<h2>Teacher mix</h2>")
    out.append(
        bar_chart(
            [(t["model"] or "none (human)", t["examples"]) for t in f["teachers"]]
            + [("none (human)", d["origin"].get("human", 0))] * (1 if d["origin"].get("human") else 0),
            title="Examples per teacher",
        )
    )
    out.append(
        _table(
            ["teacher", "provider", "examples", "licence", "terms", "verdicts", "obligations"],
            [
                [
                    _e(t["model"] or "unknown"),
                    _e(t["provider"] or "-"),
                    t["examples"],
                    _e(", ".join(t["licences"]) or "unknown"),
                    _e(", ".join(t["terms"]) or "unknown")
                    + (f" ({_e(', '.join(t['terms_status']))})" if t["terms_status"] else ""),
                    _e(", ".join(f"{k} {v:,}" for k, v in t["verdicts"].items()) or "not judged"),
                    _obligations(t["obligations"]),
                ]
                for t in f["teachers"]
            ],
            numeric=(2,),
        )
    )

    lic = f["licences"]
    out.append("<h2>Licences and conflicts</h2>")
    out.append(
        _table(["declared licence", "examples"], [[_e(k), v] for k, v in lic["expressions"].items()], (1,))
    )
    if lic["conflict_sets"]:
        out.append(f'<p class="bad">{lic["conflicts"]:,} examples carry declarations that disagree:</p>')
        out.append(
            _table(
                ["licences declared for the same example", "examples"],
                [[_e(" | ".join(c["licences"])), c["examples"]] for c in lic["conflict_sets"]],
                (1,),
            )
        )
    else:
        out.append("<p>No example carries declarations that disagree.</p>")

    out.append("<h2>Checks</h2>")
    cr = f.get("check_run")
    if cr:
        out.append(
            f'<p class="muted">From the latest check run ({_e(cr["at"])} UTC): policy pack '
            f"<b>{_e(cr['pack'])}</b> (sha256 <code>{_e(str(cr['pack_hash'])[:16])}</code>).</p>"
        )
    ran = [c for c in f["checks"] if c["status"] == "ran"]
    out.append(stacked_chart([(c["name"], c["counts"]) for c in ran], title="Decisions per check"))
    for c in f["checks"]:
        head = (
            f'<h3 id="check-{_e(c["name"])}">{_e(c["name"])} <span class="muted">({_e(c["kind"])} '
            f"v{_e(c['version'])}, action {_e(c['action'])})</span></h3>"
        )
        out.append(head)
        if c["status"] != "ran":
            out.append(f'<p class="bad">Not run: {_e(c["not_run_reason"])}</p>')
            continue
        out.append(_table(["decision", "examples"], [[_e(k), v] for k, v in c["counts"].items()], (1,)))
        if c["top_reasons"]:
            out.append(
                _table(["top reasons", "examples"], [[_e(r), n] for r, n in c["top_reasons"][:5]], (1,))
            )
        for note in c["notes"]:
            out.append(f'<p class="muted">{_e(note)}</p>')
        if c.get("samples") and any("PERSON detection was off" in n for n in f["pii"]["notes"]):
            out.append(
                '<p class="muted">Samples below have every PII finding masked; PERSON detection was '
                "off, so names are not.</p>"
            )
        for sample in c.get("samples", []):
            text = "".join(f"<pre><b>{_e(k)}</b>: {_e(v)}</pre>" for k, v in sample["text"].items())
            out.append(
                f'<div class="muted">{_e(sample["decision"])} · {_e(sample["example_id"][:12])}</div>{text}'
            )
        if c.get("samples_note"):
            out.append(f'<p class="muted">{_e(c["samples_note"])}</p>')

    pii, tox = f["pii"], f["toxicity"]
    out.append("<h2>Personal data</h2>")
    if pii["ran"]:
        ents = ", ".join(f"{k} {v:,}" for k, v in pii["entities"].items()) or "none"
        out.append(
            f"<p>{pii['examples_with_pii']:,} examples with findings ({_e(ents)}); "
            f"{pii['redacted']:,} redacted copies written.</p>"
        )
        for note in pii["notes"]:
            out.append(f'<p class="muted">{_e(note)}</p>')
    else:
        out.append('<p class="bad">The PII check has not run on this ledger.</p>')
    out.append("<h2>Toxicity</h2>")
    if tox["ran"]:
        out.append(
            histogram(tox["bins"], [f"{i / 10:.1f}" for i in range(10)], title="Toxicity score distribution")
        )
    else:
        out.append(f'<p class="bad">Toxicity was not run: {_e(tox["reason"])}</p>')

    lin = f["lineage"]
    out.append("<h2>Lineage and seed coverage</h2>")
    out.append(
        f"<p>Deepest lineage: {lin['max_depth']:,} edges. "
        f"{lin['seeds_with_machine_descendants']:,} of {lin['seeds']:,} seeds have machine-made "
        "descendants.</p>"
    )
    bins, labels = seed_histogram(lin["per_seed"])
    out.append(histogram(bins, labels, title="Seeds by number of descendant examples"))
    top = [s for s in lin["per_seed"] if s["examples"]][:10]
    out.append(
        _table(
            ["seed", "descendant examples", "depth"],
            [
                [_e(s["name"] or s["external_id"] or s["seed_id"][:12]), s["examples"], s["depth"]]
                for s in top
            ],
            (1, 2),
        )
    )

    out.append("<h2>Waivers</h2>")
    if f["waivers"]:
        out.append(
            _table(
                ["check", "example / teacher", "reason", "approver", "expires"],
                [
                    [
                        _e(w["check_name"]),
                        _e(w["example_id"] or w["teacher"]),
                        _e(w["reason"]),
                        _e(w["approver"]),
                        _e(w["expires"]),
                    ]
                    for w in f["waivers"]
                ],
            )
        )
    else:
        out.append("<p>No waivers.</p>")

    out.append("<h2>Gate verdict</h2>")
    g = f["gate"]
    if g:
        cls = "ok" if g["verdict"] == "passed" else "bad"
        out.append(
            f'<p class="{cls}" id="gate-verdict">{_e(g["verdict"].upper())}</p>'
            f"<p>Pack {_e(g['pack'])}, student "
            f"{_e(g['student'])}: {g['selected']:,} of {g['examples']:,} examples selected; dataset "
            f"<code>{_e(g['dataset'])}</code>.</p>"
        )
        for r in g["reasons"]:
            out.append(f'<p class="bad">{_e(r["code"])}: {_e(r["message"])}</p>')
    else:
        out.append("<p>The gate has not run.</p>")
    if f["trainings"]:
        out.append("<h3>Trained students</h3>")
        out.append(
            _table(
                ["student", "kind", "dataset", "examples", "weights sha256", "folder"],
                [
                    [
                        _e(t["student"]),
                        _e(t["student_kind"]),
                        f"<code>{_e(t['dataset_id'][:16])}</code>",
                        t["dataset_examples"],
                        f"<code>{_e(t['model_digest'][:16])}</code>",
                        _e(t["out_dir"]),
                    ]
                    for t in f["trainings"]
                ],
                (3,),
            )
        )

    a = f["audit"]
    out.append("<h2>Audit trail</h2>")
    v = a.get("verify")
    status = (
        "not checked"
        if v is None
        else '<span class="ok">verify passed</span>'
        if v.get("ok")
        else f'<span class="bad">verify FAILED: {_e(v.get("first_problem"))}</span>'
    )
    out.append(
        f'<p>{a["entries"]:,} audit rows; chain head <code id="chain-head">{_e(a["head"])}</code>; '
        f"{status}.</p>"
    )
    out.append("</body></html>")
    return "\n".join(out)


def render_markdown(f: dict[str, Any]) -> str:
    """The same content for a terminal or a pull request."""
    d, lic, a, g = f["dataset"], f["licences"], f["audit"], f["gate"]
    lines = [
        "# Provenance audit report",
        "",
        f"Ledger `{f['ledger']}`, written {f['generated_at']} UTC by provenance {f['tool_version']}.",
        "",
        "## The dataset at a glance",
        "",
        f"- {d['examples']:,} examples ({d['instruction_examples']:,} instruction, "
        f"{d['chat_examples']:,} chat), "
        f"{d['seeds']:,} seed tasks, {d['machine_instructions']:,} machine instructions",
        "- origin: " + ", ".join(f"{k} {v:,}" for k, v in d["origin"].items()),
        "",
        "## Teacher mix",
        "",
        "| teacher | examples | licence | terms | verdicts | obligations |",
        "|---|---:|---|---|---|---|",
    ]
    for t in f["teachers"]:
        lines.append(
            f"| {t['model'] or 'unknown'} | {t['examples']:,} | {', '.join(t['licences']) or 'unknown'} | "
            f"{', '.join(t['terms']) or 'unknown'} | "
            f"{', '.join(f'{k} {v:,}' for k, v in t['verdicts'].items()) or '-'} | "
            f"{'; '.join(o.get('text', '') for o in t['obligations']) or '-'} |"
        )
    lines += ["", "## Licences", ""]
    lines += [f"- `{k}`: {v:,} examples" for k, v in lic["expressions"].items()]
    lines.append(f"- examples whose declarations disagree: {lic['conflicts']:,}")
    cr = f.get("check_run")
    lines += ["", "## Checks", ""]
    if cr:
        lines += [
            f"From the latest check run ({cr['at']} UTC): policy pack {cr['pack']} "
            f"(sha256 `{str(cr['pack_hash'])[:16]}`).",
            "",
        ]
    lines += ["| check | status | decisions | top reason |", "|---|---|---|---|"]
    for c in f["checks"]:
        counts = ", ".join(f"{k} {v:,}" for k, v in c["counts"].items())
        status = "ran" if c["status"] == "ran" else f"NOT RUN: {c['not_run_reason']}"
        reason = c["top_reasons"][0][0] if c["top_reasons"] else "-"
        lines.append(f"| {c['name']} | {status} | {counts or '-'} | {str(reason).replace('|', '/')[:120]} |")
    pii = f["pii"]
    lines += ["", "## Personal data", ""]
    lines.append(
        f"{pii['examples_with_pii']:,} examples with findings "
        f"({', '.join(f'{k} {v:,}' for k, v in pii['entities'].items()) or 'none'}); "
        f"{pii['redacted']:,} redacted copies."
        if pii["ran"]
        else "The PII check has not run."
    )
    tox = f["toxicity"]
    lines += [
        "",
        "## Toxicity",
        "",
        f"Scored {tox['scored']:,} examples." if tox["ran"] else f"Not run: {tox['reason']}",
    ]
    lin = f["lineage"]
    lines += [
        "",
        "## Lineage",
        "",
        f"Deepest lineage {lin['max_depth']} edges; {lin['seeds_with_machine_descendants']:,} "
        f"of {lin['seeds']:,} seeds have machine-made descendants.",
    ]
    lines += ["", "## Waivers", ""]
    lines += [
        f"- {w['check_name']} for {w['example_id'] or w['teacher']}: {w['reason']} "
        f"(approved by {w['approver']}, "
        f"until {w['expires']})"
        for w in f["waivers"]
    ] or ["None."]
    lines += ["", "## Gate", ""]
    if g:
        lines.append(
            f"**{g['verdict'].upper()}**: pack {g['pack']}, student {g['student']}, {g['selected']:,} of "
            f"{g['examples']:,} examples, dataset `{g['dataset']}`"
        )
        lines += [f"- {r['code']}: {r['message']}" for r in g["reasons"]]
    else:
        lines.append("The gate has not run.")
    v = a.get("verify")
    lines += [
        "",
        "## Audit trail",
        "",
        f"{a['entries']:,} audit rows; chain head `{a['head']}`; "
        + (
            "not checked"
            if v is None
            else "verify passed"
            if v.get("ok")
            else f"verify FAILED: {v.get('first_problem')}"
        ),
        "",
    ]
    return "\n".join(lines)


def write(f: dict[str, Any], out_dir: Path) -> list[Path]:
    """audit.html, audit.md and audit.json in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "audit.html", out_dir / "audit.md", out_dir / "audit.json"]
    paths[0].write_text(render_html(f), "utf-8")
    paths[1].write_text(render_markdown(f), "utf-8")
    paths[2].write_text(json.dumps(f, indent=2, default=str) + "\n", "utf-8")
    return paths
