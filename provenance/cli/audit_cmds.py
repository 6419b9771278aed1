"""``provenance train``, ``gate``, ``waive``, ``waivers``, ``verify`` and ``keygen``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from provenance.cli.common import (
    State,
    console,
    echo_error,
    echo_json,
    json_option,
    pass_state,
    registry_option,
)


def _policy_option(fn: Any) -> Any:
    return click.option(
        "--policy",
        required=True,
        metavar="PACK",
        help="A policy pack: research, commercial, release or a YAML file.",
    )(fn)


def _print_gate(gate: Any) -> None:
    out = console()
    verdict = "[green]PASSED[/]" if gate.passed else "[red]FAILED[/]"
    out.print(
        f"gate {verdict}: {len(gate.selected):,} of {gate.examples:,} examples may train "
        f"student {gate.student!r} "
        f"({gate.use} use) under pack {gate.pack['name']} · dropped {gate.dropped:,} · "
        f"replaced by redacted copies {gate.redacted_replaced:,}"
    )
    for r in gate.reasons:
        out.print(f"  [red]✗[/] {r.code}: {r.message}")
    for w in gate.waivers_used:
        out.print(
            f"  waiver {w['waiver_id'][:12]} ({w['check']}, {w['example_id'] or w['teacher']}) "
            f"covered {w['examples']:,} examples; approved by {w['approver']}"
        )
    out.print(f"  dataset Merkle root {gate.merkle_root}")


@click.command("gate")
@_policy_option
@click.option("--student", metavar="MODEL", help="The student (default: the pack's).")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the manifest (sorted example ids and Merkle root) to this file.",
)
@registry_option
@json_option
@pass_state
def gate(
    state: State,
    policy: str,
    student: str | None,
    manifest_path: Path | None,
    registry_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the training gate without training: exit 1 when it says no (for CI).

    Runs what is missing or stale of the pack's checks, selects the examples that may train,
    applies the pack's thresholds and the waivers, and records the verdict and the dataset.

    \b
    Example:
      provenance gate --policy commercial --student tiny --manifest dataset.json
    """
    from audits.gate import evaluate
    from policies.packs import load_pack
    from policies.registry import load_registry

    loaded, registry = load_pack(policy), load_registry(registry_files)
    with state.open(read_only=False) as ledger:
        result = evaluate(ledger, loaded, registry, student=student, manifest=manifest_path)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_gate(result)
    raise SystemExit(0 if result.passed else 1)


