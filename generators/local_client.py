"""A local teacher: a ``transformers`` causal LM behind the interface of the OpenAI-compatible client.

:class:`TransformersClient` answers the same :class:`~generators.clients.TeacherRequest` objects as
:class:`~generators.clients.OpenAICompatibleClient`, through the same journal protocol: a request
already answered (status ok) is answered from the journal and never generated again; otherwise the
request is committed as pending before its batch is generated, and an OpenAI-shaped raw response
body (``chat.completion`` or ``text_completion``) is committed before the reply is returned, so
:func:`generators.clients.digest` reads it like any remote answer.

The model is loaded from a local directory only (``local_files_only=True``, no remote code), and
lazily: torch and transformers are imported when something must actually be generated, never in
replay mode nor when the journal answers every request. Every request body carries
``model_digest``, the sha256 of the checkpoint's files (see :func:`model_digest`), so a changed
checkpoint never replays answers of the old one.

Request parameters honoured: ``max_tokens`` (or ``max_completion_tokens``; default
``max_new_tokens_default``), ``temperature`` (0 or absent: greedy; above 0: sampling, with
``top_p``), ``stop`` (a string or a list: the text is cut before the first stop string), ``n``.
Sampling is seeded per request and choice from the request hash, so a request gives the same
text whatever else shares its batch, in every run. Other parameters (``presence_penalty``,
``logit_bias``, ``seed``, …) are ignored by generation but kept in the journaled request and its
hash. ``finish_reason`` is ``stop`` (end-of-sequence token or a stop string) or ``length``.

Chat requests are rendered with the tokenizer's chat template when it has one
(``add_generation_prompt=True``); otherwise with the plain format :func:`plain_chat_prompt`.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self, cast

from generators.clients import (
    NotInJournal,
    TeacherError,
    TeacherReply,
    TeacherRequest,
    TeacherRequestError,
    digest,
    refusal_from_call,
    reply_from_call,
)
from generators.journal import Call, Journal, sanitize_endpoint
from provenance.core.errors import InputError
from provenance.core.ids import content_id

INSTALL_HINT = "pip install torch transformers"
#: Files whose bytes decide what the model answers: config, weights, tokenizer, chat template.
DIGESTED_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "pytorch_model*.bin",
    "pytorch_model*.bin.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "*.tiktoken",
    "chat_template.jinja",
    "chat_template.json",
)
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin")
_EXPECTED = (
    "expected the directory of a transformers causal language model as save_pretrained writes it "
    "(config.json and *.safetensors or pytorch_model*.bin weights, plus its tokenizer); models are "
    "never downloaded: fetch it first (e.g. `hf download ORG/NAME --local-dir DIR`). "
    f"Running it needs `{INSTALL_HINT}`"
)
_CHUNK = 1 << 20
_digests: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_digests_lock = threading.Lock()


class LocalModelError(InputError):
    """The model path is missing, is not a model directory, or transformers cannot load it. Exit code 2."""


class LocalTeacherUnavailable(TeacherError):
    """torch or transformers is not installed. Exit code 3."""


def model_files(path: Path) -> list[Path]:
    """The files of a model directory that :func:`model_digest` hashes, sorted by name."""
    found = {p for pattern in DIGESTED_FILES for p in path.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.name)


def model_digest(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) over every file of :data:`DIGESTED_FILES` in the model directory, in full.

    For each file, sorted by name: its name, its size and all its bytes. Computed without torch;
    cached per process for files whose names, sizes and modification times are unchanged.
    """
    directory = Path(path).resolve()
    files = model_files(directory)
    stats = tuple((f.name, (s := f.stat()).st_size, s.st_mtime_ns) for f in files)
    key = (str(directory), stats)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    sha = hashlib.sha256()
    for file, (name, size, _) in zip(files, stats, strict=True):
        sha.update(f"{name}\0{size}\0".encode())
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                sha.update(chunk)
    value = sha.hexdigest()
    with _digests_lock:
        _digests[key] = value
    return value


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """The resolved model directory, or :class:`LocalModelError` saying what is missing."""
    directory = Path(path).expanduser()
    if not directory.exists():
        raise LocalModelError(f"no such model directory; {_EXPECTED}", path=path)
    if not directory.is_dir():
        raise LocalModelError(f"is a file, not a model directory; {_EXPECTED}", path=path)
    if not (directory / "config.json").is_file():
        raise LocalModelError(f"has no config.json, so it is not a model directory; {_EXPECTED}", path=path)
    if not any(p.is_file() for pattern in _WEIGHTS for p in directory.glob(pattern)):
        raise LocalModelError(f"has no weight files; {_EXPECTED}", path=path)
    return directory.resolve()


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # OpenAI content parts
        return "".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part) for part in content
        )
    return "" if content is None else str(content)


