"""The PII check's own presidio recognizers: hits and near-misses of each, and a small labelled sample."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")
pytest.importorskip("phonenumbers")

from policies.checks.pii import Analyzer, PiiSettings
from policies.checks.pii_recognizers import (
    CardNumberRecognizer,
    IbanCodeRecognizer,
    NhsNumberRecognizer,
    PhoneNumberRecognizer,
    phone_shaped,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    """The check's analyzer at the packs' default threshold, patterns only."""
    return Analyzer(PiiSettings(spacy_model="blank"))


def counted(analyzer: Analyzer, text: str, threshold: float = 0.5) -> set[tuple[str, str]]:
    return {(e, text[s:t]) for e, s, t, score in analyzer.analyze(text) if score >= threshold}


@pytest.mark.parametrize(
    "number",
    [
        "+1-415-555-2671",
        "415-555-2671",
        "(415)555-2671",
        "415.555.2671x123",
        "0113 496 0346",
        "+44(0)113 496 0346",
        "+41 (0)44 668 18 00",
        "030 12345678",
        "+49 (0) 30 123456",
        "01 39 25 46 68",
        "+39 06 6982 1234",
        "+34 612 345 678",
        "020-5551234",
        "+91 98765 43210",
    ],
)
def test_phone_hits_without_context(analyzer: Analyzer, number: str) -> None:
    text = f"Send it to {number} before Friday."
    assert ("PHONE_NUMBER", number.split("x")[0]) in {
        (e, v.split("x")[0]) for e, v in counted(analyzer, text)
    }


@pytest.mark.parametrize(
    "text",
    [
        "Invoice INV-2024-500443, total $1,234.50",
        "ISBN 0-306-40615-2",
        "Chrome 120.0.6099.109 on Windows 10.0.19045.3693",
        "Timestamp 1700000000 = 2023-11-14T22:13:20",
        "x = (i * 659695) % 442665",
        "Coordinates 48.8566123, 2.3522219",
        "Order #44361382 shipped on 2000-04-22.",
    ],
)
def test_phone_near_misses(analyzer: Analyzer, text: str) -> None:
    assert counted(analyzer, text) == set()


def test_phone_bare_digits_need_a_context_word(analyzer: Analyzer) -> None:
    assert counted(analyzer, "The form lists 4155552671 for the new hire.") == set()
    # ("call" is a spaCy stop word, so presidio never sees it as context)
    assert ("PHONE_NUMBER", "4155552671") in counted(analyzer, "My mobile is 4155552671.")


def test_phone_shape() -> None:
    assert (
        phone_shaped("+1 415 555 2671") and phone_shaped("(0113) 496 0346") and phone_shaped("415-555-2671")
    )
    assert phone_shaped("0113 4960346") and phone_shaped("02528 392381")
    assert not phone_shaped("0-306-40615-2")  # an ISBN-10's lone leading 0
    assert not phone_shaped("(137305)") and not phone_shaped("2024-500443") and not phone_shaped("4155552671")


def test_phone_recognizer_reports_each_span_once() -> None:
    results = PhoneNumberRecognizer().analyze("+44 113 496 0346 or 0113 496 0346", ["PHONE_NUMBER"])
    assert [(r.start, r.end) for r in results] == [(0, 16), (20, 33)]
    assert {r.score for r in results} == {PhoneNumberRecognizer.SCORE}


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa 16
        "4111 1111 1111 1111",
        "4222222222222",  # Visa 13
        "4291-4177-7631-7066-903",  # Visa 19
        "3782 822463 10005",  # Amex 4-6-5
        "5500 0000 0000 0004",  # Mastercard
        "2223000048400011",  # Mastercard 2-series
        "6011111111111117",  # Discover
        "30569309025904",  # Diners 14
        "3530111333300000",  # JCB
        "501800000009",  # Maestro 12
        "6759649826438453",  # Maestro 16
        "6304743915000806365",  # Maestro 19
    ],
)
def test_card_hits(number: str) -> None:
    results = CardNumberRecognizer().analyze(f"Send it to {number} today.", ["CREDIT_CARD"])
    assert [(r.entity_type, r.score) for r in results] == [("CREDIT_CARD", 1.0)], number


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "41111111111",  # 11 digits
        "41111111111111111111",  # 20 digits
        "9780306406157",  # ISBN-13: no issuer starts with 9
        "7000000000000007",  # no issuer prefix 7 (Luhn-valid)
        "4111-1111 1111-1111",  # mixed separators
        "DE89 3704 0044 0532 0130 00",  # the digits of an IBAN
    ],
)
def test_card_near_misses(text: str) -> None:
    assert CardNumberRecognizer().analyze(f"Number {text} here.", ["CREDIT_CARD"]) == []


def test_nhs_needs_a_context_word(analyzer: Analyzer) -> None:
    assert ("UK_NHS", "943 476 5919") in counted(analyzer, "NHS number 943 476 5919")
    assert not any(e == "UK_NHS" for e, _ in counted(analyzer, "Phone 943 476 5919"))
    assert not any(e == "UK_NHS" for e, _ in counted(analyzer, "Timestamp 1789151279"))
    assert NhsNumberRecognizer().validate_result("943 476 5910") is False  # checksum fails


def test_iban_followed_by_a_word(analyzer: Analyzer) -> None:
    text = "Send it to ES4730095217373568887278 before Friday."
    assert ("IBAN_CODE", "ES4730095217373568887278") in counted(analyzer, text)
    assert ("IBAN_CODE", "DE89 3704 0044 0532 0130 00") in counted(
        analyzer, "IBAN: DE89 3704 0044 0532 0130 00"
    )
    assert IbanCodeRecognizer().analyze("DE89 3704 0044 0532 0130 01 x", ["IBAN_CODE"]) == []  # checksum


def test_small_labelled_sample(analyzer: Analyzer) -> None:
    """A small slice of the Faker set: every pattern entity found, no PII-free text flagged."""
    pytest.importorskip("faker")
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_pii_quality import counted as count_findings
    from bench_pii_quality import score
    from pii_eval_set import CLEAN, PATTERN_ENTITIES, build

    samples = build(per_locale=3, phone_formats=4)
    wanted = set(analyzer.settings.entities)
    found = [count_findings(f, wanted, 0.5, {}) for f in analyzer.analyze_many([s.text for s in samples])]
    result = score(samples, found)
    for entity in PATTERN_ENTITIES:
        hits, total = result[entity]
        assert hits / total >= 0.9, (entity, hits, total)
    assert result[CLEAN][0] <= 1, result[CLEAN]


def test_eval_set_is_deterministic() -> None:
    pytest.importorskip("faker")
    sys.path.insert(0, str(ROOT / "bench"))
    from pii_eval_set import build

    assert build(per_locale=2, phone_formats=2) == build(per_locale=2, phone_formats=2)
