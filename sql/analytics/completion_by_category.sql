-- Completion by category ('none' for challenges not tied to one, e.g. streak) over the
-- challenge days from start_date to end_date, both included.
SELECT COALESCE(d.category, 'none') AS category,
       COUNT(*) AS assigned,
       SUM(CASE WHEN a.progress > 0 OR a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS started,
       SUM(CASE WHEN a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date BETWEEN :start_date AND :end_date
GROUP BY COALESCE(d.category, 'none')
ORDER BY COALESCE(d.category, 'none')
