-- simulate --add-day on PostgreSQL: the day's rows whose references are missing. The
-- foreign keys' row triggers are off while the rows load (session_replication_role);
-- this is their check, one query over the new rows only. Every count must be 0.
SELECT
  (SELECT COUNT(*) FROM quiz_sessions s
    WHERE s.id > :max_session
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)) AS sessions_user,
  (SELECT COUNT(*) FROM question_attempts a
    WHERE a.id > :max_attempt
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)) AS attempts_user,
  (SELECT COUNT(*) FROM question_attempts a
    WHERE a.id > :max_attempt
      AND NOT EXISTS (SELECT 1 FROM questions q WHERE q.id = a.question_id)) AS attempts_question,
  (SELECT COUNT(*) FROM question_attempts a
    WHERE a.id > :max_attempt AND a.quiz_session_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM quiz_sessions s WHERE s.id = a.quiz_session_id))
    AS attempts_session
