-- 002_registry.sql - the model registry: names, versions, aliases, canaries.
--
-- A model (a row of models) is version `version` of the registered name
-- `name` (MLflow's vocabulary): versions count from 1 per name and are never
-- reused while the row lives. Aliases ("production", "champion") point at one
-- version of a name and move atomically; a canary sends `percent` of a name's
-- unversioned requests to one version. A version that an alias or a canary
-- points at cannot be deleted (the foreign keys refuse it; the store reports
-- it as a conflict first, with which alias).
--
-- model_versions is a table of its own, not columns of models: models.file
-- must stay the last column (001), and SQLite appends added columns after it.
-- The old optional label models.name is folded into the registry: a label
-- that is a valid name ([A-Za-z][A-Za-z0-9._-]{0,63}) becomes the name, else
-- the name is the run's dataset when that is valid, else "model"; versions
-- follow the ids' order.

CREATE TABLE model_versions (
    model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL CHECK (version >= 1),
    UNIQUE (name, version)
) STRICT;

CREATE TABLE model_aliases (
    name    TEXT    NOT NULL,
    alias   TEXT    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
) STRICT;

CREATE TABLE model_canaries (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL,
    percent INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 100),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
) STRICT;

INSERT INTO model_versions (model_id, name, version)
SELECT id, reg_name, row_number() OVER (PARTITION BY reg_name ORDER BY id)
FROM (
    SELECT m.id AS id,
           CASE
             WHEN m.name GLOB '[A-Za-z]*' AND m.name NOT GLOB '*[^A-Za-z0-9._-]*'
                  AND length(m.name) <= 64 THEN m.name
             WHEN r.dataset GLOB '[A-Za-z]*' AND r.dataset NOT GLOB '*[^A-Za-z0-9._-]*'
                  AND length(r.dataset) <= 64 THEN r.dataset
             ELSE 'model'
           END AS reg_name
    FROM models m LEFT JOIN runs r ON r.id = m.run_id
);

ALTER TABLE models DROP COLUMN name;
