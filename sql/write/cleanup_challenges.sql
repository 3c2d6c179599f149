-- Generated challenges older than the retention that no assignment points at any more
-- (after cleanup_assignments). A challenge still referenced is never deleted; manual
-- (admin-made) challenges are never deleted.
DELETE FROM daily_challenges
WHERE challenge_date < :before
  AND source <> 'manual'
  AND NOT EXISTS (SELECT 1 FROM user_daily_challenges u WHERE u.challenge_id = daily_challenges.id)
