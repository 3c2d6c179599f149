-- The backend of the day's write session, so a second connection can ask who blocks it.
SELECT pg_backend_pid()
