-- Decisions of the policy checks, and the licence judgements they point to.
-- Decisions are never updated or deleted: a re-check under a new registry or policy adds rows,
-- and the old ones stay as history.

-- What a decision depends on besides the example: the check, its version, its configuration
-- (policy, pack, student) and the teacher registry it used.
CREATE SEQUENCE decision_context_ids START 1;
CREATE TABLE decision_contexts (
    context_id        INTEGER PRIMARY KEY DEFAULT nextval('decision_context_ids'),
    check_name        VARCHAR NOT NULL,
    check_version     VARCHAR NOT NULL,
    config_hash       VARCHAR NOT NULL,
    config            JSON NOT NULL,
    registry_version  VARCHAR NOT NULL,   -- '' for checks that do not use the registry
    registry_hash     VARCHAR NOT NULL,   -- ''
    first_run_id      VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    UNIQUE (check_name, check_version, config_hash, registry_hash)
);

-- One write of decisions: which run wrote it, under which context, when. Later batches are newer.
CREATE SEQUENCE decision_batch_ids START 1;
CREATE TABLE decision_batches (
    batch_id          INTEGER PRIMARY KEY DEFAULT nextval('decision_batch_ids'),
    context_id        INTEGER NOT NULL,
    run_id            VARCHAR NOT NULL,
    decided_at        TIMESTAMP NOT NULL,
    decisions         BIGINT NOT NULL
);

-- One row per example per batch. The basis is a digest of what the check looked at (for the
-- licence check, the example's provenance sets), so a new claim on an example makes its stored
-- decision stale; a decision is reused when context and basis are unchanged.
CREATE TABLE decisions (
    example_id        VARCHAR NOT NULL,
    batch_id          INTEGER NOT NULL,
    basis             BIGINT NOT NULL,
    verdict           VARCHAR NOT NULL,   -- the check's own label (licence: the verdict class)
    decision          VARCHAR NOT NULL,   -- pass | flag | drop | block
    score             DOUBLE,
    reason            VARCHAR,            -- NULL when the shared detail row (ref) carries it
    details           JSON,
    ref               INTEGER             -- a shared detail row (licence: licence_judgements)
);

-- A licence verdict with its reasons and obligations, shared by every example it applies to.
CREATE SEQUENCE licence_judgement_nos START 1;
CREATE TABLE licence_judgements (
    judgement_no      INTEGER PRIMARY KEY DEFAULT nextval('licence_judgement_nos'),
    judgement_id      VARCHAR NOT NULL UNIQUE,   -- content id of the judgement and its context
    context_id        INTEGER NOT NULL,
    verdict           VARCHAR NOT NULL,
    permitted         BOOLEAN NOT NULL,
    reason            VARCHAR NOT NULL,          -- the decisive reason
    reasons           JSON NOT NULL,
    obligations       JSON NOT NULL,
    findings          JSON NOT NULL,
    first_run_id      VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL
);

-- The registry terms (entry, terms id, version) each judgement was made under.
CREATE TABLE judgement_terms (
    judgement_no      INTEGER NOT NULL,
    entry_id          VARCHAR NOT NULL,
    terms_id          VARCHAR NOT NULL,
    terms_version     VARCHAR
);

-- Every decision with its context spelled out: the decision table of DESIGN.md.
CREATE VIEW decision_records AS
SELECT d.example_id, c.check_name, c.check_version, c.config_hash, c.registry_version,
       c.registry_hash, d.basis, d.verdict, d.decision, d.score,
       coalesce(d.reason, j.reason) AS reason, d.details, d.ref, b.run_id, b.decided_at,
       d.batch_id, c.context_id
FROM decisions d
JOIN decision_batches b USING (batch_id)
JOIN decision_contexts c USING (context_id)
LEFT JOIN licence_judgements j ON c.check_name = 'licence' AND j.judgement_no = d.ref;
