-- 010_checkpoints.sql - each running job's latest checkpoint.
--
-- After every epoch the daemon training a run writes the run's checkpoint
-- (engine/checkpoint.c: weights, optimizer state, generator state, shuffle
-- order, schedule and early-stopping state; docs/model-format.md) in the
-- transaction that records the epoch's metrics, replacing the one before.
-- A run claimed again (a lease that expired, a daemon restarted or drained)
-- continues after `epoch` instead of starting over. Only running and queued
-- runs need one: a run that ends loses it (the trigger below), so the table
-- holds at most one row per unfinished run.
CREATE TABLE run_checkpoints (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    epoch  INTEGER NOT NULL CHECK (epoch >= 1),
    data   BLOB    NOT NULL
);

CREATE TRIGGER run_checkpoint_ends AFTER UPDATE OF status ON runs
WHEN NEW.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    DELETE FROM run_checkpoints WHERE run_id = NEW.id;
END;
