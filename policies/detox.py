"""Toxicity scores from a detoxify checkpoint, offline and faster than ``Detoxify.predict``.

detoxify (unitaryai/detoxify) downloads its weights from GitHub unless given a checkpoint, and
even then asks the Hugging Face hub for the base model's config (unitaryai/detoxify#126). Here
the checkpoint (a release ``.ckpt``) and the base model's ``config.json`` and tokenizer files come
from local paths, and nothing touches the network. :class:`DetoxifyScorer` loads them once and
scores every label of the checkpoint; :meth:`DetoxifyScorer.predict` gives the scores
``Detoxify.predict`` gives (same tokenizer settings, same model) while scoring each distinct text
once, in batches of texts of similar length, under ``torch.inference_mode``.

Checkpoints are unpickled (``torch.load(weights_only=False)``: detoxify's format needs it), and
unpickling runs code: load only checkpoints you trust, such as the upstream release files.

torch and transformers are imported when a scorer is built, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy

RELEASES = "https://github.com/unitaryai/detoxify/releases"

#: model type -> the upstream checkpoint file name (under RELEASES/download/<tag>/).
MODEL_TYPES: dict[str, str] = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}
#: model type -> the release tag its checkpoint is attached to.
RELEASE_TAGS: dict[str, str] = {
    "original": "v0.1-alpha",
    "unbiased": "v0.3-alpha",
    "multilingual": "v0.4-alpha",
    "original-small": "v0.1.2",
    "unbiased-small": "v0.1.2",
}
#: model type -> the Hugging Face base model whose config.json and tokenizer files it needs.
BASE_MODELS: dict[str, str] = {
    "original": "bert-base-uncased",
    "unbiased": "roberta-base",
    "multilingual": "xlm-roberta-base",
    "original-small": "albert-base-v2",
    "unbiased-small": "albert-base-v2",
}
#: model type -> number of outputs (labels) of its checkpoint.
NUM_LABELS: dict[str, int] = {
    "original": 6,
    "unbiased": 16,
    "multilingual": 16,
    "original-small": 6,
    "unbiased-small": 16,
}
#: Longest input in tokens, special tokens included (what the base models were trained with).
MAX_LENGTH = 512
#: detoxify's standardised class names (``load_checkpoint``).
RENAMES = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}
#: Files of a config directory that the scores depend on.
CONFIG_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
TOKENIZER_FILES = CONFIG_FILES[1:]
#: Distinct texts tokenised, sorted and scored together; bounds memory for long inputs.
WINDOW = 8192
#: Padding (tokens) any text may get in a batch; more is allowed up to an eighth of the batch's width.
SLACK = 16


class DetoxifyMissing(Exception):
    """A detoxify checkpoint, or its base model's config and tokenizer files, is not where looked for."""


class DetoxifyCheckpointError(ValueError):
    """A file is not a detoxify checkpoint, or the checkpoint and the config directory do not fit together."""


