"""policies.detox: offline detoxify scoring, equal to upstream Detoxify.predict on the same checkpoint.

Upstream is loaded with its own code (``Detoxify(checkpoint=..., huggingface_config_path=...)``),
offline: provenance.testing.tinymodels.upstream_detoxify redirects only the hub name that upstream's
``get_model_and_tokenizer`` asks the hub for (unitaryai/detoxify#126) to the local config dir.
Checkpoints are random-weight, tiny, in detoxify's release format (provenance/testing/tinymodels.py).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import hashlib
import json
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from policies.detox import (  # noqa: E402
    MODEL_TYPES,
    DetoxifyCheckpointError,
    DetoxifyMissing,
    DetoxifyScorer,
    locate,
)
from provenance.testing.tinymodels import build_detoxify_checkpoint, upstream_detoxify  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_LABELS = ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]
UNBIASED_LABELS = [
    "toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat", "sexual_explicit",
    "male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim", "black", "white",
    "psychiatric_or_mental_illness",
]  # fmt: skip

_rng = random.Random(0)
BINARY = bytes(_rng.randrange(256) for _ in range(3000)).decode("latin-1")
LONG = " ".join(
    _rng.choice(["you", "are", "a", "wonderful", "idiot", "person", "code", "42"]) for _ in range(3000)
)
TEXTS = [
    "You are a wonderful person.",
    "This is the stupidest idea I have ever heard, you idiot.",
    "",
    "You are a wonderful person.",  # duplicate
    LONG,  # > 512 tokens: truncated
    "مرحبا بالعالم، هذا نص باللغة العربية.",  # right to left
    "שלום עולם, זה טקסט בעברית.",
    "Mixed: hello مرحبا 你好 Привет שלום 🙂 and ١٢٣ numbers",  # mixed script
    BINARY,  # binary-looking, control characters
    "   \n\t  ",
    "def add(a, b):\n    return a + b",
    "",  # duplicate of the empty text
    "\x00" * 20000 + " " + LONG,  # long run that yields no tokens before the words
    "This is the stupidest idea I have ever heard, you idiot.",
]
HUGE = ("word " * 200_000)[:1_000_000]  # 1 MB
HUGE_NO_SPACE = "x" * 1_000_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """One tiny checkpoint and config dir per model type."""
    root = tmp_path_factory.mktemp("detoxify")
    return {
        model_type: build_detoxify_checkpoint(root / model_type, model_type) for model_type in MODEL_TYPES
    }


@pytest.fixture(scope="module")
def scorer(built: dict[str, tuple[Path, Path]]) -> DetoxifyScorer:
    """The 'original' scorer."""
    return DetoxifyScorer(*built["original"])


def upstream_scores(checkpoint: Path, config_dir: Path, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Upstream Detoxify.predict's class names and scores, one row per text."""
    upstream = upstream_detoxify(checkpoint, config_dir)
    result = upstream.predict(texts)
    return upstream.class_names, np.array([np.atleast_1d(result[c]) for c in upstream.class_names]).T


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_scores_equal_upstream(built: dict[str, tuple[Path, Path]], model_type: str) -> None:
    checkpoint, config_dir = built[model_type]
    texts = [*TEXTS, HUGE] if model_type == "original" else TEXTS
    ours = DetoxifyScorer(checkpoint, config_dir, batch_size=4).predict(texts)
    names, theirs = upstream_scores(checkpoint, config_dir, texts)
    assert ours.dtype == np.float32
    assert ours.shape == (len(texts), 6 if model_type.startswith("original") else 16)
    np.testing.assert_allclose(ours[:, : len(names)], theirs, atol=1e-5, rtol=0)
    assert np.ptp(theirs[:, 0]) > 0.01  # the check means something: scores differ from text to text


def test_labels_named_as_detoxify(built: dict[str, tuple[Path, Path]], scorer: DetoxifyScorer) -> None:
    assert scorer.labels == ORIGINAL_LABELS
    names, _ = upstream_scores(*built["original"], ["x"])
    assert names == ORIGINAL_LABELS
    unbiased = DetoxifyScorer(*built["unbiased"])
    assert unbiased.labels == UNBIASED_LABELS
    assert unbiased.identity["num_labels"] == 16 and unbiased.identity["model_type"] == "unbiased"


