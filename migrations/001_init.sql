-- 001_init.sql - mlpd's first schema: datasets, runs, metrics, models.
--
-- Applied by store_open() inside one transaction that also sets
-- PRAGMA user_version = 1. Conventions:
-- - Timestamps are REAL seconds since the Unix epoch.
-- - A metric that is unknown (NaN in C) is stored as NULL.
-- - AUTOINCREMENT on runs, metrics and models: ids are never reused, so a
--   metrics id is a safe cursor (?since=, Last-Event-ID) and a deleted model's
--   id never comes back naming another model.
-- - models.file is the last column so that listing metadata does not read
--   the BLOB's overflow pages.

CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    source      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    format      TEXT    NOT NULL CHECK (format IN ('idx', 'csv')),
    n_train     INTEGER NOT NULL DEFAULT 0 CHECK (n_train >= 0),
    n_test      INTEGER NOT NULL DEFAULT 0 CHECK (n_test >= 0),
    features    INTEGER NOT NULL CHECK (features > 0),
    classes     INTEGER NOT NULL CHECK (classes > 0),
    created_at  REAL    NOT NULL
) STRICT;

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    status          TEXT    NOT NULL
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    config_json     TEXT    NOT NULL,
    dataset         TEXT    NOT NULL,
    error           TEXT,
    created_at      REAL    NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    epoch           INTEGER NOT NULL DEFAULT 0,
    epochs          INTEGER NOT NULL,
    step            INTEGER NOT NULL DEFAULT 0,
    steps           INTEGER NOT NULL DEFAULT 0,
    loss            REAL,
    accuracy        REAL,
    val_loss        REAL,
    val_accuracy    REAL,
    samples_per_sec REAL,
    test_loss       REAL,
    test_accuracy   REAL,
    model_id        INTEGER REFERENCES models(id) ON DELETE SET NULL
) STRICT;
-- Listing by status (recovery, ?status= filter), newest or oldest first.
CREATE INDEX runs_status_id ON runs(status, id);

CREATE TABLE metrics (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    epoch   INTEGER NOT NULL,
    step    INTEGER NOT NULL,
    value   REAL    NOT NULL,
    time    REAL    NOT NULL
) STRICT;
-- A run's metrics after a cursor: WHERE run_id = ? AND id > ? ORDER BY id.
CREATE INDEX metrics_run_id ON metrics(run_id, id);

CREATE TABLE models (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    name         TEXT,
    arch_json    TEXT    NOT NULL,
    config_json  TEXT,
    metrics_json TEXT,
    checksum     TEXT    NOT NULL,
    size_bytes   INTEGER NOT NULL,
    n_params     INTEGER NOT NULL,
    created_at   REAL    NOT NULL,
    file         BLOB    NOT NULL
) STRICT;
CREATE INDEX models_run_id ON models(run_id);
