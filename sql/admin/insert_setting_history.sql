-- One change of an admin setting: key, the value before (NULL: was not set), after, who, when.
INSERT INTO challenge_settings_history (key, old_value, new_value, changed_at, changed_by)
VALUES (:key, :old_value, :new_value, :changed_at, :changed_by)