def test_input_order_duplicates_and_batching(
    built: dict[str, tuple[Path, Path]], scorer: DetoxifyScorer
) -> None:
    scores = scorer.predict(TEXTS)
    assert np.array_equal(scores[0], scores[3]) and np.array_equal(scores[2], scores[11])
    np.testing.assert_allclose(scorer.predict(TEXTS[::-1]), scores[::-1], atol=1e-6, rtol=0)
    for other in (
        DetoxifyScorer(*built["original"], batch_size=1),
        DetoxifyScorer(*built["original"], batch_size=64, max_tokens=300),
    ):
        np.testing.assert_allclose(other.predict(TEXTS), scores, atol=1e-5, rtol=0)
    alone = np.stack([scorer.predict([t])[0] for t in TEXTS[:6]])
    np.testing.assert_allclose(alone, scores[:6], atol=1e-5, rtol=0)
    assert scorer.predict([]).shape == (0, 6)
    with pytest.raises(TypeError):
        scorer.predict(["fine", None])  # type: ignore[list-item]


def test_huge_and_odd_texts(scorer: DetoxifyScorer) -> None:
    scores = scorer.predict([HUGE, HUGE_NO_SPACE, "abc\udc80def", "abc\ufffddef"])
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[2], scores[3], atol=1e-6)  # lone surrogate scored as U+FFFD
    # a 1 MB text scores as its first 510 tokens do
    head = scorer.tokenizer.decode(scorer.tokenizer(HUGE, truncation=True)["input_ids"][1:-1])
    np.testing.assert_allclose(scores[0], scorer.predict([head])[0], atol=1e-5)


