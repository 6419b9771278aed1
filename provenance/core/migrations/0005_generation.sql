-- Generation: what the generators (Self-Instruct, Alpaca, rejection sampling) did, candidate by
-- candidate, so a reviewer can see what the filters kept and why they rejected the rest.

-- One row per generation: the deterministic identity of a generator's work (teacher, endpoint,
-- prompt templates and their hashes, seeds, parameters, random seed). Running the same generation
-- again (after a crash, or with a larger -n) continues it: its requests are answered from the
-- teacher-call journal and its accepted examples are not written twice.
CREATE TABLE generations (
    generation_id  VARCHAR PRIMARY KEY,   -- content id of `params`
    method         VARCHAR NOT NULL,      -- self-instruct | alpaca | rejection-sampling
    teacher_model  VARCHAR NOT NULL,      -- the model name sent to the endpoint
    endpoint       VARCHAR NOT NULL,      -- without credentials
    params         JSON NOT NULL,         -- everything that decides which requests are sent
    templates      JSON NOT NULL,         -- template name → sha256 of the template file
    first_run_id   VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

-- Machine-written instructions (Self-Instruct's bootstrap): a lineage node between the seeds and
-- machine instructions that were in the prompt and the instances generated for it. The id is the
-- content id of {"instruction": text}.
CREATE TABLE instructions (
    instruction_id     VARCHAR PRIMARY KEY,
    instruction        VARCHAR NOT NULL,
    is_classification  BOOLEAN,           -- the teacher's answer to the classification prompt
    first_run_id       VARCHAR NOT NULL,
    created_at         TIMESTAMP NOT NULL
);

-- Every candidate a generator parsed out of a teacher's reply, accepted or not, with the reason.
-- A candidate is identified by its generation, stage, request and place in the reply; writing the
-- same candidate again (a resumed run) keeps the first row.
CREATE TABLE generation_candidates (
    generation_id  VARCHAR NOT NULL,
    stage          VARCHAR NOT NULL,      -- instruction | classification | instance | example | attempt
    request_hash   VARCHAR,               -- the teacher call it came from (NULL: no call was made)
    choice         INTEGER NOT NULL,      -- the reply's choice index
    item           INTEGER NOT NULL,      -- the candidate's place in the parsed choice
    ordinal        BIGINT NOT NULL,       -- order of the request within the generation
    status         VARCHAR NOT NULL,      -- accepted | rejected
    reason         VARCHAR NOT NULL,      -- accepted, or the filter that rejected it
    details        JSON,                  -- e.g. the instruction it collided with and the ROUGE-L score
    content        JSON NOT NULL,         -- the candidate as parsed
    node_id        VARCHAR,               -- the instruction or example it became (accepted only)
    run_id         VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
