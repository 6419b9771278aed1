"""Importers of existing datasets: Alpaca, JSONL, Self-Instruct, chat / ShareGPT, Hugging Face
datasets (saved to disk or Parquet), and prompt/response logs."""

from generators.importers.manifest import Manifest, declaration_from, declare, load_manifest
from generators.importers.run import FORMATS, ImportSummary, import_file, import_seeds, source_size

__all__ = [
    "FORMATS",
    "ImportSummary",
    "Manifest",
    "declaration_from",
    "declare",
    "import_file",
    "import_seeds",
    "load_manifest",
    "source_size",
]
