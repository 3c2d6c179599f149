-- A run starting: its row says "running" (and where: host, pid, flow run) until the run
-- finishes, or a later run finds the process gone and marks it crashed.
INSERT INTO pipeline_runs (run_date, started_at, finished_at, status, total_seconds,
                           users_served, assignments, quarantined, ml_status, error,
                           flow_run_id, host, pid)
VALUES (:run_date, :started_at, :started_at, 'running', 0, 0, 0, 0, NULL, NULL,
        :flow_run_id, :host, :pid)
RETURNING id
