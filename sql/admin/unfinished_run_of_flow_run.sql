-- The unfinished row of one Prefect flow run (an interrupt that came while the run's
-- "running" row was being recorded knows the flow run, not yet the row's id).
SELECT id FROM pipeline_runs
WHERE flow_run_id = :flow_run_id AND status IN ('running', 'written')
ORDER BY id DESC
LIMIT 1
