-- 009_job_leases.sql - jobs claimed by any daemon sharing the database.
--
-- A queued run is claimed (status running) by one daemon, `worker` (its
-- --node-name), which holds it until `lease_until` (seconds since the Unix
-- epoch) and renews the lease while it trains. A run whose lease passed is
-- queued again by any daemon, up to a number of `attempts` (counted per
-- claim). `cancel_requested` asks whichever daemon trains it to stop; the
-- SQLite store has one daemon, but the columns and their rules are the same
-- for both stores (migrations/postgresql/009_job_leases.sql).

ALTER TABLE runs ADD COLUMN worker TEXT;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE runs ADD COLUMN lease_until REAL;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0
    CHECK (cancel_requested IN (0, 1));
-- Runs that started before this migration were claimed once.
UPDATE runs SET attempts = 1 WHERE status <> 'queued';
