-- The teacher-call journal: one row per distinct request sent to a teacher endpoint.
-- A request is written (status pending) and committed before it is sent, and its raw response is
-- written and committed before anything parses it; a resumed or replayed run answers completed
-- requests from here instead of sending them again. Secrets are never stored: the endpoint has no
-- credentials or query string, and the request holds no authorisation headers.
CREATE TABLE teacher_calls (
    request_hash        VARCHAR PRIMARY KEY,   -- sha256 of the canonical JSON of `request`
    run_id              VARCHAR NOT NULL,      -- the run that last sent it (or first recorded it)
    endpoint            VARCHAR NOT NULL,      -- base URL without userinfo, query or fragment
    api                 VARCHAR NOT NULL,      -- chat | completions
    model               VARCHAR NOT NULL,      -- the model name sent to the endpoint
    request             JSON NOT NULL,         -- {endpoint, api, model, body[, sample, headers, query]}
    status              VARCHAR NOT NULL,      -- pending | ok | error
    response            VARCHAR,               -- the raw response body, verbatim (may be malformed)
    error               VARCHAR,               -- why status is error; NULL otherwise
    http_status         INTEGER,               -- HTTP status of the last attempt; NULL if none came
    response_model      VARCHAR,               -- `model` of the response
    system_fingerprint  VARCHAR,               -- `system_fingerprint` of the response
    request_id          VARCHAR,               -- the `x-request-id` header, else the response's `id`
    usage               JSON,                  -- the response's token `usage`
    latency_ms          DOUBLE,                -- wall time of the last attempt's HTTP exchange
    attempts            INTEGER NOT NULL,      -- HTTP attempts made for it, over all runs
    created_at          TIMESTAMP NOT NULL,    -- when it was first journaled
    completed_at        TIMESTAMP              -- when its last result was written; NULL while pending
);
