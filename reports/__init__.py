"""Telling: audit report, data and model cards, SPDX 3.0.1 and 2.3, Croissant, CI outputs.

Reads the ledger only, through :func:`reports.facts.collect` (typed facts) and the named reads of
:mod:`provenance.queries.reports`.
"""
