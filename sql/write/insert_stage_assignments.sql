INSERT INTO stage_assignments (user_id, slot, content_key, reason)
VALUES (:user_id, :slot, :content_key, :reason)
