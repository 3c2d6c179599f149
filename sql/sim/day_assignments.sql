-- The simulator's view of a day's assignments: what each learner was asked to do.
SELECT a.user_id, a.slot, d.challenge_type, d.category, d.target_value, d.difficulty,
       d.xp_reward, d.content_key, d.source, a.reason
FROM user_daily_challenges a
JOIN daily_challenges d ON d.id = a.challenge_id
WHERE a.challenge_date = :challenge_date
