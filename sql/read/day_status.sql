-- What the database holds for a challenge day.
SELECT COUNT(*) AS assignments, COUNT(DISTINCT user_id) AS users
FROM user_daily_challenges
WHERE challenge_date = :challenge_date
