-- ML effectiveness: completion per arm and experience bucket over the challenge days from
-- start_date to end_date, both included, so ML and fallback challenges are compared for
-- users with comparable answer counts. The arm is the challenge's source, except that
-- fallback assignments whose reason matches holdout_pattern (the ML holdout) form the arm
-- 'holdout'. A user's answers are those answered before the challenge day (UTC midnight).
SELECT x.arm AS arm,
       x.bucket AS bucket,
       COUNT(DISTINCT x.user_id) AS users,
       COUNT(*) AS assigned,
       SUM(x.completed) AS completed
FROM (
    SELECT a.user_id,
           CASE WHEN d.source = 'fallback' AND a.reason LIKE :holdout_pattern
                THEN 'holdout' ELSE d.source END AS arm,
           CASE WHEN n.answers = 0 THEN '0'
                WHEN n.answers < 30 THEN '1-29'
                WHEN n.answers < 100 THEN '30-99'
                WHEN n.answers < 300 THEN '100-299'
                ELSE '300+' END AS bucket,
           CASE WHEN a.completed_at IS NOT NULL THEN 1 ELSE 0 END AS completed
    FROM user_daily_challenges a
    JOIN daily_challenges d ON d.id = a.challenge_id
    JOIN (
        SELECT b.user_id,
               b.challenge_date,
               (SELECT COUNT(*)
                FROM question_attempts q
                WHERE q.user_id = b.user_id AND q.answered_at < b.challenge_date) AS answers
        FROM (
            SELECT DISTINCT user_id, challenge_date
            FROM user_daily_challenges
            WHERE challenge_date BETWEEN :start_date AND :end_date
        ) b
    ) n ON n.user_id = a.user_id AND n.challenge_date = a.challenge_date
    WHERE a.challenge_date BETWEEN :start_date AND :end_date
) x
GROUP BY x.arm, x.bucket
ORDER BY x.arm, x.bucket
