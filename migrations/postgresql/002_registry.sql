-- 002_registry.sql - the model registry (PostgreSQL mirror of
-- migrations/002_registry.sql; the comments there say why each part is so).
-- A model row is version `version` of the registered name `name`; aliases
-- and a canary point at versions, and a referenced version cannot be deleted.

CREATE TABLE model_versions (
    model_id BIGINT  PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL CHECK (version >= 1),
    UNIQUE (name, version)
);

CREATE TABLE model_aliases (
    name    TEXT    NOT NULL,
    alias   TEXT    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
);

CREATE TABLE model_canaries (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL,
    percent INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 100),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
);

INSERT INTO model_versions (model_id, name, version)
SELECT id, reg_name, row_number() OVER (PARTITION BY reg_name ORDER BY id)
FROM (
    SELECT m.id AS id,
           CASE
             WHEN m.name ~ '^[A-Za-z][A-Za-z0-9._-]{0,63}$' THEN m.name
             WHEN r.dataset ~ '^[A-Za-z][A-Za-z0-9._-]{0,63}$' THEN r.dataset
             ELSE 'model'
           END AS reg_name
    FROM models m LEFT JOIN runs r ON r.id = m.run_id
) AS named;

ALTER TABLE models DROP COLUMN name;
