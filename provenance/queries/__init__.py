"""Named queries: every read that the other layers need, one function a question.

SQL lives in ``provenance.core`` (schema, migrations, writes) and here; nothing above this floor
holds SQL or touches a ledger's connection.
"""
