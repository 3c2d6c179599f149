-- Is a challenge day complete? Active users known before the day's cutoff, how many of
-- them hold at least challenges_per_user assignments for the day, and all assignments
-- of the day.
SELECT COUNT(*) AS active_users,
       COALESCE(SUM(CASE WHEN COALESCE(a.n, 0) >= :challenges_per_user THEN 1 ELSE 0 END), 0)
           AS complete_users,
       COALESCE(SUM(a.n), 0) AS assignments
FROM users u
LEFT JOIN (
    SELECT user_id, COUNT(*) AS n
    FROM user_daily_challenges
    WHERE challenge_date = :challenge_date
    GROUP BY user_id
) a ON a.user_id = u.id
WHERE u.is_active
  AND u.created_at < :cutoff
