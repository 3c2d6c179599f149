-- simulate --add-day: every learner with a progress row, and the app's gamification state.
SELECT u.id AS user_id,
       u.is_active,
       u.created_at,
       p.total_xp,
       p.current_streak,
       p.longest_streak,
       p.last_activity_date
FROM users u
JOIN user_progress p ON p.user_id = u.id
