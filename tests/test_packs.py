"""Policy packs: the shipped ones load; a malformed one is rejected with the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.packs import SHIPPED, load_pack
from provenance.core.errors import InputError
from tests.conftest import run_cli, snapshot

GOOD = """\
name: mine
use: research
checks:
  - check: licence
    action: drop
  - check: pii
    action: redact
    settings:
      entities: [EMAIL_ADDRESS]
"""


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_packs_load_and_each_has_a_language_check_that_always_runs(name: str) -> None:
    loaded = load_pack(name)
    kinds = [c.check for c in loaded.pack.checks]
    assert {"licence", "pii", "profanity", "toxicity", "contamination", "diversity"} <= set(kinds)
    assert len(loaded.settings) == len(kinds)
    assert len(loaded.pack.hash) == 64


def test_release_blocks_when_toxicity_cannot_run_and_the_others_only_report() -> None:
    def toxicity(name: str):
        return next(c for c in load_pack(name).pack.checks if c.check == "toxicity")

    assert toxicity("release").if_not_run == "block"
    assert toxicity("commercial").if_not_run == "report" and toxicity("research").if_not_run == "report"


def test_the_hash_changes_with_any_setting(tmp_path: Path) -> None:
    a = load_pack(str(write(tmp_path, GOOD, "a.yaml"))).pack.hash
    b = load_pack(
        str(write(tmp_path, GOOD.replace("[EMAIL_ADDRESS]", "[EMAIL_ADDRESS, IBAN_CODE]"), "b.yaml"))
    )
    assert a != b.pack.hash
    # formatting and comments do not change it
    flow = GOOD.replace("settings:\n      entities: [EMAIL_ADDRESS]", "settings: {entities: [EMAIL_ADDRESS]}")
    c = load_pack(str(write(tmp_path, "# mine\n" + flow, "c.yaml")))
    assert c.pack.hash == a


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("use: research", "use: resarch"), 2, ["use", "research"]),
        (GOOD.replace("  - check: licence", "  - check: licnse"), 4, ["unknown check 'licnse'", "known:"]),
        (GOOD.replace("action: drop", "action: delete"), 5, ["action", "flag"]),
        (
            GOOD.replace("[EMAIL_ADDRESS]", "[EMAIL_ADRESS]"),
            9,
            ["unknown PII entity 'EMAIL_ADRESS'", "IBAN_CODE"],
        ),
        (GOOD.replace("entities:", "entitys:"), 9, ["unknown setting 'entitys'", "allowed:", "min_score"]),
        (GOOD + "colour: blue\n", 10, ["unknown field 'colour'", "allowed:"]),
        (GOOD.replace("action: redact", "action: redact\n    if_not_run: maybe"), 8, ["if_not_run"]),
        ("name: x\nuse: research\nchecks:\n  - check: profanity\n    action: redact\n", 4, ["cannot redact"]),
        ("name: x\nuse: research\nchecks: []\n", 3, ["checks"]),
        (
            "name: x\nuse: research\nchecks:\n  - check: toxicity\n    action: drop\n"
            "    settings:\n      thresholds: {toxic: 0.5}\n",
            7,
            ["unknown toxicity label 'toxic'"],
        ),
        (
            "name: x\nuse: research\nchecks:\n  - check: contamination\n    action: drop\n"
            "    settings:\n      evalsets: [mmlu]\n",
            7,
            ["unknown evaluation set 'mmlu'"],
        ),
        (
            "name: x\nuse: research\nchecks:\n  - check: pii\n    action: flag\n"
            "  - check: pii\n    action: drop\n",
            None,
            ["two checks are named 'pii'"],
        ),
    ],
)
def test_a_malformed_pack_names_the_file_the_line_and_the_field(
    tmp_path: Path, text: str, line: int | None, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_pack(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:" if line else f"{path}:"), message
    for w in words:
        assert w in message, message


def test_a_bad_pack_exits_2_and_leaves_the_ledger_unchanged(example: Path, tmp_path: Path) -> None:
    before = snapshot(example)
    result = run_cli("check", "--policy", str(write(tmp_path, GOOD.replace("pii", "pi"))), db=example)
    assert result.exit_code == 2
    assert "unknown check 'pi'" in result.stderr
    assert snapshot(example) == before
    missing = run_cli("check", "--policy", "comercial", db=example)
    assert missing.exit_code == 2 and "research, commercial, release" in missing.stderr
    assert snapshot(example) == before
