"""The EU AI Act public summary of training content, filled from the ledger where it can answer.

Every value the ledger answers names the query in :mod:`provenance.queries.eu` it came from and the
audit chain head (seq, hash) it was read at; the rest come from the provider's answers
(:mod:`reports.eu_answers`) or are written as "to be completed by the provider". Tokens are counted
with the student's own tokenizer (loaded from its folder, ``local_files_only``); languages are
detected with langdetect (seeded, so the same data gives the same answer).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.files import write_text
from provenance.core.ledger import Ledger, tool_version
from provenance.queries import eu as q
from reports.eu_answers import Answers
from reports.eu_summary_model import (
    JSON_FILE,
    MD_FILE,
    TO_BE_COMPLETED,
    ContentInformation,
    DataSources,
    General,
    IllegalContent,
    ModalitiesAndSize,
    PrivateData,
    Processing,
    ProviderAndModel,
    RightsReservations,
    Scope,
    Snapshot,
    Summary,
    Value,
)

NAMED_SHARE = 0.03  # 2.1: every dataset that is at least 3% of a modality's data is named
LANGUAGE_SAMPLE = 2000  # at most this many examples are given to the language detector
LANGUAGE_CHARS = 1000  # of each example's text, the first this many characters
LANGUAGE_FLOOR = 0.01  # a language counts as covered from 1% of the examples detected
TEXT_BANDS = ((10**9, "Less than 1 billion tokens"), (10**13, "1 billion to 10 trillion tokens"))
QUERY = "provenance.queries.eu."


@dataclass
class Subject:
    """What the summary is about: the dataset, and the training and student folder when there is one."""

    dataset_id: str
    training: dict[str, Any] | None = None
    student_dir: Path | None = None
    link: Callable[[str], dict[str, Any] | None] | None = None  # teacher model → its registry entry


@dataclass
class _Reader:
    """Makes :class:`Value` objects that all name one snapshot."""

    snapshot: Snapshot
    answers: Answers

    def ledger(self, value: Any, query: str, note: str | None = None) -> Value:
        return Value(value=value, source="ledger", query=QUERY + query, snapshot=self.snapshot, note=note)

    def answer(self, value: Any, note: str | None = None) -> Value:
        if value is None or value == [] or value == "":
            return Value(value=TO_BE_COMPLETED, source="missing", note=note)
        return Value(value=value, source="answers", note=note)


# ---- tokens and languages ----------------------------------------------------------------------------


def size_band(tokens: int) -> str:
    """The template's band for a text modality of ``tokens`` tokens."""
    return next((label for limit, label in TEXT_BANDS if tokens < limit), "More than 10 trillion tokens")


def _tokenizer(student_dir: Path) -> tuple[Any, str]:
    """(encode a list of texts to lists of ids, the tokenizer's description) for the student's own
    tokenizer: its tokenizer.json through ``tokenizers`` when there is one (no torch), else through
    transformers' AutoTokenizer (``local_files_only``)."""
    path = student_dir / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        fast = Tokenizer.from_file(str(path))
        size = fast.get_vocab_size()

        def encode(texts: list[str]) -> list[list[int]]:
            return [e.ids for e in fast.encode_batch(texts, add_special_tokens=False)]

        return encode, f"the student's tokenizer (its tokenizer.json, vocabulary {size:,})"
    from transformers import AutoTokenizer

    slow = AutoTokenizer.from_pretrained(str(student_dir), local_files_only=True)
    slow.model_max_length = 1 << 62  # counting only: no warning about texts longer than training's

    def encode_slow(texts: list[str]) -> list[list[int]]:
        return list(slow(texts, add_special_tokens=False)["input_ids"])

    return encode_slow, f"the student's tokenizer ({type(slow).__name__}, vocabulary {len(slow):,})"


