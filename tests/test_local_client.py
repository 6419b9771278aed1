"""The journaled local teacher client, against a tiny GPT-2 built here, offline, in about a second."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from generators.clients import NotInJournal, TeacherError, TeacherRequest, TeacherRequestError, digest
from generators.journal import Journal
from generators.local_client import (
    LocalModelError,
    LocalTeacherUnavailable,
    TransformersClient,
    model_digest,
    plain_chat_prompt,
)
from provenance.core.errors import InputError
from provenance.core.ledger import Ledger

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Write a short poem about the sea and the sky.",
    "Name a colour: red, green, blue, yellow.",
    "def add(a, b):\n    return a + b",
    "Hello world! How are you today? I am fine, thank you.",
    "System: Be brief.\nUser: Name a colour.\nAssistant: Red.",
]
EOS, PAD = "<|endoftext|>", "<|pad|>"
PROMPTS = ["The quick", "Write a short poem about the sea", "Hi", "Name a colour: red, green,"]


class Tiny:
    """A tiny GPT-2 on disk, with the tokenizer and model loaded for reference generations."""

    def __init__(self, path: Path) -> None:
        import transformers

        self.path = path
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()

    def greedy(self, prompt: str, max_new_tokens: int) -> tuple[str, list[int]]:
        """HF's own greedy continuation of ``prompt``: its text and its new tokens (through EOS)."""
        import torch

        encoded = self.tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[0, encoded["input_ids"].shape[1] :].tolist()
        eos = self.tokenizer.eos_token_id
        if eos in new:
            new = new[: new.index(eos) + 1]
        return self.tokenizer.decode(new, skip_special_tokens=True), new


