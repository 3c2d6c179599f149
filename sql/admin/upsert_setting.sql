-- Set one admin setting (JSON value), recording who changed it and when.
INSERT INTO challenge_settings (key, value, updated_at, updated_by)
VALUES (:key, :value, :changed_at, :changed_by)
ON CONFLICT (key) DO UPDATE
SET value = excluded.value,
    updated_at = excluded.updated_at,
    updated_by = excluded.updated_by
