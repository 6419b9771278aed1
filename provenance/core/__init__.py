"""The record: models, content ids, the ledger (schema, migrations, runs, writes) and lineage.

This floor imports nothing of the other packages (``provenance.queries``, ``provenance.cli``,
``generators``, ``policies``, ``audits``, ``reports``).
"""
