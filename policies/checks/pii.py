"""PII with presidio, fully offline: pattern recognizers always, NER entities with a spaCy model.

presidio's ``AnalyzerEngine()`` with no arguments downloads a spaCy model, so the engine is always
built from an explicit NLP configuration: an installed spaCy model when there is one (``auto``), or
a blank English pipeline saved locally (patterns only; PERSON detection is then off and every
report says so). Known quirks handled here: tldextract's download is switched off before presidio
is imported, e-mail domains that presidio also reports as URLs are dropped, and duplicate spans
keep their highest score. Custom recognizers come from presidio's own YAML format.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from policies.checks.base import BatchCheck, CheckSettings, CheckUnavailable, Outcome, example_texts
from provenance.core.ids import digest_file
from provenance.core.vocabulary import Decision

if TYPE_CHECKING:
    import pyarrow as pa

#: What the check looks for by default: identifiers of a person, an account or a machine. URL is
#: left out (a link to a public site is not personal data); list it to count links too.
DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "UK_NHS",
    "CRYPTO",
    "MAC_ADDRESS",
    "PERSON",
)
#: The longest text analyzed (characters); spaCy's own default limit is 1,000,000.
MAX_TEXT = 50_000_000
#: Entities only an NER model finds.
NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME")
_NER_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")
_NER_HINT = (
    "install spaCy's English model the official way, `python -m spacy download en_core_web_sm` (or, on an "
    "offline machine, a wheel fetched elsewhere from spaCy's releases: "
    "`pip install ./en_core_web_sm-3.8.0-py3-none-any.whl`), then keep `spacy_model: auto` or set "
    "`spacy_model:` to the model's package name or its folder"
)


def _offline_presidio() -> None:
    """Import presidio offline and light.

    tldextract (used by presidio's e-mail and URL checks) must not fetch its suffix list; and
    presidio probes transformers at import (seconds) for an NLP engine this check never uses.
    """
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    if "presidio_analyzer" in sys.modules or "transformers" in sys.modules:
        return
    sys.modules["transformers"] = None  # type: ignore[assignment]  # makes `import transformers` fail
    try:
        import presidio_analyzer  # noqa: F401
    finally:
        del sys.modules["transformers"]


class PiiSettings(CheckSettings):
    """Settings of the PII check."""

    recognizers: str | None = None
    language: str = "en"
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITIES), min_length=1)
    min_score: float = Field(default=0.5, ge=0, le=1)
    min_scores: dict[str, float] = Field(default_factory=dict)
    allow: list[str] = Field(default_factory=list)
    spacy_model: str = "auto"
    fields: list[str] = Field(default_factory=lambda: ["instruction", "input", "output", "messages"])
    processes: int = Field(default=0, ge=0)

    @field_validator("recognizers")
    @classmethod
    def _recognizers_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        base = (info.context or {}).get("base") or Path.cwd()
        path = (Path(base) / value).resolve()
        if not path.is_file():
            raise ValueError(f"recognizers file {path} does not exist")
        return str(path)

    @field_validator("entities", "min_scores")
    @classmethod
    def _known_entities(cls, value: Any, info: ValidationInfo) -> Any:
        known = supported_entities(info.data.get("recognizers"), info.data.get("language", "en"))
        if known is not None:
            for name in value:
                if name not in known:
                    raise ValueError(f"unknown PII entity {name!r} (known: {', '.join(sorted(known))})")
        return value


@lru_cache(maxsize=8)
def supported_entities(recognizers: str | None, language: str = "en") -> frozenset[str] | None:
    """Entity names presidio can report here (predefined, custom YAML, NER); None without presidio."""
    import importlib.util

    if importlib.util.find_spec("presidio_analyzer") is None:
        return None
    _offline_presidio()
    from presidio_analyzer import RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language])
    if recognizers:
        registry.add_recognizers_from_yaml(recognizers)
    return frozenset(registry.get_supported_entities(languages=[language])) | frozenset(NER_ENTITIES)


def build_analyzer(settings: PiiSettings) -> tuple[Any, str | None]:
    """A presidio AnalyzerEngine from an explicit, local NLP configuration; and the NER model, if any."""
    _offline_presidio()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    ner = ner_model(settings)
    model_path = ner if ner is not None else _blank_pipeline(settings.language)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": settings.language, "model_name": model_path}],
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=[settings.language])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=[settings.language])
    from policies.checks.pii_recognizers import install

    install(registry)
    if settings.recognizers:
        registry.add_recognizers_from_yaml(settings.recognizers)
    for pipeline in (getattr(nlp, "nlp", None) or {}).values():
        pipeline.max_length = MAX_TEXT  # spaCy refuses texts over 1,000,000 characters by default
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=[settings.language])
    return engine, ner


def ner_model(settings: PiiSettings) -> str | None:
    """The spaCy model that gives NER entities, or None for patterns only (a blank pipeline)."""
    import spacy.util

    model = settings.spacy_model
    if model == "auto":
        return next((m for m in _NER_MODELS if spacy.util.is_package(m)), None)
    if model == "blank":
        return None
    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise CheckUnavailable(f"spaCy model {model!r} is not installed; {_NER_HINT}")
    return model


def _blank_pipeline(language: str) -> str:
    """A blank spaCy pipeline saved on disk (presidio loads models by name or path).

    A blank pipeline has empty lemmas, and presidio's context words (``phone``, ``card``, …) are
    matched against lemmas; the one component added sets each lemma to the lower-cased word, so
    context still raises the score of, e.g., a phone number after "Phone:".
    """
    import spacy

    _register_lemma_component()
    path = Path(tempfile.gettempdir()) / f"provenance-spacy-blank-{language}-{spacy.__version__}-v2"
    if not (path / "config.cfg").exists():
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
        nlp = spacy.blank(language)
        nlp.add_pipe(_LEMMA_COMPONENT)
        nlp.to_disk(tmp)
        with contextlib.suppress(OSError):  # another process saved it first
            tmp.rename(path)
    return str(path)


_LEMMA_COMPONENT = "provenance_lower_lemma"


def _register_lemma_component() -> None:
    from spacy.language import Language

    if Language.has_factory(_LEMMA_COMPONENT):
        return

    @Language.component(_LEMMA_COMPONENT)
    def lower_lemma(doc: Any) -> Any:
        for token in doc:
            token.lemma_ = token.lower_
        return doc


def clean_findings(results: Sequence[Any]) -> list[tuple[str, int, int, float]]:
    """presidio results as (entity, start, end, score), without e-mail domains reported as URLs."""
    emails = [(r.start, r.end) for r in results if r.entity_type == "EMAIL_ADDRESS"]
    best: dict[tuple[str, int, int], float] = {}
    for r in results:
        if r.entity_type == "URL" and any(s <= r.start and r.end <= e for s, e in emails):
            continue
        key = (r.entity_type, r.start, r.end)
        best[key] = max(best.get(key, 0.0), float(r.score))
    return sorted(
        ((k[0], k[1], k[2], round(v, 6)) for k, v in best.items()), key=lambda f: (f[1], f[2], f[0])
    )


class Analyzer:
    """Analyzes texts with one engine; distinct texts once; a process pool for large inputs."""

    def __init__(self, settings: PiiSettings) -> None:
        self.settings = settings
        self.engine, self.ner = build_analyzer(settings)
        self._pool: ProcessPoolExecutor | None = None
        self._prefilter = _prefilter(settings, self.ner)

    def analyze(self, text: str) -> list[tuple[str, int, int, float]]:
        """Findings for one text."""
        s = self.settings
        results = self.engine.analyze(
            text=text, language=s.language, entities=s.entities, allow_list=s.allow or None, score_threshold=0
        )
        return clean_findings(results)

    def analyze_many(self, texts: Sequence[str]) -> list[list[tuple[str, int, int, float]]]:
        """Findings for each text, in order."""
        distinct = list(dict.fromkeys(texts))
        by_text: dict[str, list[tuple[str, int, int, float]]] = {}
        if self._prefilter is not None:
            by_text = {t: [] for t in distinct if not self._prefilter(t)}
            distinct = [t for t in distinct if t not in by_text]
        if self._pool is not None and len(distinct) >= 64:
            size = max(16, len(distinct) // (4 * self._workers))
            chunks = [distinct[i : i + size] for i in range(0, len(distinct), size)]
            found = [f for part in self._pool.map(_worker_analyze, chunks) for f in part]
        else:
            found = [self.analyze(t) for t in distinct]
        by_text.update(zip(distinct, found, strict=True))
        return [by_text[t] for t in texts]

    def start_pool(self, workers: int) -> None:
        """Analyze in ``workers`` processes from now on."""
        import multiprocessing

        global _WORKER
        if self._pool is None and workers > 1:
            self._workers = workers
            if _START_METHOD == "fork":  # the workers inherit this analyzer
                _WORKER = self
                init: Any = None
                args: tuple[Any, ...] = ()
            else:
                init, args = _worker_init, (self.settings.model_dump_json(),)
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context(_START_METHOD),
                initializer=init,
                initargs=args,
            )

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _prefilter(settings: PiiSettings, ner: str | None) -> Callable[[str], bool] | None:
    """The one combined pattern that rules texts out, where every recognizer in use is covered by it
    (patterns only, no custom recognizers, only prefiltered entities); None otherwise."""
    from policies.checks.pii_recognizers import PREFILTERED, may_match

    if ner is not None or settings.recognizers or not set(settings.entities) - {"PERSON"} <= PREFILTERED:
        return None
    return may_match


_WORKER: Analyzer | None = None
#: fork starts workers with presidio already imported (seconds saved each); spawn where fork is missing.
_START_METHOD = "fork" if sys.platform == "linux" else "spawn"


def _worker_init(settings_json: str) -> None:
    global _WORKER
    _WORKER = Analyzer(PiiSettings.model_validate_json(settings_json))


def _worker_analyze(texts: list[str]) -> list[list[tuple[str, int, int, float]]]:
    assert _WORKER is not None
    return [_WORKER.analyze(t) for t in texts]


class PiiCheck(BatchCheck):
    """Personal data found by presidio's recognizers (and spaCy NER when a model is installed)."""

    kind = "pii"
    version = "2"
    measures = "personal data (e-mail, phone, card, IBAN, IP, SSN, URL, …; PERSON with a spaCy model)"
    requires = ("presidio_analyzer", "presidio_anonymizer", "spacy")
    install_hint = "pip install presidio-analyzer presidio-anonymizer"
    actions: ClassVar[tuple[str, ...]] = (
        Decision.FLAG.value,
        Decision.DROP.value,
        Decision.REDACT.value,
        Decision.BLOCK.value,
    )
    Settings = PiiSettings
    settings: PiiSettings
    #: Start worker processes when a run has at least this many examples to score.
    POOL_FROM = 4000

    def _load(self) -> None:
        self.analyzer = Analyzer(self.settings)

    def prepare(self, examples: int) -> None:
        """Use a process pool for a large run."""
        workers = self.settings.processes or min(os.cpu_count() or 1, 4)
        if examples >= self.POOL_FROM and workers > 1:
            self.analyzer.start_pool(workers)

    def close(self) -> None:
        """Stop worker processes."""
        if self._loaded:
            self.analyzer.close()

    def identity(self) -> dict[str, Any]:
        s = self.settings
        return {
            "entities": sorted(s.entities),
            "allow": s.allow,
            "recognizers": digest_file(s.recognizers) if s.recognizers else None,
            "language": s.language,
            "fields": s.fields,
            "ner": self._ner(),
            "ner_version": _version(self._ner() or "") if self._ner() else None,
            "spacy": _version("spacy"),
            "presidio": _version("presidio-analyzer"),
        }

    def _ner(self) -> str | None:
        if not hasattr(self, "_ner_model"):
            self._ner_model = ner_model(self.settings)
        return self._ner_model

    def notes(self) -> list[str]:
        if self._ner() is None:
            return [
                f"PERSON detection was off: no spaCy NER model is installed (patterns only); {_NER_HINT}."
            ]
        return [
            f"PERSON and other NER entities came from spaCy model {self._ner()}, which also tags some "
            "technical words (e.g. 'Python') as LOCATION."
        ]

    def score(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        per_example = example_texts(batch, self.settings.fields, split_messages=True)
        flat = [(i, f, t) for i, texts in enumerate(per_example) for f, t in texts.items()]
        found = self.analyzer.analyze_many([t for _, _, t in flat])
        out: list[dict[str, Any]] = [{"findings": []} for _ in per_example]
        for (i, field, _), findings in zip(flat, found, strict=True):
            out[i]["findings"].extend([field, *f] for f in findings)
        return out

    def counted(self, scores: dict[str, Any]) -> list[list[Any]]:
        """The findings that count under the thresholds: [field, entity, start, end, score]."""
        s = self.settings
        wanted = set(s.entities)
        return [
            f for f in scores["findings"] if f[1] in wanted and f[4] >= s.min_scores.get(f[1], s.min_score)
        ]

    def decide(self, scores: dict[str, Any]) -> Outcome:
        hits = self.counted(scores)
        if not hits:
            return Outcome(False, "clean", 0.0)
        where: dict[str, set[str]] = {}
        for field, entity, *_ in hits:
            where.setdefault(entity, set()).add(field.split("[")[0])
        reason = "PII: " + ", ".join(f"{e} in {'/'.join(sorted(fs))}" for e, fs in sorted(where.items()))
        return Outcome(
            True,
            "pii",
            max(f[4] for f in hits),
            reason,
            {"entities": {e: sum(1 for f in hits if f[1] == e) for e in sorted(where)}},
        )

    def redact(self, texts: dict[str, str], scores: dict[str, Any]) -> dict[str, str]:
        """The fields with every counted finding replaced by ``<ENTITY>`` (presidio-anonymizer)."""
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        engine = getattr(self, "_anonymizer", None) or AnonymizerEngine()
        self._anonymizer = engine
        by_field: dict[str, list[Any]] = {}
        for field, entity, start, end, score in self.counted(scores):
            by_field.setdefault(field, []).append(RecognizerResult(entity, start, end, score))
        out = dict(texts)
        for field, results in by_field.items():
            out[field] = engine.anonymize(
                text=texts[field], analyzer_results=results, operators={"DEFAULT": OperatorConfig("replace")}
            ).text
        return out


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
