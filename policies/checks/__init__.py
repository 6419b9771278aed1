"""The checks a policy pack can name, each a small class in its own module.

Modules are imported on first use, so naming a check costs nothing until it runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.checks.base import Check

CHECK_KINDS: dict[str, str] = {
    "licence": "policies.checks.licence:LicenceCheck",
    "pii": "policies.checks.pii:PiiCheck",
    "toxicity": "policies.checks.toxicity:ToxicityCheck",
    "profanity": "policies.checks.profanity:ProfanityCheck",
    "diversity": "policies.checks.diversity:DiversityCheck",
    "duplicates": "policies.checks.duplicates:DuplicatesCheck",
    "contamination": "policies.checks.contamination:ContaminationCheck",
}


def check_class(kind: str) -> type[Check]:
    """The class implementing check ``kind`` (a key of :data:`CHECK_KINDS`)."""
    module, attr = CHECK_KINDS[kind].split(":")
    cls: type[Check] = getattr(import_module(module), attr)
    return cls
