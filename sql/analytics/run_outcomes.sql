-- Error monitoring: nightly-run attempts per status for run dates from start_date to
-- end_date, both included, with the quarantined (unusable) answer rows they reported and
-- the latest finish time.
SELECT status,
       COUNT(*) AS runs,
       COALESCE(SUM(quarantined), 0) AS quarantined,
       MAX(finished_at) AS last_finished_at
FROM pipeline_runs
WHERE run_date BETWEEN :start_date AND :end_date
GROUP BY status
ORDER BY status
