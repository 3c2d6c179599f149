-- One nightly-run attempt: when, how it ended, how long it took and what it served.
INSERT INTO pipeline_runs (run_date, started_at, finished_at, status, total_seconds,
                           users_served, assignments, quarantined, ml_status, error,
                           flow_run_id, host, pid)
VALUES (:run_date, :started_at, :finished_at, :status, :total_seconds, :users_served,
        :assignments, :quarantined, :ml_status, :error, :flow_run_id, :host, :pid)
