-- With force: lock the day's unstarted assignments of the users being written, in
-- (user, slot) order, and keep them as read. A row the app is updating right now is
-- waited for (lock_timeout) and, once the app has committed progress, no longer matches:
-- it is kept. The app cannot change a locked row until our commit.
INSERT INTO stage_replaceable (user_id, slot, challenge_id)
SELECT u.user_id, u.slot, u.challenge_id
FROM user_daily_challenges u
WHERE u.challenge_date = :challenge_date
  AND u.progress = 0
  AND u.completed_at IS NULL
  AND u.user_id IN (SELECT a.user_id FROM stage_assignments a)
ORDER BY u.user_id, u.slot
FOR UPDATE OF u
