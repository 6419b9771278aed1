"""Hugging Face dataset and model cards (README.md), written from a ledger's facts.

Every number on a card comes from :func:`reports.facts.collect`; nothing is estimated. Licences go
into the hub's ``license`` field only when the data carries exactly one licence the hub knows; any
compound expression, ``LicenseRef-*`` term or mix of licences is ``other``, named, never simplified.
Cards show no example text, and free text read from the ledger has e-mail addresses masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provenance.core.errors import AmbiguousIdError, InputError, NotFoundError
from reports.facts import check_of

#: SPDX id (looked up case-insensitively) → Hugging Face hub licence id. Also the ScanCode keys
#: (``LicenseRef-scancode-*``) and registry ids of model licences the hub has an id of its own for.
HUB_LICENCES: dict[str, str] = {
    "Apache-2.0": "apache-2.0",
    "MIT": "mit",
    "AFL-3.0": "afl-3.0",
    "Artistic-2.0": "artistic-2.0",
    "BSL-1.0": "bsl-1.0",
    "BSD-2-Clause": "bsd-2-clause",
    "BSD-3-Clause": "bsd-3-clause",
    "BSD-3-Clause-Clear": "bsd-3-clause-clear",
    "C-UDA-1.0": "c-uda",
    "CC0-1.0": "cc0-1.0",
    "CC-BY-2.0": "cc-by-2.0",
    "CC-BY-2.5": "cc-by-2.5",
    "CC-BY-3.0": "cc-by-3.0",
    "CC-BY-4.0": "cc-by-4.0",
    "CC-BY-SA-3.0": "cc-by-sa-3.0",
    "CC-BY-SA-4.0": "cc-by-sa-4.0",
    "CC-BY-NC-2.0": "cc-by-nc-2.0",
    "CC-BY-NC-3.0": "cc-by-nc-3.0",
    "CC-BY-NC-4.0": "cc-by-nc-4.0",
    "CC-BY-ND-4.0": "cc-by-nd-4.0",
    "CC-BY-NC-ND-3.0": "cc-by-nc-nd-3.0",
    "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
    "CC-BY-NC-SA-2.0": "cc-by-nc-sa-2.0",
    "CC-BY-NC-SA-3.0": "cc-by-nc-sa-3.0",
    "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0",
    "CDLA-Sharing-1.0": "cdla-sharing-1.0",
    "CDLA-Permissive-1.0": "cdla-permissive-1.0",
    "CDLA-Permissive-2.0": "cdla-permissive-2.0",
    "WTFPL": "wtfpl",
    "ECL-2.0": "ecl-2.0",
    "EPL-1.0": "epl-1.0",
    "EPL-2.0": "epl-2.0",
    "etalab-2.0": "etalab-2.0",
    "EUPL-1.1": "eupl-1.1",
    "EUPL-1.2": "eupl-1.2",
    "AGPL-3.0": "agpl-3.0",
    "AGPL-3.0-only": "agpl-3.0",
    "AGPL-3.0-or-later": "agpl-3.0",
    "GPL-2.0": "gpl-2.0",
    "GPL-2.0-only": "gpl-2.0",
    "GPL-2.0-or-later": "gpl-2.0",
    "GPL-3.0": "gpl-3.0",
    "GPL-3.0-only": "gpl-3.0",
    "GPL-3.0-or-later": "gpl-3.0",
    "LGPL-2.1": "lgpl-2.1",
    "LGPL-2.1-only": "lgpl-2.1",
    "LGPL-2.1-or-later": "lgpl-2.1",
    "LGPL-3.0": "lgpl-3.0",
    "LGPL-3.0-only": "lgpl-3.0",
    "LGPL-3.0-or-later": "lgpl-3.0",
    "LGPLLR": "lgpl-lr",
    "ISC": "isc",
    "LPPL-1.3c": "lppl-1.3c",
    "MS-PL": "ms-pl",
    "MPL-2.0": "mpl-2.0",
    "ODC-By-1.0": "odc-by",
    "ODbL-1.0": "odbl",
    "OSL-3.0": "osl-3.0",
    "PostgreSQL": "postgresql",
    "OFL-1.1": "ofl-1.1",
    "NCSA": "ncsa",
    "Unlicense": "unlicense",
    "Zlib": "zlib",
    "PDDL-1.0": "pddl",
    "LicenseRef-scancode-llama-2-license-2023": "llama2",
    "LicenseRef-scancode-llama-3-license-2024": "llama3",
    "LicenseRef-scancode-llama-3.1-license-2024": "llama3.1",
    "LicenseRef-scancode-llama-3.2-license-2024": "llama3.2",
    "LicenseRef-scancode-llama-3.3-license-2024": "llama3.3",
    "LicenseRef-scancode-llama-4-cla-2025": "llama4",
    "LicenseRef-scancode-llama-4-license-2025": "llama4",
    "LicenseRef-scancode-gemma-tou-2024-02-21": "gemma",
    "LicenseRef-scancode-gemma-tou-2024-04-01": "gemma",
    "LicenseRef-scancode-gemma-tou-2025-03-24": "gemma",
    "LicenseRef-scancode-bigscience-open-rail-m": "bigscience-openrail-m",
    "LicenseRef-scancode-bigscience-rail-1.0": "bigscience-bloom-rail-1.0",
    "LicenseRef-scancode-bigcode-open-rail-m-v1": "bigcode-openrail-m",
    "LicenseRef-scancode-creativeml-openrail-m": "creativeml-openrail-m",
    "LicenseRef-scancode-openrail-m": "openrail",
    "LicenseRef-scancode-openmdw-1.0": "openmdw-1.0",
    "LicenseRef-xai-grok-2-community-license": "grok2-community",
}
_HUB_BY_KEY = {k.lower(): v for k, v in HUB_LICENCES.items()}
_UNKNOWN = frozenset({"unknown", "noassertion"})
_OPERATORS = frozenset({"and", "or", "with"})
_MAX_NAMED = 5  # licence ids spelled out in the license_name of a mix

VERIFY = "provenance verify --report AUDIT.json --pubkey KEY.pub"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}\n"
_PROCEDURES = {
    "self-instruct": 'Self-Instruct (Wang et al., "Self-Instruct: Aligning Language Models with '
    'Self-Generated Instructions", ACL 2023)',
    "alpaca": "Stanford Alpaca's data generation (Taori et al., 2023), itself a variant of Self-Instruct",
    "rejection-sampling": "rejection sampling with a verifier, STaR-style (Zelikman et al., 2022)",
}
_MIN_PREFIX = 6


# ---- licences -----------------------------------------------------------------------------------


def _strip(expression: str) -> str:
    e = expression.strip()
    while e.startswith("(") and e.endswith(")") and e.count("(") == 1:
        e = e[1:-1].strip()
    return e


def _slug(text: str) -> str:
    text = re.sub(r"(?i)licenseref-(scancode-)?", "", text).lower()
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-.") or "unknown"


def hub_licence(expressions: Iterable[str]) -> tuple[str, str | None, str | None]:
    """The hub's ``(license, license_name, license_link)`` for data carrying these SPDX expressions.

    One expression that is a single licence the hub knows gives its hub id; no licence at all (or
    only ``unknown`` / ``NOASSERTION``) gives ``unknown``; anything else (``AND``/``OR``/``WITH``, an
    unmapped ``LicenseRef-*``, several different expressions) is ``other`` with a readable slug as
    ``license_name``: never a simpler licence than the data carries."""
    seen: dict[str, str] = {}
    for raw in expressions:
        e = _strip(str(raw or ""))
        if e:
            seen.setdefault(e.lower(), e)
    exprs = list(seen.values())
    if not exprs or all(e.lower() in _UNKNOWN for e in exprs):
        return "unknown", None, None
    if len(exprs) == 1:
        hub = _HUB_BY_KEY.get(exprs[0].lower())
        if hub is not None:
            return hub, None, None
        return "other", _slug(exprs[0]), None
    ids = sorted(
        {
            _slug(tok)
            for e in exprs
            for tok in re.split(r"[\s()]+", e)
            if tok and tok.lower() not in _OPERATORS
        }
    )
    name = "mixed-" + "-".join(ids) if len(ids) <= _MAX_NAMED else f"mixed-{len(ids)}-licences"
    return "other", name, None


# ---- small helpers --------------------------------------------------------------------------------


def mask_emails(text: str) -> str:
    """``text`` with every e-mail address replaced by ``<EMAIL_ADDRESS>``."""
    return _EMAIL.sub("<EMAIL_ADDRESS>", text)


def _safe(text: Any) -> str:
    """Free text from the ledger, one line, e-mail addresses masked."""
    return mask_emails(" ".join(str(text).split()))


def _cell(value: Any) -> str:
    return _safe(value).replace("|", "\\|") if value not in (None, "") else "-"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _mix(counts: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (counts or {}).items()) or "none"


def _requirement(o: dict[str, Any], *, model: bool) -> str:
    """One obligation as a requirement, its text verbatim, for a model card or a dataset card."""
    text = _safe(o.get("text") or o.get("kind") or "")
    subject = "this model" if model else "a model trained on this data"
    users = "this model's users" if model else "the users of this data and of models trained on it"
    when = " when you distribute it" if o.get("when") == "distributed" else ""
    if o.get("when") not in (None, "always", "distributed"):
        when = f" ({_safe(o['when'])})"
    kind, value = o.get("kind"), o.get("value")
    if kind == "name_prefix" and value:
        lead = f'You must give {subject} a name that begins with "{_safe(value)}"{when}'
    elif kind == "no_competing_use":
        lead = (
            "This model must not be used" if model else "This data and models trained on it must not be used"
        ) + " to develop models that compete with the teacher's vendor"
    elif kind == "research_only":
        lead = (
            "This model must not be used" if model else "This data and models trained on it must not be used"
        ) + " for commercial purposes"
    else:
        lead = {
            "attribution": f"You must display this attribution{when}",
            "notice": f"You must include this notice{when}",
            "notice_file": f"You must ship this notice file{when}",
            "pass_through": f"You must pass this restriction on to {users}{when}",
            "user_threshold": "You must respect this threshold",
            "share_alike": f"You must share adaptations under the same licence{when}",
            "authorization": f"You must hold this authorization before training or using {subject}",
        }.get(str(kind), f"You must comply with this condition{when}")
    source = f" (from {_safe(o['source'])})" if o.get("source") else ""
    return f"- **{lead}**: {text}{source}"


def _unique(obligations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for o in obligations:
        seen.setdefault((o.get("kind"), o.get("text"), o.get("when"), o.get("value")), o)
    return list(seen.values())


def _checks(facts: dict[str, Any]) -> list[str]:
    checks = facts.get("checks") or []
    if not checks:
        return ["No policy checks have run on this ledger: nothing below is a check's verdict.", ""]
    rows, notes = [], []
    for c in checks:
        if c.get("status") == "ran":
            status, result = "ran", _mix(c.get("counts"))
        else:
            status = "NOT RUN" + (": the pack requires it" if c.get("blocking") else "")
            result = "no verdict: the check did not run"
            notes.append(
                f"- **{_safe(c.get('name'))} was not run**, so the data was not judged by it: "
                f"{_safe(c.get('not_run_reason') or 'no reason recorded')}"
            )
        reasons = "; ".join(f"{_safe(r)} ({n})" for r, n in (c.get("top_reasons") or [])[:3])
        rows.append([c.get("name"), c.get("kind"), c.get("action"), status, result, reasons or "-"])
    pack = next((c.get("pack") for c in checks if c.get("pack")), None)
    out = [f"The latest check run (policy pack `{_safe(pack)}`):" if pack else "The latest check run:", ""]
    out += _table(["check", "kind", "action", "status", "decisions (examples)", "top reasons"], rows)
    return [*out, "", *notes, *([""] if notes else [])]


def _pii(facts: dict[str, Any]) -> list[str]:
    pii = facts.get("pii") or {}
    check = check_of(facts, "pii")
    if not pii.get("ran"):
        why = f": {_safe(check.get('not_run_reason'))}" if check and check.get("not_run_reason") else ""
        return [
            f"The PII check did not run on this ledger{why}. Nothing is known about personal information "
            "in this data, and none has been redacted by provenance.",
            "",
        ]
    entities = pii.get("entities") or {}
    found = pii.get("examples_with_pii", 0)
    out = [
        f"The PII check found personal information in {found} examples"
        + (f" (findings by entity: {_mix(entities)})." if entities else ".")
        + f" Redacted copies written: {pii.get('redacted', 0)} (lineage relation `redacted-from`).",
    ]
    notes = [_safe(n) for n in pii.get("notes") or []]
    if any("PERSON" in n and ("off" in n or "not" in n) for n in notes):
        out.append(
            "PERSON detection was off: names of people were not looked for, so names may remain in the data."
        )
    out += ["", *[f"- {n}" for n in notes], *([""] if notes else [])]
    return out


def _audit(facts: dict[str, Any]) -> list[str]:
    audit = facts.get("audit") or {}
    verify = audit.get("verify") or None
    out = [
        f"- Audit chain head: `{audit.get('head')}` after {audit.get('entries')} entries of the ledger's "
        "hash-chained audit log.",
    ]
    if verify is not None:
        ok = "passed" if verify.get("ok") else "FAILED"
        out.append(f"- `provenance verify` {ok} when these facts were collected.")
    else:
        out.append("- `provenance verify` was not run when these facts were collected.")
    out.append(
        f"- Verify it yourself against the ledger: `provenance verify`; an audit report and its signature: "
        f"`{VERIFY}`."
    )
    return [*out, f"- Written by provenance {facts.get('tool_version')}.", ""]


# ---- dataset card ---------------------------------------------------------------------------------


def _creators(dataset: dict[str, Any], sources: list[dict[str, Any]]) -> list[str]:
    """annotations_creators / language_creators from the origin mix.

    Instruction data has no separate annotation layer: the responses are the annotations and the
    instructions and responses are the language, so both fields get the same values. Machine origin
    (a teacher wrote it) is ``machine-generated``. Human seed tasks were written on purpose by the
    people who built the seed set: ``expert-generated``. Other human examples came in by import; with
    a declared source they are ``found`` (collected from an existing source), without one ``other``.
    Unknown origin is ``other``: it is not claimed to be human or machine.
    """
    origin, method = dataset.get("origin") or {}, dataset.get("method") or {}
    out = []
    if origin.get("machine", 0) > 0:
        out.append("machine-generated")
    human, seeds = origin.get("human", 0), method.get("seed", 0)
    if human > 0 and seeds > 0:
        out.append("expert-generated")
    if human > seeds:
        out.append("found" if sources else "other")
    if origin.get("unknown", 0) > 0 and "other" not in out:
        out.append("other")
    return out or ["other"]


def _source_datasets(dataset: dict[str, Any], sources: list[dict[str, Any]]) -> list[str]:
    """The hub's convention: ``original`` for data made here, ``extended|<source>`` for each declared
    source (a hub dataset id or a URL, as declared) the data was taken or derived from."""
    method = dataset.get("method") or {}
    covered = sum(int(s.get("examples") or 0) for s in sources)
    made_here = any(method.get(m, 0) > 0 for m in ("teacher", "self")) or covered < dataset.get("examples", 0)
    out = ["original"] if made_here or not sources else []
    return out + [f"extended|{s['source']}" for s in sources if s.get("source")]


def _dataset_data(facts: dict[str, Any], pretty_name: str) -> Any:
    from huggingface_hub import DatasetCardData

    dataset, lic = facts.get("dataset") or {}, facts.get("licences") or {}
    sources = facts.get("sources") or []
    licence, name, link = hub_licence((lic.get("expressions") or {}).keys())
    creators = _creators(dataset, sources)
    extra: dict[str, Any] = {"license_name": name, "license_link": link}
    if dataset.get("chat_examples", 0) > 0:
        extra["task_ids"] = ["dialogue-modeling"]
    return DatasetCardData(
        pretty_name=pretty_name,
        license=licence,
        language=["en"],
        multilinguality="monolingual",
        annotations_creators=list(creators),
        language_creators=list(creators),
        size_categories=[dataset.get("size_category")],
        source_datasets=_source_datasets(dataset, sources),
        task_categories=["text-generation"],
        tags=["synthetic", "instruction-tuning", "provenance"],
        teachers=[
            {
                "model": t.get("model"),
                "provider": t.get("provider"),
                "examples": t.get("examples"),
                "licences": t.get("licences") or [],
                "terms": t.get("terms") or [],
                "terms_status": t.get("terms_status") or [],
                "verdicts": t.get("verdicts") or {},
            }
            for t in facts.get("teachers") or []
        ],
        terms={
            "licences": [{"expression": k, "examples": v} for k, v in (lic.get("expressions") or {}).items()],
            "terms": [{"terms": k, "examples": v} for k, v in (lic.get("terms") or {}).items()],
            "conflicts": lic.get("conflicts", 0),
        },
        provenance={
            "audit_chain_head": (facts.get("audit") or {}).get("head"),
            "audit_entries": (facts.get("audit") or {}).get("entries"),
            "tool": "provenance",
            "tool_version": facts.get("tool_version"),
            "gate": (facts.get("gate") or {}).get("verdict"),
            "gated_dataset": (facts.get("gate") or {}).get("dataset"),
        },
        **{k: v for k, v in extra.items() if v is not None},
    )


def _dataset_body(facts: dict[str, Any], title: str, licence: tuple[str, str | None, str | None]) -> str:
    d, lic = facts.get("dataset") or {}, facts.get("licences") or {}
    teachers, sources = facts.get("teachers") or [], facts.get("sources") or []
    origin, method = d.get("origin") or {}, d.get("method") or {}
    lines = [
        f"# {_safe(title)}",
        "",
        f"This card was written by provenance {facts.get('tool_version')} from its ledger. Every number on "
        "it is read from the ledger; nothing was estimated.",
        "",
        "## What the data is",
        "",
        f"- {d.get('examples', 0)} examples: {d.get('instruction_examples', 0)} instruction examples "
        f"(instruction, input, output) and {d.get('chat_examples', 0)} chat examples; size category "
        f"`{d.get('size_category')}`.",
        f"- Who wrote them: {_mix(origin)}.",
        f"- How they entered the ledger: {_mix(method)}.",
        f"- {d.get('seeds', 0)} seed tasks; {d.get('machine_instructions', 0)} instructions written by a "
        "teacher model.",
        f"- Teacher mix (examples): {_mix(d.get('teachers'))}.",
        "",
        "## Teachers and their terms",
        "",
    ]
    if teachers:
        lines += _table(
            ["teacher", "provider", "examples", "licence", "terms", "terms status", "licence verdict"],
            [
                [
                    t.get("model") or "unknown teacher",
                    t.get("provider"),
                    t.get("examples"),
                    ", ".join(t.get("licences") or []),
                    ", ".join(t.get("terms") or []),
                    ", ".join(t.get("terms_status") or []),
                    _mix(t.get("verdicts")) if t.get("verdicts") else "not judged (no licence check ran)",
                ]
                for t in teachers
            ],
        )
        lines += [""]
        for t in teachers:
            obligations = _unique(t.get("obligations") or [])
            if obligations:
                lines += [f"Obligations from {_safe(t.get('model'))}'s terms:", ""]
                lines += [_requirement(o, model=False) for o in obligations]
                lines += [""]
    else:
        lines += ["No example in this ledger was written by a teacher model.", ""]
    lines += ["## How it was made", ""]
    for g in facts.get("generation") or []:
        p = g.get("params") or {}
        name = _PROCEDURES.get(str(g.get("method")), f"`{_safe(g.get('method'))}`")
        lines += [
            f"- **{name}** with teacher `{_safe(g.get('teacher_model'))}`: {g.get('accepted')} candidates "
            f"accepted, {g.get('rejected')} rejected, {g.get('calls')} teacher calls.",
        ]
        keys = ("seeds_in_pool", "round_size", "prompt_instructions", "machine_in_prompt", "temperature")
        keys += ("top_p", "max_tokens", "rouge_threshold", "max_instances", "random_seed")
        shown = [f"{k} {p[k]}" for k in keys if p.get(k) is not None]
        if shown:
            lines.append(f"  Parameters: {', '.join(shown)}.")
        if p.get("templates"):
            lines.append(
                "  Prompt templates (sha256): "
                + ", ".join(f"`{k}` {str(v)[:12]}…" for k, v in p["templates"].items())
                + "."
            )
    if not facts.get("generation"):
        lines.append("- No generation ran in this ledger.")
    for s in sources:
        lines.append(f"- Imported or read from `{_safe(s.get('source'))}`: {s.get('examples')} examples.")
    lines += ["", "## Licences and terms", ""]
    lines += _table(
        ["licence (SPDX expression)", "examples"],
        [[k, v] for k, v in (lic.get("expressions") or {}).items()],
    )
    lines += [
        "",
        *_table(["terms (status)", "examples"], [[k, v] for k, v in (lic.get("terms") or {}).items()]),
    ]
    hub, name, _ = licence
    lines += [""]
    if hub == "other":
        lines.append(
            f"The hub's `license` field says `other` (`{name}`): the data carries "
            f"{len(lic.get('expressions') or {})} licence expression(s) that no single hub licence "
            "states; the exact expressions are above and in the metadata key `terms`."
        )
    elif hub == "unknown":
        lines.append("The hub's `license` field says `unknown`: no licence is recorded for this data.")
    else:
        lines.append(f"The hub's `license` field says `{hub}`.")
    conflicts = lic.get("conflicts", 0)
    lines += [
        "",
        f"Licence conflicts: {conflicts} examples carry conflicting licence declarations."
        if conflicts
        else "Licence conflicts: none recorded.",
        "",
        "## Checks",
        "",
        *_checks(facts),
        "## Personal information",
        "",
        *_pii(facts),
    ]
    lin = facts.get("lineage") or {}
    lines += [
        "## Seeds and lineage",
        "",
        f"- {lin.get('seeds', 0)} seeds; {lin.get('seeds_with_machine_descendants', 0)} of them have "
        "descendants written by a teacher.",
        f"- Deepest lineage: {lin.get('max_depth', 0)} generations from a seed.",
    ]
    top = [s for s in lin.get("per_seed") or [] if s.get("examples", 0) > 1][:5]
    if top:
        lines.append(
            "- Seeds with the most descendants (examples reached): "
            + ", ".join(f"`{_safe(s.get('name') or s.get('external_id'))}` {s.get('examples')}" for s in top)
            + "."
        )
    lines += ["", "## Gate", ""]
    gate = facts.get("gate")
    if gate:
        lines.append(
            f"The latest gate run **{str(gate.get('verdict')).upper()}**: "
            f"policy pack `{_safe(gate.get('pack'))}`, "
            f"student `{_safe(gate.get('student'))}`; it selected {gate.get('selected')} of "
            f"{gate.get('examples')} examples as dataset `{gate.get('dataset')}` (Merkle root over the "
            "sorted example ids)."
        )
        for r in gate.get("reasons") or []:
            text = f"{r.get('code')}: {r.get('message')}" if isinstance(r, dict) else r
            lines.append(f"- {_safe(text)}")
        if gate.get("waivers_used"):
            lines.append(f"- Waivers used: {len(gate['waivers_used'])}.")
    else:
        lines.append("No gate has run on this ledger: the data has not been cleared to train a model.")
    trainings = facts.get("trainings") or []
    if trainings:
        lines += ["", "Models trained from this ledger:", ""]
        lines += _table(
            ["training", "student", "dataset (Merkle root)", "examples", "weights sha256"],
            [
                [
                    str(t.get("training_id"))[:12],
                    t.get("student"),
                    str(t.get("dataset_id"))[:16] + "…",
                    t.get("dataset_examples"),
                    t.get("model_digest"),
                ]
                for t in trainings
            ],
        )
    lines += ["", "## Limitations and obligations", ""]
    obligations = _unique(o for t in teachers for o in t.get("obligations") or [])
    lines += [_requirement(o, model=False) for o in obligations]
    verdicts: dict[str, int] = {}
    for t in teachers:
        for v, n in (t.get("verdicts") or {}).items():
            verdicts[v] = verdicts.get(v, 0) + int(n)
    if verdicts.get("research_only"):
        lines.append(f"- {verdicts['research_only']} examples are for research and non-commercial use only.")
    for v in ("prohibited", "unknown"):
        if verdicts.get(v):
            lines.append(f"- {verdicts[v]} teacher-written examples have the licence verdict `{v}`.")
    for field, n in (d.get("unknown") or {}).items():
        if n:
            lines.append(f"- {n} examples have no recorded {field} (stored as unknown, not guessed).")
    for c in facts.get("checks") or []:
        if c.get("status") != "ran":
            lines.append(f"- The {_safe(c.get('name'))} check did not run: its risks are not assessed.")
    if any("PERSON" in str(n) for n in (facts.get("pii") or {}).get("notes") or []):
        lines.append("- Names of people were not detected (PERSON detection off).")
    if origin.get("machine", 0):
        lines.append(
            f"- {origin['machine']} examples were written by a machine: they carry the teacher's errors and "
            "biases, and a student trained on them is unlikely to exceed its teacher."
        )
    lines += ["- This card records terms and verdicts; it is not legal advice.", "", "## Provenance", ""]
    lines += _audit(facts)
    return "\n".join(lines)


def dataset_card(facts: dict[str, Any], *, pretty_name: str | None = None) -> str:
    """The dataset card (README.md text: YAML metadata and body) for a ledger's facts."""
    from huggingface_hub import DatasetCard

    title = pretty_name or "Synthetic instruction data"
    licence = hub_licence(((facts.get("licences") or {}).get("expressions") or {}).keys())
    data = _dataset_data(facts, title)
    card = DatasetCard.from_template(data, template_str=_TEMPLATE, body=_dataset_body(facts, title, licence))
    return str(card).rstrip("\n") + "\n"


