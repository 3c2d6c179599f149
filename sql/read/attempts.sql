-- The answer log up to the run's cutoff (the start of the challenge day in Europe/Oslo):
-- only the columns the features use. No ORDER BY: a sort of 100M rows costs more than the
-- read; callers that need an order sort their own (smaller) pieces by attempt_id.
SELECT id AS attempt_id, user_id, question_id, is_correct, time_spent_seconds, answered_at
FROM question_attempts
WHERE answered_at < :cutoff
