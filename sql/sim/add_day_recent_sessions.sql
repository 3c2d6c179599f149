-- simulate --add-day: the sessions of the history's last weeks (who practises, how often).
SELECT user_id, started_at
FROM quiz_sessions
WHERE started_at >= :since
