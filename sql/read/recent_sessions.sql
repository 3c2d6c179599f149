-- Quiz sessions started in the window before the cutoff, for the struggle signals
-- (daglig/learner/struggle.py: abandoned sessions, sessions getting shorter). A session
-- completed at or after the cutoff is read as not completed (point in time).
SELECT
    user_id,
    started_at,
    CASE WHEN completed_at < :cutoff THEN completed_at END AS completed_at,
    total_questions
FROM quiz_sessions
WHERE started_at >= :since AND started_at < :cutoff
