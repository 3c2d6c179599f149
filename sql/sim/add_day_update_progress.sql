-- simulate --add-day: the day's XP, level, streaks and last practice day from the stage.
UPDATE user_progress
SET total_xp = s.total_xp,
    level = s.level,
    current_streak = s.current_streak,
    longest_streak = s.longest_streak,
    last_activity_date = s.last_activity_date
FROM add_day_progress AS s
WHERE user_progress.user_id = s.user_id
