-- The latest admin setting changes (at most row_limit), newest first.
SELECT key, old_value, new_value, changed_at, changed_by
FROM challenge_settings_history
ORDER BY changed_at DESC, id DESC
LIMIT :row_limit
