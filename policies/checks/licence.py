"""The licence and terms check as a pack check; the work is in :mod:`policies.licence_check`."""

from __future__ import annotations

from policies.checks.base import Check
from policies.licence_check import VERSION


class LicenceCheck(Check):
    """Teacher terms and dataset licences judged for the pack's use and student (no settings)."""

    kind = "licence"
    version = VERSION
    measures = "teacher terms and dataset licences for the pack's use and student"
