-- With force: the day's assignments that may be replaced, as read under their row locks
-- (empty without force).
CREATE TEMPORARY TABLE stage_replaceable (
    user_id      BIGINT NOT NULL,
    slot         SMALLINT NOT NULL,
    challenge_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, slot)
)
