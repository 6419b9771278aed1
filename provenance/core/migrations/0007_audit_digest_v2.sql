-- Audit rows record the version of their vouched digests. Rows written before this migration used
-- version 1 (sha256 over sorted per-row sha256); new rows use version 2 (sha256 over the rows' JSON
-- arrays in canonical order), which costs a fraction of version 1 on large runs. Both verify.
ALTER TABLE audit_log ADD COLUMN digest_version INTEGER DEFAULT 1;
