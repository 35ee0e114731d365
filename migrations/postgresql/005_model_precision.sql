-- 005_model_precision.sql - migrations/005_model_precision.sql (SQLite) in
-- PostgreSQL: the precision a model version is served in, with the accuracy
-- check that allowed it.
CREATE TABLE model_precisions (
    model_id         BIGINT           PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    precision        TEXT             NOT NULL CHECK (precision IN ('bf16', 'int8')),
    dataset          TEXT             NOT NULL,
    test_rows        BIGINT           NOT NULL,
    accuracy_float32 DOUBLE PRECISION NOT NULL,
    accuracy         DOUBLE PRECISION NOT NULL,
    created_at       DOUBLE PRECISION NOT NULL
);
