"""The audit report that travels with every student (and every refusal): AUDIT.json and AUDIT.md.

It holds the gate's verdict and each reason, the policy pack and its hash, the registry version,
the teacher mix, licence verdicts and obligations, each check's result, the waivers used, the
dataset's Merkle root, the training configuration and metrics, the tool version, the audit chain
head and whether ``verify`` passed, and a signature when a key was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audits.gate import GateResult
from provenance.core.files import write_text
from provenance.core.ledger import tool_version


def build(
    gate: GateResult,
    *,
    chain: dict[str, Any],
    training: dict[str, Any] | None = None,
    signature: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a dict (AUDIT.json)."""
    return {
        "report": "provenance audit",
        "tool_version": tool_version(),
        "verdict": "passed" if gate.passed else "failed",
        "reasons": [r.__dict__ for r in gate.reasons],
        "policy_pack": gate.pack,
        "use": gate.use,
        "student": gate.student,
        "distributed": gate.distribute,
        "registry_version": gate.registry_version,
        "dataset": {
            "merkle_root": gate.merkle_root,
            "examples": len(gate.selected),
            "examples_in_ledger": gate.examples,
            "dropped": gate.dropped,
            "redacted_replaced": gate.redacted_replaced,
            "redacted_copies_unused": gate.redacted_copies_unused,
            "excluded_by_check": gate.excluded,
            "manifest": "manifest.json",
        },
        "teacher_mix": gate.teacher_mix,
        "licence": {
            "verdicts": gate.licence_verdicts,
            "student": gate.student_finding,
            "obligations": gate.obligations,
        },
        "checks": gate.checks,
        "waivers_used": gate.waivers_used,
        "training": training,
        "audit_chain": chain,
        "signature": signature,
        "gate_run": gate.run_id,
        "check_run": gate.check_run_id,
    }


def write(out_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Write AUDIT.json and AUDIT.md into ``out_dir``; return their paths."""
    json_path, md_path = out_dir / "AUDIT.json", out_dir / "AUDIT.md"
    write_text(json_path, json.dumps(report, indent=2, default=str) + "\n")
    write_text(md_path, markdown(report))
    return [json_path, md_path]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += [
        "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows
    ]
    return out


def _verdict(r: dict[str, Any]) -> list[str]:
    passed = r["verdict"] == "passed"
    lines = [
        "# Audit report",
        "",
        f"**Gate: {'PASSED' if passed else 'FAILED'}** for student `{r['student']}`, {r['use']} use"
        f"{', distributed' if r['distributed'] else ''}, under policy pack `{r['policy_pack']['name']}` "
        f"(sha256 `{r['policy_pack']['hash'][:16]}…`), teacher registry {r['registry_version']}.",
        "",
    ]
    if r["reasons"]:
        lines += ["## Why the gate said no", ""]
        lines += [f"- **{x['code']}**: {x['message']}" for x in r["reasons"]]
        lines += ["", "Nothing was trained." if not passed else "", ""]
    return lines


def _dataset(r: dict[str, Any]) -> list[str]:
    d, lic = r["dataset"], r["licence"]
    lines = [
        "## Dataset",
        "",
        f"- {d['examples']:,} of the {d['examples_in_ledger']:,} examples in the ledger may train; "
        f"{d['dropped']:,} were dropped and {d['redacted_replaced']:,} were replaced by their "
        "redacted copies.",
        f"- Merkle root over the sorted example ids: `{d['merkle_root']}` (the ids are in `manifest.json`).",
        "",
        "### Teacher mix of the selected examples",
        "",
        *_table(["teacher", "examples"], [[k, f"{v:,}"] for k, v in r["teacher_mix"].items()]),
        "",
        "## Licence and terms",
        "",
        *_table(["verdict", "selected examples"], [[k, f"{v:,}"] for k, v in lic["verdicts"].items()]),
        "",
    ]
    if lic["student"]:
        lines += [
            f"The student itself: **{lic['student'].get('verdict')}**: {lic['student'].get('reason')}",
            "",
        ]
    if lic["obligations"]:
        lines += ["Obligations that travel with the student (state them on its card):", ""]
        lines += [f"- {o.get('text', o)}" for o in lic["obligations"]]
        lines += [""]
    return lines


def _checks(r: dict[str, Any]) -> list[str]:
    lines = ["## Checks", ""]
    rows = []
    for c in r["checks"]:
        counts = ", ".join(f"{k} {v:,}" for k, v in (c.get("counts") or {}).items())
        status = c["status"] if c["status"] == "ran" else f"NOT RUN: {c.get('reason')}"
        rows.append([c["name"], c["action"], status, counts or "-", "; ".join(c.get("notes") or []) or "-"])
    lines += _table(["check", "action", "status", "decisions", "notes"], rows)
    lines += ["", "## Waivers used", ""]
    if r["waivers_used"]:
        lines += _table(
            ["check", "example / teacher", "examples", "reason", "approver", "expires", "audit row"],
            [
                [
                    w["check"],
                    w["example_id"] or w["teacher"],
                    w["examples"],
                    w["reason"],
                    w["approver"],
                    w["expires"],
                    w.get("audit_seq", "-"),
                ]
                for w in r["waivers_used"]
            ],
        )
    else:
        lines += ["None."]
    return [*lines, ""]


def _training(t: dict[str, Any] | None) -> list[str]:
    if not t:
        return []
    student = t["student"]
    return [
        "## Training",
        "",
        f"- Student: {student.get('kind')} `{student.get('name')}`"
        + (f" (base model `{student['base_model']}`)" if student.get("base_model") else "")
        + (f": {student['label']}" if student.get("label") else ""),
        f"- Weights sha256: `{t['model_digest']}`",
        "- Configuration: `" + json.dumps(t["config"], sort_keys=True) + "`",
        "- Metrics: `" + json.dumps(t["metrics"], sort_keys=True) + "`",
        "",
    ]


def _trail(r: dict[str, Any]) -> list[str]:
    chain = r["audit_chain"]
    lines = [
        "## Audit trail",
        "",
        f"- Chain head: `{chain.get('head')}` (row {chain.get('seq')}); `provenance verify` "
        f"{'passed' if chain.get('verified') else 'FAILED'} before training.",
    ]
    sig = r.get("signature")
    if sig:
        lines += [
            f"- Signed ({sig.get('algorithm', 'ed25519')}) with key `{sig['public_key']}`: check with "
            "`provenance verify --report AUDIT.json --pubkey KEY.pub`; the student's folder with "
            "`provenance verify --student FOLDER --pubkey KEY.pub` (every file, against `model.sig`)."
        ]
    else:
        lines += ["- Not signed (give `--sign KEY` to `provenance train`)."]
    return [*lines, "", f"Written by provenance {r['tool_version']}.", ""]


def markdown(r: dict[str, Any]) -> str:
    """The report for people."""
    lines = _verdict(r) + _dataset(r) + _checks(r) + _training(r.get("training")) + _trail(r)
    return "\n".join(lines)
