"""The fine-tune step: prompt formats and loss masks, a tiny student end to end, checkpoints, errors."""

from __future__ import annotations

import json
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from audits.train import (
    IGNORE_INDEX,
    TINY_LABEL,
    StudentError,
    TrainConfig,
    TrainingEnvironmentError,
    TrainRecord,
    TrainResult,
    alpaca_prompt,
    check_disk,
    format_record,
    tokenize_record,
    train_student,
)
from provenance.core.errors import InputError

EOS, PAD = "<|endoftext|>", "<|pad|>"
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Red."},
    {"role": "user", "content": "Another one?"},
    {"role": "assistant", "content": "Blue, of course."},
]
FAST = TrainConfig(max_steps=20, learning_rate=3e-3, batch_size=8, max_length=128, seed=0)


def make_tokenizer(*, chat_template: str | None = None) -> Any:
    """A byte-level BPE tokenizer trained here, in milliseconds."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [alpaca_prompt("Add two numbers.", "3 and 4"), "The sum is 7.", "Name a colour. Red. Blue."]
    backend.train_from_iterator(corpus, trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=EOS, bos_token=EOS, pad_token=PAD
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def decode(tokenizer: Any, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def split(tokenizer: Any, features: dict[str, list[int]]) -> tuple[str, str]:
    """(prompt, response) text as the labels divide them; the labelled part must be one suffix."""
    labels, ids = features["labels"], features["input_ids"]
    assert len(labels) == len(ids) == len(features["attention_mask"])
    start = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    assert all(label == IGNORE_INDEX for label in labels[:start])
    assert labels[start:] == ids[start:]
    return decode(tokenizer, ids[:start]), decode(tokenizer, labels[start:])


def records(n: int = 40) -> list[TrainRecord]:
    """Generated examples: instruction triples, with and without input, and a few chats."""
    out = []
    for i in range(n):
        if i % 10 == 9:
            messages = [
                {"role": "user", "content": f"Count to {i % 5 + 2}."},
                {"role": "assistant", "content": " ".join(str(k) for k in range(1, i % 5 + 3))},
            ]
            out.append(TrainRecord(f"chat{i}", None, "", None, messages))
        elif i % 2:
            out.append(TrainRecord(f"ex{i}", f"Add {i} and {i + 1}.", "", f"The sum is {2 * i + 1}."))
        else:
            out.append(TrainRecord(f"ex{i}", "Repeat the word.", f"word{i % 7}", f"word{i % 7} word{i % 7}"))
    return out


# ---- prompts and masks ----------------------------------------------------------------------------


@pytest.mark.parametrize("context", ["", "3 and 4"])
def test_alpaca_masks_exactly_the_prompt(context: str) -> None:
    tokenizer = make_tokenizer()
    record = TrainRecord("a", "Add two numbers.", context, "The sum is 7.")
    prompt, response = format_record(record, tokenizer, "alpaca")
    assert response == "The sum is 7." + EOS
    assert prompt.startswith("Below is an instruction that describes a task")
    assert prompt.endswith(
        "### Instruction:\nAdd two numbers.\n\n"
        + (f"### Input:\n{context}\n\n" if context else "")
        + "### Response:\n"
    )
    assert ("paired with an input that provides further context" in prompt) == bool(context)
    features = tokenize_record(record, tokenizer, "alpaca", 512)
    assert split(tokenizer, features) == (prompt, "The sum is 7." + EOS)
    assert features["input_ids"][-1] == tokenizer.eos_token_id


def test_auto_is_alpaca_without_a_chat_template_and_chat_with_one() -> None:
    record = TrainRecord("a", "Add two numbers.", "", "7")
    assert format_record(record, make_tokenizer(), "auto")[0].startswith("Below is an instruction")
    assert format_record(record, make_tokenizer(chat_template=TEMPLATE), "auto")[0].startswith("<|user|>")
    with pytest.raises(InputError, match="chat template"):
        format_record(record, make_tokenizer(), "chat")


def test_chat_masks_everything_but_the_last_assistant_reply() -> None:
    tokenizer = make_tokenizer(chat_template=TEMPLATE)
    record = TrainRecord("c", None, "", None, CHAT)
    features = tokenize_record(record, tokenizer, "chat", 512)
    prompt, response = split(tokenizer, features)
    assert response == "Blue, of course." + EOS
    assert prompt == (
        "<|system|>\nBe brief.<|end|>\n<|user|>\nName a colour.<|end|>\n<|assistant|>\nRed.<|end|>\n"
        "<|user|>\nAnother one?<|end|>\n<|assistant|>\n"
    )


def test_chat_turns_an_instruction_into_one_user_message() -> None:
    tokenizer = make_tokenizer(chat_template=TEMPLATE)
    record = TrainRecord("a", "Add two numbers.", "3 and 4", "7")
    prompt, response = split(tokenizer, tokenize_record(record, tokenizer, "chat", 512))
    assert prompt == "<|user|>\nAdd two numbers.\n\n3 and 4<|end|>\n<|assistant|>\n"
    assert response == "7" + EOS


def test_alpaca_of_a_chat_takes_the_last_user_turn_as_instruction() -> None:
    prompt, response = format_record(TrainRecord("c", None, "", None, CHAT), make_tokenizer(), "alpaca")
    assert prompt == alpaca_prompt("Another one?", "System: Be brief.\nUser: Name a colour.\nAssistant: Red.")
    assert response == "Blue, of course." + EOS


def test_truncation_keeps_the_start_and_drops_what_does_not_fit() -> None:
    tokenizer = make_tokenizer()
    record = TrainRecord("a", "Add two numbers.", "3 and 4", "The sum is 7.")
    full = tokenize_record(record, tokenizer, "alpaca", 512)
    n_prompt = full["labels"].count(IGNORE_INDEX)
    cut = tokenize_record(record, tokenizer, "alpaca", n_prompt + 2)
    assert cut["input_ids"] == full["input_ids"][: n_prompt + 2]
    assert sum(label != IGNORE_INDEX for label in cut["labels"]) == 2
    gone = tokenize_record(record, tokenizer, "alpaca", n_prompt)
    assert all(label == IGNORE_INDEX for label in gone["labels"])


def test_bad_config_is_an_input_error() -> None:
    with pytest.raises(InputError, match="prompt_format"):
        TrainConfig(prompt_format="vicuna")
    with pytest.raises(InputError, match="multiple of tiny_heads"):
        TrainConfig(tiny_hidden=65, tiny_heads=2)


# ---- a tiny student, end to end -------------------------------------------------------------------


class Run:
    def __init__(self, result: TrainResult, out: Path, calls: list[tuple[int, int]], wall: float) -> None:
        self.result, self.out, self.calls, self.wall = result, out, calls, wall


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    data = records()
    data.append(TrainRecord("long", "word " * 400, "", "never seen"))  # the response does not fit
    data.append(TrainRecord("no-output", "Say something.", "", None))
    out = tmp_path_factory.mktemp("tiny-student")
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    result = train_student(data, "tiny", out, FAST, progress=lambda step, total: calls.append((step, total)))
    return Run(result, out, calls, time.perf_counter() - started)


def test_tiny_student_trains_end_to_end(tiny_run: Run) -> None:
    result, out = tiny_run.result, tiny_run.out
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "training_config.json",
    ):
        assert (out / name).is_file(), name
        assert name in result.files
    assert sorted(result.files) == sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert result.student["kind"] == "tiny"
    assert result.student["base_model"] is None
    assert result.student["label"] == TINY_LABEL
    assert result.student["architecture"] == "GPT2LMHeadModel"
    m = result.metrics
    assert m["steps"] == 20
    assert m["examples"] == 40
    assert (m["skipped"], m["skipped_truncated"], m["skipped_no_output"]) == (2, 1, 1)
    assert len(m["losses"]) == 20
    assert m["last_loss"] < m["first_loss"] - 1.0
    assert m["tokens"] > m["response_tokens"] > 0
    assert result.config["prompt_format"] == "alpaca"
    assert result.config["prompt_format_requested"] == "auto"
    assert result.config["device"] in ("cpu", "cuda", "cuda:0")
    assert result.config["torch"] and result.config["transformers"]
    assert tiny_run.calls[0] == (0, 20)
    assert tiny_run.calls[-1] == (20, 20)
    saved = json.loads((out / "training_config.json").read_text("utf-8"))
    assert saved["metrics"]["last_loss"] == m["last_loss"]
    assert saved["student"]["kind"] == "tiny"
    print(f"tiny end to end: {tiny_run.wall:.2f}s, {20 / m['train_runtime_s']:.1f} steps/s")


def test_tiny_student_reloads(tiny_run: Run) -> None:
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_run.out, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_run.out, local_files_only=True)
    assert sum(p.numel() for p in model.parameters()) == tiny_run.result.student["parameters"]
    assert tokenizer.eos_token == EOS
    assert model.config.n_positions >= FAST.max_length
    encoded = tokenizer(alpaca_prompt("Add 3 and 4."), return_tensors="pt")
    with torch.inference_mode():
        logits = model(**encoded).logits
    assert logits.shape[-1] == model.config.vocab_size


def test_same_seed_same_losses(tiny_run: Run, tmp_path: Path) -> None:
    data = records()
    data.append(TrainRecord("long", "word " * 400, "", "never seen"))
    data.append(TrainRecord("no-output", "Say something.", "", None))
    again = train_student(data, "tiny", tmp_path, FAST)
    first = tiny_run.result.metrics
    if again.config["device"] == "cpu":
        assert again.metrics["losses"] == first["losses"]
    else:  # CUDA's embedding backward adds atomically, in no fixed order
        assert again.metrics["losses"] == pytest.approx(first["losses"], rel=1e-4)
    assert again.metrics["last_loss"] == pytest.approx(first["last_loss"], rel=1e-4)


def test_checkpoint_student_is_fine_tuned(tiny_run: Run, tmp_path: Path) -> None:
    result = train_student(
        records(), str(tiny_run.out), tmp_path, TrainConfig(max_steps=5, learning_rate=1e-3)
    )
    assert result.student["kind"] == "checkpoint"
    assert result.student["path"] == str(tiny_run.out.resolve())
    assert result.student["base_model"] == tiny_run.out.name
    assert result.student["parameters"] == tiny_run.result.student["parameters"]
    assert "label" not in result.student
    assert result.metrics["steps"] == 5
    # it starts from the trained weights, not from scratch
    assert result.metrics["first_loss"] < tiny_run.result.metrics["first_loss"] - 1.0
    assert result.config["max_length"] == FAST.max_length  # clipped to the model's positions
    assert (tmp_path / "model.safetensors").is_file()


def test_base_model_is_the_hub_id_config_json_names(tiny_run: Run, tmp_path: Path) -> None:
    import shutil

    student = tmp_path / "student"
    shutil.copytree(tiny_run.out, student)
    config = json.loads((student / "config.json").read_text("utf-8"))
    (student / "config.json").write_text(json.dumps(config | {"_name_or_path": "openai-community/gpt2"}))
    out = tmp_path / "out"
    out.mkdir()
    result = train_student(records(8), str(student), out, TrainConfig(max_steps=1))
    assert result.student["base_model"] == "openai-community/gpt2"


# ---- errors ---------------------------------------------------------------------------------------


def test_zero_records_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no examples to train on"):
        train_student([], "tiny", tmp_path, FAST)


def test_records_without_output_are_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no examples to train on: 1 without an output"):
        train_student([TrainRecord("x", "Say something.", "", None)], "tiny", tmp_path, FAST)


@pytest.mark.parametrize("kind", ["missing", "empty-dir", "no-weights", "file"])
def test_a_student_that_is_not_a_model(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "student"
    if kind == "empty-dir":
        path.mkdir()
    elif kind == "no-weights":
        path.mkdir()
        (path / "config.json").write_text('{"model_type": "gpt2"}')
    elif kind == "file":
        path.write_text("not a model")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StudentError) as caught:
        train_student(records(4), str(path), out, FAST)
    assert str(path) in str(caught.value)
    assert "config.json" in str(caught.value)
    assert caught.value.exit_code == 2
    assert list(out.iterdir()) == []


def test_a_hub_id_offline_is_a_student_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StudentError, match="offline") as caught:
        train_student(records(4), "some-org/some-model", tmp_path, FAST)
    assert "some-org/some-model" in str(caught.value)
    assert "local checkpoint directory" in str(caught.value)
    assert caught.value.exit_code == 2


Usage = namedtuple("Usage", "total used free")


def test_check_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audits.train.shutil.disk_usage", lambda _: Usage(10**12, 0, 100 * 2**20))
    check_disk(tmp_path, 1_000_000)  # 12 MB + 50 MB < 100 MB
    with pytest.raises(TrainingEnvironmentError) as caught:
        check_disk(tmp_path, 10_000_000)  # 120 MB + 50 MB > 100 MB
    message = str(caught.value)
    assert str(tmp_path) in message
    assert f"{3 * 4 * 10_000_000 + 50 * 2**20:,}" in message
    assert f"{100 * 2**20:,}" in message
    assert caught.value.exit_code == 3


def test_training_checks_disk_before_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audits.train.shutil.disk_usage", lambda _: Usage(10**12, 0, 1024))
    with pytest.raises(TrainingEnvironmentError, match="not enough free disk"):
        train_student(records(4), "tiny", tmp_path, FAST)
    assert list(tmp_path.iterdir()) == []


def test_importing_the_module_is_cheap() -> None:
    import subprocess
    import sys

    heavy = "('torch', 'transformers', 'tokenizers', 'accelerate')"
    code = f"import sys, audits.train; print(sorted(m for m in {heavy} if m in sys.modules))"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
