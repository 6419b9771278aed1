"""A labelled PII evaluation set built with Faker: seeded, deterministic, offline.

Texts embed one labelled value each (phone numbers in every format Faker's eight locales produce,
credit cards of every provider and every length from 12 to 19 digits with and without separators,
IBANs, e-mails, IPv4 and IPv6, US SSNs, names, addresses) in sentences with and without context
words; beside them PII-free texts full of look-alikes (order numbers, ISBNs, version strings, dates,
prices, coordinates, code with numbers).

A phone number's digits are redrawn (seeded) until python-phonenumbers calls the number valid for
the locale's country: Faker fills formats with random digits, which often give area codes no
country has; such strings are not phone numbers anyone could have. The few formats that never give
a valid number in 50 draws are kept as drawn (and still labelled).

    from pii_eval_set import build
    samples = build(per_locale=10)          # a small sample for a test
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "it_IT": "IT",
    "es_ES": "ES",
    "nl_NL": "NL",
    "en_IN": "IN",
}
#: Entities matched by patterns (the targets of issue 17) and by NER (reported only).
PATTERN_ENTITIES = ("PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN")
NER_ENTITIES = ("PERSON", "LOCATION")
CLEAN = "CLEAN"
#: Dates and times are drawn before this (Faker draws them up to now by default).
END = datetime(2025, 1, 1)


@dataclass(frozen=True)
class Span:
    """One labelled value: its entity and where it is in the text."""

    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    """A text, its labelled spans (none for a PII-free text), its locale and what it was built for."""

    text: str
    spans: tuple[Span, ...]
    locale: str
    kind: str


WITH_CONTEXT = {
    "PHONE_NUMBER": ["Call me at {v} after six.", "Phone: {v}", "My mobile number is {v}, text first."],
    "CREDIT_CARD": ["Card number: {v}", "Charge it to my credit card {v} please.", "Visa {v} exp 04/29"],
    "IBAN_CODE": ["IBAN: {v}", "Please wire the deposit to account {v}."],
    "US_SSN": ["SSN: {v}", "Her social security number is {v}."],
}
NO_CONTEXT = [
    "Send it to {v} before Friday.",
    "The form lists {v} for the new hire.",
    '{{"id": 42, "contact": "{v}", "active": true}}',
    "Noted down: {v} (from the intake sheet).",
    "- {v}\n- follow up next week",
]
EMAIL = ["Write to {v} for the files.", "From: {v}\nSubject: meeting"]
IP = ["The server at {v} stopped answering.", "ssh admin@{v} -p 22", "Blocked {v} after 5 failed logins."]
NAME = ["{v} will join the call tomorrow.", "Dear {v}, thank you for your order.", "Signed, {v}"]
ADDRESS = ["Ship the parcel to {v}.", "She moved to {v} last spring."]


def _fill(template: str, value: str, entity: str, locale: str) -> Sample:
    start = template.format(v="\0").index("\0")
    text = template.format(v=value)
    return Sample(text, (Span(entity, start, start + len(value)),), locale, entity)


def _valid_phone(provider: object, fmt: str, region: str) -> str:
    import phonenumbers

    number = ""
    for _ in range(50):
        number = provider.numerify(provider.generator.parse(fmt))  # type: ignore[attr-defined]
        if any(phonenumbers.PhoneNumberMatcher(number, region, leniency=phonenumbers.Leniency.VALID)):
            return number
    return number


def _phones(fake: object, locale: str, rng: random.Random, limit: int | None) -> list[Sample]:
    provider = next(p for p in fake.providers if "phone_number" in type(p).__module__)  # type: ignore[attr-defined]
    formats = list(dict.fromkeys(provider.formats))
    if limit is not None:
        formats = rng.sample(formats, min(limit, len(formats)))
    templates = WITH_CONTEXT["PHONE_NUMBER"] + NO_CONTEXT
    out = []
    for i, fmt in enumerate(formats):
        number = _valid_phone(provider, fmt, LOCALES[locale])
        out.append(_fill(templates[i % len(templates)], number, "PHONE_NUMBER", locale))
    return out


def _luhn(prefix: str, length: int, rng: random.Random) -> str:
    """A Luhn-valid card number of ``length`` digits starting with ``prefix``."""
    body = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(length - len(prefix) - 1)]
    total = 0
    for i, d in enumerate(reversed(body)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def _separated(number: str, sep: str, amex: bool) -> str:
    if not sep:
        return number
    if amex:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _cards(fake: object, locale: str, rng: random.Random) -> list[Sample]:
    provider = next(p for p in fake.providers if "credit_card" in type(p).__module__)  # type: ignore[attr-defined]
    numbers = [fake.credit_card_number(card_type=t) for t in provider.credit_card_types]  # type: ignore[attr-defined]
    numbers += [_luhn(rng.choice(["5018", "5020", "6304", "6759", "6761"]), n, rng) for n in range(12, 20)]
    numbers += [_luhn("4", n, rng) for n in (13, 16, 19)] + [_luhn("62", n, rng) for n in range(16, 20)]
    templates = WITH_CONTEXT["CREDIT_CARD"] + NO_CONTEXT
    out = []
    for i, number in enumerate(numbers):
        sep = ("", " ", "-")[i % 3]
        value = _separated(number, sep, number[:2] in ("34", "37") and len(number) == 15)
        out.append(_fill(templates[i % len(templates)], value, "CREDIT_CARD", locale))
    return out


#: IBAN lengths by country; Faker's en_IN writes GB IBANs a character short (no valid IBAN).
IBAN_LENGTHS = {"GB": 22, "DE": 22, "FR": 27, "IT": 27, "ES": 24, "NL": 18}


def _simple(fake: object, locale: str, rng: random.Random, n: int) -> list[Sample]:
    """IBANs, e-mails, IPs, SSNs, names and addresses: ``n`` of each."""
    from faker import Faker

    backup = Faker("en_GB")
    backup.seed_instance(rng.randrange(10**9))
    out = []
    iban_t = WITH_CONTEXT["IBAN_CODE"] + NO_CONTEXT
    ssn_t = WITH_CONTEXT["US_SSN"] + NO_CONTEXT[:2]
    for i in range(n):
        iban = fake.iban()  # type: ignore[attr-defined]
        if len(iban) != IBAN_LENGTHS.get(iban[:2], len(iban)):
            iban = backup.iban()
        iban = " ".join(iban[j : j + 4] for j in range(0, len(iban), 4)) if i % 2 else iban
        out.append(_fill(iban_t[i % len(iban_t)], iban, "IBAN_CODE", locale))
        email = fake.email() if i % 2 else fake.company_email()  # type: ignore[attr-defined]
        out.append(_fill(EMAIL[i % len(EMAIL)], email, "EMAIL_ADDRESS", locale))
        ip = fake.ipv4() if i % 2 else fake.ipv6()  # type: ignore[attr-defined]
        out.append(_fill(IP[i % len(IP)], ip, "IP_ADDRESS", locale))
        ssn = _ssn(rng)
        out.append(_fill(ssn_t[i % len(ssn_t)], ssn if i % 3 else ssn.replace("-", " "), "US_SSN", locale))
        out.append(_fill(NAME[i % len(NAME)], fake.name(), "PERSON", locale))  # type: ignore[attr-defined]
        address = fake.address().replace("\n", ", ")  # type: ignore[attr-defined]
        out.append(_fill(ADDRESS[i % len(ADDRESS)], address, "LOCATION", locale))
    return out


def _ssn(rng: random.Random) -> str:
    """A US SSN as issued: area 001-899 but not 666, group and serial not zero."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _clean(fake: object, locale: str, rng: random.Random, n: int) -> list[Sample]:
    """PII-free texts full of look-alikes."""
    f = fake
    makers = [
        lambda: f"Order #{rng.randint(10_000, 99_999_999)} shipped on {f.date(end_datetime=END)}.",  # type: ignore[attr-defined]
        lambda: (
            f"Invoice INV-{rng.randint(2015, 2026)}-{rng.randint(0, 999_999):06d}, "
            f"total ${rng.randint(10, 99_999):,}.{rng.randint(0, 99):02d}"
        ),
        lambda: f"ISBN {f.isbn13()} (paperback), ISBN-10 {f.isbn10()}",  # type: ignore[attr-defined]
        lambda: (
            f"Upgrade from v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} to "
            f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}-rc.{rng.randint(1, 5)}"
        ),
        lambda: (
            f"Chrome {rng.randint(90, 131)}.0.{rng.randint(4000, 6999)}.{rng.randint(10, 250)} on "
            f"Windows 10.0.{rng.randint(17000, 22631)}.{rng.randint(1, 3000)}"
        ),
        lambda: (
            f"Meeting on {f.date(pattern='%d/%m/%Y', end_datetime=END)} at {f.time(end_datetime=END)}, "
            f"room {rng.randint(100, 999)}."
        ),  # type: ignore[attr-defined]
        lambda: f"Price: €{rng.randint(1, 9)}.{rng.randint(100, 999)},{rng.randint(0, 99):02d} incl. 19% VAT",
        lambda: (
            f"for i in range({rng.randint(1000, 10**7)}):\n    x = (i * {rng.randint(10**4, 10**6)}) % "
            f"{rng.randint(10**4, 10**6)}"
        ),
        lambda: f"arr = [{', '.join(str(rng.randint(0, 9999)) for _ in range(8))}]",
        lambda: (
            f"SELECT * FROM orders WHERE id = {rng.randint(10**5, 10**8)} "
            f"AND ts > '{f.iso8601(end_datetime=END)}';"
        ),  # type: ignore[attr-defined]
        lambda: f"Population {rng.randint(10**5, 10**8):,} ({rng.randint(1, 99)}.{rng.randint(0, 9)}% urban)",
        lambda: f"Coordinates {f.latitude()}, {f.longitude()}; elevation {rng.randint(0, 4000)} m",  # type: ignore[attr-defined]
        lambda: (
            f"Build {f.sha1()[:12]} took {rng.randint(1, 999)}.{rng.randint(0, 999)} s, "
            f"{rng.randint(0, 9999)} tests"
        ),  # type: ignore[attr-defined]
        lambda: f"Timestamp {rng.randint(1_500_000_000, 1_799_999_999)} = {f.iso8601(end_datetime=END)}",  # type: ignore[attr-defined]
        lambda: (
            f"Part no. {rng.choice('ABKXZ')}{rng.randint(100, 999)}-{rng.randint(1000, 9999)}-"
            f"{rng.randint(10, 99)}, qty {rng.randint(1, 500)}"
        ),
        lambda: (
            f"Section {rng.randint(1, 20)}.{rng.randint(1, 20)}.{rng.randint(1, 20)} "
            f"of RFC {rng.randint(700, 9999)}"
        ),
    ]
    return [Sample(makers[i % len(makers)](), (), locale, CLEAN) for i in range(n)]


def build(per_locale: int = 40, seed: int = 17, phone_formats: int | None = None) -> list[Sample]:
    """The set: per locale every phone format (or ``phone_formats`` of them), every card provider and
    length, ``per_locale`` of each other entity and ``8 * per_locale`` PII-free texts."""
    from faker import Faker

    out: list[Sample] = []
    for k, locale in enumerate(LOCALES):
        rng = random.Random(seed * 1000 + k)
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + k)
        out += _phones(fake, locale, rng, phone_formats)
        out += _cards(fake, locale, rng)
        out += _simple(fake, locale, rng, per_locale)
        out += _clean(fake, locale, rng, 8 * per_locale)
    return out
