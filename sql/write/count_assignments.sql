-- Assignments of the day held by the users being written.
SELECT COUNT(*) AS n
FROM user_daily_challenges u
WHERE u.challenge_date = :challenge_date
  AND u.user_id IN (SELECT a.user_id FROM stage_assignments a)
