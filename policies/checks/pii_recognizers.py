"""The PII check's own presidio recognizers, each replacing one of presidio's predefined ones.

- ``PhoneNumberRecognizer``: python-phonenumbers' matcher over many regions; a number the metadata
  calls valid scores 0.6 (presidio's own scores 0.4 without a context word, under the packs' 0.5).
- ``CardNumberRecognizer``: every card length from 12 to 19 digits with or without separators, kept
  only with an issuer's prefix and a valid Luhn checksum (presidio's pattern stops at 16-17 digits).
- ``NhsNumberRecognizer``: a UK NHS number needs a context word ("NHS", "health service") beside
  its mod-11 checksum; without one any ten-digit run in 3-3-4 (a phone number, a timestamp) passes
  the checksum one time in eleven.

Each is a small subclass of presidio's classes and takes part in presidio's context enhancement.
"""

from __future__ import annotations

import re
from typing import Any

from policies.checks.pii import _offline_presidio

_offline_presidio()

from presidio_analyzer import (  # noqa: E402
    EntityRecognizer,
    Pattern,
    RecognizerResult,
)
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    CreditCardRecognizer,
    IbanRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
)

#: Regions whose national formats are matched (numbers written with +CC match whatever the region):
#: the Faker evaluation set's countries, presidio's defaults and their neighbours.
#: Regions of eight-digit numbers without a trunk prefix (DK, NO, LU, ...) are left out: there
#: any eight digits are "valid", and every order number and decimal becomes a phone number.
PHONE_REGIONS = (
    "US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "IT", "ES", "NL", "IN", "AU", "IL", "BR",
)  # fmt: skip
#: A US/NANP number written NXX-NXX-XXXX (one separator), with an optional extension.
_NANP = re.compile(r"[2-9]\d{2}([-. ])[2-9]\d{2}\1\d{4}(?:\s*(?:x|ext\.?)\s*\d+)?", re.IGNORECASE)
_AREA = re.compile(r"\(\+?\d{1,5}\)\s*\d")
_GROUP = re.compile(r"[ ./-]")


def phone_shaped(raw: str) -> bool:
    """Written the way phone numbers are: international (+, 00), an area code in parentheses, a
    national trunk prefix 0 on nine or more digits (not an ISBN's lone leading 0), or NXX-NXX-XXXX.

    A valid number without that shape (a bare digit run, "2024-500443") may be an order number, a
    timestamp or a year and a serial; it keeps presidio's 0.4 and needs a context word.
    """
    raw = raw.strip()
    if raw.startswith(("+", "00")) or _AREA.search(raw):
        return True
    digits = "".join(c for c in raw if c.isdigit())
    if digits.startswith("0") and len(digits) >= 9 and len(_GROUP.split(raw)[0]) >= 2:
        return True
    return _NANP.fullmatch(raw) is not None


