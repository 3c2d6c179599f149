-- The whole answer log, only the columns the features use. No parameters on purpose: a
-- query without bind parameters is streamed by ADBC-PostgreSQL through COPY in ~16 MB
-- batches, while one with parameters is fetched whole into libpq first (101M rows: 21 GB).
-- The caller drops answers at or after the run's cutoff batch by batch.
SELECT id AS attempt_id, user_id, question_id, is_correct, time_spent_seconds, answered_at
FROM question_attempts
