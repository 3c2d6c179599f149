-- Every user known before the run's cutoff, with the app's gamification state.
SELECT u.id AS user_id,
       u.is_active,
       u.created_at,
       u.last_login_at,
       p.level,
       p.current_streak AS app_current_streak,
       p.longest_streak AS app_longest_streak,
       p.total_xp
FROM users u
LEFT JOIN user_progress p ON p.user_id = u.id
WHERE u.created_at < :cutoff
