-- The latest challenges (challenge days from since_date on, at most row_limit), newest
-- day first, most assigned first, with how many users hold, started and completed each.
SELECT d.challenge_date, d.challenge_type, d.category, d.title, d.target_value, d.difficulty,
       d.xp_reward, d.bonus_xp, d.source,
       COUNT(a.user_id) AS assigned,
       SUM(CASE WHEN a.progress > 0 OR a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS started,
       SUM(CASE WHEN a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed
FROM daily_challenges d
LEFT JOIN user_daily_challenges a ON a.challenge_id = d.id
WHERE d.challenge_date >= :since_date
GROUP BY d.id, d.challenge_date, d.challenge_type, d.category, d.title, d.target_value,
         d.difficulty, d.xp_reward, d.bonus_xp, d.source
ORDER BY d.challenge_date DESC, COUNT(a.user_id) DESC, d.id
LIMIT :row_limit