def build_tiny_gpt2(path: Path, *, seed: int = 0) -> Path:
    """Write a byte-level BPE tokenizer and a random 2-layer GPT-2 (safetensors) to ``path``."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=[EOS, PAD],
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=EOS, bos_token=EOS, pad_token=PAD
    )
    tokenizer.save_pretrained(path)
    config = transformers.GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=len(tokenizer),
        n_positions=256,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.3,  # wide weights: varied text, not one token repeated
    )
    torch.manual_seed(seed)
    transformers.GPT2LMHeadModel(config).save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    return Tiny(build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture
def journal(ledger: Ledger) -> Journal:
    with ledger.transaction():
        run_id = ledger.begin_run("generate", {"test": True})
    return Journal(ledger, run_id)


def fresh_journal(tmp_path: Path, name: str) -> Journal:
    ledger = Ledger.open(tmp_path / f"{name}.duckdb")
    with ledger.transaction():
        run_id = ledger.begin_run("generate", {"test": True})
    return Journal(ledger, run_id)


def row(journal: Journal, request_hash: str) -> dict[str, Any]:
    rows = journal.ledger.rows("SELECT * FROM teacher_calls WHERE request_hash = ?", [request_hash])
    assert len(rows) == 1
    return rows[0]


def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading or generating fail, so a test proves the journal answered."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model was loaded or run")

    monkeypatch.setattr(TransformersClient, "_load", refuse)
    monkeypatch.setattr(TransformersClient, "_run_batch", refuse)


def copy_model(tiny: Tiny, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(tiny.path, tmp_path / name))


# ---- generation and the journal -----------------------------------------------------------------


def test_completion_is_generated_journaled_and_then_answered_from_the_journal(
    tiny: Tiny, journal: Journal, monkeypatch: pytest.MonkeyPatch
):
    client = TransformersClient(tiny.path, journal=journal)
    assert client.model == tiny.path.name
    assert client.endpoint == f"local:{tiny.path.resolve()}"
    assert client.concurrency == 1

    reply = client.complete("The quick", max_tokens=12)
    expected_text, expected_tokens = tiny.greedy("The quick", 12)
    assert reply.ok and not reply.from_journal
    assert reply.text == expected_text
    assert reply.usage == {
        "prompt_tokens": len(tiny.tokenizer("The quick")["input_ids"]),
        "completion_tokens": len(expected_tokens),
        "total_tokens": len(tiny.tokenizer("The quick")["input_ids"]) + len(expected_tokens),
    }
    assert reply.system_fingerprint == f"local-{model_digest(tiny.path)[:12]}"

    stored = row(journal, reply.request_hash)
    assert stored["status"] == "ok" and stored["error"] is None and stored["latency_ms"] > 0
    assert stored["model"] == client.model and stored["endpoint"] == client.endpoint
    request = json.loads(stored["request"])
    assert request["body"]["model_digest"] == model_digest(tiny.path)
    assert request["body"]["max_tokens"] == 12 and request["body"]["prompt"] == "The quick"
    body = json.loads(stored["response"])
    assert body["object"] == "text_completion" and body["id"] == f"local-{reply.request_hash[:16]}"
    parsed = digest("completions", stored["response"])
    assert parsed.error is None and parsed.texts == (expected_text,)
    assert parsed.usage == reply.usage and json.loads(stored["usage"]) == reply.usage

    no_generation(monkeypatch)
    again = client.complete("The quick", max_tokens=12)
    assert again.from_journal and again.texts == reply.texts and again.usage == reply.usage
    other = TransformersClient(tiny.path, journal=journal)  # a new process, in effect
    assert other.complete("The quick", max_tokens=12).from_journal


def test_batched_greedy_equals_single_requests(tiny: Tiny, tmp_path: Path):
    singles = TransformersClient(tiny.path, journal=fresh_journal(tmp_path, "single"))
    alone = [singles.complete(p, max_tokens=10).text for p in PROMPTS]
    batched = TransformersClient(tiny.path, journal=fresh_journal(tmp_path, "batched"), batch_size=3)
    replies = batched.map([TeacherRequest.completion(p, max_tokens=10) for p in PROMPTS])
    assert [r.text for r in replies] == alone
    assert [r.text for r in replies] == [tiny.greedy(p, 10)[0] for p in PROMPTS]
    assert not any(r.from_journal for r in replies)


def test_identical_requests_in_one_map_are_generated_once(
    tiny: Tiny, journal: Journal, monkeypatch: pytest.MonkeyPatch
):
    client = TransformersClient(tiny.path, journal=journal)
    rows: list[int] = []
    original = TransformersClient._run_batch

    def spy(self: TransformersClient, tokenizer: Any, model: Any, settings: Any, batch: list) -> Any:
        rows.append(len(batch))
        return original(self, tokenizer, model, settings, batch)

    monkeypatch.setattr(TransformersClient, "_run_batch", spy)
    same = TeacherRequest.completion("Hi", max_tokens=5)
    replies = client.map([same, TeacherRequest.completion("The quick", max_tokens=5), same])
    assert rows == [2]
    assert replies[0].text == replies[2].text and replies[2].request_hash == replies[0].request_hash
    assert not replies[0].from_journal and replies[2].from_journal
    assert len(journal.calls()) == 2


def test_stop_strings_cut_the_text(tiny: Tiny, journal: Journal):
    client = TransformersClient(tiny.path, journal=journal)
    full = client.complete("Write a short poem", max_tokens=30).text
    stop = full[6:9]
    assert len(full) > 9 and stop.strip()
    reply = client.complete("Write a short poem", max_tokens=30, stop=stop)
    assert reply.text == full[: full.index(stop)] and reply.finish_reason == "stop"
    several = client.complete("Write a short poem", max_tokens=30, stop=["\x00never", stop])
    assert several.text == reply.text and several.finish_reason == "stop"
    assert several.usage["completion_tokens"] < 30


def test_max_tokens_gives_length(tiny: Tiny, journal: Journal):
    reply = TransformersClient(tiny.path, journal=journal).complete("Hi", max_tokens=4)
    assert reply.finish_reason == "length" and reply.usage["completion_tokens"] == 4


def test_end_of_sequence_gives_stop(tiny: Tiny, journal: Journal, tmp_path: Path):
    first = tiny.greedy("Hi", 1)[1][0]
    path = copy_model(tiny, tmp_path, "eos")
    config = json.loads((path / "generation_config.json").read_text())
    (path / "generation_config.json").write_text(json.dumps({**config, "eos_token_id": [first]}))
    assert model_digest(path) != model_digest(tiny.path)
    reply = TransformersClient(path, journal=journal).complete("Hi", max_tokens=8)
    assert reply.text == "" and reply.finish_reason == "stop" and reply.usage["completion_tokens"] == 1


def test_n_gives_n_choices_and_sampling_is_reproducible(tiny: Tiny, tmp_path: Path):
    def sample(name: str, requests: list[TeacherRequest]) -> list[tuple[str, ...]]:
        client = TransformersClient(tiny.path, journal=fresh_journal(tmp_path, name), batch_size=2)
        return [r.texts for r in client.map(requests)]

    wanted = TeacherRequest.completion("The quick", max_tokens=12, temperature=1.0, top_p=0.95, n=2)
    others = [TeacherRequest.completion(p, max_tokens=12, temperature=1.0, top_p=0.95, n=2) for p in PROMPTS]
    [first] = sample("a", [wanted])
    assert len(first) == 2 and first[0] != first[1]
    assert sample("b", [wanted]) == [first]
    assert sample("c", [*others, wanted])[-1] == first  # the same draws inside another batch
    reseeded = TeacherRequest.completion(
        "The quick", max_tokens=12, temperature=1.0, top_p=0.95, n=2, sample=1
    )
    assert sample("d", [reseeded]) != [first]

    greedy = TransformersClient(tiny.path, journal=fresh_journal(tmp_path, "e")).complete(
        "Hi", max_tokens=5, n=2
    )
    assert len(greedy.texts) == 2 and greedy.texts[0] == greedy.texts[1]
    assert greedy.usage["completion_tokens"] == 10


# ---- chat ---------------------------------------------------------------------------------------


def test_chat_without_a_template_uses_the_plain_format(tiny: Tiny, journal: Journal):
    assert not tiny.tokenizer.chat_template
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    prompt = plain_chat_prompt(messages)
    assert prompt == "System: Be brief.\nUser: Name a colour.\nAssistant:"
    client = TransformersClient(tiny.path, journal=journal, model_name="tiny-teacher")
    reply = client.chat(messages, max_tokens=8)
    assert reply.api == "chat" and reply.model == "tiny-teacher"
    assert reply.text == tiny.greedy(prompt, 8)[0]
    assert reply.usage["prompt_tokens"] == len(tiny.tokenizer(prompt)["input_ids"])
    body = json.loads(row(journal, reply.request_hash)["response"])
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": reply.text}


def test_chat_uses_the_tokenizer_chat_template(tiny: Tiny, journal: Journal, tmp_path: Path):
    import transformers

    path = copy_model(tiny, tmp_path, "templated")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    tokenizer.save_pretrained(path)
    assert model_digest(path) != model_digest(tiny.path)
    messages = [{"role": "user", "content": "Name a colour."}]
    reply = TransformersClient(path, journal=journal).chat(messages, max_tokens=6)
    rendered = "<user>Name a colour.\n<assistant>"
    assert reply.usage["prompt_tokens"] == len(tiny.tokenizer(rendered)["input_ids"])
    assert reply.text == tiny.greedy(rendered, 6)[0]


# ---- replay, errors and the checkpoint digest ---------------------------------------------------


def test_replay_with_an_empty_journal_raises_without_loading(
    tiny: Tiny, journal: Journal, monkeypatch: pytest.MonkeyPatch
):
    no_generation(monkeypatch)
    client = TransformersClient(tiny.path, journal=journal, replay=True)
    with pytest.raises(NotInJournal, match="run without --replay") as caught:
        client.complete("The quick", max_tokens=5)
    assert caught.value.exit_code == 2 and caught.value.request_hash
    assert journal.calls() == []


def test_replay_imports_neither_torch_nor_transformers(tiny: Tiny, db: Path):
    script = textwrap.dedent(
        f"""
        import sys
        from generators.clients import NotInJournal
        from generators.journal import Journal
        from generators.local_client import TransformersClient
        from provenance.core.ledger import Ledger

        with Ledger.open({str(db)!r}) as ledger:
            with ledger.transaction():
                run_id = ledger.begin_run("generate")
            client = TransformersClient({str(tiny.path)!r}, journal=Journal(ledger, run_id), replay=True)
            try:
                client.chat([{{"role": "user", "content": "Hi"}}])
            except NotInJournal:
                pass
            else:
                raise SystemExit("no NotInJournal")
        loaded = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        raise SystemExit(f"imported {{loaded}}" if loaded else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["missing", "file", "no-config", "no-weights"])
