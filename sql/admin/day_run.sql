-- The latest run attempt for one challenge day that was not a dry run (none: no run yet).
SELECT run_date, started_at, finished_at, status, total_seconds, users_served, assignments,
       quarantined, ml_status, error, flow_run_id
FROM pipeline_runs
WHERE status <> 'dry_run' AND run_date = :run_date
ORDER BY started_at DESC, id DESC
LIMIT 1
