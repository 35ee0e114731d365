-- 006_run_counts.sql - migrations/006_run_counts.sql (SQLite) in PostgreSQL:
-- the number of runs per status, kept by a trigger in the transaction that
-- changes a run, so GET /jobs's total is not a count over every run.
CREATE TABLE run_counts (
    status TEXT   PRIMARY KEY,
    n      BIGINT NOT NULL CHECK (n >= 0)
);

INSERT INTO run_counts (status, n) SELECT status, count(*) FROM runs GROUP BY status;

CREATE FUNCTION run_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE run_counts SET n = n - 1 WHERE status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO run_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET n = run_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER run_counts_insert_delete AFTER INSERT OR DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION run_counts_keep();
CREATE TRIGGER run_counts_status AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION run_counts_keep();
