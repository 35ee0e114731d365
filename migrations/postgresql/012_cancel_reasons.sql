-- 012_cancel_reasons.sql - migrations/012_cancel_reasons.sql (SQLite) in
-- PostgreSQL: the text of a cancel requested for a running run.
ALTER TABLE runs ADD COLUMN cancel_reason TEXT;
