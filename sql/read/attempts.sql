-- The answer log up to the run's cutoff (the start of the challenge day in Europe/Oslo).
SELECT id AS attempt_id, user_id, question_id, quiz_session_id, is_correct,
       time_spent_seconds, answered_at
FROM question_attempts
WHERE answered_at < :cutoff
