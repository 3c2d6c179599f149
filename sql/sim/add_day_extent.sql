-- simulate --add-day: where the history ends (latest answer, naive UTC), the ids taken,
-- and whether the ground truth holds anything.
SELECT (SELECT MAX(answered_at) FROM question_attempts) AS last_answer,
       (SELECT MAX(id) FROM question_attempts) AS max_attempt,
       (SELECT MAX(id) FROM quiz_sessions) AS max_session,
       (SELECT COUNT(*) FROM (SELECT 1 FROM sim_ground_truth LIMIT 1) AS t) AS truth_rows
