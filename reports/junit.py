"""JUnit XML for CI systems, read from the ledger's record of one ``provenance check`` run.

One test suite per run, one test case per check: a failure when the check blocked (a block
decision fired, or the pack requires a check that did not run), skipped when it did not run and
the pack only reports that, passed otherwise. Each blocked example is a test case of its own (up to
``limit``), so a CI system lists exactly what to fix. Counts and top reasons go into system-out.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from provenance.core.files import write_bytes
from provenance.core.ledger import Ledger
from provenance.queries import reports as q


def junit_xml(ledger: Ledger, run_id: str, *, limit: int = 1000) -> bytes:
    """The JUnit XML document for a check run."""
    run = q.run_times_and_params(ledger, run_id)
    if run is None:
        raise LookupError(f"no run {run_id} in the ledger")
    params = json.loads(run["params"] or "{}")
    checks = q.check_run_rows(ledger, run_id)
    suites = ET.Element("testsuites", name="provenance check")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"policy pack {params.get('pack', '?')}",
        timestamp=str(run["started_at"]).replace(" ", "T"),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("pack", "pack_hash", "path", "student"):
        ET.SubElement(props, "property", name=key, value=str(params.get(key) or ""))
    ET.SubElement(props, "property", name="run_id", value=run_id)
    tests = failures = skipped = 0
    for c in checks:
        tests += 1
        counts = json.loads(c["counts"])
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"provenance.{c['check_kind']}",
            name=c["check_name"],
            time=f"{c['seconds']:.3f}",
        )
        summary = _summary(c, counts)
        if c["status"] == "not-run" and not c["blocking"]:
            skipped += 1
            ET.SubElement(case, "skipped", message=f"not run: {c['reason']}")
        elif c["blocking"]:
            failures += 1
            message = (
                f"not run, and the pack requires it: {c['reason']}"
                if c["status"] == "not-run"
                else f"{counts.get('block', 0)} example(s) blocked by {c['check_name']}"
            )
            ET.SubElement(case, "failure", message=_xml_text(message), type="blocked").text = _xml_text(
                summary
            )
        ET.SubElement(case, "system-out").text = _xml_text(summary)
        if c["status"] == "ran" and counts.get("block") and c["context_id"] is not None:
            for row in q.blocked_examples(ledger, c["context_id"], limit):
                tests += 1
                failures += 1
                ex = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"provenance.{c['check_name']}.examples",
                    name=row["example_id"],
                )
                ET.SubElement(ex, "failure", message=_xml_text(row["reason"]), type="block")
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suites.set("tests", str(tests))
    suites.set("failures", str(failures))
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> str:
    """Text with the characters XML 1.0 cannot hold replaced."""
    return _ILLEGAL.sub("\ufffd", str(value))


def write_junit(ledger: Ledger, run_id: str, path: str | Path) -> Path:
    """Write the JUnit XML of a check run to ``path``."""
    path = Path(path)
    write_bytes(path, junit_xml(ledger, run_id))
    return path


def _summary(c: dict[str, Any], counts: dict[str, int]) -> str:
    lines = [
        f"check {c['check_name']} ({c['check_kind']} v{c['check_version']}), action {c['action']}: "
        f"{c['status']}",
        "decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
    ]
    if c["reason"]:
        lines.append(f"reason: {c['reason']}")
    for reason, n in json.loads(c["top_reasons"]):
        lines.append(f"  {n} x {reason}")
    lines += json.loads(c["notes"] or "[]")
    return "\n".join(lines)
