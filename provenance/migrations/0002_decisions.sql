-- Decisions of the policy checks, and the licence judgements they point to.
-- Decisions are never updated or deleted: a re-check under a new registry or policy adds rows,
-- and the old ones stay as history.

-- One row per (example, check, check version, config hash, registry hash, basis). The basis is
-- a digest of what the check looked at (for the licence check: the example's provenance sets),
-- so a new claim on an example makes its stored decision stale.
CREATE TABLE decisions (
    example_id        VARCHAR NOT NULL,
    check_name        VARCHAR NOT NULL,
    check_version     VARCHAR NOT NULL,
    config_hash       VARCHAR NOT NULL,
    registry_version  VARCHAR,
    registry_hash     VARCHAR,
    basis             VARCHAR NOT NULL,
    verdict           VARCHAR NOT NULL,   -- the check's own label (licence: the verdict class)
    decision          VARCHAR NOT NULL,   -- pass | flag | drop | block
    score             DOUBLE,
    reason            VARCHAR,
    details           JSON,
    ref               VARCHAR,            -- a shared detail row (licence: licence_judgements)
    run_id            VARCHAR NOT NULL,
    decided_at        TIMESTAMP NOT NULL
);

-- A licence verdict with its reasons and obligations, shared by every example it applies to.
CREATE TABLE licence_judgements (
    judgement_id      VARCHAR PRIMARY KEY,
    verdict           VARCHAR NOT NULL,
    permitted         BOOLEAN NOT NULL,
    reasons           JSON NOT NULL,
    obligations       JSON NOT NULL,
    findings          JSON NOT NULL,
    registry_version  VARCHAR NOT NULL,
    registry_hash     VARCHAR NOT NULL,
    config_hash       VARCHAR NOT NULL,
    config            JSON NOT NULL,
    first_run_id      VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL
);

-- The registry terms (entry, terms id, version) each judgement was made under.
CREATE TABLE judgement_terms (
    judgement_id      VARCHAR NOT NULL,
    entry_id          VARCHAR NOT NULL,
    terms_id          VARCHAR NOT NULL,
    terms_version     VARCHAR
);
