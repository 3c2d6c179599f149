-- One app user by id: whether active, and since when (no row: unknown user).
SELECT id AS user_id, is_active, created_at FROM users WHERE id = :user_id
