-- 009_job_leases.sql - jobs claimed by any daemon sharing the database
-- (PostgreSQL mirror of migrations/009_job_leases.sql, which says what each
-- column means). Claims take the oldest queued run with
-- SELECT ... FOR UPDATE SKIP LOCKED, so daemons claiming at once never wait
-- on each other and never take the same run.

ALTER TABLE runs ADD COLUMN worker TEXT;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE runs ADD COLUMN lease_until DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0
    CHECK (cancel_requested IN (0, 1));
UPDATE runs SET attempts = 1 WHERE status <> 'queued';
-- The oldest queued run (claims) and the expired leases (rescue).
CREATE INDEX runs_running_lease ON runs(lease_until) WHERE status = 'running';
