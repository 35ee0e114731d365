-- 012_cancel_reasons.sql - why a cancel was requested for a running run.
--
-- A cancel of a run that another daemon trains is a request (cancel_requested,
-- 009_job_leases.sql) that daemon sees at its next heartbeat or notification;
-- cancel_reason carries the request's text with it (a sweep's "pruned: ..."
-- or "sweep N was cancelled"), and the run's final status write takes it as
-- the error when it has none of its own.
ALTER TABLE runs ADD COLUMN cancel_reason TEXT;
