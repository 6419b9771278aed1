"""The credentials this process holds, and the one function that masks them: :func:`redact`.

A teacher client registers each credential it is given (an API key from the environment, the
user info of a base URL, a key-like query parameter or header) with :data:`SECRETS`. Every place
that stores or prints text that came from a server or from the endpoint and its options passes it
through :func:`redact` first: the teacher-call journal (:mod:`provenance.core.journal_store`), the
run rows and therefore the audit payloads (:meth:`provenance.core.ledger.Ledger.begin_run` and
``end_run``), ``journal export``, and the command line's output and error lines.

Every form a credential can take on the way is masked, not just the value as given: the raw value,
its URL-encoded and URL-decoded forms (upper- and lower-case escapes), its JSON-escaped forms, the
``user:password`` pair, and the base64 (standard and URL-safe, with and without padding) of the
value, of ``user:password`` (HTTP Basic auth) and of ``:value`` / ``value:``. ``Bearer <key>``
becomes ``Bearer ***``. A value shorter than :data:`MIN_LENGTH` characters is masked only inside
its longer forms (``user:pw``, Basic), since masking it alone would mangle ordinary text.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit

MASK = "***"
MIN_LENGTH = 4  # a credential alone is masked from this length on; its longer forms always are

# Header and query-parameter names that may carry a credential.
SECRET_NAME = re.compile(r"auth|key|token|secret|password|passwd|cookie|signature|^sig|sig$|credential", re.I)
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _encodings(value: str) -> set[str]:
    """``value`` as it may travel in text: raw, URL-encoded or -decoded, JSON-escaped."""
    forms = {
        value,
        unquote(value),
        unquote_plus(value),
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
    }
    forms |= {_ESCAPE.sub(lambda m: m.group(0).lower(), f) for f in list(forms)}
    for form in list(forms):
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return forms


def _base64(text: str) -> set[str]:
    """The base64 forms of ``text`` (standard and URL-safe, with and without padding)."""
    data = text.encode("utf-8")
    forms = {base64.b64encode(data).decode("ascii"), base64.urlsafe_b64encode(data).decode("ascii")}
    return forms | {f.rstrip("=") for f in forms}


def forms_of(value: str, user: str | None = None) -> set[str]:
    """Every form of one credential (and of ``user:value`` when a user name goes with it) to mask."""
    forms: set[str] = set()
    for secret in {value, unquote(value)}:
        alone = {secret, f":{secret}", f"{secret}:"} if len(secret) >= MIN_LENGTH else set()
        pairs = {f"{name}:{secret}" for name in {user, unquote(user)}} if user else set()
        for text in alone | {p for p in pairs if len(p) >= MIN_LENGTH}:
            forms |= _encodings(text) | _base64(text)
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Secrets:
    """A registry of credentials; :meth:`redact` masks every form of each one in a text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None, *, user: str | None = None) -> None:
        """Remember a credential (and the user name it goes with) so that every later write masks it."""
        if not value:
            return
        with self._lock:
            new = forms_of(value, user) - self._forms
            if not new:
                return
            self._forms |= new
            ordered = sorted(self._forms, key=lambda f: (-len(f), f))  # the longest form wins
            self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    def register_url(self, url: str | None) -> None:
        """Remember the credentials of a URL: its user info and its key-like query parameters."""
        if not url:
            return
        parts = urlsplit(url.strip())
        if parts.password:
            self.register(parts.password, user=parts.username)
        elif parts.username:  # a token given as the user name alone
            self.register(parts.username)
        self.register_params(dict(parse_qsl(parts.query, keep_blank_values=True)))

    def register_params(self, params: Mapping[str, Any] | None) -> None:
        """Remember the values of headers or query parameters whose names suggest a credential."""
        for name, value in (params or {}).items():
            if SECRET_NAME.search(str(name)) and isinstance(value, str):
                self.register(value)
                scheme, _, token = value.strip().partition(" ")
                if token and scheme.lower() in ("bearer", "basic", "token"):  # an Authorization value
                    self.register(token.strip())

    def clear(self) -> None:
        """Forget every credential (tests)."""
        with self._lock:
            self._forms.clear()
            self._pattern = None

    def redact(self, text: str) -> str:
        """``text`` with every form of every registered credential replaced by ``***``."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    @property
    def active(self) -> bool:
        """Whether any credential is registered (else :meth:`redact` changes nothing)."""
        return self._pattern is not None


#: The registry of this process.
SECRETS = Secrets()


def redact(text: str) -> str:
    """``text`` with every form of every credential this process holds masked (see :class:`Secrets`)."""
    return SECRETS.redact(text)


def redact_optional(text: str | None) -> str | None:
    """:func:`redact` for a value that may be None."""
    return None if text is None else SECRETS.redact(text)


def redact_value(value: Any) -> Any:
    """A JSON-like value with every string in it (keys included) passed through :func:`redact`."""
    if isinstance(value, str):
        return SECRETS.redact(value)
    if isinstance(value, Mapping):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_json(value: Any, **dumps: Any) -> str:
    """``json.dumps(value, **dumps)`` with every string in it passed through :func:`redact`."""
    text = json.dumps(value, **dumps)
    if not SECRETS.active:
        return text
    return json.dumps(redact_value(json.loads(text)), **dumps)  # the round trip changes nothing else
