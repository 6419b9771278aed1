"""The fine-tune step of the training gate: train a student on the selected examples.

The student is either ``tiny`` (a small GPT-2 built from a config, with a byte-level BPE tokenizer trained
on the selected data; a smoke test of the pipeline, not a pretrained model) or a local checkpoint
directory. Loss is masked to the response: prompt tokens carry the label -100. torch, transformers,
tokenizers and accelerate load lazily, inside :func:`train_student`, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.core.errors import InputError, ProvenanceError

INSTALL_HINT = "pip install 'provenance[ml]' (or: pip install torch transformers accelerate tokenizers)"
PROMPT_FORMATS = ("alpaca", "chat", "auto")
TINY_LABEL = (
    "a tiny GPT-2 built from a config with a tokenizer trained on the selected data; not a pretrained model"
)
TINY_EOS, TINY_PAD = "<|endoftext|>", "<|pad|>"
IGNORE_INDEX = -100
_DISK_MARGIN = 50 * 1024 * 1024
_EXPECTED = "expected a local checkpoint directory (config.json + weights) or `tiny`"
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "model*.bin", "*.pt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = {"1", "true", "yes", "on"}

_ALPACA_HEAD = "Below is an instruction that describes a task"
_ALPACA_WITH_INPUT = ", paired with an input that provides further context"
_ALPACA_TAIL = ". Write a response that appropriately completes the request.\n\n"


@dataclass(frozen=True)
class TrainRecord:
    """One selected example: an instruction triple, or a chat (``messages`` of role/content dicts)."""

    example_id: str
    instruction: str | None
    input: str
    output: str | None
    messages: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the fine-tune; ``max_steps > 0`` overrides ``epochs``."""

    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 5e-4
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_length: int = 512
    seed: int = 0
    prompt_format: str = "auto"
    tiny_layers: int = 2
    tiny_hidden: int = 64
    tiny_heads: int = 2
    tiny_vocab: int = 2000

    def __post_init__(self) -> None:
        problems = []
        if self.prompt_format not in PROMPT_FORMATS:
            problems.append(
                f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}, not {self.prompt_format!r}"
            )
        if self.max_steps <= 0 and not self.epochs > 0:
            problems.append("epochs must be > 0 (or max_steps > 0)")
        if not self.learning_rate > 0:
            problems.append("learning_rate must be > 0")
        for name in ("batch_size", "gradient_accumulation", "tiny_layers", "tiny_hidden", "tiny_heads"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.max_length < 8:
            problems.append("max_length must be >= 8")
        if self.tiny_vocab < 300:
            problems.append("tiny_vocab must be >= 300 (256 bytes + special tokens + merges)")
        if self.tiny_heads >= 1 and self.tiny_hidden % self.tiny_heads:
            problems.append("tiny_hidden must be a multiple of tiny_heads")
        if problems:
            raise InputError("bad training config: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What :func:`train_student` did: the student, the effective config, metrics, files written."""

    student: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


class StudentError(InputError):
    """The student is not a model this step can load. Exit code 2."""


class TrainingEnvironmentError(ProvenanceError):
    """Training cannot run here: a missing package or too little disk. Exit code 3."""

    exit_code = 3


# ---- prompts --------------------------------------------------------------------------------------


def _conversation(record: TrainRecord) -> list[dict[str, str]]:
    """The record as chat messages; an instruction triple becomes one user and one assistant turn."""
    if record.messages:
        return [
            {"role": str(m.get("role", "")), "content": str(m.get("content") or "")} for m in record.messages
        ]
    user = "\n\n".join(part for part in (record.instruction, record.input) if part)
    messages = [{"role": "user", "content": user}]
    if record.output is not None:
        messages.append({"role": "assistant", "content": record.output})
    return messages


def _last_assistant(messages: Sequence[dict[str, str]]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "assistant":
            return index
    return None


def has_response(record: TrainRecord) -> bool:
    """Whether the record has something to train on: an output, or an assistant message."""
    if record.messages:
        return _last_assistant(_conversation(record)) is not None
    return record.output is not None


def _alpaca_fields(record: TrainRecord) -> tuple[str, str, str]:
    """(instruction, input, output); a chat's last user turn is the instruction, earlier turns the input."""
    if not record.messages:
        return record.instruction or "", record.input or "", record.output or ""
    messages = _conversation(record)
    last = _last_assistant(messages)
    if last is None:
        raise InputError(f"example {record.example_id} has no assistant message to train on")
    before = messages[:last]
    users = [i for i, m in enumerate(before) if m["role"] == "user"]
    if not users:
        context = "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in before)
        return context, "", messages[last]["content"]
    user = users[-1]
    context = "\n".join(
        f"{m['role'].capitalize()}: {m['content']}" for i, m in enumerate(before) if i != user
    )
    return before[user]["content"], context, messages[last]["content"]


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The Stanford Alpaca prompt, up to and including ``### Response:\\n``."""
    if input:
        return (
            f"{_ALPACA_HEAD}{_ALPACA_WITH_INPUT}{_ALPACA_TAIL}"
            f"### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
        )
    return f"{_ALPACA_HEAD}{_ALPACA_TAIL}### Instruction:\n{instruction}\n\n### Response:\n"


def _has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def resolve_prompt_format(tokenizer: Any, prompt_format: str) -> str:
    """``alpaca`` or ``chat``: ``auto`` is chat when the tokenizer has a chat template."""
    if prompt_format == "auto":
        return "chat" if _has_chat_template(tokenizer) else "alpaca"
    if prompt_format not in ("alpaca", "chat"):
        raise InputError(f"prompt format must be alpaca, chat or auto, not {prompt_format!r}")
    if prompt_format == "chat" and not _has_chat_template(tokenizer):
        raise InputError(
            "prompt format chat needs a tokenizer with a chat template; this one has none (use alpaca)"
        )
    return prompt_format


def format_record(record: TrainRecord, tokenizer: Any, prompt_format: str) -> tuple[str, str]:
    """(prompt, response) text of a record; the response ends with the tokenizer's eos token."""
    prompt_format = resolve_prompt_format(tokenizer, prompt_format)
    eos = tokenizer.eos_token
    if eos is None:
        raise InputError("the tokenizer has no end-of-sequence token")
    if not has_response(record):
        raise InputError(f"example {record.example_id} has no output to train on")
    if prompt_format == "alpaca":
        instruction, context, output = _alpaca_fields(record)
        return alpaca_prompt(instruction, context), output + eos
    messages = _conversation(record)
    last = _last_assistant(messages)
    assert last is not None  # has_response said so
    prompt = tokenizer.apply_chat_template(messages[:last], tokenize=False, add_generation_prompt=True)
    return str(prompt), messages[last]["content"] + eos


def tokenize_record(
    record: TrainRecord, tokenizer: Any, prompt_format: str, max_length: int
) -> dict[str, list[int]]:
    """input_ids, attention_mask and labels (-100 on every prompt token), cut to ``max_length``.

    The prompt and the response are tokenized apart, so the mask falls exactly on the boundary. When
    the cut removes the whole response, no label is left (every label is -100): the caller skips it.
    """
    prompt, response = format_record(record, tokenizer, prompt_format)
    if resolve_prompt_format(tokenizer, prompt_format) == "chat":
        prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])  # the template has them
    else:
        prompt_ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        eos_id = tokenizer.eos_token_id
        if (
            prompt_ids
            and prompt_ids[-1] == eos_id
            and len(prompt_ids) > 1
            and eos_id != tokenizer.bos_token_id
        ):
            prompt_ids = prompt_ids[:-1]  # a tokenizer that closes every text with eos
    eos = tokenizer.eos_token
    body = response[: -len(eos)] if response.endswith(eos) else response
    response_ids = [*tokenizer(body, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    input_ids = (prompt_ids + response_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[:max_length]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


# ---- environment ----------------------------------------------------------------------------------


def check_installed(*, tiny: bool = False) -> None:
    """Raise :class:`TrainingEnvironmentError` naming what to install when a training package is missing."""
    needed = ["torch", "transformers", "accelerate"] + (["tokenizers"] if tiny else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise TrainingEnvironmentError(
            f"training needs {', '.join(missing)}, not installed here ({INSTALL_HINT})"
        )


def check_disk(out_dir: Path, parameters: int) -> None:
    """Raise :class:`TrainingEnvironmentError` when ``out_dir`` has under 3x the fp32 weights + 50 MB free."""
    needed = 3 * 4 * int(parameters) + _DISK_MARGIN
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise TrainingEnvironmentError(
            f"{out_dir}: not enough free disk to save the student: {needed:,} bytes needed "
            f"(3x the fp32 weights of {parameters:,} parameters + 50 MB), {free:,} bytes free"
        )


def _offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' progress bars and warnings off (the caller draws progress), restored afterwards."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if enabled:
            hf_logging.enable_progress_bar()


# ---- students -------------------------------------------------------------------------------------


def _record_texts(records: Sequence[TrainRecord]) -> Iterator[str]:
    yield alpaca_prompt("instruction", "input") + alpaca_prompt("instruction")
    for record in records:
        if record.messages:
            yield from (str(m.get("content") or "") for m in record.messages)
        else:
            yield from (t for t in (record.instruction, record.input, record.output) if t)


def _tiny_student(records: Sequence[TrainRecord], config: TrainConfig) -> tuple[Any, Any]:
    """A byte-level BPE tokenizer trained on the records, and a random GPT-2 of the config's sizes."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.tiny_vocab,
        special_tokens=[TINY_EOS, TINY_PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable, seen or not
        show_progress=False,
    )
    backend.train_from_iterator(_record_texts(records), trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=TINY_EOS,
        bos_token=TINY_EOS,
        pad_token=TINY_PAD,
        model_max_length=config.max_length,
    )
    gpt2 = transformers.GPT2Config(
        n_layer=config.tiny_layers,
        n_embd=config.tiny_hidden,
        n_head=config.tiny_heads,
        vocab_size=len(tokenizer),
        n_positions=config.max_length,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    return tokenizer, transformers.GPT2LMHeadModel(gpt2)


def _base_model(directory: Path) -> str:
    """``_name_or_path`` of config.json when it names a hub id, else the directory's name."""
    try:
        named = json.loads((directory / "config.json").read_text("utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        named = None
    if isinstance(named, str) and _HUB_ID.match(named) and not Path(named).exists():
        return named
    return directory.name


def _student_dir(student: str) -> Path | None:
    """The checkpoint directory, None for a hub id; :class:`StudentError` for anything else."""
    path = Path(student).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise StudentError(
                f"has no config.json, so it is not a model directory; {_EXPECTED}", path=student
            )
        if not any(p.is_file() for pattern in _WEIGHTS for p in path.glob(pattern)):
            raise StudentError(f"has no weight files (*.safetensors, *.bin); {_EXPECTED}", path=student)
        return path.resolve()
    if path.exists():
        raise StudentError(f"is a file, not a model directory; {_EXPECTED}", path=student)
    if not _HUB_ID.match(student):
        raise StudentError(f"no such model directory; {_EXPECTED}", path=student)
    if _offline():
        raise StudentError(
            f"is not a local directory, and the Hugging Face hub is unreachable offline (HF_HUB_OFFLINE=1); "
            f"{_EXPECTED}",
            path=student,
        )
    return None


def student_identity(student: str) -> str:
    """The model id the licence policy judges for ``--student``: ``tiny``, a hub id, or for a local
    checkpoint the hub id its config.json names (else its folder name). Checks the student first:
    a path that is not a model is a :class:`StudentError` before anything runs. (A checkpoint this
    ledger trained is recognised by its weights: :func:`audits.gated.train_through_gate`.)"""
    if student == "tiny":
        return "tiny"
    directory = _student_dir(student)
    return student if directory is None else _base_model(directory)


def _pretrained_student(student: str) -> tuple[Any, Any, dict[str, Any]]:
    """Tokenizer, model and the student's description, from a local directory or (online) the hub."""
    import transformers

    directory = _student_dir(student)
    source = str(directory) if directory is not None else student
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=directory is not None)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source, local_files_only=directory is not None
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if directory is None:
            raise StudentError(
                f"cannot be loaded from the Hugging Face hub ({exc}); {_EXPECTED}, "
                "and the hub is unreachable offline",
                path=student,
            ) from exc
        raise StudentError(
            f"transformers cannot load it as a causal language model with a tokenizer: {exc}; {_EXPECTED}",
            path=student,
        ) from exc
    if tokenizer.eos_token is None:
        raise StudentError("its tokenizer has no end-of-sequence token to end responses with", path=student)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model = model.float()  # train in fp32 whatever the checkpoint's dtype
    if directory is not None:
        info = {
            "kind": "checkpoint",
            "name": directory.name,
            "path": str(directory),
            "base_model": _base_model(directory),
        }
    else:
        info = {"kind": "hub", "name": student, "path": None, "base_model": student}
    return tokenizer, model, info


def _max_positions(model: Any) -> int | None:
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


# ---- training -------------------------------------------------------------------------------------


class _Collator:
    """Right-pad a batch: input_ids with the pad id, attention_mask with 0, labels with -100."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            pad = width - len(f["input_ids"])
            batch["input_ids"].append(f["input_ids"] + [self.pad_token_id] * pad)
            batch["attention_mask"].append(f["attention_mask"] + [0] * pad)
            batch["labels"].append(f["labels"] + [IGNORE_INDEX] * pad)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}


def _callback(progress: Callable[[int, int], None] | None, losses: list[float]) -> Any:
    """A TrainerCallback that collects each step's loss and reports progress."""
    import transformers

    class Collect(transformers.TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(0, state.max_steps)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(state.global_step, state.max_steps)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs and "train_loss" not in logs:
                losses.append(float(logs["loss"]))

    return Collect()


def _load_student(
    records: Sequence[TrainRecord], student: str, config: TrainConfig
) -> tuple[Any, Any, dict[str, Any]]:
    """Tokenizer, model and the student's description (with its architecture and size)."""
    if student == "tiny":
        tokenizer, model = _tiny_student(records, config)
        info: dict[str, Any] = {"kind": "tiny", "name": "tiny", "path": None, "base_model": None}
    else:
        tokenizer, model, info = _pretrained_student(student)
    parameters = sum(p.numel() for p in model.parameters())
    info |= {"architecture": type(model).__name__, "parameters": int(parameters)}
    if student == "tiny":
        info["label"] = TINY_LABEL
    return tokenizer, model, info


@dataclass
class _Features:
    """The tokenized training set, and how many records were skipped and why."""

    dataset: list[dict[str, list[int]]]
    no_response: int = 0
    truncated: int = 0


def _tokenize_all(
    records: Sequence[TrainRecord], tokenizer: Any, prompt_format: str, max_length: int
) -> _Features:
    """Tokenize every record with a response; one whose response the cut removes is skipped."""
    features = _Features([])
    for record in records:
        if not has_response(record):
            features.no_response += 1
            continue
        tokenized = tokenize_record(record, tokenizer, prompt_format, max_length)
        if all(label == IGNORE_INDEX for label in tokenized["labels"]):
            features.truncated += 1
            continue
        features.dataset.append(tokenized)
    if not features.dataset:
        raise InputError(
            f"no examples to train on: {features.no_response} without an output, {features.truncated} "
            f"whose response does not fit in max_length {max_length}"
        )
    return features


def _fit(
    model: Any,
    tokenizer: Any,
    dataset: list[dict[str, list[int]]],
    config: TrainConfig,
    progress: Callable[[int, int], None] | None,
) -> tuple[Any, Any, str, list[float]]:
    """Train with transformers' Trainer; return its output, final state, device and each step's loss."""
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    losses: list[float] = []
    with tempfile.TemporaryDirectory(prefix="provenance-train-") as scratch:
        args = transformers.TrainingArguments(
            output_dir=scratch,
            num_train_epochs=config.epochs,
            max_steps=config.max_steps if config.max_steps > 0 else -1,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation,
            seed=config.seed,
            data_seed=config.seed,
            logging_strategy="steps",
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
            use_cpu=not cuda,
            remove_unused_columns=False,
            dataloader_pin_memory=cuda,
        )
        trainer = transformers.Trainer(
            model=model,
            args=args,
            train_dataset=dataset,  # type: ignore[arg-type]  # a list is a map-style dataset
            data_collator=_Collator(tokenizer.pad_token_id),
            callbacks=[_callback(progress, losses)],
        )
        trainer.remove_callback(transformers.PrinterCallback)  # it prints every log line to stdout
        output = trainer.train()
        state = trainer.state
    return output, state, str(args.device), losses


def _metrics(output: Any, state: Any, losses: list[float], features: _Features) -> dict[str, Any]:
    """Losses, steps, sizes and speed of a finished training."""
    run = output.metrics
    dataset = features.dataset
    return {
        "train_loss": float(output.training_loss),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "losses": losses,
        "steps": int(state.global_step),
        "epochs": float(state.epoch or 0.0),
        "examples": len(dataset),
        "skipped": features.no_response + features.truncated,
        "skipped_no_output": features.no_response,
        "skipped_truncated": features.truncated,
        "tokens": sum(len(f["input_ids"]) for f in dataset),
        "response_tokens": sum(sum(1 for label in f["labels"] if label != IGNORE_INDEX) for f in dataset),
        "train_runtime_s": float(run.get("train_runtime", 0.0)),
        "samples_per_second": float(run.get("train_samples_per_second", 0.0)),
    }


def train_student(
    records: Sequence[TrainRecord],
    student: str,
    out_dir: Path,
    config: TrainConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Fine-tune ``student`` (``tiny`` or a checkpoint) on ``records``; save it into the empty ``out_dir``."""
    started = time.perf_counter()
    if not records:
        raise InputError("no examples to train on")
    check_installed(tiny=student == "tiny")
    try:
        import accelerate
        import torch
        import transformers
    except ImportError as exc:
        raise TrainingEnvironmentError(f"cannot import {exc.name or exc}: {exc} ({INSTALL_HINT})") from exc
    out_dir = Path(out_dir)

    with _quiet_transformers():
        transformers.set_seed(config.seed)
        tokenizer, model, info = _load_student(records, student, config)
        prompt_format = resolve_prompt_format(tokenizer, config.prompt_format)
        max_length = config.max_length
        positions = _max_positions(model)
        if positions is not None:
            max_length = min(max_length, positions)
        features = _tokenize_all(records, tokenizer, prompt_format, max_length)
        check_disk(out_dir, info["parameters"])
        output, state, device, losses = _fit(model, tokenizer, features.dataset, config, progress)
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)

    metrics = _metrics(output, state, losses, features)
    effective = config.as_dict() | {
        "prompt_format": prompt_format,
        "prompt_format_requested": config.prompt_format,
        "max_length": max_length,
        "max_length_requested": config.max_length,
        "device": device,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
    }
    (out_dir / "training_config.json").write_text(
        json.dumps({"student": info, "config": effective, "metrics": metrics}, indent=2, sort_keys=True)
        + "\n",
        "utf-8",
    )
    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    return TrainResult(info, effective, metrics, files, time.perf_counter() - started)
