-- Serialise admin setting changes for the rest of this transaction (PostgreSQL advisory
-- lock), so the history's old value is the value actually replaced.
SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), CAST(:lock_key AS integer))
