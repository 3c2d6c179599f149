-- Rows of runs that have not recorded their end: still running, or their process is gone.
SELECT id, run_date, started_at, status, host, pid, flow_run_id
FROM pipeline_runs
WHERE status IN ('running', 'written')
ORDER BY id
