-- With force: empty the slots whose challenge changes, only where the row is still as
-- read under the lock (stage_replaceable: same challenge, progress 0, not completed);
-- insert_assignments then fills them with the new challenge.
DELETE FROM user_daily_challenges
WHERE challenge_date = :challenge_date
  AND progress = 0
  AND completed_at IS NULL
  AND EXISTS (
      SELECT 1
      FROM stage_replaceable r
      JOIN stage_assignments a ON a.user_id = r.user_id AND a.slot = r.slot
      JOIN daily_challenges d
        ON d.challenge_date = :challenge_date AND d.content_key = a.content_key
      WHERE r.user_id = user_daily_challenges.user_id
        AND r.slot = user_daily_challenges.slot
        AND r.challenge_id = user_daily_challenges.challenge_id
        AND d.id <> user_daily_challenges.challenge_id
  )
