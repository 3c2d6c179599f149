-- Per user: active flag and how many assignments the user holds for a day.
SELECT u.id AS user_id, u.is_active, COUNT(a.slot) AS assignments
FROM users u
LEFT JOIN user_daily_challenges a ON a.user_id = u.id AND a.challenge_date = :challenge_date
GROUP BY u.id, u.is_active
