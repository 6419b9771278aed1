-- The audit trail, waivers, dataset manifests and trainings.

-- Every provenance row now names the run that wrote it (rows written before this migration take
-- their provenance set's run), so the audit log can vouch for the rows of each run.
ALTER TABLE provenance ADD COLUMN run_id VARCHAR;
UPDATE provenance SET run_id = s.run_id FROM provenance_sets s WHERE s.set_id = provenance.set_id;

-- Append-only and hash-chained: one row per finished run (import, generation, check, waiver,
-- gate, training). `vouched` holds, per table, the count and digest of the rows the run wrote;
-- `hash` = sha256(prev_hash || canonical JSON of the row's other fields). `provenance verify`
-- recomputes both and names the first row that does not match.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,    -- 1, 2, 3, … without gaps
    recorded_at TIMESTAMP NOT NULL,
    kind       VARCHAR NOT NULL,      -- the run's kind
    run_id     VARCHAR NOT NULL,
    payload    JSON NOT NULL,         -- the run row: kind, status, params, summary, times
    vouched    JSON NOT NULL,         -- {table: {"rows": n, "digest": sha256}}
    prev_hash  VARCHAR NOT NULL,
    hash       VARCHAR NOT NULL
);

-- Runs recorded before the audit log existed: the first run after this migration gives each its
-- audit row. Any other finished run without an audit row means the log was altered.
CREATE TABLE audit_legacy AS SELECT run_id FROM runs;

-- A signed-off exception to a check's decision, for one example or for every example of a teacher.
CREATE TABLE waivers (
    waiver_id     VARCHAR PRIMARY KEY,   -- content id of the waiver
    check_name    VARCHAR NOT NULL,
    example_id    VARCHAR,               -- exactly one of example_id and teacher
    teacher       VARCHAR,               -- a teacher model as recorded in the ledger
    reason        VARCHAR NOT NULL,
    approver      VARCHAR NOT NULL,
    expires       DATE NOT NULL,         -- last day it counts
    run_id        VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- A selection of examples the gate let through: the Merkle root over its sorted example ids.
CREATE TABLE datasets (
    dataset_id    VARCHAR PRIMARY KEY,   -- the Merkle root
    examples      BIGINT NOT NULL,
    pack_name     VARCHAR NOT NULL,
    pack_hash     VARCHAR NOT NULL,
    student       VARCHAR NOT NULL,
    registry_version VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE TABLE dataset_examples (
    dataset_id    VARCHAR NOT NULL,
    example_id    VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL
);

-- A trained student: the edge from the model to its dataset manifest.
CREATE TABLE trainings (
    training_id   VARCHAR PRIMARY KEY,
    run_id        VARCHAR NOT NULL,
    dataset_id    VARCHAR NOT NULL,
    student       VARCHAR NOT NULL,      -- what --student named (tiny, a path, a hub id)
    student_kind  VARCHAR NOT NULL,      -- tiny | checkpoint | hub
    base_model    VARCHAR,
    out_dir       VARCHAR NOT NULL,
    model_digest  VARCHAR NOT NULL,      -- sha256 over the saved weights
    config        JSON NOT NULL,
    metrics       JSON NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
