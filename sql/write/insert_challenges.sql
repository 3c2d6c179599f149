-- Insert the distinct challenges that some assignment will point at: slots still empty,
-- or (with force) slots that may be replaced (stage_replaceable, read under the lock).
-- Existing rows are kept.
INSERT INTO daily_challenges (challenge_date, content_key, challenge_type, category, title,
                              description, target_value, difficulty, xp_reward, bonus_xp,
                              source, created_at)
SELECT :challenge_date, s.content_key, s.challenge_type, s.category, s.title,
       s.description, s.target_value, s.difficulty, s.xp_reward, s.bonus_xp,
       s.source, :written_at
FROM stage_challenges s
WHERE s.content_key IN (
    SELECT a.content_key
    FROM stage_assignments a
    LEFT JOIN user_daily_challenges u
           ON u.user_id = a.user_id AND u.challenge_date = :challenge_date AND u.slot = a.slot
    LEFT JOIN stage_replaceable r
           ON r.user_id = a.user_id AND r.slot = a.slot
    WHERE u.user_id IS NULL
       OR (:force AND r.challenge_id = u.challenge_id)
)
ON CONFLICT (challenge_date, content_key) DO NOTHING
