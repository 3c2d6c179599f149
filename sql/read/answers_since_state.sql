-- The answers a carried state does not hold (daglig/night_path.py), before tonight's
-- cutoff: those after its max_attempt_id (new and late-arriving rows, of any age) and
-- those at or after its cutoff (not yet due when it was carried). dup_of_carried marks a
-- late row that repeats an answer the state holds (same user, question and instant, a
-- lower id): a full recompute sets it aside as a duplicate, so the fold must too. Only
-- rows before the state's cutoff can repeat one; the lookup uses (user_id, answered_at).
SELECT a.id AS attempt_id, a.user_id, a.question_id, a.is_correct, a.time_spent_seconds,
       a.answered_at,
       CASE WHEN a.answered_at < :state_cutoff AND EXISTS (
                SELECT 1 FROM question_attempts b
                WHERE b.user_id = a.user_id AND b.answered_at = a.answered_at
                  AND b.question_id = a.question_id AND b.id <= :max_id AND b.id < a.id)
            THEN 1 ELSE 0 END AS dup_of_carried
FROM question_attempts a
WHERE a.answered_at < :cutoff AND (a.id > :max_id OR a.answered_at >= :state_cutoff)
