-- Error monitoring: the failed run attempts for run dates from start_date to end_date,
-- both included, newest first, with the step and error they failed with.
SELECT run_date, started_at, finished_at, total_seconds, error, flow_run_id
FROM pipeline_runs
WHERE status = 'failed' AND run_date BETWEEN :start_date AND :end_date
ORDER BY finished_at DESC, id DESC
