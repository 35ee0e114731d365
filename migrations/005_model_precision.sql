-- 005_model_precision.sql - the precision a model version is served in.
--
-- A model version serves in float32 unless a row here opts it into a
-- reduced precision ('bf16' or 'int8', docs/precision.md). The row keeps the
-- check that allowed it: the accuracy in float32 and in the precision on a
-- data set's test split, measured when the precision was set (PUT
-- /models/{name}/versions/{v}/precision). Deleting the model deletes it.
CREATE TABLE model_precisions (
    model_id         INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    precision        TEXT    NOT NULL CHECK (precision IN ('bf16', 'int8')),
    dataset          TEXT    NOT NULL,
    test_rows        INTEGER NOT NULL,
    accuracy_float32 REAL    NOT NULL,
    accuracy         REAL    NOT NULL,
    created_at       REAL    NOT NULL
) STRICT;
