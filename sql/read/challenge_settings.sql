-- The admin's settings rows (key, JSON value).
SELECT key, value FROM challenge_settings
