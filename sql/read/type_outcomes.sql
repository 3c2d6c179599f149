-- Each learner's past assignments by type (challenge dates strictly before the run date),
-- with when the app saw them completed; daglig/learner/outcomes.py applies the cutoff.
SELECT a.user_id, d.challenge_type, a.challenge_date, a.completed_at
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date < :run_date
