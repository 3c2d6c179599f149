-- Generated challenges of the day that no assignment points at any more (after force).
DELETE FROM daily_challenges
WHERE challenge_date = :challenge_date
  AND source <> 'manual'
  AND NOT EXISTS (SELECT 1 FROM user_daily_challenges u WHERE u.challenge_id = daily_challenges.id)