def plain_chat_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """A chat for a tokenizer without a chat template: one ``Role: content`` line per message.

    ``[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]`` becomes
    ``"System: Be brief.\\nUser: Hi\\nAssistant:"``.
    """
    lines = [
        f"{str(m.get('role') or 'user').capitalize()}: {_content_text(m.get('content'))}" for m in messages
    ]
    return "\n".join([*lines, "Assistant:"])


@dataclass(frozen=True)
class _Settings:
    """The generation parameters of a request; requests with equal settings share batches."""

    max_new_tokens: int
    temperature: float
    top_p: float
    stops: tuple[str, ...]
    n: int


@dataclass
class _Job:
    request_hash: str
    stored: dict[str, Any]
    api: str
    request: TeacherRequest
    settings: _Settings
    positions: list[int] = field(default_factory=list)
    prompt_ids: list[int] = field(default_factory=list)


def _number(params: Mapping[str, Any], name: str, default: float) -> float:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {value!r}")
    return float(value)


def _count(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


def _settings(params: Mapping[str, Any], max_new_tokens_default: int) -> _Settings:
    limit = params.get("max_completion_tokens", params.get("max_tokens"))
    max_new = _count({"max_tokens": limit}, "max_tokens", max_new_tokens_default)
    temperature = _number(params, "temperature", 0.0)
    if temperature < 0:
        raise ValueError(f"temperature must be 0 or more, not {temperature}")
    top_p = _number(params, "top_p", 1.0)
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], not {top_p}")
    stop = params.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,) if stop else ()
    elif isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        stops = tuple(dict.fromkeys(s for s in stop if s))
    else:
        raise ValueError(f"stop must be a string or a list of strings, not {stop!r}")
    n = _count(params, "n", 1)
    if temperature == 0:
        top_p = 1.0  # greedy: top_p changes nothing
    return _Settings(max_new, temperature, top_p, stops, n)


def _cut(text: str, stops: Sequence[str]) -> str:
    """``text`` before its first stop string."""
    at = min((i for s in stops if (i := text.find(s)) >= 0), default=-1)
    return text[:at] if at >= 0 else text


