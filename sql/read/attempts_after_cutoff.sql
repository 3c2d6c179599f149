-- How many answers lie at or after the cutoff (later answers for a backfill; future-dated otherwise).
SELECT COUNT(*) AS n, MIN(answered_at) AS first_at
FROM question_attempts
WHERE answered_at >= :cutoff
