-- A run's row at its end: how it ended, how long it took and what it served.
UPDATE pipeline_runs
SET finished_at = :finished_at, status = :status, total_seconds = :total_seconds,
    users_served = :users_served, assignments = :assignments, quarantined = :quarantined,
    ml_status = :ml_status, error = :error
WHERE id = :id
