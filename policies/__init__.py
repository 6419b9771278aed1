"""Judging data: the policy engine, policy packs, the teacher registry and the checks.

Depends on :mod:`provenance` only. Filled in by later issues (licence/terms, PII, toxicity,
diversity, contamination).
"""
