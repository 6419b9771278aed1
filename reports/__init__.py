"""Telling: audit report, data and model cards, SPDX 3.0.1, CI outputs.

Reads the ledger only. Filled in by a later issue.
"""
