-- Performance: the latest run attempts (at most row_limit), newest first: how long each
-- took, what it served and how it ended.
SELECT run_date, started_at, finished_at, status, total_seconds, users_served, assignments,
       quarantined, ml_status, error, flow_run_id
FROM pipeline_runs
ORDER BY finished_at DESC, id DESC
LIMIT :row_limit