# ---- model card -----------------------------------------------------------------------------------


def _training(facts: dict[str, Any], training_id: str) -> dict[str, Any]:
    trainings = facts.get("trainings") or []
    exact = [t for t in trainings if t.get("training_id") == training_id]
    if exact:
        return exact[0]
    if len(training_id) < _MIN_PREFIX:
        raise InputError(
            f"training id prefix {training_id!r} is too short: give at least {_MIN_PREFIX} characters"
        )
    found = [t for t in trainings if str(t.get("training_id", "")).startswith(training_id)]
    if not found:
        raise NotFoundError(
            f"no training {training_id!r} in this ledger; `provenance stats` lists the trainings"
        )
    if len(found) > 1:
        raise AmbiguousIdError(
            f"training id prefix {training_id!r} matches {len(found)} trainings; give more"
        )
    return found[0]


def _base_licence(training: dict[str, Any]) -> str | None:
    """The base model's licence, when the gate's judgement of the student names it."""
    finding = (training.get("gate") or {}).get("student_finding") or {}
    for value in (training.get("base_licence"), finding.get("licence")):
        if value:
            return str(value)
    reason = str(finding.get("reason") or "")
    m = re.match(r"base model .+? \(([^()]+)\): ", reason) or re.match(
        r"declared base licence (\S+?):", reason
    )
    return m.group(1) if m else None


