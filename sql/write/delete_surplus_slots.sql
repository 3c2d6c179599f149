-- With force: slots beyond today's challenges_per_user that nobody has started, only
-- where the row is still as read under the lock (stage_replaceable).
DELETE FROM user_daily_challenges
WHERE challenge_date = :challenge_date
  AND slot > :challenges_per_user
  AND progress = 0
  AND completed_at IS NULL
  AND EXISTS (
      SELECT 1
      FROM stage_replaceable r
      WHERE r.user_id = user_daily_challenges.user_id
        AND r.slot = user_daily_challenges.slot
        AND r.challenge_id = user_daily_challenges.challenge_id
  )
