-- 007_sweeps.sql - hyperparameter sweeps: a job that runs jobs (docs/sweeps.md).
--
-- A sweep's children are ordinary runs whose sweep_id names it; child i is
-- the i-th of them by id (the scheduler makes them one at a time, in order),
-- and its settings follow from the sweep's config and i alone, so nothing
-- else needs recording to resume a sweep after a restart. config_json is the
-- full, defaulted SweepRequest (api/openapi.yaml). best_run_id/best_value:
-- the best succeeded child so far by the sweep's metric and mode.

CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    status      TEXT    NOT NULL
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    config_json TEXT    NOT NULL,
    error       TEXT,
    created_at  REAL    NOT NULL,
    started_at  REAL,
    finished_at REAL,
    best_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    best_value  REAL
) STRICT;
CREATE INDEX sweeps_status_id ON sweeps(status, id);

ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL;
CREATE INDEX runs_sweep_id ON runs(sweep_id, id);
