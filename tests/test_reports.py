"""The reports from one ledger: audit report (HTML in headless Chromium, Markdown, JSON), data card,
model card and SPDX, agreeing with each other and with ``provenance stats``, with no raw PII."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import BuiltLedgers, import_example, run_cli


def _cli(db: Path, *args: str) -> Any:
    result = run_cli(*args, db=db)
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory, built_ledgers: BuiltLedgers) -> dict[str, Any]:
    """The bundled example checked under the research pack, a tiny student trained, every report written."""
    folder = tmp_path_factory.mktemp("reports")
    db = built_ledgers.copy("example", import_example, folder / "ledger.duckdb")
    _cli(db, "check", "--policy", "research")
    trained = json.loads(
        _cli(
            db,
            "train",
            "--policy",
            "research",
            "--student",
            "tiny",
            "--out",
            str(folder / "student"),
            "--max-steps",
            "2",
            "--max-length",
            "128",
            "--json",
        ).stdout
    )
    assert trained["trained"]
    out = folder / "out"
    for args in (
        ["report", "audit", "--out", str(out / "audit")],
        ["report", "card", "--out", str(out / "card")],
        ["report", "spdx", "--out", str(out / "spdx")],
        [
            "report",
            "model-card",
            "--training",
            trained["report"]["training"]["training_id"][:10],
            "--out",
            str(out / "model"),
        ],
    ):
        assert run_cli(*args, db=db).exit_code == 0, args
    stats = json.loads(run_cli("stats", "--json", db=db).stdout)
    return {"db": db, "out": out, "stats": stats, "training": trained["report"]["training"], "folder": folder}


def raw_pii(db: Path) -> list[str]:
    """Every string the PII check found in the ledger, cut from the original texts."""
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT e.instruction, e.input, e.output, r.details FROM decision_records r "
            "JOIN examples e USING (example_id) WHERE r.check_name = 'pii' AND r.details IS NOT NULL"
        ).fetchall()
    for instruction, given, output, details in rows:
        texts = {"instruction": instruction, "input": given, "output": output}
        for field, _entity, start, end, *_ in json.loads(details).get("scores", {}).get("findings", []):
            found.append(texts[field][start:end])
    return found


def test_the_audit_report_agrees_with_stats(reported: dict[str, Any]):
    facts = json.loads((reported["out"] / "audit" / "audit.json").read_text())
    stats = reported["stats"]
    assert facts["dataset"]["examples"] == stats["counts"]["examples"]
    assert facts["dataset"]["seeds"] == stats["counts"]["seeds"]
    assert facts["dataset"]["origin"] == stats["origin"]
    assert facts["licences"]["expressions"] == stats["licences"]
    by_teacher = {t["model"]: t["examples"] for t in facts["teachers"]}
    assert by_teacher["text-davinci-003"] == stats["teachers"]["text-davinci-003"] == 252
    html = (reported["out"] / "audit" / "audit.html").read_text()
    assert "<script" not in html and "http://" not in html.split("</style>")[0]
    assert f'id="kpi-examples">{stats["counts"]["examples"]:,}<' in html
    assert facts["audit"]["head"] in html and "verify passed" in html
    assert facts["gate"]["verdict"] == "passed" and 'id="gate-verdict">PASSED<' in html
    assert html.count("<svg") >= 3 and "Toxicity was not run" in html
    md = (reported["out"] / "audit" / "audit.md").read_text()
    assert f"{stats['counts']['examples']:,} examples" in md and facts["audit"]["head"] in md


def test_no_raw_pii_in_any_report(reported: dict[str, Any]):
    secrets = raw_pii(reported["db"])
    assert secrets, "the bundled example holds e-mail addresses the PII check finds"
    student = reported["folder"] / "student"
    files = [*reported["out"].rglob("*"), *(student / n for n in ("AUDIT.json", "AUDIT.md", "manifest.json"))]
    for path in files:
        if path.is_file():
            text = path.read_text("utf-8", errors="replace")
            for s in secrets:
                assert s not in text, f"{s!r} appears in {path}"
    html = (reported["out"] / "audit" / "audit.html").read_text()
    assert "&lt;EMAIL_ADDRESS&gt;" in html  # the samples show the masked text


def test_the_data_card_matches_the_ledger(reported: dict[str, Any]):
    text = (reported["out"] / "card" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    stats = reported["stats"]
    assert meta["license"] == "other" and meta["license_name"]
    assert "machine-generated" in meta["annotations_creators"]
    assert meta["size_categories"] == ["n<1K"] if stats["counts"]["examples"] < 1000 else True
    teachers = {t["model"]: t["examples"] for t in meta["teachers"]}
    assert teachers["text-davinci-003"] == stats["teachers"]["text-davinci-003"]
    assert teachers["davinci"] == stats["teachers"]["davinci"]
    assert "compete with OpenAI" in text


def test_the_model_card_states_every_obligation(reported: dict[str, Any]):
    text = (reported["out"] / "model" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert "base_model" not in meta  # a tiny student trained from scratch
    report = json.loads((reported["folder"] / "student" / "AUDIT.json").read_text())
    assert any(report["dataset"]["merkle_root"][:16] in d for d in meta["datasets"])
    for obligation in report["licence"]["obligations"]:
        assert obligation["text"] in text
    assert reported["training"]["model_digest"] in text


def test_spdx_documents_load_back_with_their_relationships(reported: dict[str, Any]):
    from spdx_python_model import v3_0_1 as spdx3

    path = reported["out"] / "spdx" / "dataset.spdx3.json"
    objects = spdx3.SHACLObjectSet()
    with path.open("rb") as f:
        spdx3.JSONLDDeserializer().read(f, objects)
    datasets = {d._id: d for d in objects.foreach_type(spdx3.dataset_DatasetPackage)}
    models = list(objects.foreach_type(spdx3.ai_AIPackage))
    assert len(models) == 1 and datasets
    trained_on = [
        r
        for r in objects.foreach_type(spdx3.Relationship)
        if r.relationshipType == spdx3.RelationshipType.trainedOn
    ]
    assert len(trained_on) == 1 and trained_on[0].from_._id == models[0]._id
    (target,) = trained_on[0].to
    root = json.loads((reported["folder"] / "student" / "AUDIT.json").read_text())["dataset"]["merkle_root"]
    assert root[:16] in (datasets[target._id].name or "") + " ".join(datasets[target._id].comment or "")
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_file(str(reported["out"] / "spdx" / "dataset.spdx.json"))
    assert validate_full_spdx_document(document) == []


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_html_report_renders_in_headless_chromium(reported: dict[str, Any], tmp_path: Path):
    """Open the report offline in headless Chromium: a screenshot of the page and its rendered text
    (the DOM after layout) carry the key numbers."""
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "chromium is not installed (apt-get install chromium chromium-driver); .ci/run installs it"
        )
    page = (reported["out"] / "audit" / "audit.html").resolve()
    shot = tmp_path / "audit.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real rendering, not a blank page
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
        text=True,
    ).stdout
    stats = reported["stats"]
    assert f'id="kpi-examples">{stats["counts"]["examples"]:,}<' in dom
    facts = json.loads((reported["out"] / "audit" / "audit.json").read_text())
    assert facts["audit"]["head"] in dom and re.search(r'id="gate-verdict">PASSED<', dom)