def test_a_bad_path_is_an_input_error(tiny: Tiny, journal: Journal, tmp_path: Path, kind: str):
    path = tmp_path / "model"
    if kind == "file":
        path.write_text("not a model")
    elif kind == "no-config":
        path.mkdir()
        shutil.copy(tiny.path / "model.safetensors", path)
    elif kind == "no-weights":
        path.mkdir()
        shutil.copy(tiny.path / "config.json", path)
    with pytest.raises(LocalModelError) as caught:
        TransformersClient(path, journal=journal)
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2
    assert str(path) in str(caught.value) and "pip install torch transformers" in str(caught.value)


def test_missing_torch_says_what_to_install(tiny: Tiny, journal: Journal, monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(LocalTeacherUnavailable, match=r"needs torch.*pip install torch transformers"):
        TransformersClient(tiny.path, journal=journal)
    assert TransformersClient(tiny.path, journal=journal, replay=True).replay  # replay needs neither


def test_a_changed_checkpoint_changes_the_request_hash(tiny: Tiny, journal: Journal, tmp_path: Path):
    changed = build_tiny_gpt2(tmp_path / "changed", seed=1)
    assert (changed / "config.json").read_bytes() == (tiny.path / "config.json").read_bytes()
    assert model_digest(changed) != model_digest(tiny.path)

    def request_hash(path: Path) -> str:
        client = TransformersClient(path, journal=journal, replay=True, model_name="same-name")
        with pytest.raises(NotInJournal) as caught:
            client.complete("The quick", max_tokens=5)
        assert caught.value.request_hash is not None
        return caught.value.request_hash

    assert request_hash(changed) != request_hash(tiny.path)
    assert request_hash(tiny.path) == request_hash(tiny.path)
    assert model_digest(copy_model(tiny, tmp_path, "copy")) == model_digest(tiny.path)


def test_a_prompt_too_long_for_the_model_is_journaled_as_an_error(tiny: Tiny, journal: Journal):
    client = TransformersClient(tiny.path, journal=journal)
    requests = [
        TeacherRequest.completion("Hi", max_tokens=3),
        TeacherRequest.completion("Hi", max_tokens=255),
    ]
    with pytest.raises(TeacherRequestError, match="256 positions") as caught:
        client.map(requests)
    stored = row(journal, caught.value.request_hash)
    assert stored["status"] == "error" and "256 positions" in stored["error"]
    ok, refused = client.map(requests, return_exceptions=True)
    assert ok.ok and ok.from_journal and isinstance(refused, TeacherRequestError)


def test_a_failed_generation_is_journaled_as_an_error(
    tiny: Tiny, journal: Journal, monkeypatch: pytest.MonkeyPatch
):
    client = TransformersClient(tiny.path, journal=journal)
    client.complete("Hi", max_tokens=3)  # loads the model
    monkeypatch.setattr(client._model, "generate", lambda **kwargs: 1 / 0)
    replies = client.map(
        [TeacherRequest.completion(p, max_tokens=3) for p in ("Hi", "The quick", "The quick")],
        return_exceptions=True,
    )
    assert replies[0].ok and replies[0].from_journal
    assert isinstance(replies[1], TeacherError) and replies[2] is replies[1]
    assert "ZeroDivisionError" in str(replies[1])
    stored = row(journal, replies[1].request_hash)
    assert stored["status"] == "error" and "ZeroDivisionError" in stored["error"]
    monkeypatch.undo()
    assert client.complete("The quick", max_tokens=3).ok  # an error row is generated again


def test_invalid_parameters_fail_before_anything_is_journaled(tiny: Tiny, journal: Journal):
    client = TransformersClient(tiny.path, journal=journal)
    for params in ({"n": 0}, {"max_tokens": -1}, {"temperature": -0.5}, {"top_p": 0}, {"stop": 3}):
        with pytest.raises(ValueError):
            client.complete("Hi", **params)
    assert journal.calls() == []
