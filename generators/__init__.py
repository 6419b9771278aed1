"""Making data: teacher clients, generation pipelines, and importers of existing datasets.

Depends on :mod:`provenance` only.
"""
