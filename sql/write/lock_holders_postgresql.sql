-- The sessions that block the given backend (advisory, table or row locks), as the DBAs
-- see them; waited_seconds is how long the blocked statement has been running.
SELECT h.pid,
       h.application_name,
       h.usename,
       h.state,
       h.query_start,
       EXTRACT(EPOCH FROM clock_timestamp() - h.xact_start) AS xact_seconds,
       (SELECT EXTRACT(EPOCH FROM clock_timestamp() - w.query_start)
        FROM pg_stat_activity w WHERE w.pid = :pid) AS waited_seconds
FROM pg_stat_activity h
WHERE h.pid = ANY (pg_blocking_pids(:pid))
ORDER BY h.pid
