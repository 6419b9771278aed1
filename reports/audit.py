"""``provenance report audit``: the reviewer's report as one self-contained HTML file, Markdown and JSON.

The HTML comes from the Jinja template ``reports/templates/audit.html.j2`` (autoescaped). It has no
script and loads nothing: its styles are inline and its charts are SVG drawn by :mod:`reports.charts`
(teacher mix, decisions per check, toxicity scores, examples per seed). Every number comes from
:func:`reports.facts.collect`; example texts are shown only with their PII masked.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from provenance.core.files import write_text
from reports.charts import bar_chart, histogram, seed_histogram, stacked_chart
from reports.facts import Facts, Training

TEMPLATE = "audit.html.j2"


def _num(value: Any) -> Any:
    """An int with thousands separators; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["num"] = _num
    return env


def _charts(f: Facts) -> dict[str, Markup]:
    human = f.dataset.origin.get("human", 0)
    bins, labels = seed_histogram(f.lineage.per_seed)
    return {
        "teachers": bar_chart(
            [(t.model or "none (human)", t.examples) for t in f.teachers]
            + [("none (human)", human)] * (1 if human else 0),
            title="Examples per teacher",
        ),
        "decisions": stacked_chart(
            [(c.name, c.counts) for c in f.checks if c.ran], title="Decisions per check"
        ),
        "toxicity": histogram(
            f.toxicity.bins, [f"{i / 10:.1f}" for i in range(10)], title="Toxicity score distribution"
        )
        if f.toxicity.ran
        else Markup(""),
        "seeds": histogram(bins, labels, title="Seeds by number of descendant examples"),
    }


def _teacher_rows(f: Facts) -> list[list[Any]]:
    return [
        [
            t.model or "unknown",
            t.provider or "-",
            t.examples,
            ", ".join(t.licences) or "unknown",
            (", ".join(t.terms) or "unknown") + (f" ({', '.join(t.terms_status)})" if t.terms_status else ""),
            ", ".join(f"{k} {v:,}" for k, v in t.verdicts.items()) or "not judged",
            Markup("<br>").join(o.get("text", o) for o in t.obligations) or "-",
        ]
        for t in f.teachers
    ]


def _folder(t: Training) -> Any:
    """The student's folder, with the sha256 of its EU training-content summary when it has one."""
    if not t.eu_summary:
        return t.out_dir
    sums = Markup("<br>").join(
        Markup("{} sha256 <code>{}</code>").format(k, v) for k, v in t.eu_summary.items()
    )
    return Markup("{}<br>{}").format(t.out_dir, sums)


def _context(f: Facts) -> dict[str, Any]:
    """What the template shows, beyond the facts themselves: charts and prepared table rows."""
    d = f.dataset
    kpis = [
        ("examples", d.examples),
        ("seed tasks", d.seeds),
        ("machine instructions", d.machine_instructions),
        ("teachers", len(f.teachers)),
        ("provenance rows", d.provenance_rows),
        ("lineage edges", d.lineage_edges),
        ("runs", d.runs),
    ]
    code = Markup("<code>{}</code>")
    return {
        "f": f,
        "kpis": kpis,
        "unknown": "; ".join(f"{k} unknown for {v:,} examples" for k, v in d.unknown.items() if v),
        "charts": _charts(f),
        "teachers": _teacher_rows(f),
        "conflicts": [[" | ".join(c.licences), c.examples] for c in f.licences.conflict_sets],
        "person_off": any("PERSON detection was off" in n for n in f.pii.notes),
        "entities": ", ".join(f"{k} {v:,}" for k, v in f.pii.entities.items()) or "none",
        "seeds": [
            [s.name or s.external_id or s.seed_id[:12], s.examples, s.depth]
            for s in [s for s in f.lineage.per_seed if s.examples][:10]
        ],
        "waivers": [
            [w.check_name, w.example_id or w.teacher, w.reason, w.approver, w.expires] for w in f.waivers
        ],
        "trainings": [
            [
                t.student,
                t.student_kind,
                code.format(t.dataset_id[:16]),
                t.dataset_examples,
                code.format((t.model_digest or "")[:16]),
                _folder(t),
            ]
            for t in f.trainings
        ],
    }


def render_html(f: Facts) -> str:
    """The whole report as one self-contained HTML page."""
    return _environment().get_template(TEMPLATE).render(_context(f))


# ---- Markdown ---------------------------------------------------------------------------------------