@click.command("train")
@_policy_option
@click.option(
    "--student",
    required=True,
    metavar="MODEL",
    help="tiny (a small GPT-2 built here), a local checkpoint folder, or a hub id where the network allows.",
)
@click.option(
    "--student-id",
    metavar="MODEL_ID",
    help="The model id the licence policy judges (default: tiny, the hub id, or the one a checkpoint's "
    "config.json names).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the student, AUDIT.md, AUDIT.json and manifest.json.",
)
@click.option("--force", is_flag=True, help="Replace an existing, non-empty --out folder.")
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option(
    "--max-steps", type=int, default=-1, help="Stop after this many optimiser steps (overrides --epochs)."
)
@click.option("--learning-rate", type=float, default=5e-4, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--max-length", type=int, default=512, show_default=True, help="Tokens per example.")
@click.option(
    "--prompt-format",
    type=click.Choice(["auto", "alpaca", "chat"]),
    default="auto",
    show_default=True,
    help="auto: the tokenizer's chat template when it has one, else the Alpaca format.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the report and the student's folder (OpenSSF model-signing) with this EC P-256 key "
    "(see `provenance keygen`).",
)
@registry_option
@json_option
@pass_state
def train(
    state: State,
    policy: str,
    student: str,
    student_id: str | None,
    out_dir: Path,
    force: bool,
    epochs: float,
    max_steps: int,
    learning_rate: float,
    batch_size: int,
    max_length: int,
    prompt_format: str,
    seed: int,
    sign_key: Path | None,
    registry_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Fine-tune a student only through the gate; the student leaves with its audit report.

    Verifies the audit trail, runs the gate (exit 1 and nothing trained when it says no; the
    report in --out explains each reason), fine-tunes with transformers (causal LM, loss on the
    response only, Alpaca format or the chat template), records the training in the ledger and
    writes the student, AUDIT.md, AUDIT.json and manifest.json to --out (through a temporary
    folder renamed at the end).

    \b
    Example:
      provenance train --policy commercial --student tiny --out students/tiny-1 --max-steps 50
      provenance train --policy research --student ./checkpoints/base --out students/s1 --sign audit.key
    """
    from audits.gated import train_through_gate
    from audits.train import TrainConfig
    from policies.packs import load_pack
    from policies.registry import load_registry

    config = TrainConfig(
        epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        prompt_format=prompt_format,
        seed=seed,
    )
    loaded, registry = load_pack(policy), load_registry(registry_files)
    with state.open(read_only=False) as ledger:
        outcome = train_through_gate(
            ledger,
            loaded,
            registry,
            student=student,
            student_id=student_id,
            out_dir=out_dir,
            config=config,
            force=force,
            sign_key=sign_key,
        )
    if as_json:
        echo_json({"trained": outcome.trained, "out": str(outcome.out_dir), "report": outcome.report})
    else:
        _print_gate(outcome.gate)
        out = console()
        if outcome.trained:
            t = outcome.report["training"]
            m = t["metrics"]
            out.print(
                f"trained {t['student'].get('kind')} student in {t['seconds']:.1f} s: "
                f"{m.get('steps')} steps, "
                f"loss {m.get('first_loss', 0):.3f} → {m.get('last_loss', 0):.3f}"
            )
            out.print(f"  wrote {outcome.out_dir}/ (model, AUDIT.md, AUDIT.json, manifest.json)")
            out.print(f"  audit chain head {outcome.report['audit_chain']['head']}")
        else:
            out.print(f"  nothing was trained; the reasons are in {outcome.out_dir}/AUDIT.md")
    raise SystemExit(0 if outcome.trained else 1)


@click.command("waive")
@click.option("--check", "check_name", required=True, help="The check's name in the pack (licence, pii, …).")
@click.option("--example", metavar="ID", help="The example (id or unique prefix) the waiver covers.")
@click.option("--teacher", metavar="MODEL", help="Every example of this teacher (as recorded in the ledger).")
@click.option("--reason", required=True, help="Why the exception is acceptable.")
@click.option("--approver", required=True, help="Who signed it off.")
@click.option("--expires", required=True, metavar="YYYY-MM-DD", help="The last day it counts.")
@json_option
@pass_state
def waive(
    state: State,
    check_name: str,
    example: str | None,
    teacher: str | None,
    reason: str,
    approver: str,
    expires: str,
    as_json: bool,
) -> None:
    """Record a signed-off exception to a check's decision (audited; listed in every report that uses it).

    \b
    Example:
      provenance waive --check pii --example 3fa2c1 --reason "public support address" \\
          --approver "J. Doe (DPO)" --expires 2027-06-30
    """
    from audits.waivers import waive as record

    with state.open(read_only=False) as ledger:
        waiver, warning = record(
            ledger,
            check=check_name,
            example=example,
            teacher=teacher,
            reason=reason,
            approver=approver,
            expires=expires,
        )
    if warning is not None:
        echo_error(warning)
    if as_json:
        echo_json(waiver.as_dict())
    else:
        console().print(
            f"waiver {waiver.waiver_id[:12]} recorded: {check_name} for "
            f"{waiver.example_id or waiver.teacher}, until {waiver.expires}"
        )


@click.command("waivers")
@json_option
@pass_state
def waivers(state: State, as_json: bool) -> None:
    """List every waiver, expired or not.

    \b
    Example:
      provenance waivers --json
    """
    from audits.waivers import all_waivers
    from provenance.core.clock import utcnow

    with state.open(read_only=True) as ledger:
        found = all_waivers(ledger)
    today = utcnow().date()
    if as_json:
        echo_json([{**w.as_dict(), "expired": w.expired(today)} for w in found])
        return
    out = console()
    for w in found:
        state_ = "expired" if w.expired(today) else "active"
        out.print(
            f"{w.waiver_id[:12]} {state_:<7} {w.check:<14} {w.example_id or w.teacher} · until {w.expires} "
            f"· {w.approver}: {w.reason}"
        )
    if not found:
        out.print("no waivers")


@click.command("verify")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check an AUDIT.json: its chain head is in this ledger's trail, and its signature.",
)
@click.option(
    "--student",
    "student_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also check a student's folder: every file against its training's record, and its signature.",
)
@click.option(
    "--pubkey", type=click.Path(dir_okay=False, path_type=Path), help="The signer's public key (PEM)."
)
@json_option
@pass_state
def verify(
    state: State, report_path: Path | None, student_dir: Path | None, pubkey: Path | None, as_json: bool
) -> None:
    """Recompute the audit trail's hash chain and every digest; exit 1 when anything was altered.

    Names the first audit row that does not match (an edited, inserted or deleted example,
    provenance row, decision or audit row).

    \b
    Example:
      provenance verify
      provenance verify --report students/tiny-1/AUDIT.json --pubkey audit.key.pub
      provenance verify --student students/tiny-1 --pubkey audit.key.pub
    """
    from audits.verify import verify as check

    with state.open(read_only=True) as ledger:
        found = check(ledger, report_path, pubkey, student_dir)
    result, report_check = found.trail, found.report
    if as_json:
        echo_json(found.as_dict())
    else:
        out = console()
        if result.ok:
            out.print(
                f"[green]verified[/]: {result.entries:,} audit rows, chain head {result.head} "
                f"({result.seconds:.2f} s)"
            )
        else:
            out.print(
                f"[red]ALTERED[/]: {len(result.problems)} problems; the first: {result.problems[0].message}"
            )
            for p in result.problems[1:10]:
                out.print(f"  · {p.message}")
        for run in result.unsealed:
            out.print(
                f"  note: run {run[:12]} is marked running and wrote nothing; "
                "the next writer closes it failed"
            )
        for run in result.interrupted:
            out.print(
                f"  note: run {run[:12]} was interrupted (its process ended); the next writer closed it "
                "failed, and what it wrote does not count"
            )
        for warning in result.warnings:
            out.print(f"  [yellow]warning[/]: {warning}")
        if report_check is not None:
            for line in report_check.lines:
                out.print(f"  {line}")
        if found.student is not None:
            for line in found.student.lines:
                out.print(f"  {line}", markup=False, highlight=False)
    raise SystemExit(0 if found.ok else 1)


@click.command("keygen")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to write (its public key goes to OUT.pub).",
)
@pass_state
def keygen(state: State, out: Path) -> None:
    """Make an EC P-256 key pair for signing students and their reports (`provenance train --sign KEY`).

    \b
    Example:
      provenance keygen --out audit.key      # writes audit.key (mode 0600) and audit.key.pub
    """
    from audits.signing import keygen as make

    private, public = make(out)
    console().print(f"wrote private key {private} (keep it secret) and public key {public}")
