-- New slots are inserted. An existing slot is replaced only with force, only while the
-- learner has made no progress on it, and only when the challenge actually changes.
INSERT INTO user_daily_challenges (user_id, challenge_date, slot, challenge_id, reason,
                                   progress, completed_at, assigned_at)
SELECT a.user_id, d.challenge_date, a.slot, d.id, a.reason, 0, NULL, :written_at
FROM stage_assignments a
JOIN daily_challenges d
  ON d.challenge_date = :challenge_date AND d.content_key = a.content_key
WHERE TRUE
ON CONFLICT (user_id, challenge_date, slot) DO UPDATE
SET challenge_id = excluded.challenge_id,
    reason = excluded.reason,
    assigned_at = excluded.assigned_at
WHERE :force
  AND user_daily_challenges.progress = 0
  AND user_daily_challenges.completed_at IS NULL
  AND user_daily_challenges.challenge_id <> excluded.challenge_id
