-- The stored admin settings with who changed each last and when (key, JSON value).
SELECT key, value, updated_at, updated_by
FROM challenge_settings
ORDER BY key
