-- Policy packs and check runs: which pack a `provenance check` ran, and what each of its
-- checks did in that run (ran, or not run and why), so reports never present a check that did
-- not run as a verdict.

-- A policy pack as it was when it was used: its content hash goes into every decision it produces
-- (through the decision context's config).
CREATE TABLE policy_packs (
    pack_hash     VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    source        VARCHAR,            -- the file it was read from
    content       JSON NOT NULL,      -- the validated pack
    first_run_id  VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- One row per check per `provenance check` run.
CREATE TABLE check_runs (
    run_id        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,   -- the check's place in the pack
    check_name    VARCHAR NOT NULL,   -- the name in the pack
    check_kind    VARCHAR NOT NULL,   -- the check class (pii, toxicity, …)
    check_version VARCHAR NOT NULL,
    pack_hash     VARCHAR NOT NULL,
    context_id    INTEGER,            -- NULL when the check did not run
    action        VARCHAR NOT NULL,   -- flag | drop | redact | block
    status        VARCHAR NOT NULL,   -- ran | not-run
    blocking      BOOLEAN NOT NULL,   -- a not-run that the pack says blocks, or a block decision fired
    reason        VARCHAR,            -- why it did not run, and how to make it run
    notes         JSON,               -- plain statements for every report (e.g. PERSON detection off)
    examples      BIGINT NOT NULL,    -- examples with a current decision after this run
    scored        BIGINT NOT NULL,    -- examples scored (model time) in this run
    redecided     BIGINT NOT NULL,    -- decided again from stored scores (no model time)
    reused        BIGINT NOT NULL,    -- current decisions kept as they were
    counts        JSON NOT NULL,      -- decision → examples
    top_reasons   JSON NOT NULL,      -- [[reason, examples], …] for non-pass decisions
    basis         VARCHAR,            -- sequential checks: digest of the examples, seeds and edges decided on
    seconds       DOUBLE NOT NULL,
    started_at    TIMESTAMP NOT NULL
);
