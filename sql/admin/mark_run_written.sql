-- Inside the day's write transaction, just before it commits: this run's write is in, so
-- a crash after it is told apart from one before it.
UPDATE pipeline_runs SET status = 'written' WHERE id = :id AND status = 'running'
