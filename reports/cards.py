"""Hugging Face dataset and model cards (README.md), written from a ledger's facts.

The dataset card is :mod:`reports.dataset_card`, the model card :mod:`reports.model_card`, and what
they share (hub licence ids, masking, tables, obligations as requirements) :mod:`reports.card_text`.
Every number on a card comes from :func:`reports.facts.collect`; nothing is estimated.
"""

from __future__ import annotations

from reports.card_text import HUB_LICENCES, VERIFY, hub_licence, mask_emails
from reports.dataset_card import dataset_card, write_dataset_card
from reports.model_card import model_card, write_model_card

__all__ = [
    "HUB_LICENCES",
    "VERIFY",
    "dataset_card",
    "hub_licence",
    "mask_emails",
    "model_card",
    "write_dataset_card",
    "write_model_card",
]