def default_dir(model_type: str) -> Path:
    """``$PROVENANCE_DETOXIFY_DIR/<model_type>``, else ``~/.cache/provenance/detoxify/<model_type>``."""
    root = os.environ.get("PROVENANCE_DETOXIFY_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "provenance" / "detoxify"
    return base / model_type


def _how_to_provide(model_type: str, where: Path) -> str:
    """How to put the files for ``model_type`` in place."""
    name = MODEL_TYPES.get(model_type, "<model>.ckpt")
    tag = RELEASE_TAGS.get(model_type)
    url = f"{RELEASES}/download/{tag}/{name}" if tag else RELEASES
    base = BASE_MODELS.get(model_type, "the base model")
    labels = NUM_LABELS.get(model_type)
    label_note = f' with "num_labels": {labels}' if labels else ""
    return (
        f"To provide it, either put the checkpoint {name} (from {url}, see {RELEASES}) in {where}, "
        f"together with {base}'s config.json{label_note} and its tokenizer files (tokenizer.json or "
        f"vocab.txt / vocab.json + merges.txt / spiece.model, and tokenizer_config.json with "
        f'"model_max_length": {MAX_LENGTH}); or set PROVENANCE_DETOXIFY_DIR to a directory holding '
        f"{model_type}/ laid out that way; or set the pack settings `checkpoint:` (path to the .ckpt file) "
        f"and `config:` (directory with config.json and the tokenizer files)."
    )


def _config_problem(directory: Path) -> str | None:
    """Why ``directory`` is not a config directory, or None."""
    if not directory.is_dir():
        return f"{directory} is not a directory"
    if not (directory / "config.json").is_file():
        return f"{directory} has no config.json"
    if not any((directory / name).is_file() for name in TOKENIZER_FILES if name != "tokenizer_config.json"):
        return f"{directory} has no tokenizer files ({', '.join(TOKENIZER_FILES)})"
    return None


def locate(model_type: str, checkpoint: str | None, config_dir: str | None) -> tuple[Path, Path]:
    """Find the checkpoint file and HF config/tokenizer dir.

    Defaults: ``$PROVENANCE_DETOXIFY_DIR/<model_type>/`` else ``~/.cache/provenance/detoxify/<model_type>/``
    containing one ``*.ckpt`` and ``config.json`` + tokenizer files. A ``checkpoint`` that is a
    directory means the one ``*.ckpt`` in it; without ``config_dir`` the checkpoint's own directory
    is used when it holds a config.json. Raises :class:`DetoxifyMissing`.
    """
    if model_type not in MODEL_TYPES and (checkpoint is None or config_dir is None):
        raise DetoxifyMissing(
            f"unknown detoxify model type {model_type!r} (known: {', '.join(MODEL_TYPES)}); "
            "for another model set both pack settings `checkpoint:` and `config:`"
        )
    home = default_dir(model_type)
    ckpt = Path(checkpoint).expanduser() if checkpoint is not None else home
    if ckpt.is_dir():
        found = sorted(ckpt.glob("*.ckpt"))
        named = [p for p in found if p.name == MODEL_TYPES.get(model_type)]
        if len(found) > 1 and not named:
            raise DetoxifyMissing(
                f"detoxify {model_type!r}: {ckpt} holds {len(found)} .ckpt files "
                f"({', '.join(p.name for p in found)}); keep one, or name the file with the pack setting "
                "`checkpoint:`"
            )
        if not found:
            raise DetoxifyMissing(
                f"detoxify {model_type!r} checkpoint not found: no *.ckpt file in {ckpt}. "
                + _how_to_provide(model_type, ckpt)
            )
        ckpt = (named or found)[0]
    elif not ckpt.is_file():
        raise DetoxifyMissing(
            f"detoxify {model_type!r} checkpoint not found: {ckpt} does not exist. "
            + _how_to_provide(model_type, home)
        )
    if config_dir is not None:
        config = Path(config_dir).expanduser()
    elif checkpoint is not None and (ckpt.parent / "config.json").is_file():
        config = ckpt.parent
    else:
        config = home
    problem = _config_problem(config)
    if problem:
        raise DetoxifyMissing(
            f"detoxify {model_type!r} config not found: {problem}. " + _how_to_provide(model_type, config)
        )
    return ckpt, config


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_sha256(directory: Path) -> str:
    """sha256 over the names and contents of the config and tokenizer files in ``directory``."""
    digest = hashlib.sha256()
    for name in sorted(CONFIG_FILES):
        path = directory / name
        if path.is_file():
            digest.update(f"{name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _infer_model_type(base: str, num_labels: int) -> str:
    """The detoxify model type a checkpoint of ``base`` with ``num_labels`` outputs is, else "custom"."""
    for model_type, name in BASE_MODELS.items():
        if name == base and NUM_LABELS[model_type] == num_labels:
            return model_type
    return "custom"


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The arch args, state dict and standardised label names of the checkpoint at ``path``."""
    import torch

    try:  # unpickles: trusted files only (module docstring)
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise DetoxifyCheckpointError(
            f"{path} is not a detoxify checkpoint: torch.load failed ({exc})"
        ) from exc
    if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
        kind = sorted(loaded)[:8] if isinstance(loaded, dict) else type(loaded).__name__
        raise DetoxifyCheckpointError(
            f"{path} is not a detoxify checkpoint: expected a dict with 'config' and 'state_dict', got {kind}"
        )
    try:
        config = loaded["config"]
        args = dict(config["arch"]["args"])
        dataset = config["dataset"]["args"]
        classes = list(dataset["classes"]) + list(dataset.get("identity_classes") or [])
        num = int(args["num_classes"])
        names = (str(args["model_type"]), str(args["model_name"]), str(args["tokenizer_name"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DetoxifyCheckpointError(
            f"{path} is not a detoxify checkpoint: its config lacks {exc} (needs arch.args model_type, "
            "model_name, tokenizer_name, num_classes and dataset.args.classes)"
        ) from exc
    if not names[1].endswith("ForSequenceClassification") or not names[2].endswith(
        ("Tokenizer", "TokenizerFast")
    ):
        raise DetoxifyCheckpointError(f"{path}: unsupported model {names[1]} / tokenizer {names[2]}")
    if not 0 < len(classes) <= num:
        raise DetoxifyCheckpointError(f"{path}: {len(classes)} class names for {num} outputs")
    # Outputs past the named classes (none in the release files) keep their index as name.
    labels = [RENAMES.get(c, c) for c in classes] + [f"label_{i}" for i in range(len(classes), num)]
    state = loaded["state_dict"]
    if not isinstance(state, dict):
        raise DetoxifyCheckpointError(f"{path} is not a detoxify checkpoint: state_dict is a {type(state)}")
    return args, state, labels


def _declared_labels(config_dir: Path) -> tuple[int | None, str | None]:
    """The number of labels and the model type config.json declares (None where it does not)."""
    try:
        raw = json.loads((config_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise DetoxifyCheckpointError(f"{config_dir / 'config.json'} is not a JSON config: {exc}") from exc
    declared = raw.get("num_labels")
    if declared is None and isinstance(raw.get("id2label"), dict):
        declared = len(raw["id2label"])
    return (int(declared) if declared is not None else None), raw.get("model_type")


def _classes(checkpoint: Path, config_dir: Path, args: dict[str, Any]) -> tuple[Any, Any]:
    """The transformers model and tokenizer classes the checkpoint names, checked against config.json."""
    import transformers

    num, base = int(args["num_classes"]), args["model_type"]
    model_name, tokenizer_name = args["model_name"], args["tokenizer_name"]
    model_class = getattr(transformers, model_name, None)
    tokenizer_class = getattr(transformers, tokenizer_name, None)
    if model_class is None or tokenizer_class is None:
        raise DetoxifyCheckpointError(f"{checkpoint}: transformers has no {model_name} or {tokenizer_name}")
    declared, declared_type = _declared_labels(config_dir)
    expected_type = model_class.config_class.model_type
    if declared_type is not None and declared_type != expected_type:
        raise DetoxifyCheckpointError(
            f"{config_dir / 'config.json'} is a {declared_type!r} config but {checkpoint} needs "
            f"{expected_type!r} ({base})"
        )
    if declared is not None and declared != num:
        raise DetoxifyCheckpointError(
            f"{config_dir / 'config.json'} declares {declared} labels but {checkpoint} has {num} "
            f'(set "num_labels": {num} in config.json, or use the config of {base})'
        )
    return model_class, tokenizer_class


class DetoxifyScorer:
    """Loads a detoxify checkpoint once, offline, and scores texts for every label."""

    labels: list[str]
    identity: dict[str, Any]

    def __init__(
        self,
        checkpoint: Path,
        config_dir: Path,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_tokens: int | None = None,
        model_type: str | None = None,
    ) -> None:
        """Load ``checkpoint`` with the config and tokenizer in ``config_dir``.

        ``batch_size`` bounds the texts per forward pass, ``max_tokens`` (if set) the padded tokens
        per pass (texts x longest). ``model_type`` (optional) is checked against the checkpoint.
        Raises :class:`DetoxifyCheckpointError` for a file that is not a detoxify checkpoint or a
        config directory that does not fit it.
        """
        from importlib.metadata import version

        if batch_size < 1 or (max_tokens is not None and max_tokens < 1):
            raise ValueError("batch_size and max_tokens must be positive")
        checkpoint, config_dir = Path(checkpoint), Path(config_dir)
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        args, state, labels = _read_checkpoint(checkpoint)
        num = int(args["num_classes"])
        base, model_name, tokenizer_name = args["model_type"], args["model_name"], args["tokenizer_name"]
        inferred = _infer_model_type(base, num)
        if model_type is not None and model_type != inferred and model_type in MODEL_TYPES:
            raise DetoxifyCheckpointError(
                f"{checkpoint} is a {base} checkpoint with {num} labels ({inferred}), not {model_type!r} "
                f"({BASE_MODELS[model_type]}, {NUM_LABELS[model_type]} labels)"
            )
        model_class, tokenizer_class = _classes(checkpoint, config_dir, args)
        config = model_class.config_class.from_pretrained(config_dir, num_labels=num, local_files_only=True)
        # No random initialisation: _load_state loads every weight or raises.
        try:
            from transformers.initialization import no_init_weights
        except ImportError:  # pragma: no cover - older transformers
            no_init_weights = contextlib.nullcontext
        with no_init_weights():
            model = model_class(config)
        self._load_state(model, state, checkpoint, config_dir)
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer_class.from_pretrained(
            config_dir, local_files_only=True, model_max_length=MAX_LENGTH
        )
        self.labels = labels
        self.identity = {
            "scorer": "detoxify",
            "model_type": model_type or inferred,
            "base_model": base,
            "model_class": model_name,
            "tokenizer_class": tokenizer_name,
            "num_labels": num,
            "labels": list(labels),
            "max_length": MAX_LENGTH,
            "checkpoint_sha256": file_sha256(checkpoint),
            "config_sha256": config_sha256(config_dir),
            # scores agree across versions to float tolerance; tokenisation could change with them
            "versions": {name: version(name) for name in ("torch", "transformers", "tokenizers")},
        }

    @classmethod
    def load(
        cls, model_type: str, checkpoint: str | None = None, config: str | None = None, **kwargs: Any
    ) -> DetoxifyScorer:
        """:func:`locate` ``model_type``'s files (pack settings ``checkpoint:``, ``config:``); load them."""
        path, config_dir = locate(model_type, checkpoint, config)
        return cls(path, config_dir, model_type=model_type, **kwargs)

    @staticmethod
    def _load_state(model: Any, state: dict[str, Any], checkpoint: Path, config_dir: Path) -> None:
        """Load ``state`` into ``model``: every weight must be there and fit (old buffers may be extra)."""
        renamed = {}
        for key, value in state.items():
            if key.endswith(".gamma"):
                key = key[: -len("gamma")] + "weight"
            elif key.endswith(".beta"):
                key = key[: -len("beta")] + "bias"
            renamed[key] = value
        expected = set(model.state_dict())
        buffers = {name for name, _ in model.named_buffers()}
        extra = sorted(k for k in renamed if k not in expected and k not in buffers)
        missing = sorted(expected - set(renamed))
        if extra or missing:
            raise DetoxifyCheckpointError(
                f"{checkpoint} does not fit {model.__class__.__name__} built from {config_dir}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}"
            )
        try:
            model.load_state_dict({k: v for k, v in renamed.items() if k in expected}, strict=True)
        except RuntimeError as exc:
            raise DetoxifyCheckpointError(
                f"{checkpoint} does not fit the config in {config_dir}: {exc}"
            ) from exc

    def _prepare(self, text: str) -> str:
        """``text`` as the tokenizer can take it, and no longer than it needs to be.

        Lone surrogates (from bytes decoded with ``surrogateescape``) become U+FFFD; ``Detoxify.predict``
        would raise. A long text is cut at a whitespace once the part before the cut holds more
        tokens than fit: every tokenizer here splits at whitespace first, so the tokens kept by
        truncation are the same, and a 1 MB text costs a few kilobytes of tokenising.
        """
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        limit = self.tokenizer.model_max_length
        size = 16 * limit
        while len(text) > size:
            cut = max(text.rfind(space, 0, size) for space in " \n\t")
            if cut <= 0:
                break
            prefix = text[:cut]
            ids = self.tokenizer(prefix, add_special_tokens=False, truncation=True, max_length=limit + 8)
            if len(ids["input_ids"]) >= limit + 8:
                return prefix
            size *= 4
        return text

    def _encode(self, texts: list[str]) -> dict[str, list[list[int]]]:
        """Token ids (and type ids, masks) of ``texts``, truncated as ``Detoxify.predict`` truncates."""
        encoded = self.tokenizer([self._prepare(t) for t in texts], truncation=True)
        return {k: v for k, v in encoded.items() if k in self.tokenizer.model_input_names}

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into batches of similar length, longest first.

        A batch ends at ``batch_size`` texts, at ``max_tokens`` padded tokens, or before a text that
        would be padded by more than an eighth of the batch's width (16 tokens at least): padding
        is computed like text, and a lone long text costs less alone than widening 31 short ones.
        """
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current:
                width = lengths[current[0]]
                if (
                    len(current) >= self.batch_size
                    or (self.max_tokens is not None and (len(current) + 1) * width > self.max_tokens)
                    or width - lengths[i] > max(SLACK, width // 8)
                ):
                    batches.append(current)
                    current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _pad(self, encoded: dict[str, list[list[int]]], rows: list[int]) -> dict[str, Any]:
        """Tensors of ``rows`` padded to the longest, as the tokenizer pads (side and pad values)."""
        import numpy as np
        import torch

        width = max(len(encoded["input_ids"][i]) for i in rows)
        pad_values = {
            "input_ids": self.tokenizer.pad_token_id,
            "token_type_ids": self.tokenizer.pad_token_type_id,
        }
        left = self.tokenizer.padding_side == "left"
        out = {}
        for key, values in encoded.items():
            array = np.full((len(rows), width), pad_values.get(key, 0), dtype=np.int64)
            for r, i in enumerate(rows):
                row = values[i]
                if left:
                    array[r, width - len(row) :] = row
                else:
                    array[r, : len(row)] = row
            out[key] = torch.from_numpy(array).to(self.device)
        return out

    def predict(self, texts: Sequence[str]) -> numpy.ndarray:
        """Scores of ``texts``: shape ``(len(texts), len(labels))``, float32 sigmoid scores, in input order.

        Equal to ``Detoxify.predict``'s scores (same tokenizer settings: truncation to 512 tokens,
        padding per batch) within float tolerance; each distinct text is scored once.
        """
        import numpy as np
        import torch

        positions: dict[str, int] = {}
        inverse = np.empty(len(texts), dtype=np.int64)
        unique: list[str] = []
        for n, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {n} is a {type(text).__name__}, not a str")
            index = positions.setdefault(text, len(unique))
            if index == len(unique):
                unique.append(text)
            inverse[n] = index
        scores = np.empty((len(unique), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(unique), WINDOW):
                encoded = self._encode(unique[start : start + WINDOW])
                lengths = [len(ids) for ids in encoded["input_ids"]]
                for rows in self._batches(lengths):
                    logits = self.model(**self._pad(encoded, rows)).logits
                    scores[[start + r for r in rows]] = torch.sigmoid(logits).float().cpu().numpy()
        return scores[inverse]
