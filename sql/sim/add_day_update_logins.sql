-- simulate --add-day: the practisers' last login (just before their last session).
UPDATE users
SET last_login_at = s.last_login_at
FROM add_day_logins AS s
WHERE users.id = s.user_id