def test_offline(built: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    scorer = DetoxifyScorer(*built["unbiased"])
    assert scorer.predict(["hello"]).shape == (1, 16)


def test_missing_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVENANCE_DETOXIFY_DIR", str(tmp_path / "models"))
    with pytest.raises(DetoxifyMissing) as err:
        locate("original", None, None)
    message = str(err.value)
    assert str(tmp_path / "models" / "original") in message
    assert "toxic_original-c1212f89.ckpt" in message and "github.com/unitaryai/detoxify/releases" in message
    assert "config.json" in message and "`checkpoint:`" in message and "`config:`" in message
    assert "bert-base-uncased" in message

    missing = tmp_path / "nowhere" / "toxic.ckpt"
    with pytest.raises(DetoxifyMissing, match=r"toxic\.ckpt does not exist"):
        locate("unbiased", str(missing), None)
    with pytest.raises(DetoxifyMissing, match="unknown detoxify model type"):
        locate("nonsense", None, None)


def test_missing_config(built: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    checkpoint, _ = built["original"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DetoxifyMissing, match=r"has no config\.json") as err:
        locate("original", str(checkpoint), str(empty))
    assert str(empty) in str(err.value)


def test_default_layout(
    built: dict[str, tuple[Path, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint, config_dir = built["original"]
    home = tmp_path / "models" / "original"
    shutil.copytree(config_dir, home)
    shutil.copy(checkpoint, home / "toxic_original-c1212f89.ckpt")
    monkeypatch.setenv("PROVENANCE_DETOXIFY_DIR", str(tmp_path / "models"))
    assert locate("original", None, None) == (home / "toxic_original-c1212f89.ckpt", home)
    # a checkpoint given alone finds the config next to it
    assert locate("original", str(home / "toxic_original-c1212f89.ckpt"), None)[1] == home
    scorer = DetoxifyScorer.load("original")
    assert scorer.identity["model_type"] == "original"
    with pytest.raises(DetoxifyCheckpointError, match="not 'unbiased'"):
        DetoxifyScorer.load("unbiased", checkpoint=str(home))


def test_not_a_checkpoint(built: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    _, config_dir = built["original"]
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(DetoxifyCheckpointError, match="not a detoxify checkpoint") as err:
        DetoxifyScorer(text, config_dir)
    assert isinstance(err.value, ValueError) and str(text) in str(err.value)
    other = tmp_path / "weights.ckpt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(DetoxifyCheckpointError, match="'config' and 'state_dict'"):
        DetoxifyScorer(other, config_dir)
    torch.save({"config": {"arch": {}}, "state_dict": {}}, other)
    with pytest.raises(DetoxifyCheckpointError, match="config lacks"):
        DetoxifyScorer(other, config_dir)


def test_older_checkpoint_keys(
    built: dict[str, tuple[Path, Path]], scorer: DetoxifyScorer, tmp_path: Path
) -> None:
    """Checkpoints saved by older transformers: persistent position_ids, LayerNorm gamma/beta."""
    checkpoint, config_dir = built["original"]
    loaded = torch.load(checkpoint, weights_only=False)
    state = loaded["state_dict"]
    state["bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    state["bert.embeddings.LayerNorm.gamma"] = state.pop("bert.embeddings.LayerNorm.weight")
    state["bert.embeddings.LayerNorm.beta"] = state.pop("bert.embeddings.LayerNorm.bias")
    old = tmp_path / "old.ckpt"
    torch.save(loaded, old)
    np.testing.assert_allclose(DetoxifyScorer(old, config_dir).predict(TEXTS[:3]), scorer.predict(TEXTS[:3]))

    state["bert.extra.weight"] = torch.zeros(2)
    del state["classifier.bias"]
    torch.save(loaded, old)
    with pytest.raises(
        DetoxifyCheckpointError, match=r"missing \['classifier.bias'\], unexpected \['bert.extra"
    ):
        DetoxifyScorer(old, config_dir)


def test_config_that_does_not_fit(built: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    checkpoint, config_dir = built["original"]
    wrong = tmp_path / "wrong"
    shutil.copytree(config_dir, wrong)
    config = json.loads((wrong / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(16)}
    config["label2id"] = {f"LABEL_{i}": i for i in range(16)}
    (wrong / "config.json").write_text(json.dumps(config))
    with pytest.raises(DetoxifyCheckpointError, match=r"declares 16 labels but .* has 6"):
        DetoxifyScorer(checkpoint, wrong)
    with pytest.raises(DetoxifyCheckpointError, match="'roberta' config"):
        DetoxifyScorer(checkpoint, built["unbiased"][1])


def test_identity(built: dict[str, tuple[Path, Path]], scorer: DetoxifyScorer, tmp_path: Path) -> None:
    checkpoint, config_dir = built["original"]
    identity = scorer.identity
    assert json.loads(json.dumps(identity)) == identity
    assert identity["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert identity["model_type"] == "original" and identity["base_model"] == "bert-base-uncased"
    assert identity["num_labels"] == 6 and identity["labels"] == ORIGINAL_LABELS
    assert DetoxifyScorer(checkpoint, config_dir).identity == identity  # stable

    loaded = torch.load(checkpoint, weights_only=False)
    loaded["state_dict"]["classifier.bias"] = loaded["state_dict"]["classifier.bias"] + 1.0
    changed = tmp_path / "changed.ckpt"
    torch.save(loaded, changed)
    other = DetoxifyScorer(changed, config_dir)
    assert other.identity["checkpoint_sha256"] != identity["checkpoint_sha256"]
    assert other.identity["config_sha256"] == identity["config_sha256"]
    assert not np.allclose(other.predict(["hello"]), scorer.predict(["hello"]))

    edited = tmp_path / "config"
    shutil.copytree(config_dir, edited)
    tokenizer_config = json.loads((edited / "tokenizer_config.json").read_text())
    tokenizer_config["do_lower_case"] = False
    (edited / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    assert DetoxifyScorer(checkpoint, edited).identity["config_sha256"] != identity["config_sha256"]


def test_import_is_lazy() -> None:
    code = "import sys, policies.detox; sys.exit(bool({'torch', 'transformers'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
