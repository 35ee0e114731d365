-- 006_run_counts.sql - the number of runs per status, kept by triggers.
--
-- GET /jobs answers the total of the listing it pages through. Counting it
-- with count(*) walked an index of every run on each request: 3 ms per GET
-- at 100,000 runs, the largest part of the request (make bench, section 7).
-- One row per status, updated in the same transaction as the runs row that
-- changes it, makes the total a read of at most five rows.
CREATE TABLE run_counts (
    status TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL CHECK (n >= 0)
) STRICT;

INSERT INTO run_counts (status, n) SELECT status, count(*) FROM runs GROUP BY status;

CREATE TRIGGER run_counts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER run_counts_delete AFTER DELETE ON runs BEGIN
    UPDATE run_counts SET n = n - 1 WHERE status = OLD.status;
END;

CREATE TRIGGER run_counts_status AFTER UPDATE OF status ON runs
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE run_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO run_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
