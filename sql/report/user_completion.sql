-- Per learner on one challenge day: ML or ML-holdout, assignments and completions (the
-- morning report's ML-vs-holdout comparison, per learner so the interval is honest).
SELECT a.user_id,
       MAX(CASE WHEN d.source = 'ml' THEN 1 ELSE 0 END) AS is_ml,
       MAX(CASE WHEN a.reason LIKE '%"ml_holdout"%' THEN 1 ELSE 0 END) AS is_holdout,
       COUNT(*) AS assigned,
       SUM(CASE WHEN a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date = :challenge_date
GROUP BY a.user_id