def count_tokens(texts: list[list[str]], student_dir: Path | None) -> tuple[int, str]:
    """(tokens, how they were counted): with the student's tokenizer when there is a student folder,
    else whitespace-separated words."""
    if student_dir is None:
        return sum(len(p.split()) for parts in texts for p in parts), (
            "whitespace-separated words of each text field (no student given, so no tokenizer)"
        )
    encode, name = _tokenizer(student_dir)
    flat = [p for parts in texts for p in parts]
    total = sum(len(ids) for start in range(0, len(flat), 1024) for ids in encode(flat[start : start + 1024]))
    return total, f"{name}, loaded from the student folder; each text field without special tokens or prompt"


@functools.cache
def _language_factory() -> Any:
    """langdetect's detector factory with its profiles loaded once, seeded with 0."""
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY

    DetectorFactory.seed = 0
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def detect_languages(texts: list[list[str]]) -> tuple[dict[str, int], str]:
    """(language code → examples, how): langdetect over the start of each example's text, seeded; at
    most :data:`LANGUAGE_SAMPLE` examples, evenly spaced in id order, when there are more."""
    from langdetect.lang_detect_exception import LangDetectException

    factory = _language_factory()
    step = max(1, -(-len(texts) // LANGUAGE_SAMPLE))
    picked = texts[::step]
    counts: Counter[str] = Counter()
    for parts in picked:
        detector = factory.create()
        detector.set_max_text_length(LANGUAGE_CHARS)
        detector.append("\n".join(parts))
        try:
            counts[detector.detect()] += 1
        except LangDetectException:  # no letters to go on (numbers, code)
            counts["undetermined"] += 1
    how = (
        f"langdetect {metadata.version('langdetect')} (seed 0), one detection per example on the first "
        f"{LANGUAGE_CHARS:,} characters of its text"
    )
    if step > 1:
        how += f", on {len(picked):,} of {len(texts):,} examples (every {step}th in id order)"
    return dict(counts.most_common()), how


# ---- section 1 ------------------------------------------------------------------------------------


def _provider_and_model(r: _Reader, subject: Subject) -> ProviderAndModel:
    a, t = r.answers, subject.training
    if a.model.name or t is None:
        name = r.answer(a.model.name)
    else:
        name = r.ledger(t["student"], "training", note="the student as `provenance train --student` named it")
    if a.model.version or t is None:
        version = r.answer(a.model.version)
    else:
        version = r.ledger(f"training {t['training_id']}", "training", note="the ledger's training id")
    if a.model.dependencies or t is None:
        deps = r.answer(a.model.dependencies)
    else:
        base = t["base_model"] if t["student_kind"] != "tiny" else None
        deps = r.ledger(base or "none: trained from scratch, no base model", "training")
    return ProviderAndModel(
        provider_name=r.answer(a.provider.name),
        provider_contact=r.answer(a.provider.contact),
        model_name=name,
        model_version=version,
        model_dependencies=deps,
        placed_on_market=r.answer(a.model.placed_on_market and a.model.placed_on_market.isoformat()),
    )


def _general(r: _Reader, ledger: Ledger, subject: Subject, texts: list[list[str]]) -> General:
    kinds = q.example_kinds(ledger, subject.dataset_id)
    tokens, rule = count_tokens(texts, subject.student_dir)
    languages, how = detect_languages(texts)
    detected = sum(languages.values()) or 1
    covered = [k for k, n in languages.items() if n / detected >= LANGUAGE_FLOOR and k != "undetermined"]
    dates = q.acquisition_dates(ledger, subject.dataset_id)
    newest = max((d for d in (dates["newest_example"], dates["newest_teacher_call"]) if d), default=None)
    return General(
        provider_and_model=_provider_and_model(r, subject),
        modalities_and_size=ModalitiesAndSize(
            modalities=r.ledger(
                {"text": True, "image": False, "audio": False, "video": False, "other": False},
                "example_kinds",
                note="examples by kind: " + ", ".join(f"{k} {n:,}" for k, n in kinds.items()),
            ),
            text_size_band=r.ledger(size_band(tokens), "example_texts", note=f"{tokens:,} tokens"),
            text_tokens=r.ledger({"tokens": tokens, "counted_with": rule}, "example_texts"),
        ),
        content=ContentInformation(
            content_types=r.answer(
                r.answers.content_types,
                note="the ledger knows the form ("
                + ", ".join(f"{k} examples {n:,}" for k, n in kinds.items())
                + "), not the kind of text: the provider describes it",
            ),
            latest_acquisition=r.ledger(
                newest[:19] if newest else None,
                "acquisition_dates",
                note="newest time an example or the teacher call that wrote it entered the ledger "
                f"(UTC); first example {str(dates['first_example'])[:19]}",
            ),
            languages=r.ledger(
                {"covered": covered, "examples_by_language": languages, "detected_with": how},
                "example_texts",
                note=f"a language is covered from {LANGUAGE_FLOOR:.0%} of the examples detected",
            ),
        ),
    )


# ---- section 2 ------------------------------------------------------------------------------------


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def _answered(r: _Reader, answer: Any) -> Value:
    """A group of answers as one value: each missing answer marked, or all missing when none is given."""
    data = answer.model_dump(mode="json")
    if all(v is None for v in data.values()):
        return r.answer(None)
    if data.get("used") is False:  # not used: nothing else to describe
        data = {k: v for k, v in data.items() if v is not None}
    return r.answer({k: TO_BE_COMPLETED if v is None else v for k, v in data.items()})


def _public(r: _Reader, ledger: Ledger, subject: Subject, total: int) -> Value:
    rows = [
        {
            "name": s["source"],
            "examples": int(s["examples"]),
            "share": _share(int(s["examples"]), total),
            "named_by_template": _share(int(s["examples"]), total) >= NAMED_SHARE,
            "methods": s["methods"],
            "origins": s["origins"],
            "licences": s["licences"],
        }
        for s in q.declared_sources(ledger, subject.dataset_id)
    ]
    return r.ledger(
        rows,
        "declared_sources",
        note=f"every declared source of the training data (seed files and imported datasets), share of its "
        f"{total:,} examples; the template names each that is at least {NAMED_SHARE:.0%}. The ledger "
        "records the declared source, not whether it is publicly available: the provider confirms it",
    )


def _synthetic(r: _Reader, ledger: Ledger, subject: Subject, total: int) -> Value:
    rows = []
    for w in q.machine_writers(ledger, subject.dataset_id):
        link = subject.link(str(w["model"])) if w["model"] and subject.link else None
        rows.append(
            {
                "model": w["model"] or "not recorded",
                "provider": w["provider"] or (link or {}).get("provider") or "not recorded",
                "examples": int(w["examples"]),
                "share": _share(int(w["examples"]), total),
                "methods": w["methods"],
                "modality": "text",
                "link": (link or {}).get("url"),
                "registry_entry": (link or {}).get("entry"),
            }
        )
    note = (
        "machine-written examples by the model that wrote them, share of the training data's "
        f"{total:,} examples; the link is the teacher registry's first evidence for the model"
    )
    if not rows:
        note = "no example of the training data was written by a model (every claim is human or unknown)"
    return r.ledger(rows, "machine_writers", note=note)


def _sources(r: _Reader, ledger: Ledger, subject: Subject, total: int) -> DataSources:
    a = r.answers
    return DataSources(
        public_datasets=_public(r, ledger, subject, total),
        private_datasets=PrivateData(
            licences=r.ledger(
                [
                    {**x, "examples": int(x["examples"]), "share": _share(int(x["examples"]), total)}
                    for x in q.licence_counts(ledger, subject.dataset_id)
                ],
                "licence_counts",
                note="the licence and terms declared on the training data's claims",
            ),
            provider_answer=_answered(r, a.private_data),
        ),
        crawled_data=_answered(r, a.crawled_data),
        user_data=_answered(r, a.user_data),
        synthetic_data=_synthetic(r, ledger, subject, total),
        other_sources=_answered(r, a.other_sources),
    )


# ---- section 3 ------------------------------------------------------------------------------------

EXPECTED = ("pii", "toxicity", "contamination")  # 3.2: the checks a reader looks for, run or not


def _checks(ledger: Ledger, subject: Subject) -> tuple[str | None, list[dict[str, Any]]]:
    """The check run the selection was made from, and its checks."""
    data = q.dataset(ledger, subject.dataset_id) or {}
    run_id = q.check_run_before(ledger, data.get("created_at"))
    if run_id is None:
        return None, []
    out = []
    for c in q.checks_of_run(ledger, run_id):
        out.append(
            {
                "check": c["check_name"],
                "kind": c["check_kind"],
                "version": c["check_version"],
                "ran": c["status"] == "ran",
                "not_run_reason": c["reason"],
                "examples_decided": int(c["examples"] or 0),
                "decisions": c["counts"] if isinstance(c["counts"], dict) else _loads(c["counts"]),
            }
        )
    return run_id, out


def _loads(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


def _evidence(r: _Reader, run_id: str | None, checks: list[dict[str, Any]], kinds: Iterable[str]) -> Value:
    kinds = list(kinds)
    picked = [c for c in checks if c["kind"] in kinds or kinds == ["*"]]
    missing = [k for k in kinds if k != "*" and not any(c["kind"] == k for c in checks)]
    value = {
        "check_run": run_id,
        "ran": [c["check"] for c in picked if c["ran"]],
        "not_run": [c["check"] for c in picked if not c["ran"]]
        + [f"{k} (not in the policy pack)" for k in missing],
        "checks": picked,
    }
    note = (
        "no check run is recorded before this selection: no check ran"
        if run_id is None
        else "the latest check run before the selection; decisions count every example the check decided "
        "on, not only the training data"
    )
    return r.ledger(value, "checks_of_run", note=note)


def _processing(r: _Reader, ledger: Ledger, subject: Subject) -> Processing:
    a = r.answers
    run_id, checks = _checks(ledger, subject)
    others = sorted({c["kind"] for c in checks} - {"licence", *EXPECTED})
    return Processing(
        rights_reservations=RightsReservations(
            evidence=_evidence(r, run_id, checks, ["licence"]),
            measures=r.answer(
                a.opt_out.measures,
                note="the ledger records each example's licence and terms and the licence check's verdict; "
                "it does not record text-and-data-mining opt-outs",
            ),
            code_of_practice_signatory=r.answer(a.opt_out.code_of_practice_signatory),
        ),
        illegal_content=IllegalContent(
            evidence=_evidence(r, run_id, checks, [*EXPECTED, *others]),
            measures=r.answer(
                a.illegal_content.measures, note="measures beyond the checks the ledger records"
            ),
        ),
        other_information=r.answer(a.other_information),
    )


# ---- the whole summary ------------------------------------------------------------------------------


def build(ledger: Ledger, subject: Subject, answers: Answers | None = None) -> Summary:
    """The summary of one dataset (and the student trained on it), read at the ledger's chain head."""
    seq, head = q.chain_head(ledger)
    r = _Reader(Snapshot(seq=seq, hash=head), answers or Answers())
    ids = q.dataset_example_ids(ledger, subject.dataset_id)
    texts = [parts for _, parts in q.example_texts(ledger, subject.dataset_id)]
    t = subject.training
    return Summary(
        generated_at=utcnow().isoformat(timespec="seconds"),
        tool_version=tool_version(),
        snapshot=r.snapshot,
        scope=Scope(
            kind="student" if t else "dataset",
            dataset_id=subject.dataset_id,
            examples=len(ids),
            training_id=t["training_id"] if t else None,
            student=t["student"] if t else None,
        ),
        general=_general(r, ledger, subject, texts),
        data_sources=_sources(r, ledger, subject, len(ids)),
        processing=_processing(r, ledger, subject),
    )


def write(summary: Summary, out_dir: Path) -> list[Path]:
    """EU-SUMMARY.md and EU-SUMMARY.json in ``out_dir``."""
    from reports.eu_summary_md import render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / MD_FILE, out_dir / JSON_FILE
    write_text(md, render_markdown(summary))
    write_text(js, summary.to_json())
    return [md, js]
