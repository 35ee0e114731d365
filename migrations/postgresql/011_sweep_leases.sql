-- 011_sweep_leases.sql - migrations/011_sweep_leases.sql (SQLite) in
-- PostgreSQL: the daemon whose scheduler holds each sweep, and until when.
-- Claims take the oldest claimable sweep with FOR UPDATE SKIP LOCKED.
ALTER TABLE sweeps ADD COLUMN worker TEXT;
ALTER TABLE sweeps ADD COLUMN lease_until DOUBLE PRECISION;
