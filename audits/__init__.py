"""Deciding and training: the gate, the fine-tune, the hash-chained audit trail, waivers.

Depends on :mod:`provenance` and :mod:`policies`. Filled in by a later issue.
"""
