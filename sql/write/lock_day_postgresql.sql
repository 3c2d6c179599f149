-- Take the run date's write lock for the rest of this transaction (PostgreSQL advisory
-- lock on (namespace, day); a second writer of the same day waits here until the first
-- commits or rolls back; other days are not blocked).
SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), CAST(:day_key AS integer))
