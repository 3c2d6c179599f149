-- Assignments, completions and any progress per challenge day, source and ML-holdout flag
-- over the date range given: the morning report's rates and trend.
SELECT a.challenge_date,
       d.source,
       CASE WHEN a.reason LIKE '%"ml_holdout"%' THEN 1 ELSE 0 END AS holdout,
       COUNT(*) AS assigned,
       SUM(CASE WHEN a.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN a.progress > 0 THEN 1 ELSE 0 END) AS progressed
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date BETWEEN :start_date AND :end_date
GROUP BY a.challenge_date, d.source, CASE WHEN a.reason LIKE '%"ml_holdout"%' THEN 1 ELSE 0 END
