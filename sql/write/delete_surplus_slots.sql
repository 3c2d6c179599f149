-- With force: slots beyond today's challenges_per_user that nobody has started.
DELETE FROM user_daily_challenges
WHERE challenge_date = :challenge_date
  AND slot > :challenges_per_user
  AND progress = 0
  AND completed_at IS NULL
  AND user_id IN (SELECT a.user_id FROM stage_assignments a)
