"""The demo's library side: its folder, the bundled example it runs on, and what it reads back.

``provenance demo`` runs the pipeline's commands in order and prints what they say; this module
prepares the folder it writes into, says where the bundled example is and what each recorded
teacher declares, and reads the trained student's id back from its audit report.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from provenance.core.errors import InputError

#: The bundled example's two OpenAI teachers and their recorded outputs.
TEACHERS = {
    "text-davinci-003": "text-davinci-003_predictions.jsonl",
    "davinci": "davinci_predictions.jsonl",
}
#: The base URL the recorded outputs are journaled under (never sent anywhere).
RECORDED = "recorded://github.com/yizhongw/self-instruct/human_eval"
#: The file that marks a folder as one the demo made (and may replace with ``--force``).
MARKER = ".provenance-demo"


@dataclass(frozen=True)
class DemoFolder:
    """Where the demo puts its ledger, its CI report, its student and its reports."""

    root: Path

    @property
    def db(self) -> Path:
        """The demo's ledger."""
        return self.root / "provenance.duckdb"

    @property
    def junit(self) -> Path:
        """The policy check's JUnit XML report."""
        return self.root / "check-junit.xml"

    @property
    def student(self) -> Path:
        """The tiny student's folder."""
        return self.root / "student"

    @property
    def reports(self) -> Path:
        """The audit report, the dataset card and (when no student trained) SPDX."""
        return self.root / "reports"


def prepare_folder(folder: Path, *, force: bool) -> DemoFolder:
    """Create the demo's folder, or empty one an earlier demo made when ``force`` is given.

    Raises:
        InputError: the folder is a symbolic link (followed, ``--force`` would empty where it points),
            or it holds something, and ``force`` is not given or no demo made it.
    """
    if folder.is_symlink():
        raise InputError(
            f"is a symbolic link (to {folder.readlink()}); the demo writes only into a real folder: "
            "give --dir the folder itself, or another one",
            path=folder,
        )
    if folder.exists() and any(folder.iterdir()):
        if not force:
            raise InputError("exists and is not empty; choose another --dir or give --force", path=folder)
        if not (folder / MARKER).is_file():
            raise InputError(
                f"is not a folder an earlier demo made (no {MARKER}); --force only replaces those",
                path=folder,
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(
        "made by `provenance demo`; `provenance demo --force` may replace this folder\n"
    )
    return DemoFolder(folder)


@dataclass(frozen=True)
class RecordedTeacher:
    """One teacher of the bundled example: its recorded outputs and what its manifest declares."""

    model: str
    outputs: Path
    licence: str
    terms: str  # "id@version"
    source: str


@dataclass(frozen=True)
class BundledExample:
    """The Self-Instruct seeds and the recorded teachers the demo runs on."""

    root: Path
    teachers: list[RecordedTeacher]

    @property
    def seeds(self) -> Path:
        """The 175 human seed tasks."""
        return self.root / "seed_tasks.jsonl"

    @property
    def seeds_manifest(self) -> Path:
        """The seeds' provenance manifest."""
        return self.root / "seeds.yaml"


def example_dir() -> Path:
    """Where the bundled example lives (the source tree's examples/self-instruct)."""
    here = Path(__file__).resolve().parents[1] / "examples" / "self-instruct"
    if (here / "seed_tasks.jsonl").is_file():
        return here
    return Path(str(resources.files("provenance"))).parent / "examples" / "self-instruct"


def bundled_example() -> BundledExample:
    """The bundled example, each teacher with the licence, terms and source its manifest declares."""
    root = example_dir()
    teachers = []
    for model, file in TEACHERS.items():
        declared = _manifest(root / f"{model}.yaml")
        terms = declared["terms"]
        teachers.append(
            RecordedTeacher(
                model=model,
                outputs=root / file,
                licence=declared["licence"],
                terms=f"{terms['id']}@{terms['version']}",
                source=declared["source"],
            )
        )
    return BundledExample(root, teachers)


def training_id(student: Path) -> str:
    """The training id a trained student's AUDIT.json names."""
    return json.loads((student / "AUDIT.json").read_text("utf-8"))["training"]["training_id"]


def _manifest(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text("utf-8"))
