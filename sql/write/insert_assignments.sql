-- The day's assignments into every slot that is empty: new slots, and (with force) the
-- slots delete_replaced has just emptied. An existing slot is never updated in place:
-- a replaced row is a new row, so an app update waiting on the old one matches 0 rows.
INSERT INTO user_daily_challenges (user_id, challenge_date, slot, challenge_id, reason,
                                   progress, completed_at, assigned_at)
SELECT a.user_id, d.challenge_date, a.slot, d.id, a.reason, 0, NULL, :written_at
FROM stage_assignments a
JOIN daily_challenges d
  ON d.challenge_date = :challenge_date AND d.content_key = a.content_key
WHERE TRUE
ON CONFLICT (user_id, challenge_date, slot) DO NOTHING