def model_card(facts: dict[str, Any], training_id: str) -> str:
    """The model card (README.md text) for one training: a full id or a prefix of at least 6 characters.
    :class:`NotFoundError` when no training matches."""
    from huggingface_hub import ModelCard, ModelCardData

    t = _training(facts, training_id)
    kind, base = t.get("student_kind"), t.get("base_model")
    gate = t.get("gate") or {}
    scratch = kind == "tiny" or not base
    hub_base = base if base and not scratch and (kind == "hub" or _HUB_ID.match(str(base))) else None
    base_licence = None if scratch else _base_licence(t)
    if base_licence:
        licence, name, link = hub_licence([base_licence])
    else:
        # no base licence applies or is known: the student's use is bound by its training data's terms
        licence, name, link = "other", "bound-by-training-data-terms", None
    dataset = f"provenance-dataset-{str(t.get('dataset_id'))[:16]}"
    tags = ["provenance", "synthetic-data", "distillation"] + (["trained-from-scratch"] if scratch else [])
    obligations = _unique(
        [*(gate.get("obligations") or []), *((gate.get("student_finding") or {}).get("obligations") or [])]
    )
    extra = {"license_name": name, "license_link": link}
    if hub_base:
        extra["base_model_relation"] = "finetune"
    audit = facts.get("audit") or {}
    data = ModelCardData(
        base_model=hub_base,
        datasets=[dataset],
        license=licence,
        language=["en"],
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=tags,
        obligations=[
            {k: o.get(k) for k in ("kind", "text", "when", "source") if o.get(k) is not None}
            for o in obligations
        ],
        provenance={
            "training_id": t.get("training_id"),
            "dataset_id": t.get("dataset_id"),
            "weights_sha256": t.get("model_digest"),
            "gate": "passed" if gate.get("passed") else ("failed" if gate else None),
            "audit_chain_head": audit.get("head"),
            "audit_entries": audit.get("entries"),
            "tool": "provenance",
            "tool_version": facts.get("tool_version"),
        },
        **{k: v for k, v in extra.items() if v is not None},
    )
    body = _model_body(facts, t, obligations, base_licence, (licence, name, link), dataset, hub_base)
    card = ModelCard.from_template(data, template_str=_TEMPLATE, body=body)
    return str(card).rstrip("\n") + "\n"


