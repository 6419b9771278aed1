"""The EU training-content summary as Markdown, in the template's order and under its headings.

Each value is followed by where it came from: the named query and the audit chain head for what the
ledger answered, "provider's answers" for what a person filled in, and "to be completed by the
provider" for what nobody has answered yet.
"""

from __future__ import annotations

import re
from typing import Any

from reports.eu_summary_model import TEMPLATE, Summary, Value


def _cell(x: Any) -> str:
    text = ", ".join(map(str, x)) if isinstance(x, list) else "-" if x is None else str(x)
    return text.replace("|", "/").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _origin(v: Value) -> str:
    if v.source == "ledger" and v.snapshot is not None:
        where = f"ledger, `{v.query}` at audit row {v.snapshot.seq} (`{v.snapshot.hash[:16]}`)"
    else:
        where = {"answers": "the provider's answers", "missing": "nobody yet"}.get(v.source, v.source)
    return f"  \n  _source: {where}" + (f"; {v.note}_" if v.note else "_")


def _field(label: str, v: Value) -> list[str]:
    value = v.value
    if isinstance(value, dict):
        value = "; ".join(f"{k}: {_cell(x)}" for k, x in value.items())
    return [f"- **{label}**: {value}{_origin(v)}"]


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _general(s: Summary) -> list[str]:
    p, m, c = s.general.provider_and_model, s.general.modalities_and_size, s.general.content
    modalities = [k for k, used in m.modalities.value.items() if used]
    tokens = m.text_tokens.value
    langs = c.languages.value
    lang_counts = ", ".join(f"{k} {n:,}" for k, n in langs["examples_by_language"].items())
    return [
        "## 1. General information",
        "",
        "### 1.1 Provider identification and model",
        "",
        *_field("Provider name", p.provider_name),
        *_field("Contact", p.provider_contact),
        *_field("Versioned model name", p.model_name),
        *_field("Model version", p.model_version),
        *_field("Model dependencies", p.model_dependencies),
        *_field("Date placed on the Union market", p.placed_on_market),
        "",
        "### 1.2 Modality and training data size",
        "",
        f"- **Modalities**: {', '.join(modalities)}{_origin(m.modalities)}",
        f"- **Text, size band**: {m.text_size_band.value} ({tokens['tokens']:,} tokens)"
        + _origin(m.text_size_band),
        f"- **Tokens counted with**: {tokens['counted_with']}{_origin(m.text_tokens)}",
        "",
        "### 1.3 Types of content, latest date of acquisition, languages",
        "",
        *_field("Types of content", c.content_types),
        *_field("Latest date of data acquisition (UTC)", c.latest_acquisition),
        f"- **Languages**: {', '.join(langs['covered']) or 'none detected'} (examples by detected language: "
        f"{lang_counts}; detected with {langs['detected_with']}){_origin(c.languages)}",
    ]


def _public(v: Value) -> list[str]:
    if not v.value:
        return ["No declared source." + _origin(v).replace("  \n  ", " ")]
    rows = [
        [d["name"], f"{d['examples']:,}", _pct(d["share"]), "yes" if d["named_by_template"] else "no",
         d["origins"], d["licences"]]
        for d in v.value
    ]  # fmt: skip
    head = ["source", "examples", "share", "at least 3%", "origin", "licences"]
    return [*_table(head, rows), "", _origin(v).strip()]


def _synthetic(v: Value) -> list[str]:
    if not v.value:
        return ["None: " + (v.note or "") + _origin(Value(**{**v.model_dump(), "note": None}))]
    rows = [
        [d["model"], d["provider"], f"{d['examples']:,}", _pct(d["share"]), d["modality"], d["methods"],
         f"<{d['link']}>" if d["link"] else "not in the registry"]
        for d in v.value
    ]  # fmt: skip
    head = [
        "generating model",
        "provider",
        "examples",
        "share",
        "modality",
        "methods",
        "link (teacher registry)",
    ]
    return [*_table(head, rows), "", _origin(v).strip()]


def _sources(s: Summary) -> list[str]:
    d = s.data_sources
    licences = [
        [x["licence"], x["terms"], f"{x['examples']:,}", _pct(x["share"])]
        for x in d.private_datasets.licences.value
    ]
    return [
        "",
        "## 2. List of data sources",
        "",
        "### 2.1 Publicly available datasets",
        "",
        *_public(d.public_datasets),
        "",
        "### 2.2 Private non-publicly available datasets obtained from third parties",
        "",
        *_field("Licensed or private third-party data", d.private_datasets.provider_answer),
        "",
        "Licences and terms declared on the training data:",
        "",
        *_table(["licence", "terms", "examples", "share"], licences),
        "",
        _origin(d.private_datasets.licences).strip(),
        "",
        "### 2.3 Data crawled and scraped from online sources",
        "",
        *_field("Crawled data", d.crawled_data),
        "",
        "### 2.4 User data",
        "",
        *_field("User data", d.user_data),
        "",
        "### 2.5 Synthetic data",
        "",
        *_synthetic(d.synthetic_data),
        "",
        "### 2.6 Other sources of data",
        "",
        *_field("Other sources", d.other_sources),
    ]


def _checks(v: Value) -> list[str]:
    e = v.value
    ran = ", ".join(e["ran"]) or "none"
    lines = [f"- **Checks that ran** (check run `{e['check_run']}`): {ran}"]
    for c in e["checks"]:
        if not c["ran"]:
            reason = str(c["not_run_reason"] or "no reason recorded").split(". ")[0]
            reason = re.sub(r"(?<![\w.])/[^\s:;,]+", "<local path>", reason)  # a public text: no local paths
            lines.append(f"- **{c['check']} did NOT run**: {reason}")
    lines += [f"- **{k}**: NOT RUN" for k in e["not_run"] if k.endswith("(not in the policy pack)")]
    lines[-1] += _origin(v)
    return lines


def _processing(s: Summary) -> list[str]:
    p = s.processing
    return [
        "",
        "## 3. Data processing aspects",
        "",
        "### 3.1 Respect of reservation of rights from the text and data mining exception or limitation",
        "",
        *_checks(p.rights_reservations.evidence),
        *_field("Measures to respect opt-outs", p.rights_reservations.measures),
        *_field("Signatory of the GPAI Code of Practice", p.rights_reservations.code_of_practice_signatory),
        "",
        "### 3.2 Removal of illegal content",
        "",
        *_checks(p.illegal_content.evidence),
        *_field("Other measures", p.illegal_content.measures),
        "",
        "### 3.3 Other information",
        "",
        *_field("Other information", p.other_information),
        "",
    ]


def render_markdown(s: Summary) -> str:
    """The summary as Markdown, sections 1 to 3 in the template's order."""
    scope = s.scope
    what = (
        f"the student `{scope.student}` (training `{scope.training_id}`)"
        if scope.kind == "student"
        else "the dataset"
    )
    head = [
        "# Public summary of training content",
        "",
        f"Following the {TEMPLATE}.",
        "",
        f"Covers {what}: the {scope.examples:,} examples of dataset `{scope.dataset_id}`. Written "
        f"{s.generated_at} UTC by provenance {s.tool_version} from the ledger at audit row "
        f"{s.snapshot.seq} (chain head `{s.snapshot.hash}`). Values not in the ledger come from the "
        "provider's answers; those nobody has given say *to be completed by the provider*.",
        "",
    ]
    return "\n".join([*head, *_general(s), *_sources(s), *_processing(s)])
