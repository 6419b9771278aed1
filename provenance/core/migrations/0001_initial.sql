-- The ledger's first schema: runs, teachers, seeds, examples, provenance, lineage.
-- Timestamps are UTC. NULL means unknown (never guessed). Uniqueness of the large tables is kept
-- by the ledger's only write path (anti-joins in provenance/ledger.py), not by index constraints:
-- ART indexes would cost more than the rest of an import.

CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,
    tool_version  VARCHAR NOT NULL,
    params        JSON,
    summary       JSON
);

CREATE TABLE teachers (
    teacher_id    VARCHAR PRIMARY KEY,
    model         VARCHAR NOT NULL,
    provider      VARCHAR,
    revision      VARCHAR,
    fingerprint   VARCHAR,
    endpoint      VARCHAR,
    first_run_id  VARCHAR NOT NULL
);

CREATE TABLE seeds (
    seed_id            VARCHAR PRIMARY KEY,
    external_id        VARCHAR,
    name               VARCHAR,
    instruction        VARCHAR NOT NULL,
    instances          JSON NOT NULL,
    is_classification  BOOLEAN,
    origin             VARCHAR NOT NULL,
    licence            VARCHAR,
    source             VARCHAR,
    source_file        VARCHAR,
    source_sha256      VARCHAR,
    source_line        BIGINT,
    extra              JSON,
    run_id             VARCHAR NOT NULL,
    created_at         TIMESTAMP NOT NULL
);

CREATE TABLE examples (
    example_id    VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    instruction   VARCHAR,
    input         VARCHAR,
    output        VARCHAR,
    messages      JSON,
    first_run_id  VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- What a group of claims shares: one row per (declaration, method, source file). An import
-- writes one; importing the same file again with the same declaration reuses it.
CREATE TABLE provenance_sets (
    set_id            VARCHAR PRIMARY KEY,
    run_id            VARCHAR NOT NULL,      -- the run that first wrote it
    origin            VARCHAR NOT NULL,      -- human | machine | unknown
    method            VARCHAR NOT NULL,      -- seed | imported | teacher | self | redacted | verified
    teacher_id        VARCHAR,
    licence           VARCHAR,               -- SPDX expression
    terms_id          VARCHAR,
    terms_version     VARCHAR,
    terms_retrieved   DATE,
    terms_status      VARCHAR,
    source            VARCHAR,               -- declared source (URL, repo@commit:path, …)
    source_file       VARCHAR,
    source_sha256     VARCHAR,
    source_format     VARCHAR,
    declaration_hash  VARCHAR NOT NULL,
    method_params     JSON,
    created_at        TIMESTAMP NOT NULL
);

-- One claim per example per source position: the example's provenance. A claim is identified
-- by its set and its claim key (by default "<record index>.<instance>"): importing a file again
-- under the same declaration finds every claim already there.
CREATE TABLE provenance (
    example_id            VARCHAR NOT NULL,
    set_id                VARCHAR NOT NULL,
    claim                 VARCHAR NOT NULL,
    source_index          BIGINT,        -- 0-based record index in the source
    source_line           BIGINT,        -- 1-based line, for text files
    source_part           VARCHAR,       -- data file within a dataset folder
    source_row            BIGINT,        -- 0-based row within that data file
    source_item           INTEGER,       -- instance index within a Self-Instruct task
    source_record_id      VARCHAR,       -- the record's own id field
    prompt                VARCHAR,       -- the prompt, verbatim, for prompt/response logs
    prompt_template_hash  VARCHAR,
    request_id            VARCHAR,
    usage                 JSON,
    extra                 JSON           -- source fields the mapping did not use, verbatim
);

-- The full provenance record of DESIGN.md: each claim with what its set declares.
CREATE VIEW provenance_records AS
SELECT sha256(concat_ws('|', p.example_id, p.set_id, p.claim)) AS provenance_id,
       p.example_id, s.run_id, s.origin, s.method, s.teacher_id,
       t.model AS teacher_model, t.provider AS teacher_provider, t.revision AS teacher_revision,
       t.fingerprint AS teacher_fingerprint, t.endpoint AS teacher_endpoint,
       s.licence, s.terms_id, s.terms_version, s.terms_retrieved, s.terms_status, s.source,
       s.source_file, s.source_sha256, s.source_format, p.source_index, p.source_line,
       p.source_part, p.source_row, p.source_item, p.source_record_id, s.declaration_hash,
       s.method_params, p.prompt, p.prompt_template_hash, p.request_id, p.usage, p.extra,
       s.set_id, s.created_at
FROM provenance p
JOIN provenance_sets s USING (set_id)
LEFT JOIN teachers t ON t.teacher_id = s.teacher_id;

CREATE TABLE lineage (
    child_id     VARCHAR NOT NULL,
    parent_id    VARCHAR NOT NULL,
    parent_kind  VARCHAR NOT NULL,
    relation     VARCHAR NOT NULL,
    position     INTEGER NOT NULL,
    run_id       VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
