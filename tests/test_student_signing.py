"""A student's folder is covered, not just its report: every file against the training's record, and
the folder's OpenSSF model-signing signature (issue 15, section 3).

Two tiny students are trained once for the module on one ledger, one signed and one not; each test
alters a copy of a folder and checks that ``provenance verify --student`` names what changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import BuiltLedgers, run_cli
from tests.test_audit import build_example, pack

TRAIN = ("--student", "tiny", "--max-steps", "2", "--max-length", "64", "--json")


@pytest.fixture(scope="module")
def students(tmp_path_factory: pytest.TempPathFactory, built_ledgers: BuiltLedgers) -> dict[str, Path]:
    """A ledger with a signed and an unsigned tiny student."""
    folder = tmp_path_factory.mktemp("students")
    db = built_ledgers.copy("seeds-text-davinci-003", build_example, folder / "ledger.duckdb")
    light = pack(folder)
    key = folder / "audit.key"
    assert run_cli("keygen", "--out", str(key)).exit_code == 0
    signed, unsigned = folder / "signed", folder / "unsigned"
    result = run_cli("train", "--policy", str(light), "--out", str(signed), "--sign", str(key), *TRAIN, db=db)
    assert result.exit_code == 0, result.output
    # another seed: other weights, for a swap that changes the bytes
    result = run_cli("train", "--policy", str(light), "--out", str(unsigned), "--seed", "1", *TRAIN, db=db)
    assert result.exit_code == 0, result.output
    return {"db": db, "signed": signed, "unsigned": unsigned, "key": key, "pub": Path(f"{key}.pub")}


def copy_of(students: dict[str, Path], which: str, tmp_path: Path) -> Path:
    """A copy of a student's folder to alter."""
    return Path(shutil.copytree(students[which], tmp_path / which))


def verify_student(
    students: dict[str, Path], folder: Path, *pubkey: str, text: bool = False
) -> tuple[int, dict, str]:
    """Exit code, the --json answer's student part, and (with ``text``) the terminal output of
    verify --student."""
    as_json = run_cli("verify", "--student", str(folder), *pubkey, "--json", db=students["db"])
    if not text:
        return as_json.exit_code, json.loads(as_json.stdout)["student"], ""
    printed = run_cli("verify", "--student", str(folder), *pubkey, db=students["db"])
    assert as_json.exit_code == printed.exit_code
    return as_json.exit_code, json.loads(as_json.stdout)["student"], printed.stdout


def named(found: dict) -> set[str]:
    return {m["file"] for m in found["mismatches"]}


def test_an_untouched_student_verifies(students: dict[str, Path], tmp_path: Path) -> None:
    code, found, text = verify_student(students, students["signed"], "--pubkey", str(students["pub"]))
    assert code == 0 and found["ok"] and found["signature"] == "valid", text
    assert (students["signed"] / "model.sig").is_file()
    code, found, text = verify_student(students, students["unsigned"])
    assert code == 0 and found["ok"] and not found["mismatches"], text
    # a copy elsewhere is the same student; the model card written into it later is only a note
    copy = copy_of(students, "signed", tmp_path)
    (copy / "README.md").write_text("# the model card\n")
    code, found, text = verify_student(students, copy, "--pubkey", str(students["pub"]))
    assert code == 0 and any("README.md" in n for n in found["notes"]), text


def test_an_edited_audit_report_of_an_unsigned_student_is_named(
    students: dict[str, Path], tmp_path: Path
) -> None:
    copy = copy_of(students, "unsigned", tmp_path)
    report = json.loads((copy / "AUDIT.json").read_text())
    report["licence"]["obligations"] = []  # drop the obligations that travel with the student
    (copy / "AUDIT.json").write_text(json.dumps(report, indent=2))
    code, found, text = verify_student(students, copy, text=True)
    assert code == 1 and "AUDIT.json" in named(found) and "AUDIT.json" in text
    (mismatch,) = [m for m in found["mismatches"] if m["file"] == "AUDIT.json"]
    assert mismatch["expected"] != mismatch["found"]


def test_an_edited_audit_md_is_named(students: dict[str, Path], tmp_path: Path) -> None:
    copy = copy_of(students, "unsigned", tmp_path)
    md = copy / "AUDIT.md"
    md.write_text(md.read_text().replace("Gate: PASSED", "Gate: PASSED (no obligations)"))
    code, found, _ = verify_student(students, copy)
    assert code == 1 and named(found) == {"AUDIT.md"}


def test_an_edited_weight_file_of_an_unsigned_student_is_named(
    students: dict[str, Path], tmp_path: Path
) -> None:
    copy = copy_of(students, "unsigned", tmp_path)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    code, found, text = verify_student(students, copy)
    assert code == 1 and "model.safetensors" in named(found), text
    (mismatch,) = [m for m in found["mismatches"] if m["file"] == "model.safetensors"]
    assert mismatch["expected"].startswith("sha256 ") and mismatch["found"].startswith("sha256 ")


