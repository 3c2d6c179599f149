-- The day's assignments, staged for one transaction.
CREATE TEMPORARY TABLE stage_assignments (
    user_id     BIGINT NOT NULL,
    slot        SMALLINT NOT NULL,
    content_key TEXT NOT NULL,
    reason      TEXT,
    PRIMARY KEY (user_id, slot)
)