def _md_dataset(f: Facts) -> list[str]:
    d = f.dataset
    lines = [
        "# Provenance audit report",
        "",
        f"Ledger `{f.ledger}`, written {f.generated_at} UTC by provenance {f.tool_version}.",
        "",
        "## The dataset at a glance",
        "",
        f"- {d.examples:,} examples ({d.instruction_examples:,} instruction, "
        f"{d.chat_examples:,} chat), "
        f"{d.seeds:,} seed tasks, {d.machine_instructions:,} machine instructions",
        "- origin: " + ", ".join(f"{k} {v:,}" for k, v in d.origin.items()),
        "",
        "## Teacher mix",
        "",
        "| teacher | examples | licence | terms | verdicts | obligations |",
        "|---|---:|---|---|---|---|",
    ]
    for t in f.teachers:
        lines.append(
            f"| {t.model or 'unknown'} | {t.examples:,} | {', '.join(t.licences) or 'unknown'} | "
            f"{', '.join(t.terms) or 'unknown'} | "
            f"{', '.join(f'{k} {v:,}' for k, v in t.verdicts.items()) or '-'} | "
            f"{'; '.join(o.get('text', '') for o in t.obligations) or '-'} |"
        )
    lines += ["", "## Licences", ""]
    lines += [f"- `{k}`: {v:,} examples" for k, v in f.licences.expressions.items()]
    lines.append(f"- examples whose declarations disagree: {f.licences.conflicts:,}")
    return lines


def _md_checks(f: Facts) -> list[str]:
    cr = f.check_run
    lines = ["", "## Checks", ""]
    if cr:
        lines += [
            f"From the latest check run ({cr.at} UTC): policy pack {cr.pack} "
            f"(sha256 `{str(cr.pack_hash)[:16]}`).",
            "",
        ]
    lines += ["| check | status | decisions | top reason |", "|---|---|---|---|"]
    for c in f.checks:
        counts = ", ".join(f"{k} {v:,}" for k, v in c.counts.items())
        status = "ran" if c.ran else f"NOT RUN: {c.not_run_reason}"
        reason = c.top_reasons[0][0] if c.top_reasons else "-"
        lines.append(f"| {c.name} | {status} | {counts or '-'} | {str(reason).replace('|', '/')[:120]} |")
    pii, tox, lin = f.pii, f.toxicity, f.lineage
    lines += ["", "## Personal data", ""]
    lines.append(
        f"{pii.examples_with_pii:,} examples with findings "
        f"({', '.join(f'{k} {v:,}' for k, v in pii.entities.items()) or 'none'}); "
        f"{pii.redacted:,} redacted copies."
        if pii.ran
        else "The PII check has not run."
    )
    return [
        *lines,
        "",
        "## Toxicity",
        "",
        f"Scored {tox.scored:,} examples." if tox.ran else f"Not run: {tox.reason}",
        "",
        "## Lineage",
        "",
        f"Deepest lineage {lin.max_depth} edges; {lin.seeds_with_machine_descendants:,} "
        f"of {lin.seeds:,} seeds have machine-made descendants.",
    ]


def _md_gate_and_audit(f: Facts) -> list[str]:
    lines = ["", "## Waivers", ""]
    lines += [
        f"- {w.check_name} for {w.example_id or w.teacher}: {w.reason} "
        f"(approved by {w.approver}, until {w.expires})"
        for w in f.waivers
    ] or ["None."]
    lines += ["", "## Gate", ""]
    g = f.gate
    if g:
        lines.append(
            f"**{g.verdict.upper()}**: pack {g.pack}, student {g.student}, {g.selected:,} of "
            f"{g.examples:,} examples, dataset `{g.dataset}`"
        )
        lines += [f"- {r['code']}: {r['message']}" for r in g.reasons]
    else:
        lines.append("The gate has not run.")
    v = f.audit.verify
    verify = (
        "not checked"
        if v is None
        else "verify passed"
        if v.get("ok")
        else f"verify FAILED: {v.get('first_problem')}"
    )
    eu = [
        f"- training {t.training_id[:12]}: {name} sha256 `{digest}`"
        for t in f.trainings
        for name, digest in (t.eu_summary or {}).items()
    ]
    if eu:
        lines += ["", "## EU training-content summaries", "", *eu]
    return [
        *lines,
        "",
        "## Audit trail",
        "",
        f"{f.audit.entries:,} audit rows; chain head `{f.audit.head}`; " + verify,
        "",
    ]


def render_markdown(f: Facts) -> str:
    """The same content for a terminal or a pull request."""
    return "\n".join([*_md_dataset(f), *_md_checks(f), *_md_gate_and_audit(f)])


def write(f: Facts, out_dir: Path) -> list[Path]:
    """audit.html, audit.md and audit.json in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "audit.html", out_dir / "audit.md", out_dir / "audit.json"]
    write_text(paths[0], render_html(f))
    write_text(paths[1], render_markdown(f))
    write_text(paths[2], json.dumps(f.to_dict(), indent=2, default=str) + "\n")
    return paths