def test_a_swapped_weight_file_of_a_signed_student_fails_its_signature(
    students: dict[str, Path], tmp_path: Path
) -> None:
    copy = copy_of(students, "signed", tmp_path)
    shutil.copyfile(students["unsigned"] / "model.safetensors", copy / "model.safetensors")
    # the report's own signature still holds (it signs the report, not the files) ...
    report = run_cli(
        "verify", "--report", str(copy / "AUDIT.json"), "--pubkey", str(students["pub"]), db=students["db"]
    )
    assert report.exit_code == 0
    # ... but the folder's signature and the training's record name the swapped file
    code, found, text = verify_student(students, copy, "--pubkey", str(students["pub"]), text=True)
    assert code == 1 and "model.safetensors" in named(found) and "model.safetensors" in text
    assert found["signature"] != "valid" and "model.safetensors" in found["signature"]
    from audits.signing import check_folder

    problem = check_folder(students["pub"], copy)
    assert problem is not None and "model.safetensors" in problem


def test_an_edited_manifest_is_named(students: dict[str, Path], tmp_path: Path) -> None:
    for which, pubkey in (("unsigned", ()), ("signed", ("--pubkey", str(students["pub"])))):
        copy = copy_of(students, which, tmp_path)
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["example_ids"] = manifest["example_ids"][1:]  # one example fewer, root recomputed
        from audits.manifest import merkle_root

        manifest["merkle_root"] = merkle_root(manifest["example_ids"])
        (copy / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        code, found, text = verify_student(students, copy, *pubkey, text=True)
        assert code == 1 and "manifest.json" in named(found) and "manifest.json" in text, which


def test_an_added_file_is_named(students: dict[str, Path], tmp_path: Path) -> None:
    copy = copy_of(students, "unsigned", tmp_path)
    (copy / "modeling_evil.py").write_text("import os\n")
    code, found, _ = verify_student(students, copy)
    assert code == 1 and named(found) == {"modeling_evil.py"}


def test_a_signed_student_without_its_signature_fails(students: dict[str, Path], tmp_path: Path) -> None:
    copy = copy_of(students, "signed", tmp_path)
    (copy / "model.sig").unlink()
    code, found, text = verify_student(students, copy, text=True)  # no key: the ledger says it was signed
    assert code == 1 and named(found) == {"model.sig"} and "model.sig" in text
    code, found, _ = verify_student(students, copy, "--pubkey", str(students["pub"]))
    assert code == 1 and "model.sig" in named(found)


def test_a_wrong_public_key_fails(students: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    assert run_cli("keygen", "--out", str(other)).exit_code == 0
    code, found, text = verify_student(students, students["signed"], "--pubkey", f"{other}.pub")
    assert code == 1 and found["signature"] != "valid" and "model.sig" in named(found), text
    # an unsigned student checked with a key is not signed by it
    code, found, _ = verify_student(students, students["unsigned"], "--pubkey", str(students["pub"]))
    assert code == 1 and "model.sig" in named(found)


def test_a_student_this_ledger_did_not_train_fails(students: dict[str, Path], tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "model.safetensors").write_bytes(b"weights")
    code, found, _ = verify_student(students, stranger)
    assert code == 1 and not found["ok"] and found["training_id"] is None


def test_an_ed25519_key_signs_no_student(students: dict[str, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "ed.key"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out = tmp_path / "student"
    light = pack(tmp_path)
    result = run_cli(
        "train", "--policy", str(light), "--out", str(out), "--sign", str(key), *TRAIN, db=students["db"]
    )
    assert result.exit_code == 2 and "EC P-256" in result.stderr and not out.exists()


def test_the_model_card_is_written_from_the_files_on_disk(students: dict[str, Path], tmp_path: Path) -> None:
    import dataclasses

    from provenance.core.ledger import Ledger
    from reports.facts import collect
    from reports.model_card import model_card

    with Ledger.open(students["db"], read_only=True) as ledger:
        facts = collect(ledger)
    report = json.loads((students["unsigned"] / "AUDIT.json").read_text())
    training_id = report["training"]["training_id"]
    card = model_card(facts, training_id)
    assert "read from the files in the student's folder" in card and "match the ledger" in card
    # the same training, its folder now holding other weights and another manifest
    copy = copy_of(students, "unsigned", tmp_path)
    shutil.copyfile(students["signed"] / "model.safetensors", copy / "model.safetensors")
    (copy / "manifest.json").write_text(json.dumps({"merkle_root": "0" * 64}))
    ours = [t for t in facts.trainings if t.training_id == training_id]
    facts.trainings = [dataclasses.replace(t, out_dir=str(copy)) for t in ours]
    card = model_card(facts, training_id)
    assert "The files on disk disagree with the ledger" in card
    assert report["training"]["model_digest"] in card and "0" * 64 in card
    from audits.gated import weights_digest

    assert f"weights_sha256: {weights_digest(copy)}" in card  # the card's metadata says what is on disk