def _model_body(
    facts: dict[str, Any],
    t: dict[str, Any],
    obligations: list[dict[str, Any]],
    base_licence: str | None,
    licence: tuple[str, str | None, str | None],
    dataset: str,
    hub_base: str | None,
) -> str:
    gate = t.get("gate") or {}
    config, metrics = t.get("config") or {}, t.get("metrics") or {}
    finding = gate.get("student_finding") or {}
    lines = [
        f"# Student `{_safe(t.get('student'))}` (training {str(t.get('training_id'))[:12]})",
        "",
        f"This card was written by provenance {facts.get('tool_version')} from its ledger; every number "
        "on it is read from the ledger.",
        "",
        "## Model",
        "",
    ]
    if t.get("student_kind") == "tiny" or not t.get("base_model"):
        dims = ", ".join(f"{k.removeprefix('tiny_')} {config[k]}" for k in config if k.startswith("tiny_"))
        lines.append(
            "A tiny causal language model trained from scratch by provenance"
            + (f" ({dims})" if dims else "")
            + ". It has no base model, so no base model licence applies."
        )
    else:
        where = f"`{_safe(hub_base)}`" if hub_base else f"the local checkpoint `{_safe(t.get('base_model'))}`"
        lines.append(f"Fine-tuned from {where} ({_safe(t.get('student_kind'))} student).")
        lines.append(
            f"Base model licence: `{_safe(base_licence)}`."
            if base_licence
            else "The base model's licence is not recorded in the ledger."
        )
    hub, name, _ = licence
    lines += [
        "",
        f"The hub's `license` field says `{hub}`" + (f" (`{name}`)" if name else "") + ". Whatever it says, "
        "the obligations below, which come from the training data's terms, bind this model.",
        "",
        "## Training data",
        "",
        f"- Dataset `{dataset}`: Merkle root `{t.get('dataset_id')}` over the sorted ids of its "
        f"{t.get('dataset_examples')} examples.",
        f"- Policy pack `{_safe(t.get('pack'))}` (sha256 `{t.get('pack_hash')}`), teacher registry "
        f"{_safe(t.get('registry_version'))}.",
    ]
    if "use" in gate:
        dist = "cleared for distribution" if gate.get("distribute") else "not cleared for distribution"
        lines.append(f"- Judged for **{_safe(gate.get('use'))}** use, {dist}.")
    else:
        lines.append("- The gate record of this training does not state the use it was judged for.")
    if gate.get("teacher_mix"):
        lines += ["", *_table(["teacher", "examples"], [[k, v] for k, v in gate["teacher_mix"].items()])]
    lines += ["", "## Gate and licence verdicts", ""]
    if gate:
        verdict = "PASSED" if gate.get("passed") else "FAILED"
        lines.append(
            f"The gate **{verdict}** for this dataset: {gate.get('selected')} of {gate.get('examples')} "
            "examples selected."
        )
        for r in gate.get("reasons") or []:
            text = f"{r.get('code')}: {r.get('message')}" if isinstance(r, dict) else r
            lines.append(f"- {_safe(text)}")
        if gate.get("licence_verdicts"):
            lines += [
                "",
                *_table(
                    ["licence verdict", "examples"], [[k, v] for k, v in gate["licence_verdicts"].items()]
                ),
            ]
        if finding:
            lines += [
                "",
                f"The student itself: **{_safe(finding.get('verdict'))}**: {_safe(finding.get('reason'))}",
            ]
    else:
        lines.append("No gate record is linked to this training.")
    lines += ["", "## Obligations", ""]
    if obligations:
        lines += ["These travel from the training data's terms and the student's licence to this model:", ""]
        lines += [_requirement(o, model=True) for o in obligations]
    elif "obligations" in gate:
        lines.append("The gate recorded no obligations for this model.")
    else:
        lines.append(
            "The gate record of this training predates obligation tracking: no obligations were recorded. "
            "The teachers' terms on the dataset card still apply."
        )
    lines += ["", "## Training configuration and metrics", ""]
    lines += _table(["setting", "value"], [[k, v] for k, v in config.items()])
    lines += [""]
    lines += _table(
        ["metric", "value"],
        [[k, ", ".join(map(str, v)) if isinstance(v, list) else v] for k, v in metrics.items()],
    )
    lines += [
        "",
        "## Weights",
        "",
        f"- sha256 `{t.get('model_digest')}`: over the weight files (`*.safetensors`, `*.bin`) in name "
        "order, each as its name, size and bytes.",
        "",
        "## Provenance and how to verify it",
        "",
        *_audit(facts),
    ]
    return "\n".join(lines)


# ---- files ----------------------------------------------------------------------------------------


def write_dataset_card(facts: dict[str, Any], out_dir: Path, **kw: Any) -> Path:
    """Write the dataset card to ``<out_dir>/README.md``; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    path.write_text(dataset_card(facts, **kw), "utf-8")
    return path


def write_model_card(facts: dict[str, Any], training_id: str, out_dir: Path) -> Path:
    """Write the model card for one training to ``<out_dir>/README.md`` (next to the student)."""
    text = model_card(facts, training_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    path.write_text(text, "utf-8")
    return path