class PhoneNumberRecognizer(PhoneRecognizer):
    """Phone numbers python-phonenumbers calls valid in any of ``regions``: ``SCORE`` when written
    like a phone number (``phone_shaped``), else ``WEAK_SCORE`` (raised by a context word)."""

    SCORE = 0.6
    WEAK_SCORE = 0.4
    CONTEXT = [*PhoneRecognizer.CONTEXT, "tel", "fax", "whatsapp", "contact", "reach"]  # noqa: RUF012

    def __init__(self, regions: tuple[str, ...] = PHONE_REGIONS, leniency: int = 1) -> None:
        super().__init__(context=self.CONTEXT, supported_regions=regions, leniency=leniency)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """The valid numbers, each span once, at ``SCORE``."""
        import phonenumbers

        spans: dict[tuple[int, int], str] = {}
        for region in self.supported_regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=self.leniency):
                spans.setdefault((match.start, match.end), region)
        if not spans:
            return []
        kept = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
        return [
            RecognizerResult(
                self.supported_entities[0],
                start,
                end,
                self.SCORE if phone_shaped(text[start:end]) else self.WEAK_SCORE,
                self._get_analysis_explanation(spans[(start, end)]),
                {
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for start, end in sorted(kept)
        ]


#: Issuer prefixes of the networks (Visa, Mastercard incl. the 2-series, Amex, Diners, Discover,
#: JCB, Maestro, UnionPay, RuPay); a Luhn-valid number with another first digit is not a card.
CARD_PREFIXES = ("0604", "1800", "2131", "2", "3", "4", "5", "6", "8")


class CardNumberRecognizer(CreditCardRecognizer):
    """Card numbers of 12 to 19 digits, grouped by spaces or dashes or not, with an issuer prefix and Luhn."""

    PATTERNS = [  # noqa: RUF012  # presidio's class attribute
        Pattern(
            "Card number, 12-19 digits (weak before the checksum)",
            # not the digits after an IBAN's country code and check digits ("DE89 3704 ...")
            r"(?<![A-Z]{2}\d{2} )(?<![A-Z]{2}\d{2}-)\b\d{4}(?:[ -]?\d){8,15}\b",
            0.3,
        )
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS)

    def validate_result(self, pattern_text: str) -> bool:
        """Luhn-valid, 12 to 19 digits, one kind of separator, an issuer's prefix."""
        if " " in pattern_text and "-" in pattern_text:
            return False
        digits = EntityRecognizer.sanitize_value(pattern_text, self.replacement_pairs)
        if not (12 <= len(digits) <= 19 and digits.startswith(CARD_PREFIXES)):
            return False
        return bool(super().validate_result(pattern_text))


class NhsNumberRecognizer(NhsRecognizer):
    """UK NHS numbers: the mod-11 checksum gives 0.3; a context word ("NHS") lifts it over 0.5."""

    PATTERNS = [  # noqa: RUF012
        Pattern("NHS (needs context)", r"\b([0-9]{3})[- ]?([0-9]{3})[- ]?([0-9]{4})\b", 0.3),
    ]
    CONTEXT = [*NhsRecognizer.CONTEXT, "nhs number", "health service"]  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for a bad checksum; None (keep the pattern's score) for a good one."""
        return None if super().validate_result(pattern_text) else False


class IbanCodeRecognizer(IbanRecognizer):
    """presidio's IBAN recognizer matched case-sensitively: IBANs are upper case, and with the
    registry's IGNORECASE its last group swallows the next word ("ES47...7278 befo"), so the checksum
    fails and a valid IBAN followed by a word is missed."""

    def __init__(self) -> None:
        import regex

        super().__init__()
        self.global_regex_flags = regex.DOTALL | regex.MULTILINE


#: Entities the prefilter covers, and one pattern that anything those recognizers can match holds:
#: an "@" (e-mail); five digits with at most three other characters between (phone, card, SSN, ITIN,
#: passport, bank, NHS, IBAN's digits); a dotted quad, two colons around hex or a MAC's groups (IP,
#: MAC); an IBAN's country and check digits; a Bitcoin address's start.
PREFILTERED = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "US_ITIN",
     "US_PASSPORT", "US_BANK_NUMBER", "UK_NHS", "CRYPTO", "MAC_ADDRESS"}
)  # fmt: skip
_MAY_MATCH = re.compile(
    r"@|\d(?:\D{0,3}\d){4}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"
    r"|[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.|[A-Za-z]{2}\d{2}"
    r"|(?:bc1|[13])[a-zA-HJ-NP-Z0-9]{25}"
)


def may_match(text: str) -> bool:
    """False when no recognizer of ``PREFILTERED`` can match ``text`` (one combined pattern)."""
    return _MAY_MATCH.search(text) is not None


#: presidio's predefined recognizer names each of ours replaces.
REPLACES = {
    "PhoneRecognizer": PhoneNumberRecognizer,
    "CreditCardRecognizer": CardNumberRecognizer,
    "NhsRecognizer": NhsNumberRecognizer,
    "IbanRecognizer": IbanCodeRecognizer,
}


def install(registry: Any) -> None:
    """Swap presidio's phone, card, NHS and IBAN recognizers in ``registry`` for ours."""
    for name, cls in REPLACES.items():
        registry.remove_recognizer(name)
        registry.add_recognizer(cls())


__all__ = [
    "CardNumberRecognizer",
    "IbanCodeRecognizer",
    "NhsNumberRecognizer",
    "PhoneNumberRecognizer",
    "install",
]
