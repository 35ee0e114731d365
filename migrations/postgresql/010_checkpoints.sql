-- 010_checkpoints.sql - each running job's latest checkpoint (PostgreSQL
-- mirror of migrations/010_checkpoints.sql, which says what it holds and
-- when it is written and dropped).
CREATE TABLE run_checkpoints (
    run_id BIGINT  PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    epoch  INTEGER NOT NULL CHECK (epoch >= 1),
    data   BYTEA   NOT NULL
);

CREATE FUNCTION run_checkpoint_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_checkpoints WHERE run_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER run_checkpoint_ends AFTER UPDATE OF status ON runs
FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled'))
EXECUTE FUNCTION run_checkpoint_ends();
