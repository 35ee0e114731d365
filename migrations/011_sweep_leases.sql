-- 011_sweep_leases.sql - a sweep is scheduled by one daemon at a time, as a
-- run is trained by one (009_job_leases.sql).
--
-- worker: the --node-name of the daemon whose scheduler holds the sweep;
-- lease_until: until when (wall seconds) it holds it, renewed while its
-- scheduler runs. Another daemon's scheduler claims an active sweep nobody
-- holds or whose lease expired (its daemon died) and resumes it from its
-- children, which are in runs (007_sweeps.sql), so nothing else moves.
ALTER TABLE sweeps ADD COLUMN worker TEXT;
ALTER TABLE sweeps ADD COLUMN lease_until REAL;
