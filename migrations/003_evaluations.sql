-- 003_evaluations.sql - evaluation reports of models, and the training set's
-- mean input of each trained model (the "mean" baseline of POST /explain).
--
-- evaluations: one row per evaluation (at the end of a job, on the test split,
-- and on request, POST /models/{id}/evaluate); GET /models/{id}/evaluation
-- answers the newest. report_json is the EvaluationReport of api/openapi.yaml
-- as the daemon encoded it (derived data: it can always be recomputed).
-- model_input_means: the mean of every input feature over the train split a
-- job trained on, float32 little-endian, `features` values.
-- Both go with their model (ON DELETE CASCADE).

CREATE TABLE evaluations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id    INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    dataset     TEXT    NOT NULL,
    split       TEXT    NOT NULL CHECK (split IN ('train', 'test')),
    created_at  REAL    NOT NULL,
    report_json TEXT    NOT NULL
) STRICT;
CREATE INDEX evaluations_model_id ON evaluations(model_id, id);

CREATE TABLE model_input_means (
    model_id    INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    dataset     TEXT    NOT NULL,
    features    INTEGER NOT NULL CHECK (features > 0),
    mean        BLOB    NOT NULL CHECK (length(mean) = 4 * features)
) STRICT;
