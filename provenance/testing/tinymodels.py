"""Random-weight detoxify checkpoints for tests and benchmarks, built offline in well under a second.

:func:`build_detoxify_checkpoint` writes what the detoxify release files are (a ``torch.save`` of
``{"config": <training config>, "state_dict": <model state dict>}``, the format upstream's
``convert_weights.py`` writes and ``detoxify.load_checkpoint`` reads) and a Hugging Face config
directory (``config.json`` and a tokenizer trained here with the ``tokenizers`` library), so that
both :class:`policies.detox.DetoxifyScorer` and upstream ``Detoxify`` load them without a network.

:func:`upstream_detoxify` builds upstream's own ``Detoxify`` object from such a pair, offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Classes as the released checkpoints name them (config["dataset"]["args"]).
_ORIGINAL_CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
_STANDARD_CLASSES = ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]
_BIAS_CLASSES = [
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
]
_IDENTITY_CLASSES = [
    "male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim", "black", "white",
    "psychiatric_or_mental_illness",
]  # fmt: skip

#: model type -> (arch type, base model, model class, tokenizer class, dataset type, classes,
#: identity classes)
_KINDS: dict[str, tuple[str, str, str, str, str, list[str], list[str] | None]] = {
    "original": ("BERT", "bert-base-uncased", "BertForSequenceClassification", "BertTokenizer",
                 "JigsawDataOriginal", _ORIGINAL_CLASSES, None),
    "unbiased": ("ROBERTA", "roberta-base", "RobertaForSequenceClassification", "RobertaTokenizer",
                 "JigsawDataBias", _BIAS_CLASSES, _IDENTITY_CLASSES),
    "multilingual": ("XLMRoberta", "xlm-roberta-base", "XLMRobertaForSequenceClassification",
                     "XLMRobertaTokenizer", "JigsawDataBias", _BIAS_CLASSES, _IDENTITY_CLASSES),
    "original-small": ("ALBERT", "albert-base-v2", "AlbertForSequenceClassification", "AlbertTokenizer",
                       "JigsawDataOriginal", _STANDARD_CLASSES, None),
    "unbiased-small": ("ALBERT", "albert-base-v2", "AlbertForSequenceClassification", "AlbertTokenizer",
                       "JigsawDataBias", _BIAS_CLASSES, _IDENTITY_CLASSES),
}  # fmt: skip

#: size -> hidden, layers, heads, intermediate, vocabulary size of the model
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (32, 2, 2, 64, 0),  # vocabulary: whatever the tokenizer learned
    "base": (768, 12, 12, 3072, 30522),  # bert-base-uncased
}

#: A small default corpus: English, code, right-to-left and CJK text, so every script has pieces.
CORPUS = [
    "You are a wonderful person and I appreciate your help with this project.",
    "This is the stupidest idea I have ever heard, you idiot.",
    "Write a function that returns the sum of two numbers.",
    "def add(a, b):\n    return a + b",
    "The quick brown fox jumps over the lazy dog. 1234567890 !?.,;:'\"()[]{}<>@#$%^&*-_=+/\\|~`",
    "Summarise the following article in three sentences, keeping the main argument.",
    "I will find you and hurt you.",
    "Go back to where you came from.",
    "مرحبا بالعالم، هذا نص باللغة العربية.",
    "שלום עולם, זה טקסט בעברית.",
    "你好\uff0c世界。这是一个中文句子。",
    "こんにちは世界、これは日本語の文です。",
    "Привет, мир! Это предложение на русском языке.",
    "Bonjour le monde, ceci est une phrase française avec des accents: é è ê à ç.",
    "Ελληνικά κείμενα και emoji 🙂🔥 mixed with English words.",
]


def _train_tokenizer(tokenizer_name: str, corpus: Sequence[str], vocab_size: int) -> Any:
    """A transformers tokenizer of class ``tokenizer_name`` whose vocabulary is trained on ``corpus``."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    cls = getattr(transformers, tokenizer_name)
    template = cls()  # the class's own normaliser and pre-tokeniser, with a placeholder vocabulary
    backend = template.backend_tokenizer
    if tokenizer_name == "BertTokenizer":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        trainer: Any = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=specials, show_progress=False
        )
    elif tokenizer_name == "RobertaTokenizer":
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif tokenizer_name in ("XLMRobertaTokenizer", "AlbertTokenizer"):
        specials = (
            ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
            if tokenizer_name == "XLMRobertaTokenizer"
            else ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
        )
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>", show_progress=False
        )
    else:
        raise ValueError(f"no tiny tokenizer for {tokenizer_name}")
    if backend.normalizer is not None:
        tok.normalizer = backend.normalizer
    tok.pre_tokenizer = backend.pre_tokenizer
    tok.train_from_iterator(list(corpus), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    if tokenizer_name == "BertTokenizer":
        return cls(vocab=model["vocab"], model_max_length=512)
    if tokenizer_name == "RobertaTokenizer":
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        return cls(vocab=model["vocab"], merges=merges, model_max_length=512)
    return cls(vocab=[tuple(p) for p in model["vocab"]], model_max_length=512)


def _model_config(model_name: str, size: str, vocab_size: int, num_labels: int) -> Any:
    """The Hugging Face config of ``model_name`` at ``size``."""
    import transformers

    hidden, layers, heads, intermediate, base_vocab = SIZES[size]
    config_class = getattr(transformers, model_name).config_class
    kwargs: dict[str, Any] = {
        "vocab_size": max(vocab_size, base_vocab),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "num_labels": num_labels,
        "max_position_embeddings": 512,
        # wide random weights, so that scores spread over (0, 1) and differ from text to text
        "initializer_range": 0.2 if size == "tiny" else 0.05,
    }
    if model_name.startswith(("Roberta", "XLMRoberta")):
        kwargs |= {"max_position_embeddings": 514, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
                   "type_vocab_size": 1}  # fmt: skip
    if model_name.startswith("Albert"):
        kwargs |= {"embedding_size": 16 if size == "tiny" else 128, "pad_token_id": 0}
    return config_class(**kwargs)


def build_detoxify_checkpoint(
    directory: Path, model_type: str = "original", *, size: str = "tiny", corpus: Sequence[str] | None = None
) -> tuple[Path, Path]:
    """Write a random-weight detoxify checkpoint and its HF config directory under ``directory``.

    Returns ``(checkpoint, config_dir)``: ``directory/<release-like name>.ckpt`` and ``directory/config``.
    The weights depend only on ``model_type``, ``size`` and the tokenizer (``torch.manual_seed(0)``).
    """
    import torch
    import transformers

    arch, base, model_name, tokenizer_name, dataset, classes, identity = _KINDS[model_type]
    num_labels = len(classes) + len(identity or [])
    directory = Path(directory)
    config_dir = directory / "config"
    config_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = _train_tokenizer(tokenizer_name, corpus or CORPUS, 30522 if size == "base" else 2000)
    tokenizer.save_pretrained(config_dir)
    config = _model_config(model_name, size, len(tokenizer), num_labels)
    config.save_pretrained(config_dir)

    torch.manual_seed(0)
    model = getattr(transformers, model_name)(config).eval()
    dataset_args: dict[str, Any] = {
        "train_csv_file": "jigsaw_data/train.csv",
        "test_csv_file": "jigsaw_data/test.csv",
        "add_test_labels": False,
        "classes": list(classes),
    }
    if identity:
        dataset_args["identity_classes"] = list(identity)
    training_config = {
        "name": f"Jigsaw_{arch}",
        "n_gpu": 1,
        "batch_size": 10,
        "accumulate_grad_batches": 3,
        "loss": "binary_cross_entropy",
        "arch": {
            "type": arch,
            "args": {
                "num_classes": num_labels,
                "model_type": base,
                "model_name": model_name,
                "tokenizer_name": tokenizer_name,
            },
        },
        "dataset": {"type": dataset, "args": dataset_args},
        "optimizer": {"type": "Adam", "args": {"lr": 3e-5, "weight_decay": 3e-6, "amsgrad": True}},
    }
    checkpoint = directory / f"tiny_{model_type}-{size}.ckpt"
    torch.save({"state_dict": model.state_dict(), "config": training_config}, checkpoint)
    return checkpoint, config_dir


@contextmanager
def _local_base_model(config_dir: Path) -> Iterator[None]:
    """Point upstream's base-model lookup at ``config_dir`` (upstream bug unitaryai/detoxify#126)."""
    from unittest import mock

    import detoxify.detoxify as upstream

    original = upstream.get_model_and_tokenizer

    def local(model_type: str, *args: Any, **kwargs: Any) -> Any:
        return original(str(config_dir), *args, **kwargs)

    with mock.patch.object(upstream, "get_model_and_tokenizer", local):
        yield


def upstream_detoxify(checkpoint: Path, config_dir: Path, device: str = "cpu") -> Any:
    """Upstream's ``Detoxify(checkpoint=..., huggingface_config_path=...)``, loaded offline.

    Everything is upstream's code (``torch.load``, class renaming, model and tokenizer loading with
    ``huggingface_config_path``, ``predict``) except one argument: ``get_model_and_tokenizer``
    receives ``config_dir`` instead of the hub name ``bert-base-uncased``, which upstream asks the
    Hugging Face hub for even when ``huggingface_config_path`` is given.
    """
    from detoxify import Detoxify

    with _local_base_model(config_dir):
        return Detoxify(checkpoint=str(checkpoint), device=device, huggingface_config_path=str(config_dir))
