-- Assignments of the days :since .. :as_of (excluded) with what was asked and the app's
-- outcome: the completion model's training rows and tonight's outcome history
-- (daglig/learner/completion.py).
SELECT a.user_id, a.challenge_date, a.slot, d.challenge_type, d.category, d.target_value,
       d.difficulty, a.progress, a.completed_at
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date >= :since AND a.challenge_date < :as_of
