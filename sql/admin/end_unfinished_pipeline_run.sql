-- A run that will not record its own end (its process is gone, or it was interrupted):
-- crashed or interrupted, with why; only while the row is still unfinished.
UPDATE pipeline_runs
SET status = :status, finished_at = :finished_at, total_seconds = :total_seconds,
    error = :error
WHERE id = :id AND status IN ('running', 'written')
