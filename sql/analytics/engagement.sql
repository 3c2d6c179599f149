-- Engagement per challenge day from start_date to end_date, both included: users holding
-- assignments that day, those who made any progress on at least one of them (progress > 0
-- or completed), and those who completed all of them.
SELECT u.challenge_date AS challenge_date,
       COUNT(*) AS assigned_users,
       SUM(u.engaged) AS engaged_users,
       SUM(u.completed_all) AS completed_all_users
FROM (
    SELECT user_id,
           challenge_date,
           MAX(CASE WHEN progress > 0 OR completed_at IS NOT NULL THEN 1 ELSE 0 END) AS engaged,
           MIN(CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed_all
    FROM user_daily_challenges
    WHERE challenge_date BETWEEN :start_date AND :end_date
    GROUP BY user_id, challenge_date
) u
GROUP BY u.challenge_date
ORDER BY u.challenge_date
