-- With force: the day's unstarted assignments of the users being written, as read.
-- SQLite has no row locks: BEGIN IMMEDIATE (lock_day_sqlite) already keeps every other
-- writer, the app included, out until our commit.
INSERT INTO stage_replaceable (user_id, slot, challenge_id)
SELECT u.user_id, u.slot, u.challenge_id
FROM user_daily_challenges u
WHERE u.challenge_date = :challenge_date
  AND u.progress = 0
  AND u.completed_at IS NULL
  AND u.user_id IN (SELECT a.user_id FROM stage_assignments a)
