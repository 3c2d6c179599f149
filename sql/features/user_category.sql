-- Per (user, category) features over the cleaned answer log (DuckDB; $1 = cutoff date in Oslo).
SELECT user_id,
       category,
       COUNT(*)::INTEGER AS attempts,
       SUM(CASE WHEN is_correct THEN 1 ELSE 0 END)::INTEGER AS correct,
       AVG(CASE WHEN is_correct THEN 1.0 ELSE 0.0 END) AS accuracy,
       MAX(answered_at) AS last_practised_at,
       ($1::DATE - MAX(local_date))::INTEGER AS days_since_practised,
       SUM(CASE WHEN local_date >= $1::DATE - 30 THEN 1 ELSE 0 END)::INTEGER AS attempts_30d,
       AVG(time_spent_seconds) AS mean_seconds
FROM attempts
GROUP BY user_id, category
