"""What the dataset card and the model card share: hub licence ids, masked free text, Markdown tables,
obligations as requirements, and the checks, PII and audit sections.

Licences go into the hub's ``license`` field only when the data carries exactly one licence the hub
knows; any compound expression, ``LicenseRef-*`` term or mix of licences is ``other``, named, never
simplified. Cards show no example text, and free text read from the ledger has e-mail addresses masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reports.facts import Facts, Obligation

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
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}\n"
PROCEDURES = {
    "self-instruct": 'Self-Instruct (Wang et al., "Self-Instruct: Aligning Language Models with '
    'Self-Generated Instructions", ACL 2023)',
    "alpaca": "Stanford Alpaca's data generation (Taori et al., 2023), itself a variant of Self-Instruct",
    "rejection-sampling": "rejection sampling with a verifier, STaR-style (Zelikman et al., 2022)",
}
MIN_PREFIX = 6


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


def safe(text: Any) -> str:
    """Free text from the ledger, one line, e-mail addresses masked."""
    return mask_emails(" ".join(str(text).split()))


def cell(value: Any) -> str:
    """A Markdown table cell: masked one-line text, ``-`` when empty."""
    return safe(value).replace("|", "\\|") if value not in (None, "") else "-"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table, its cells masked."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def mix(counts: dict[str, Any] | None) -> str:
    """``a 3, b 2``, or ``none``."""
    return ", ".join(f"{k} {v}" for k, v in (counts or {}).items()) or "none"


def requirement(o: Obligation, *, model: bool) -> str:
    """One obligation as a requirement, its text verbatim, for a model card or a dataset card."""
    text = safe(o.get("text") or o.get("kind") or "")
    subject = "this model" if model else "a model trained on this data"
    users = "this model's users" if model else "the users of this data and of models trained on it"
    when = " when you distribute it" if o.get("when") == "distributed" else ""
    if o.get("when") not in (None, "always", "distributed"):
        when = f" ({safe(o['when'])})"
    kind, value = o.get("kind"), o.get("value")
    if kind == "name_prefix" and value:
        lead = f'You must give {subject} a name that begins with "{safe(value)}"{when}'
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
    source = f" (from {safe(o['source'])})" if o.get("source") else ""
    return f"- **{lead}**: {text}{source}"


def unique(obligations: Iterable[Obligation]) -> list[Obligation]:
    """Obligations without repeats (same kind, text, when and value), in order."""
    seen: dict[tuple[Any, ...], Obligation] = {}
    for o in obligations:
        seen.setdefault((o.get("kind"), o.get("text"), o.get("when"), o.get("value")), o)
    return list(seen.values())


def checks_section(facts: Facts) -> list[str]:
    """The latest check run as a table, and why each check that did not run did not."""
    if not facts.checks:
        return ["No policy checks have run on this ledger: nothing below is a check's verdict.", ""]
    rows, notes = [], []
    for c in facts.checks:
        if c.ran:
            status, result = "ran", mix(c.counts)
        else:
            status = "NOT RUN" + (": the pack requires it" if c.blocking else "")
            result = "no verdict: the check did not run"
            notes.append(
                f"- **{safe(c.name)} was not run**, so the data was not judged by it: "
                f"{safe(c.not_run_reason or 'no reason recorded')}"
            )
        reasons = "; ".join(f"{safe(r)} ({n})" for r, n in c.top_reasons[:3])
        rows.append([c.name, c.kind, c.action, status, result, reasons or "-"])
    pack = next((c.pack for c in facts.checks if c.pack), None)
    out = [f"The latest check run (policy pack `{safe(pack)}`):" if pack else "The latest check run:", ""]
    out += table(["check", "kind", "action", "status", "decisions (examples)", "top reasons"], rows)
    return [*out, "", *notes, *([""] if notes else [])]


def pii_section(facts: Facts) -> list[str]:
    """What the PII check found and how much was redacted, or that it did not run."""
    pii = facts.pii
    check = facts.check("pii")
    if not pii.ran:
        why = f": {safe(check.not_run_reason)}" if check and check.not_run_reason else ""
        return [
            f"The PII check did not run on this ledger{why}. Nothing is known about personal information "
            "in this data, and none has been redacted by provenance.",
            "",
        ]
    out = [
        f"The PII check found personal information in {pii.examples_with_pii} examples"
        + (f" (findings by entity: {mix(pii.entities)})." if pii.entities else ".")
        + f" Redacted copies written: {pii.redacted} (lineage relation `redacted-from`).",
    ]
    notes = [safe(n) for n in pii.notes]
    if any("PERSON" in n and ("off" in n or "not" in n) for n in notes):
        out.append(
            "PERSON detection was off: names of people were not looked for, so names may remain in the data."
        )
    out += ["", *[f"- {n}" for n in notes], *([""] if notes else [])]
    return out


def audit_section(facts: Facts) -> list[str]:
    """The audit chain head, whether verify passed, and how to verify it."""
    audit = facts.audit
    verify = audit.verify or None
    out = [
        f"- Audit chain head: `{audit.head}` after {audit.entries} entries of the ledger's "
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
    return [*out, f"- Written by provenance {facts.tool_version}.", ""]
