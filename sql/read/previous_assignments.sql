-- What each user was given on the previous challenge day (for the no-repeat rule).
SELECT a.user_id, d.challenge_type, d.category
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date = :previous_date