def _row_seed(request_hash: str, choice: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{request_hash}:{choice}".encode()).digest()[:8], "big") >> 1


class _Sampler:
    """A logits processor that samples each row with its own seeded generator.

    It leaves only the sampled token finite, so greedy decoding picks it: each row's draws depend
    on its own seed and prefix, not on the other rows of the batch.
    """

    def __init__(self, torch: Any, seeds: Sequence[int], temperature: float, top_p: float) -> None:
        self.torch = torch
        self.seeds = list(seeds)
        self.temperature = temperature
        self.top_p = top_p
        self.generators: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = self.torch
        if not self.generators:
            self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        logits = scores.float() / self.temperature
        if self.top_p < 1:
            ordered, order = torch.sort(logits, descending=False, dim=-1)
            tail = ordered.softmax(dim=-1).cumsum(dim=-1) <= 1 - self.top_p
            tail[..., -1] = False
            logits = logits.masked_fill(tail.scatter(1, order, tail), float("-inf"))
        probs = logits.softmax(dim=-1)
        chosen = torch.stack(
            [torch.multinomial(probs[row], 1, generator=g) for row, g in enumerate(self.generators)]
        )
        out = torch.full_like(scores, float("-inf"))
        return out.scatter(1, chosen, 0.0)


class _Stopper:
    """A stopping criterion that notes, per row, when and why it ended (end-of-sequence or a stop)."""

    def __init__(
        self, torch: Any, tokenizer: Any, prompt_len: int, eos: set[int], stops: Sequence[str], rows: int
    ) -> None:
        self.torch = torch
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.eos = eos
        self.stops = tuple(stops)
        self.ended: list[tuple[int, str] | None] = [None] * rows

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        new = input_ids[:, self.prompt_len :]
        step = new.shape[1]
        if step:
            last = new[:, -1].tolist()
            for row, token in enumerate(last):
                if self.ended[row] is None and token in self.eos:
                    self.ended[row] = (step, "eos")
            open_rows = [row for row, end in enumerate(self.ended) if end is None]
            if self.stops and open_rows:
                texts = self.tokenizer.batch_decode(new[open_rows], skip_special_tokens=True)
                for row, text in zip(open_rows, texts, strict=True):
                    if any(s in text for s in self.stops):
                        self.ended[row] = (step, "stop")
        done = [end is not None for end in self.ended]
        return self.torch.tensor(done, dtype=self.torch.bool, device=input_ids.device)


class TransformersClient:
    """A journaled local teacher: a causal LM from a directory, with the client interface of
    :class:`~generators.clients.OpenAICompatibleClient`.

    ``model_name`` is the name recorded as the model (default: the directory's name); the
    endpoint is ``local:<absolute path>``. :meth:`map` generates the requests the journal does not
    answer ``batch_size`` prompts at a time, left-padded, grouped by equal generation parameters.
    Thread-safe (calls are serialised); ``concurrency`` is 1. Replies carry ``http_status`` None
    and ``latency_ms`` the wall time of the batch the request was generated in.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        journal: Journal,
        model_name: str | None = None,
        batch_size: int = 8,
        replay: bool = False,
        device: str = "cpu",
        max_new_tokens_default: int = 256,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_new_tokens_default < 1:
            raise ValueError("max_new_tokens_default must be at least 1")
        self.path = check_model_dir(path)
        self.model = model_name or self.path.name
        self.endpoint = sanitize_endpoint(f"local:{self.path}")
        self.journal = journal
        self.replay = replay
        self.batch_size = batch_size
        self.concurrency = 1
        self.device = device
        self.max_new_tokens_default = max_new_tokens_default
        self.model_digest = model_digest(self.path)
        self.system_fingerprint = f"local-{self.model_digest[:12]}"
        self._lock = threading.RLock()
        self._model: Any = None
        self._tokenizer: Any = None
        if not replay:
            self._check_installed()

    # ---- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the loaded model and tokenizer."""
        with self._lock:
            self._model = None
            self._tokenizer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- calls -----------------------------------------------------------------------------

    def chat(self, messages: Sequence[Mapping[str, Any]], *, sample: int = 0, **params: Any) -> TeacherReply:
        """A chat completion. ``params`` go into the request body (temperature, n, max_tokens, …)."""
        return self.request(TeacherRequest.chat(messages, sample=sample, **params))

    def complete(self, prompt: str, *, sample: int = 0, **params: Any) -> TeacherReply:
        """A completion of ``prompt``."""
        return self.request(TeacherRequest.completion(prompt, sample=sample, **params))

    def request(self, request: TeacherRequest) -> TeacherReply:
        """Answer one request: from the journal when it holds the answer, else by generating it."""
        [reply] = self.map([request])
        return cast(TeacherReply, reply)  # without return_exceptions, errors are raised

    def map(
        self, requests: Iterable[TeacherRequest], *, return_exceptions: bool = False
    ) -> list[TeacherReply] | list[TeacherReply | TeacherError]:
        """Answer requests, in request order; those the journal lacks are generated in batches.

        Identical requests are generated once. Every batch runs to its end (and into the
        journal) before the first error, in request order, is raised. With ``return_exceptions``
        a :class:`TeacherError` takes its request's place in the list instead (other exceptions,
        such as a model that cannot be loaded, are still raised).
        """
        prepared = [self._prepare(r) for r in requests]  # invalid requests fail before any work
        results: list[TeacherReply | TeacherError | None] = [None] * len(prepared)
        jobs: dict[str, _Job] = {}
        with self._lock:
            for position, job in enumerate(prepared):
                if (known := jobs.get(job.request_hash)) is not None:
                    known.positions.append(position)
                elif (call := self.journal.final(job.request_hash)) is not None:
                    results[position] = self._from_final(call)
                elif self.replay:
                    results[position] = self._not_in_journal(job)
                else:
                    job.positions.append(position)
                    jobs[job.request_hash] = job
            if jobs:
                self._generate(list(jobs.values()), results)
        done = [r for r in results if r is not None]
        if not return_exceptions:
            for result in done:
                if isinstance(result, TeacherError):
                    raise result
        return done

    # ---- requests and replies --------------------------------------------------------------

    def _prepare(self, request: TeacherRequest) -> _Job:
        body, headers = request.body(self.model)
        params = {k: v for k, v in request.params.items() if k != "extra_headers"}
        body["model_digest"] = self.model_digest
        settings = _settings(params, self.max_new_tokens_default)
        stored = Journal.request(self.endpoint, request.api, body, sample=request.sample, headers=headers)
        return _Job(content_id(stored), stored, request.api, request, settings)

    def _not_in_journal(self, job: _Job) -> NotInJournal:
        call = self.journal.get(job.request_hash)
        state = (
            "is not in the journal" if call is None else f"is journaled as {call.status}, without an answer"
        )
        return NotInJournal(
            f"replay: the {job.api} request {job.request_hash[:12]} to model {self.model!r} at "
            f"{self.endpoint} {state}; run without --replay to generate it",
            request_hash=job.request_hash,
        )

    def _from_final(self, call: Call) -> TeacherReply | TeacherError:
        """A final journaled outcome again: the reply, or the same refusal."""
        return refusal_from_call(call) or reply_from_call(call)

    def _response(
        self, job: _Job, choices: Sequence[tuple[str, str]], prompt_tokens: int, completion_tokens: int
    ) -> dict[str, Any]:
        """The OpenAI-shaped body of a generated answer."""
        if job.api == "chat":
            kind = "chat.completion"
            shaped = [
                {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
                for i, (text, reason) in enumerate(choices)
            ]
        else:
            kind = "text_completion"
            shaped = [
                {"index": i, "text": text, "finish_reason": reason, "logprobs": None}
                for i, (text, reason) in enumerate(choices)
            ]
        return {
            "id": f"local-{job.request_hash[:16]}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": self.system_fingerprint,
            "choices": shaped,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _record(self, job: _Job, raw: str, latency: float) -> TeacherReply:
        found = digest(job.api, raw)
        self.journal.record_result(
            job.request_hash,
            status="error" if found.error else "ok",
            attempts=1,
            response=raw,
            error=found.error,
            response_model=found.model,
            system_fingerprint=found.system_fingerprint,
            request_id=found.response_id,
            usage=found.usage,
            latency_ms=latency,
        )
        return TeacherReply(
            texts=found.texts,
            finish_reasons=found.finish_reasons,
            model=found.model,
            system_fingerprint=found.system_fingerprint,
            request_id=found.response_id,
            usage=found.usage,
            latency_ms=latency,
            request_hash=job.request_hash,
            from_journal=False,
            attempts=1,
            http_status=None,
            endpoint=job.stored["endpoint"],
            api=job.api,
            requested_model=self.model,
            error=found.error,
        )

    def _fail(self, job: _Job, reason: str, exc_type: type[TeacherError] = TeacherError) -> TeacherError:
        refused = exc_type is TeacherRequestError  # like an HTTP 400: this request alone, and final
        status = 400 if refused else None
        self.journal.record_result(
            job.request_hash, status="error", attempts=1, error=reason, http_status=status
        )
        return exc_type(
            f"{job.api} request {job.request_hash[:12]} to {self.endpoint}: {reason}",
            request_hash=job.request_hash,
            status=status,
        )

    # ---- the model -------------------------------------------------------------------------

    @staticmethod
    def _check_installed() -> None:
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise LocalTeacherUnavailable(
                f"a local teacher needs {' and '.join(missing)}, not installed here ({INSTALL_HINT})"
            )

    def _load(self) -> tuple[Any, Any]:
        """The tokenizer and the model, loaded on first use."""
        if self._model is not None:
            return self._tokenizer, self._model
        self._check_installed()
        try:
            import torch  # noqa: F401 - fail here, with the install hint, when it is broken
            import transformers
        except ImportError as exc:
            raise LocalTeacherUnavailable(f"cannot import {exc.name or exc}: {exc} ({INSTALL_HINT})") from exc
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                self.path, local_files_only=True, padding_side="left"
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise LocalModelError(
                f"transformers cannot load it as a causal language model: {exc}; {_EXPECTED}", path=self.path
            ) from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise LocalModelError(
                    "its tokenizer has neither a pad nor an end-of-sequence token", path=self.path
                )
            tokenizer.pad_token = tokenizer.eos_token
        self._tokenizer, self._model = tokenizer, model.to(self.device).eval()
        return self._tokenizer, self._model

    def _prompt_ids(self, tokenizer: Any, job: _Job) -> list[int]:
        request = job.request
        if request.api == "chat":
            messages = [dict(m) for m in request.messages or ()]
            if getattr(tokenizer, "chat_template", None):
                text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            else:
                ids = tokenizer(plain_chat_prompt(messages))["input_ids"]
        else:
            ids = tokenizer(request.prompt or "")["input_ids"]
        if not ids:  # an empty prompt: start from the beginning-of-sequence token, as OpenAI does
            start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
            ids = [start] if start is not None else []
        return list(ids)

    @staticmethod
    def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
        """The end-of-sequence tokens of the generation config and of the tokenizer."""
        ids: set[int] = set()
        for eos in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            ids.update(eos if isinstance(eos, list) else [] if eos is None else [eos])
        return ids

    def _generate(self, jobs: list[_Job], results: list[TeacherReply | TeacherError | None]) -> None:
        """Generate every job in batches, putting its reply or its error at its positions."""

        def put(job: _Job, result: TeacherReply | TeacherError) -> None:
            results[job.positions[0]] = result
            again = replace(result, from_journal=True) if isinstance(result, TeacherReply) else result
            for position in job.positions[1:]:
                results[position] = again

        tokenizer, model = self._load()
        config = model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        groups: dict[_Settings, list[_Job]] = {}
        for job in jobs:
            job.prompt_ids = self._prompt_ids(tokenizer, job)
            if not job.prompt_ids:
                self.journal.record_pending(job.request_hash, job.stored)
                put(job, self._fail(job, "the prompt is empty and the tokenizer has no start token"))
            elif limit and len(job.prompt_ids) + job.settings.max_new_tokens > limit:
                self.journal.record_pending(job.request_hash, job.stored)
                reason = (
                    f"{len(job.prompt_ids)} prompt tokens plus max_tokens {job.settings.max_new_tokens} "
                    f"exceed the model's {limit} positions"
                )
                put(job, self._fail(job, reason, TeacherRequestError))
            else:
                groups.setdefault(job.settings, []).append(job)
        for settings, group in groups.items():
            group.sort(key=lambda j: len(j.prompt_ids))
            for start in range(0, len(group), self.batch_size):
                batch = group[start : start + self.batch_size]
                for job in batch:
                    self.journal.record_pending(job.request_hash, job.stored)
                try:
                    answers, latency = self._run_batch(tokenizer, model, settings, batch)
                except Exception as exc:
                    reason = f"generation failed: {type(exc).__name__}: {exc}"
                    for job in batch:
                        put(job, self._fail(job, reason))
                    continue
                for job, (choices, completion_tokens) in zip(batch, answers, strict=True):
                    body = self._response(job, choices, len(job.prompt_ids), completion_tokens)
                    put(job, self._record(job, json.dumps(body, ensure_ascii=False), latency))

    def _run_batch(
        self, tokenizer: Any, model: Any, settings: _Settings, batch: list[_Job]
    ) -> tuple[list[tuple[list[tuple[str, str]], int]], float]:
        """One ``generate`` call: per job, its (text, finish reason) choices and completion tokens."""
        import torch
        import transformers

        started = time.perf_counter()
        width = max(len(j.prompt_ids) for j in batch)
        pad = tokenizer.pad_token_id
        ids = [[pad] * (width - len(j.prompt_ids)) + j.prompt_ids for j in batch]
        mask = [[0] * (width - len(j.prompt_ids)) + [1] * len(j.prompt_ids) for j in batch]
        sampling = settings.temperature > 0
        n = settings.n if sampling else 1  # greedy choices are all alike: generate one, copy it
        input_ids = torch.tensor(ids, dtype=torch.long, device=model.device).repeat_interleave(n, dim=0)
        attention_mask = torch.tensor(mask, dtype=torch.long, device=model.device).repeat_interleave(n, dim=0)
        eos = self._eos_ids(tokenizer, model)
        stopper = _Stopper(torch, tokenizer, width, eos, settings.stops, len(batch) * n)
        processors = transformers.LogitsProcessorList()
        if sampling:
            seeds = [_row_seed(j.request_hash, c) for j in batch for c in range(n)]
            processors.append(_Sampler(torch, seeds, settings.temperature, settings.top_p))
        generation_config = copy.deepcopy(model.generation_config)
        generation_config.update(
            do_sample=False,  # sampling, when asked for, is _Sampler's: seeded per row
            num_beams=1,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=settings.max_new_tokens,
            num_return_sequences=1,
            pad_token_id=pad,
            eos_token_id=sorted(eos) or None,
        )
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=generation_config,
                logits_processor=processors,
                stopping_criteria=transformers.StoppingCriteriaList([stopper]),
                tokenizer=tokenizer,
            )
        new = output[:, width:].tolist()
        answers: list[tuple[list[tuple[str, str]], int]] = []
        for index in range(len(batch)):
            choices: list[tuple[str, str]] = []
            tokens_used = 0
            for row in range(index * n, (index + 1) * n):
                end = stopper.ended[row]
                length = end[0] if end else len(new[row])
                tokens = new[row][: length - 1] if end and end[1] == "eos" else new[row][:length]
                text = _cut(tokenizer.decode(tokens, skip_special_tokens=True), settings.stops)
                choices.append((text, "stop" if end else "length"))
                tokens_used += length
            copies = settings.n // n
            answers.append((choices * copies, tokens_used * copies))
        return answers, (time.perf_counter() - started) * 1000
