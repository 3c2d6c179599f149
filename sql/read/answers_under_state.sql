-- How many answers lie at or below a carried state's max_attempt_id (an index-only count
-- of the primary key), and how many of them at or after its cutoff (the answered_at
-- index): the rest must be exactly the answers the state holds (daglig/night_path.py).
SELECT (SELECT COUNT(*) FROM question_attempts WHERE id <= :max_id) AS below_max,
       (SELECT COUNT(*) FROM question_attempts
        WHERE answered_at >= :state_cutoff AND id <= :max_id) AS below_max_after_cutoff
