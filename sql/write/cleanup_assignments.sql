-- Assignments older than the retention that nobody ever started: no progress, never
-- completed. Started or completed assignments are kept forever.
DELETE FROM user_daily_challenges
WHERE challenge_date < :before
  AND progress = 0
  AND completed_at IS NULL
