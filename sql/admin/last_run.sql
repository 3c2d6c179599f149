-- The latest run attempt that was not a dry run (status, time, counts, error).
SELECT run_date, started_at, finished_at, status, total_seconds, users_served, assignments,
       quarantined, ml_status, error, flow_run_id
FROM pipeline_runs
WHERE status <> 'dry_run'
ORDER BY finished_at DESC, id DESC
LIMIT 1
